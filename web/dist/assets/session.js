// Placeholder session page: a textarea, Run/Stop, stdin and a streamed console.
const id = location.pathname.split("/").filter(Boolean)[1];
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const out = document.getElementById("console");
const code = document.getElementById("code");
const state = document.getElementById("state");
let filename = "main.py";
const print = (text, cls) => {
  const span = document.createElement("span");
  if (cls) span.className = cls;
  span.textContent = text;
  out.append(span);
  out.scrollTop = out.scrollHeight;
};
const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/sessions/${id}/ws`);
ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token }));
ws.onclose = () => (state.textContent = "disconnected");
ws.onmessage = (event) => {
  const msg = JSON.parse(event.data);
  switch (msg.type) {
    case "welcome":
      code.value = msg.document;
      state.textContent = `${msg.role} · ${msg.session.status}`;
      fetch("/api/v1/environments").then((r) => r.json()).then((envs) => {
        filename = envs.find((e) => e.name === msg.session.environment)?.filename ?? filename;
      });
      break;
    case "status": state.textContent = msg.status; break;
    case "output": print(msg.data, msg.stream === "stderr" ? "stderr" : ""); break;
    case "run_finished": print(`\n[${msg.status}, exit ${msg.exit_code}, ${msg.duration_ms} ms]\n`, "meta"); break;
    case "error": print(`[${msg.code}] ${msg.message}\n`, "stderr"); break;
    case "session_ended": state.textContent = `session ${msg.reason}`; code.readOnly = true; break;
  }
};
document.getElementById("run").onclick = () => {
  out.textContent = "";
  ws.send(JSON.stringify({ type: "run", files: { [filename]: code.value } }));
};
document.getElementById("kill").onclick = () => ws.send(JSON.stringify({ type: "kill" }));
document.getElementById("stdin").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    ws.send(JSON.stringify({ type: "stdin", data: e.target.value + "\n" }));
    print(e.target.value + "\n", "meta");
    e.target.value = "";
  }
});
