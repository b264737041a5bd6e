// Agent desktop: render the agent's live view and the caller's record, follow /api/desk/events,
// and send call-control clicks as JSON (with the CSRF token). Caller ID and every record field are
// untrusted: they are only ever set as text, never as HTML.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const lb = window.linebox;
  const dataNode = $("desk-data");
  if (!dataNode || !$("desk-me")) return;
  const boot = JSON.parse(dataNode.textContent);
  let view = boot;            // {agent, pop, recent}
  let receivedAt = Date.now() / 1000;
  let wrapCall = null;        // the call offered for wrap-up {call_id, number, queue}
  let lastCallId = null;
  let lastPop = null;         // the last call's pop: its open work orders are offered at wrap-up

  function fmt(s) { return lb.formatDuration(s); }
  function show(id, on) { const n = $(id); if (n) n.hidden = !on; }
  function setText(id, text) { const n = $(id); if (n) n.textContent = text == null ? "" : String(text); }
  function error(msg) { setText("desk-error", msg); show("desk-error", !!msg); if (msg) show("desk-ok", false); }
  function ok(msg) { setText("desk-ok", msg); show("desk-ok", !!msg); if (msg) show("desk-error", false); }

  function elapsed() { return Date.now() / 1000 - receivedAt; }

  function renderStatus() {
    const a = view.agent;
    if (!a) return;
    setText("desk-agent-name", (a.name || a.username) + (a.team ? " · team " + a.team : ""));
    const status = a.status === "paused" ? "paused (" + a.reason + ")" : a.status.replace("_", " ");
    let line = "Status: " + status + " for " + fmt(a.in_state_s + elapsed()) + " · state " + a.state.replace("_", " ");
    if (a.state_s != null) line += " for " + fmt(a.state_s + elapsed());
    if (a.extension) line += " · phone " + a.extension + (a.headset ? " (headset)" : "");
    setText("desk-status", line);
    show("desk-login", a.status === "logged_out");
    show("desk-loggedin", a.status !== "logged_out");
    const wrap = a.wrapup_left_s > 0 ? Math.max(0, a.wrapup_left_s - elapsed()) : 0;
    setText("desk-wrapup-left", wrap > 0 ? "wrap-up time left " + fmt(wrap) : "");
    show("desk-ready-box", a.state === "wrapup" && wrap > 0);
  }

  function renderCall() {
    const c = view.agent && view.agent.call;
    show("desk-call-none", !c);
    show("desk-call-live", !!c);
    if (!c) return;
    lastCallId = c.call_id;
    setText("desk-call-phase", { ringing: "Ringing", held: "On hold", message: "Hearing a message",
      consult: "Consulting (caller on hold)", whisper: "Hearing the caller's name",
      conference: "Conference (three-way)" }[c.phase] || "Talking");
    setText("desk-call-number", c.number || c.raw || "unknown number");
    setText("desk-call-name", c.name);
    setText("desk-call-queue", c.queue + (c.queue_name ? " " + c.queue_name : ""));
    const live = c.phase === "ringing" ? elapsed() : 0;
    setText("desk-call-wait", fmt(c.wait_s + live));
    setText("desk-call-talk", c.talk_s != null ? " · talking " + fmt(c.talk_s + elapsed()) : "");
    setText("desk-call-menu", c.menu_path && c.menu_path.length
      ? c.menu_path.map((m) => m.menu + " → " + m.key).join(", ") : "none");
    const talking = c.phase === "talking", held = c.phase === "held", up = c.phase !== "ringing";
    const consulting = c.phase === "consult" || c.phase === "conference";
    if (c.recording) setText("desk-call-phase", $("desk-call-phase").textContent + " · recording");
    for (const b of document.querySelectorAll("[data-call]")) {
      const act = b.dataset.call;
      b.disabled = act === "hold" ? !talking : act === "resume" ? !held
        : act === "record" ? !up || !!c.recording : act === "stop-recording" ? !up || !c.recording
          : act === "complete" || act === "cancel" ? !consulting
            : act === "conference" ? c.phase !== "consult"
            : act === "hangup" ? !up : !(talking || held);
    }
    $("desk-transfer").disabled = !(talking || held);
  }

  function cell(text) { const td = document.createElement("td"); td.textContent = text == null ? "" : String(text); return td; }

  function renderPop() {
    const c = view.agent && view.agent.call;
    const pop = view.pop;
    show("desk-pop-none", !c);
    show("desk-pop-record", !!(c && pop && pop.contact));
    show("desk-pop-new", !!(c && (!pop || !pop.contact)));
    if (!c) return;
    if (pop) lastPop = pop;
    if (!pop || !pop.contact) {
      const number = (pop && (pop.e164 || pop.raw)) || c.raw || c.number;
      if (number !== $("desk-pop-new-number").textContent) {
        setText("desk-pop-new-number", number);
        $("desk-new-number").value = number || "";
      }
      return;
    }
    const k = pop.contact;
    setText("desk-pop-name", k.name);
    setText("desk-pop-company", k.company);
    const tags = $("desk-pop-tags");
    tags.replaceChildren();
    for (const t of k.tags || []) {
      const s = document.createElement("span");
      s.className = "tag" + (String(t).toUpperCase() === "VIP" ? " vip" : "");
      s.textContent = t;
      tags.append(s);
    }
    setText("desk-pop-raw", pop.raw);
    setText("desk-pop-e164", pop.e164 ? pop.e164 + " (" + pop.match + ")" : "");
    const tb = $("desk-pop-interactions").tBodies[0];
    tb.replaceChildren();
    for (const i of pop.interactions || []) {
      const tr = document.createElement("tr");
      tr.append(cell(typeof i.at === "number" ? lb.formatTime(i.at) : i.at), cell(i.agent), cell(i.disposition),
        cell(i.notes), cell(i.recording ? "yes" : ""));
      tb.append(tr);
    }
    const wo = $("desk-pop-workorders");
    wo.replaceChildren();
    for (const w of pop.work_orders || []) {
      const li = document.createElement("li");
      li.textContent = "#" + w.id + " " + w.title + " · " + w.state + (w.overdue ? " · OVERDUE" : "");
      wo.append(li);
    }
  }

  function renderWrapup() {
    const a = view.agent;
    const pending = (view.recent || []).find((r) => !r.wrapped);
    const inCall = a && a.call && a.call.phase !== "ringing";
    wrapCall = !inCall && pending ? pending : null;
    show("desk-wrapup", !!wrapCall);
    if (wrapCall) {
      setText("desk-wrapup-number", wrapCall.number || "unknown");
      setText("desk-wrapup-queue", wrapCall.queue);
      const sel = $("desk-wo-open");
      const orders = (lastPop && lastPop.work_orders) || [];
      if (sel.dataset.call !== wrapCall.call_id) {
        sel.dataset.call = wrapCall.call_id;
        sel.replaceChildren();
        for (const w of orders) {
          const o = document.createElement("option");
          o.value = String(w.id);
          o.textContent = "#" + w.id + " " + w.title + " (" + w.state + ")";
          sel.append(o);
        }
      }
    }
  }

  function render() { renderStatus(); renderCall(); renderPop(); renderWrapup(); }

  async function refresh() {
    const r = await fetch("/api/desk/state", { credentials: "same-origin" });
    if (r.ok) { accept(await r.json()); }
  }

  function accept(v) {
    // a fetched view can arrive after a newer one from the event stream: keep the newest
    // (`at`: the engine's time of the view)
    if (v.agent && view.agent && typeof v.agent.at === "number" && v.agent.at < view.agent.at) return;
    const hadCall = view.agent && view.agent.call;
    view = { ...view, ...v };
    receivedAt = Date.now() / 1000;
    render();
    // the agent's queue status, for the preview card (desk_preview.js): available again -> next contact
    if (view.agent) document.dispatchEvent(new CustomEvent("linebox:desk-agent", { detail: { status: view.agent.status } }));
    // a call just ended: the wrap-up form needs the recent calls again
    if (hadCall && !(v.agent && v.agent.call) && v.recent === undefined) refresh();
  }

  async function act(promise, message) {
    try {
      const result = await promise;
      ok(typeof message === "function" ? message(result) : message);
    } catch (e) { error(e.message); }
  }

  for (const b of document.querySelectorAll("[data-call]")) {
    b.addEventListener("click", () => {
      const c = view.agent && view.agent.call;
      const body = { call_id: c ? c.call_id : lastCallId };
      if (b.dataset.call === "transfer" || b.dataset.call === "consult") body.target = $("desk-transfer").value;
      if (b.dataset.call === "message") body.ref = $("desk-message").value;
      act(lb.send("POST", "/api/desk/call/" + b.dataset.call, body),
        { hold: "On hold.", resume: "Back with the caller.", hangup: "Hung up.", transfer: "Transferred.",
          record: "Recording.", "stop-recording": "Recording stopped.",
          message: "The caller hears the message, then comes back to you.",
          consult: "Your phone calls the number; the caller hears music.", complete: "Transferred.",
          cancel: "Back with the caller.", conference: "All three of you are connected." }[b.dataset.call]);
    });
  }
  for (const b of document.querySelectorAll("[data-colleague]")) {
    b.addEventListener("click", () => {
      act(lb.send("POST", "/api/desk/colleague/" + b.dataset.colleague, { extension: $("desk-colleague").value }),
        "Pick up your phone.");
    });
  }
  for (const b of document.querySelectorAll("[data-status]")) {
    b.addEventListener("click", () => {
      const body = b.dataset.status === "login" ? { extension: $("desk-extension").value }
        : b.dataset.status === "pause" ? { reason: $("desk-reason").value } : {};
      act(lb.send("POST", "/api/desk/status/" + b.dataset.status, body).then(refresh), "Saved.");
    });
  }
  $("desk-ready").addEventListener("click", () => {
    act(lb.send("POST", "/api/desk/ready", {}).then(refresh), "Ready: the next call can come now.");
  });
  $("desk-dnd").addEventListener("change", (e) => {
    act(lb.send("POST", "/api/desk/dnd", { on: e.target.checked }),
      e.target.checked ? "Do not disturb is on." : "Do not disturb is off.");
  });
  $("desk-dial-go").addEventListener("click", () => {
    act(lb.send("POST", "/api/desk/dial", { number: $("desk-dial-number").value }), "Calling: pick up your phone.");
  });
  $("desk-wrapup-save").addEventListener("click", () => {
    if (!wrapCall) return;
    const body = {
      call_id: wrapCall.call_id, disposition: $("desk-disposition").value,
      notes: $("desk-notes").value, resolved: $("desk-resolved").checked,
    };
    const wo = document.querySelector("input[name=desk-wo]:checked").value;
    if (wo === "new") body.work_order = { title: $("desk-wo-title").value, description: $("desk-wo-description").value };
    if (wo === "update" && $("desk-wo-open").value) {
      body.work_order_id = Number($("desk-wo-open").value);
      body.work_order_note = $("desk-wo-note").value;
    }
    act(lb.send("POST", "/api/desk/wrapup", body).then((r) => {
      for (const id of ["desk-notes", "desk-wo-title", "desk-wo-description", "desk-wo-note"]) $(id).value = "";
      $("desk-resolved").checked = false;
      document.querySelector("input[name=desk-wo][value=none]").checked = true;
      return refresh().then(() => r);
    }), (r) => "Wrap-up saved." + (r && r.work_order ? " Work order #" + r.work_order.id + "." : ""));
  });

  $("desk-new-customer").addEventListener("submit", (e) => {
    e.preventDefault();
    act(lb.send("POST", "/api/desk/customer", {
      name: $("desk-new-name").value, company: $("desk-new-company").value, number: $("desk-new-number").value,
    }).then(() => { $("desk-new-name").value = ""; $("desk-new-company").value = ""; }), "Customer saved.");
  });

  async function showArticles(params) {
    const r = await fetch("/api/desk/kb?" + new URLSearchParams(params), { credentials: "same-origin" });
    const list = $("desk-kb-list");
    list.replaceChildren();
    if (!r.ok) return;
    for (const a of (await r.json()).articles) {
      const li = document.createElement("li");
      const d = document.createElement("details");
      const s = document.createElement("summary");
      s.textContent = a.title;
      const p = document.createElement("p");
      p.textContent = a.body;
      d.append(s, p);
      li.append(d);
      list.append(li);
    }
  }
  $("desk-kb-form").addEventListener("submit", (e) => { e.preventDefault(); showArticles({ q: $("desk-kb-q").value }); });
  $("desk-disposition").addEventListener("change", (e) => { if (e.target.value) showArticles({ disposition: e.target.value }); });

  function addBulletin(b) {
    const list = $("desk-bulletin-list");
    if (!b) return;
    for (const li of list.querySelectorAll("li")) {
      if (li.classList.contains("muted") || (b.id && li.dataset.id === String(b.id))) li.remove();
    }
    if (b.withdrawn) return;
    const li = document.createElement("li");
    li.dataset.id = String(b.id || "");
    if (b.expires_at) li.dataset.expires = String(b.expires_at);
    li.textContent = (b.text || "") + (b.author ? " — " + b.author : "");
    list.prepend(li);
  }
  for (const b of boot.bulletins || []) addBulletin(b);

  function expireBulletins() {      // a bulletin goes when its expiry time passes (wall clock, as posted)
    const list = $("desk-bulletin-list");
    const now = Date.now() / 1000;
    for (const li of list.querySelectorAll("li[data-expires]")) {
      if (Number(li.dataset.expires) <= now) li.remove();
    }
    if (!list.querySelector("li")) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = "No bulletins.";
      list.append(li);
    }
  }

  render();
  const es = new EventSource("/api/desk/events");
  es.addEventListener("desk", (ev) => accept(JSON.parse(ev.data)));
  es.addEventListener("bulletin", (ev) => addBulletin(JSON.parse(ev.data)));
  // the engine gave a previewed campaign number back to the list: the preview card (desk_preview.js) drops it
  es.addEventListener("preview", (ev) => document.dispatchEvent(
    new CustomEvent("linebox:preview-released", { detail: JSON.parse(ev.data) })));
  setInterval(() => { renderStatus(); expireBulletins(); if (view.agent && view.agent.call) renderCall(); }, 1000);
})();
