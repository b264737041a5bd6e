// The wallboard: render the scoped board, follow /api/wallboard/events, tick times every second.
(function () {
  "use strict";
  const myExt = document.body.dataset.myExtension || "";
  let board = null, receivedAt = 0;
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function fmt(s) { s = Math.max(0, Math.round(s)); const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), r = s % 60;
    return (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(r).padStart(2, "0"); }
  function pct(v) { return v === null || v === undefined ? "—" : Math.round(v * 100) + "%"; }
  function fail(err) { const n = document.getElementById("wb-error"); n.textContent = err.message || String(err); n.hidden = false; }
  function ok() { document.getElementById("wb-error").hidden = true; }
  function post(url, body) { return window.linebox.send("POST", url, body || {}).then(ok, fail); }
  function fig(value, label, cls) { const d = el("div", undefined, "wb-fig" + (cls ? " " + cls : "")); d.append(el("b", value), el("span", label)); return d; }
  const STATE_LABEL = { queue_call: "on a call", direct_call: "direct call", wrapup: "wrap-up", ringing: "ringing",
    idle: "available", paused: "paused", logged_out: "logged out" };

  function render() {
    if (!board) return;
    const live = board.live, figs = (board.figures && board.figures.queues) || {};
    const since = Date.now() / 1000 - receivedAt;
    const qs = document.getElementById("wb-queues");
    qs.replaceChildren();
    for (const q of live.queues) {
      const f = figs[q.number] || { band: "none", service_level: null, answered: 0, abandoned: 0, target: 0.8, threshold_s: 20 };
      const card = el("article", undefined, "wb-queue band-" + f.band);
      card.dataset.queue = q.number; card.dataset.band = f.band;
      card.append(el("h2", q.number + " " + q.name));
      const grid = el("div", undefined, "wb-figs");
      grid.append(fig(String(q.waiting), "waiting", "wb-waiting"),
        fig(q.waiting ? fmt(q.longest_wait_s + since) : "—", "longest wait", "wb-longest"),
        fig(q.staffed + "/" + q.free, "staffed / free"),
        fig(pct(f.service_level), "service level (target " + Math.round(f.target * 100) + "% in " + f.threshold_s + " s)", "wb-sl band-" + f.band),
        fig(String(f.answered), "answered today", "wb-answered"), fig(String(f.abandoned), "abandoned today", "wb-abandoned"));
      // faxes that called the queue went to a fax box: not callers, so not in answered/abandoned/SL
      if (f.faxes) grid.append(fig(String(f.faxes), "faxes today (not callers)", "wb-faxes"));
      card.append(grid); qs.append(card);
    }
    const states = document.getElementById("wb-states");
    states.replaceChildren();
    for (const [k, n] of Object.entries(live.states || {})) {
      const s = el("span", undefined, "wb-state"); s.dataset.state = k; s.append(el("b", String(n)), " " + (STATE_LABEL[k] || k)); states.append(s);
    }
    const tb = document.querySelector("#wb-agents tbody");
    tb.replaceChildren();
    const watched = Object.fromEntries((live.supervision || []).map(s => [s.agent, s]));
    const queues = live.queues.map(q => q.number);
    for (const a of live.agents) {
      const tr = el("tr", undefined, "st-" + a.shown_state); tr.dataset.agent = a.username;
      const w = watched[a.username];
      tr.append(el("td", a.username + (a.name ? " " + a.name : "")),
        el("td", (STATE_LABEL[a.shown_state] || a.shown_state) + (a.reason ? " (" + a.reason + ")" : "") + (w ? " · " + w.mode + " by " + (w.supervisor || "admin") : "")),
        el("td", fmt(a.in_state_s + since), "t"), el("td", a.queues.join(", ")));
      const td = el("td");
      const btn = (label, action, fn) => { const b = el("button", label); b.type = "button"; b.dataset.action = action; b.addEventListener("click", fn); td.append(b, " "); };
      if (a.state === "queue_call") {
        for (const mode of ["listen", "whisper", "barge"]) btn(mode, mode, () => post("/api/wallboard/supervise", { agent: a.username, mode, extension: myExt }));
        if (w) btn("stop", "stop", () => post("/api/wallboard/stop", { agent: a.username }));
      }
      if (a.status === "available") btn("pause", "pause", () => post("/api/wallboard/agents/" + encodeURIComponent(a.username) + "/pause"));
      if (a.status !== "logged_out") btn("log out", "logout", () => post("/api/wallboard/agents/" + encodeURIComponent(a.username) + "/logout"));
      if (a.queues.length && queues.length > 1) {
        const sel = el("select"); sel.setAttribute("aria-label", "Move " + a.username + " to queue");
        sel.append(el("option", "move to…"));
        for (const q of queues) if (!a.queues.includes(q)) { const o = el("option", q); o.value = q; sel.append(o); }
        sel.addEventListener("change", () => { if (sel.value) post("/api/wallboard/move", { agent: a.username, from_queue: a.queues[0], to_queue: sel.value }); });
        td.append(sel);
      }
      tr.append(td); tb.append(tr);
    }
    const ul = document.getElementById("wb-bulletins");
    ul.replaceChildren();
    for (const b of board.bulletins || []) {
      const li = el("li", b.text); li.dataset.bulletin = b.id;
      li.append(" ", el("small", (b.team ? "team " + b.team : "everybody") + " · " + (b.author || "")));
      const x = el("button", "withdraw"); x.type = "button"; x.addEventListener("click", () => post("/api/wallboard/bulletins/" + encodeURIComponent(b.id) + "/delete"));
      li.append(" ", x); ul.append(li);
    }
  }
  function take(doc) { board = doc; receivedAt = Date.now() / 1000; render(); }
  const data = document.getElementById("wb-data");
  if (data) take(JSON.parse(data.textContent));
  const es = new EventSource("/api/wallboard/events");
  es.addEventListener("board", ev => take(JSON.parse(ev.data)));
  setInterval(() => { render(); const c = document.getElementById("wb-clock"); if (c) c.textContent = new Date().toLocaleTimeString(); }, 1000);
  document.getElementById("wb-bulletin-form").addEventListener("submit", ev => {
    ev.preventDefault();
    const f = ev.target;
    post("/api/wallboard/bulletins", { text: f.elements.text.value, team: f.elements.team.value, expires_minutes: f.elements.expires_minutes.value })
      .then(() => { f.elements.text.value = ""; });
  });
})();
