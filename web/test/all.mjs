// Every browser test in one process, so the server, the host pages and Chromium start once.
// Each *.test.mjs also runs alone: `node --test test/collab.test.mjs`.

import "./landing.test.mjs";
import "./session.test.mjs";
import "./collab.test.mjs";
import "./embed.test.mjs";
import "./languages.test.mjs";
import "./catchup.test.mjs";
import "./editor.test.mjs";
import "./questions.test.mjs";
import "./interview.test.mjs";
import "./replay.test.mjs";
import "./switch.test.mjs";
import "./templates.test.mjs";
import "./files.test.mjs";
import "./scorecard.test.mjs";
import "./interview-loop.test.mjs";
import "./page.test.mjs";
import "./console.test.mjs";
import "./keyboard.test.mjs";
import "./erasure.test.mjs";
import "./protocol.test.mjs";
