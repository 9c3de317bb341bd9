// `/embed/{id}#token=…`: the session page without chrome, for an <iframe> (docs/embed.md).

import "../style.css";

import { byId } from "../dom";
import { startSessionPage } from "../session-page";

startSessionPage(byId("app"), { embed: true });
