// Kedge's dashboard: follow the events stream, re-render the live part of the page from its
// fragment route, confirm and send the actions. Plain JavaScript, nothing loaded from elsewhere.
"use strict";
(function () {
  const body = document.body;
  const live = document.getElementById("live");
  const banner = document.getElementById("banner");
  const state = document.getElementById("live-state");
  const flash = document.getElementById("flash");
  const events = document.getElementById("events");
  // the server's token for writes from its pages (api/edge.py refuses a browser's write without it)
  const csrf = document.querySelector('meta[name="kedge-csrf"]').content;
  let refreshTimer = null, refreshing = false, again = false, lost = false;

  // the session ended (signed out elsewhere, expired, its token revoked): sign in again
  function signIn() { window.location.assign("/signin"); }

  function show(el, text, cls) { el.textContent = text; el.className = el.id + (cls ? " " + cls : ""); el.hidden = false; }

  async function refresh() {
    if (!live) return;
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(live.dataset.liveSrc, { headers: { Accept: "text/html" } });
      if (response.status === 401) { signIn(); return; }
      if (response.ok) {
        const html = await response.text();
        // what is open and focused at the moment of the swap, not when the fetch began: a
        // summary opened while the fragment was on its way stays open
        const open = [...live.querySelectorAll("details[open]")].map((d) => d.id);
        const focused = document.activeElement && live.contains(document.activeElement) ? focusKey(document.activeElement) : null;
        live.innerHTML = html;
        open.forEach((id) => { const d = document.getElementById(id); if (d) { d.open = true; loadCommand(d); } });
        if (focused) { const el = live.querySelector(focused); if (el) el.focus(); }
        body.dataset.refreshed = String(Date.now());
      }
    } catch (err) { /* the banner tells about a lost server */ }
    refreshing = false;
    if (again) { again = false; schedule(); }
  }

  function focusKey(el) {
    if (el.id) return "#" + CSS.escape(el.id);
    for (const key of ["action", "version", "command"]) {
      if (el.dataset && el.dataset[key] !== undefined) {
        const attrs = ["action", "version", "command"].filter((k) => el.dataset[k] !== undefined)
          .map((k) => `[data-${k}="${CSS.escape(el.dataset[k])}"]`).join("");
        return el.tagName.toLowerCase() + attrs;
      }
    }
    return null;
  }

  function schedule() { clearTimeout(refreshTimer); refreshTimer = setTimeout(refresh, 200); }

  function note(event) {
    if (!events) return;
    const item = document.createElement("li");
    const at = new Date(event.at);
    const kind = document.createElement("span"); kind.className = "kind"; kind.textContent = event.kind;
    item.append(at.toLocaleTimeString() + " ", kind, event.message || "");
    events.prepend(item);
    while (events.children.length > 100) events.lastChild.remove();
  }

  function connect() {
    const source = new EventSource(body.dataset.events);
    source.onopen = () => {
      state.textContent = "live"; state.className = "live on";
      if (lost) { lost = false; show(banner, "Live updates are back.", "back"); setTimeout(() => { banner.hidden = true; }, 3000); schedule(); }
      else { banner.hidden = true; }
    };
    source.onerror = () => {
      lost = true; state.textContent = "reconnecting…"; state.className = "live off";
      show(banner, "Live updates lost: the connection to Kedge dropped. Reconnecting… (the page may be out of date)", "");
    };
    source.onmessage = (m) => handle(m);
    source.addEventListener("gap", () => schedule());
    return source;
  }

  function handle(message) {
    try { note(JSON.parse(message.data)); } catch (err) { /* not ours */ }
    schedule();
  }

  // every named kind reaches one handler: EventSource dispatches by the `event:` field
  const kinds = ["version.created", "command.queued", "pass.started", "action.done", "command.log",
    "pass.finished", "drift.seen", "spec.error", "stack.status"];
  function listenAll(source) {
    kinds.forEach((k) => source.addEventListener(k, handle));
    for (const type of ["container", "network", "volume"]) {
      for (const act of ["create", "start", "die", "kill", "stop", "restart", "oom", "destroy", "health_status", "connect", "disconnect", "remove"]) {
        source.addEventListener(`docker.${type}.${act}`, handle);
      }
    }
  }

  async function loadCommand(details) {
    const target = details.querySelector("[data-src]");
    if (!target) return;
    const response = await fetch(target.dataset.src);
    target.innerHTML = response.ok ? await response.text() : "could not load";
  }

  function ask(text) {
    const dialog = document.getElementById("confirm");
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  }

  async function act(button) {
    const d = button.dataset;
    if (!(await ask(d.confirm))) return;
    let url, payload;
    if (d.action === "apply") { url = `/api/v1/stacks/${d.stack}/apply`; payload = { version: Number(d.version) }; }
    else if (d.action === "rollback") { url = `/api/v1/stacks/${d.stack}/rollback`; payload = {}; }
    else if (d.action === "cancel") { url = `/api/v1/commands/${d.command}/cancel`; payload = {}; }
    else return;
    const response = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json", "X-Kedge-User": "dashboard", "X-Kedge-CSRF": csrf }, body: JSON.stringify(payload) });
    if (response.status === 401) { signIn(); return; }
    const answer = await response.json().catch(() => ({}));
    if (response.ok) {
      const c = answer.command;
      show(flash, c ? `${c.type} #${c.id} queued for ${c.stack}${c.version ? " (version " + c.version + ")" : ""}.` : "Done.", "");
    } else {
      show(flash, `${answer.title || "Refused"}: ${answer.detail || response.status}`, "error");
    }
    schedule();
  }

  document.addEventListener("click", (e) => {
    const button = e.target.closest("button[data-action]");
    if (button) { e.preventDefault(); act(button); }
  });
  document.addEventListener("toggle", (e) => {
    if (e.target.matches && e.target.matches("details[data-command]") && e.target.open) loadCommand(e.target);
  }, true);
  document.addEventListener("submit", async (e) => {
    const form = e.target.closest("form[data-diff]");
    if (!form) return;
    e.preventDefault();
    const query = new URLSearchParams(new FormData(form)).toString();
    const response = await fetch(`${form.dataset.diff}?${query}`);
    document.getElementById("diff").innerHTML = await response.text();
  });
  document.addEventListener("keydown", (e) => {
    if (e.target.closest("input, select, textarea, dialog") || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.key === "g") { window.location.href = "/"; }
    else if (e.key === "r") { schedule(); }
  });

  listenAll(connect());
})();
