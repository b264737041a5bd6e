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
  const callsTable = document.getElementById("calls");
  const callsError = document.getElementById("calls-error");
  let clockOffset = 0;   // server clock minus browser clock, seconds
  let lastPorts = [];
  let calls = [];          // from /api/calls (admins and supervisors): one entry per call
  let callsKnown = false;  // the list has been read at least once
  let canHangUp = false;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function callOf(port) {
    return calls.find((c) => (c.ports || []).includes(port)) || null;
  }

  // What the port shows: the engine's port state, except that a port whose outbound call has
  // not been answered yet (the engine says so in calls.list) reads "Ringing out".
  function shownState(p, call) {
    if (call && call.state === "ringing out" && p.state === "in-call") return "ringback";
    return p.state;
  }

  function card(p) {
    const call = callOf(p.port);
    const stateKey = shownState(p, call);
    const article = el("article", `port state-${stateKey}`);
    article.dataset.port = p.port;
    const header = el("header");
    header.append(el("span", "port-id", p.port.toUpperCase()), el("span", "port-kind", p.kind === "fxs" ? "Phone" : "Line"));
    const state = el("div", "port-state");
    state.append(el("span", "dot"), el("span", "state-name", STATE_NAMES[stateKey] || stateKey));
    const peer = el("div", "port-peer");
    if (p.peer) peer.append(document.createTextNode((stateKey === "in-call" ? "with " : "") + p.peer));
    // the outside caller's name (caller ID), then the number unless the peer text names it
    const callerName = call && call.direction === "inbound" && call.caller && call.caller.name;
    if (callerName) peer.append(" ", el("strong", "caller-name", callerName));
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

  const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

  // Counts calls, not ports: one call between two phones is "1 call", not "2 in call".
  function renderSummary(ports) {
    if (!summary) return;
    const count = (pred) => ports.filter(pred).length;
    const texts = [plural(count((p) => p.kind === "fxs"), "phone", "phones"),
                   plural(count((p) => p.kind === "fxo"), "line", "lines")];
    if (callsKnown) {
      const talking = calls.filter((c) => c.state === "in call").length;
      const ringing = calls.length - talking;
      texts.push(plural(talking, "call", "calls"));
      if (ringing) texts.push(`${ringing} ringing`);
    }
    summary.replaceChildren(...texts.map((text) => {
      const [n, ...rest] = text.split(" ");
      const pill = el("span", "pill");
      pill.append(el("strong", null, n), document.createTextNode(" " + rest.join(" ")));
      return pill;
    }));
  }

  function party(p) {
    if (!p) return "";
    if (p.kind === "line") return p.name ? `${p.name} (${p.number || "unknown number"})` : (p.number || "Unknown caller");
    if (p.kind === "number") return p.number;
    return p.name ? `${p.number} ${p.name}` : (p.number || p.label);
  }

  function renderCalls() {
    if (!callsTable) return;
    const body = callsTable.tBodies[0];
    const columns = callsTable.tHead.rows[0].cells.length;
    if (!calls.length) {
      const row = el("tr", "empty-row");
      const cell = el("td", "empty", "No calls right now.");
      cell.colSpan = columns;
      row.append(cell);
      body.replaceChildren(row);
      return;
    }
    body.replaceChildren(...calls.map((c) => {
      const row = el("tr");
      row.dataset.callId = c.id;
      row.append(el("td", null, party(c.caller)), el("td", null, party(c.callee)), el("td", null, c.line || "—"));
      const state = el("td");
      state.append(el("span", `badge call-${c.state.replace(/ /g, "-")}`, c.state[0].toUpperCase() + c.state.slice(1)));
      row.append(state);
      if (canHangUp && columns > 4) {
        const cell = el("td", "actions");
        const button = el("button", "btn danger small", "Hang up");
        button.type = "button";
        button.setAttribute("aria-label", `Hang up the call from ${party(c.caller)} to ${party(c.callee)}`);
        button.addEventListener("click", () => hangUp(c, button));
        cell.append(button);
        row.append(cell);
      }
      for (const cell of row.cells) cell.dataset.label = callsTable.tHead.rows[0].cells[cell.cellIndex].textContent;
      return row;
    }));
  }

  async function hangUp(c, button) {
    if (!window.confirm(`Hang up the call from ${party(c.caller)} to ${party(c.callee)}? Everyone in it is cut off.`)) return;
    button.disabled = true;
    try {
      await window.linebox.send("POST", `/api/calls/${encodeURIComponent(c.id)}/hangup`);
      if (callsError) callsError.hidden = true;
    } catch (err) {
      if (callsError) { callsError.textContent = err.message; callsError.hidden = false; }
      button.disabled = false;
    }
    loadCalls();
  }

  let loading = null;
  let again = false;
  async function loadCalls() {
    if (!callsTable) return;
    if (loading) { again = true; return; }      // one request at a time; the last change wins
    loading = (async () => {
      try {
        const response = await fetch("/api/calls", { credentials: "same-origin" });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(data.error || `Reading the calls failed (${response.status})`);
        calls = data.calls || [];
        canHangUp = Boolean(data.can_hang_up);
        callsKnown = true;
        if (callsError) callsError.hidden = true;
      } catch (err) {
        if (callsError) { callsError.textContent = err.message; callsError.hidden = false; }
      }
    })();
    await loading;
    loading = null;
    renderCalls();
    render();
    if (again) { again = false; loadCalls(); }
  }

  function render() {
    const ports = lastPorts;
    fill("ports-fxs", ports.filter((p) => p.kind === "fxs"), "No phone ports.");
    fill("ports-fxo", ports.filter((p) => p.kind === "fxo"), "No line ports.");
    fill("ports-all", ports, "Your phone port has not reported yet.");
    renderSummary(ports);
    tick();
  }

  function apply(payload) {
    clockOffset = payload.server_time - Date.now() / 1000;
    lastPorts = payload.ports || [];
    render();
    loadCalls();
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

  // The engine (telephony) process went away or came back: the banner says so.
  const banner = document.getElementById("engine-banner");
  function engine(ev) {
    if (banner) banner.hidden = ev.state !== "restarting";
  }

  window.linebox.openEvents({ ports: apply, call: loadCalls, engine: engine }, (state) =>
    setIndicator(state, state === "live" ? "Live" : "Reconnecting…"));
})();
