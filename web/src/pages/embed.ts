// `/embed/{id}#token=…`: the session page without chrome, for an <iframe> (docs/embed.md).

import "../style.css";

import { byId } from "../dom";
import { startSessionPage } from "../session-page";

startSessionPage(byId("app"), { embed: true });

// A link pasted into this tab changes only the fragment (the token lives there), which loads
// nothing by itself: start over with the session and token it names.
window.addEventListener("hashchange", () => location.reload());
