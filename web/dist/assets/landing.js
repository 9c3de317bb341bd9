// Placeholder landing page: lists environments and, in open mode, starts a session.
const envs = await (await fetch("/api/v1/environments")).json();
const list = document.getElementById("envs");
const select = document.getElementById("env");
for (const env of envs) {
  const span = document.createElement("span");
  span.className = "env" + (env.ready ? " ready" : "");
  span.textContent = `${env.description}${env.ready ? "" : " (building)"}`;
  list.append(span);
  const option = new Option(env.description, env.name);
  option.disabled = !env.ready;
  select.append(option);
}
const open = document.querySelector("meta[name=livecode-open]") !== null || (await fetch("/api/v1/sessions")).ok;
const form = document.getElementById("new");
if (open) form.style.display = "flex";
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const res = await fetch("/api/v1/sessions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ environment: select.value }),
  });
  const body = await res.json();
  if (!res.ok) {
    document.getElementById("links").textContent = body.error.message;
    return;
  }
  location.href = body.interviewer_url;
});
