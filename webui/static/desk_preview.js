// Agent desktop, preview campaigns: show the next contact (name, number, the list's note, the
// customer's record) and send Call / Skip / Do-not-call. Every field is untrusted: set as text only.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const lb = window.linebox;
  const panel = $("desk-preview");
  if (!panel || !lb) return;
  const select = $("desk-preview-campaign");
  let busy = false;

  function setText(id, text) { const n = $(id); if (n) n.textContent = text == null ? "" : String(text); }
  function show(id, on) { const n = $(id); if (n) n.hidden = !on; }
  function say(msg, good) {
    const node = $(good ? "desk-ok" : "desk-error");
    const other = $(good ? "desk-error" : "desk-ok");
    if (node) { node.textContent = msg; node.hidden = !msg; }
    if (other && msg) other.hidden = true;
  }

  async function getJson(url) {
    const r = await fetch(url, { credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(data.error || "Request failed (" + r.status + ")");
    return data;
  }

  function renderContact(got) {
    const c = got.contact;
    if (c) show("desk-preview-released", false);
    show("desk-preview-empty", !c);
    show("desk-preview-card", !!c);
    if (!c) return;
    setText("desk-preview-name", c.name || "(no name)");
    setText("desk-preview-number", c.number);
    setText("desk-preview-note", c.note || "none");
    setText("desk-preview-tried", c.attempts ? "Tried " + c.attempts + " time(s), last: " + (c.last_result || "") : "Not called yet.");
    const rec = got.record && got.record.contact;
    show("desk-preview-record", !!rec);
    show("desk-preview-unknown", !rec);
    if (!rec) return;
    setText("desk-preview-customer", rec.name);
    setText("desk-preview-company", rec.company);
    setText("desk-preview-tags", (rec.tags || []).join(", "));
    setText("desk-preview-customer-notes", rec.notes);
    const list = $("desk-preview-interactions");
    list.replaceChildren();
    for (const i of (got.record.interactions || [])) {
      const li = document.createElement("li");
      li.textContent = [i.at ? lb.formatTime(i.at) : "", i.agent, i.disposition, i.notes].filter(Boolean).join(" · ");
      list.append(li);
    }
  }

  async function loadNext(quiet) {
    if (!select.value) return;
    try {
      renderContact(await getJson("/api/desk/preview/" + encodeURIComponent(select.value) + "/next"));
    } catch (e) { if (!quiet) say(e.message, false); }   // a background look while paused stays quiet
  }

  // the engine gave the number back to the list (live, from the desk's event stream): the card goes,
  // and a line says why and what brings the next contact
  const RELEASED_WHY = {
    "paused": "because you paused. Unpause to see the next contact.",
    "logged out": "because you logged out of the queues. Log in to see the next contact.",
    "desk closed": "because this desk was closed for too long. The next contact shows in a moment.",
  };
  let agentStatus = "";
  document.addEventListener("linebox:desk-agent", (ev) => {
    const was = agentStatus;
    agentStatus = (ev.detail || {}).status || "";
    if (agentStatus === "available" && was && was !== "available" && !panel.hidden && $("desk-preview-card").hidden
        && !busy) loadNext(true);
  });
  document.addEventListener("linebox:preview-released", (ev) => {
    const d = ev.detail || {};
    if (d.campaign !== select.value) return;
    show("desk-preview-card", false);
    show("desk-preview-empty", false);
    setText("desk-preview-released", (d.number || "The number") + " went back to the campaign's list " +
      (RELEASED_WHY[d.why] || "(" + (d.why || "released") + ")."));
    show("desk-preview-released", true);
  });

  async function act(action) {
    if (busy || !select.value) return;
    busy = true;
    try {
      const got = await lb.send("POST", "/api/desk/preview/" + action, { campaign: select.value });
      say({ call: "Calling " + got.number + ": your phone rings first.", skip: "Skipped " + got.number + ".",
        dnc: got.number + " is on the do-not-call list." }[action], true);
      if (action !== "call") await loadNext();
      else show("desk-preview-card", false);
    } catch (e) {
      say(e.message, false);
      // the number may have gone back to the list meanwhile (paused, logged out): show what is kept now
      if (/No number is kept/.test(e.message)) show("desk-preview-card", false);
    }
    busy = false;
  }

  for (const b of panel.querySelectorAll("[data-preview]")) b.addEventListener("click", () => act(b.dataset.preview));
  select.addEventListener("change", () => loadNext(false));

  async function start() {
    try {
      const got = await getJson("/api/desk/preview");
      select.replaceChildren();
      for (const c of got.campaigns) {
        const o = document.createElement("option");
        o.value = c.id; o.textContent = c.name;
        select.append(o);
      }
      panel.hidden = !got.campaigns.length;
      if (got.campaigns.length) await loadNext();
    } catch (e) { say(e.message, false); }
  }
  start();
  // after a call, the next contact: when the agent's phone is free again the desk's own view
  // refreshes; here, a button to ask again is enough (and a periodic look while nothing is shown)
  setInterval(() => { if (!panel.hidden && $("desk-preview-card").hidden && !busy) loadNext(true); }, 5000);
})();
