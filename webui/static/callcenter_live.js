// Live queue view: render the scoped status, then follow /api/callcenter/events.
(function () {
  "use strict";
  function cell(text) { const td = document.createElement("td"); td.textContent = text; return td; }
  function fmt(s) { s = Math.max(0, Math.round(s)); return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0"); }
  let current = null;
  function render(st) {
    current = st;
    const qb = document.querySelector("#cc-queues tbody");
    const ab = document.querySelector("#cc-agents tbody");
    if (!qb || !ab) return;
    qb.replaceChildren(); ab.replaceChildren();
    const now = Date.now() / 1000, skew = now - st.at;
    for (const q of st.queues) {
      const tr = document.createElement("tr"); tr.dataset.queue = q.number;
      const longest = q.waiting.length ? Math.max(...q.waiting.map(w => now - skew - w.since)) : 0;
      tr.append(cell(q.number + " " + q.name), cell(String(q.waiting.length)), cell(q.waiting.length ? fmt(longest) : "—"),
        cell(q.staffed + " / " + q.free),
        cell(q.waiting.map(w => "#" + w.position + " " + (w.caller || "?") + (w.kind === "callback" ? " (callback)" : "")).join(", ")));
      qb.append(tr);
    }
    for (const a of st.agents) {
      const tr = document.createElement("tr"); tr.dataset.agent = a.username;
      tr.append(cell(a.username + (a.name ? " " + a.name : "")),
        cell(a.status + (a.reason ? " (" + a.reason + ")" : "")), cell(a.state.replace("_", " ")),
        cell((a.extension || "—") + (a.headset ? " headset" : "")), cell(a.queues.join(", ")));
      const actions = document.createElement("td");
      const verbs = a.status === "available" ? ["pause", "logout"] : a.status === "paused" ? ["unpause", "logout"] : [];
      for (const verb of verbs) {
        const b = document.createElement("button");
        b.className = "btn small"; b.type = "button"; b.dataset.action = verb; b.textContent = verb;
        b.addEventListener("click", () => {
          window.linebox.send("POST", "/api/callcenter/agents/" + encodeURIComponent(a.username) + "/" + verb)
            .catch(err => { const n = document.getElementById("cc-error"); if (n) { n.textContent = err.message; n.hidden = false; } });
        });
        actions.append(b, " ");
      }
      tr.append(actions);
      ab.append(tr);
    }
  }
  const data = document.getElementById("cc-data");
  if (data) render(JSON.parse(data.textContent));
  const es = new EventSource("/api/callcenter/events");
  es.addEventListener("queues", ev => render(JSON.parse(ev.data)));
  setInterval(() => { if (current) render(current); }, 1000);
})();
