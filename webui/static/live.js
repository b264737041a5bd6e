// Live port status: renders the cards from /api/events (Server-Sent Events) and ticks durations.
"use strict";
(() => {
  const STATE_NAMES = {
    "idle": "Idle", "ringing": "Ringing", "off-hook": "Off hook", "dialing": "Dialing",
    "ringback": "Ringing out", "in-call": "In call", "busy": "Busy tone",
    "congestion": "Congestion", "fault": "Fault", "dialtone": "Dial tone", "in-use": "In use",
    "down": "Line down", "disabled": "Disabled", "calibrating": "Calibrating",
  };
  const dataEl = document.getElementById("status-data");
  const indicator = document.getElementById("live-indicator");
  const summary = document.getElementById("summary");
  let clockOffset = 0;   // server clock minus browser clock, seconds

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function card(p) {
    const article = el("article", `port state-${p.state}`);
    article.dataset.port = p.port;
    const header = el("header");
    header.append(el("span", "port-id", p.port.toUpperCase()), el("span", "port-kind", p.kind === "fxs" ? "Phone" : "Line"));
    const state = el("div", "port-state");
    state.append(el("span", "dot"), el("span", "state-name", STATE_NAMES[p.state] || p.state));
    const peer = el("div", "port-peer");
    if (p.peer) peer.append(document.createTextNode((p.state === "in-call" ? "with " : "") + p.peer));
    // the caller's number, unless the peer text already names it ("Line 1: 5550100")
    if (p.caller_id && !(p.peer || "").includes(p.caller_id)) peer.append(" ", el("span", "muted", `(${p.caller_id})`));
    if (p.detail) peer.append(" ", el("span", "muted", p.detail));
    const timer = el("div", "port-timer");
    timer.dataset.since = String(p.since || 0);
    article.append(header, el("div", "port-label", p.label), state, peer, timer);
    return article;
  }

  function fill(containerId, ports, emptyText) {
    const box = document.getElementById(containerId);
    if (!box) return;
    box.replaceChildren(...(ports.length ? ports.map(card) : [el("p", "empty", emptyText)]));
  }

  function renderSummary(ports) {
    if (!summary) return;
    const count = (pred) => ports.filter(pred).length;
    const pills = [
      ["phones", count((p) => p.kind === "fxs")],
      ["lines", count((p) => p.kind === "fxo")],
      ["in call", count((p) => p.state === "in-call")],
      ["ringing", count((p) => p.state === "ringing" || p.state === "ringback")],
    ].map(([label, n]) => {
      const pill = el("span", "pill");
      pill.append(el("strong", null, String(n)), document.createTextNode(label));
      return pill;
    });
    summary.replaceChildren(...pills);
  }

  function apply(payload) {
    clockOffset = payload.server_time - Date.now() / 1000;
    const ports = payload.ports || [];
    fill("ports-fxs", ports.filter((p) => p.kind === "fxs"), "No phone ports.");
    fill("ports-fxo", ports.filter((p) => p.kind === "fxo"), "No line ports.");
    fill("ports-all", ports, "Your phone port has not reported yet.");
    renderSummary(ports);
    tick();
  }

  function tick() {
    const now = Date.now() / 1000 + clockOffset;
    for (const timer of document.querySelectorAll(".port-timer")) {
      const since = parseFloat(timer.dataset.since);
      const idle = timer.parentElement.classList.contains("state-idle");
      if (!since) { timer.textContent = ""; continue; }
      timer.textContent = idle
        ? `since ${window.linebox.formatTime(since, { hour: "2-digit", minute: "2-digit" })}`
        : window.linebox.formatDuration(now - since);
    }
  }

  function setIndicator(state, text) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.querySelector(".text").textContent = text;
  }

  if (dataEl) apply(JSON.parse(dataEl.textContent));
  setInterval(tick, 1000);

  window.linebox.openEvents({ ports: apply }, (state) =>
    setIndicator(state, state === "live" ? "Live" : "Reconnecting…"));
})();
