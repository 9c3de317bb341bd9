// `/s/{id}#token=…`: the session page.

import "../style.css";

import { byId } from "../dom";
import { startSessionPage } from "../session-page";

startSessionPage(byId("app"), { embed: false });
