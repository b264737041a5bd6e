// Call history: new call records arrive over /api/events and are added to the top of page one.
"use strict";
(() => {
  const table = document.getElementById("history");
  if (!table) return;
  const banner = document.getElementById("new-calls");
  const live = table.dataset.live === "on";

  function cell(text, extra) {
    const td = document.createElement("td");
    td.textContent = text || "";
    if (extra) {
      const span = document.createElement("span");
      span.className = "muted";
      span.textContent = ` ${extra}`;
      td.append(span);
    }
    return td;
  }

  function when(t) {
    if (typeof t !== "number") return t || "";
    // same form as the server-rendered rows: 2026-01-31 14:05:09
    const parts = {};
    const opts = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
      second: "2-digit", hourCycle: "h23" };
    let fmt;
    try {
      fmt = new Intl.DateTimeFormat("en-GB", { ...opts, timeZone: document.body.dataset.timezone });
    } catch (e) {
      fmt = new Intl.DateTimeFormat("en-GB", opts);
    }
    for (const p of fmt.formatToParts(new Date(t * 1000))) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}`;
  }

  const LABELS = { answered: "Answered", no_answer: "No answer", busy: "Busy", failed: "Failed", denied: "Denied" };

  function talkTime(r) {
    return typeof r.talk === "number" ? window.linebox.formatDuration(r.talk) : "";
  }

  function addRecord(r, quiet) {
    if (!r || !r.call_id) return;
    if (!live) { banner.classList.add("show"); return; }
    const body = table.tBodies[0];
    const existing = [...body.rows].find((row) => row.dataset.callId === String(r.call_id));
    // A call's result is final once it has one: a slower re-read (or a late event) that still
    // says "in progress" must not undo it.
    if (existing && existing.dataset.disposition && !r.disposition) return;
    if (quiet && existing && existing.dataset.disposition === String(r.disposition || "")) return;
    const row = document.createElement("tr");
    row.dataset.callId = String(r.call_id);
    row.dataset.disposition = r.disposition || "";
    row.className = "new-row";
    const badge = document.createElement("span");
    badge.className = `badge ${(r.disposition || "up").replace(/_/g, "-")}`;
    badge.textContent = LABELS[r.disposition] || "In progress";
    const result = document.createElement("td");
    result.append(badge);
    if (r.reason) {
      const why = document.createElement("small");
      why.className = "muted reason";
      why.textContent = r.reason;
      result.append(" ", why);
    }
    if (r.recordings && r.recordings.length) {
      const rec = document.createElement("a");
      rec.className = "rec-link";
      rec.href = `/recordings?call=${encodeURIComponent(r.call_id)}`;
      rec.textContent = r.recordings.length > 1 ? `Recordings (${r.recordings.length})` : "Recording";
      result.append(" ", rec);
    }
    const from = cell(r.src, r.caller_id_name);
    if (r.caller_id_number && r.caller_id_number !== r.src) {
      const number = document.createElement("span");
      number.className = "muted";
      number.textContent = ` (${r.caller_id_number})`;
      from.append(number);
    }
    const namesEl = document.getElementById("history-names");
    const names = namesEl ? JSON.parse(namesEl.textContent) : {};
    const named = (id) => (id && Object.prototype.hasOwnProperty.call(names, id) ? names[id] : id);
    row.append(cell(when(r.start)), from, cell(named(r.dst)), cell(r.direction), cell(named(r.line)), result,
      cell(talkTime(r)));
    for (const empty of body.querySelectorAll(".empty-row")) empty.remove();
    if (existing) existing.replaceWith(row); else body.prepend(row);
    while (body.rows.length > 25) body.deleteRow(body.rows.length - 1);
  }

  // The records that changed while no stream was open (the page was still loading, or the
  // stream was reconnecting) are read again; addRecord replaces rows by call id.
  async function resync() {
    if (!live) return;
    try {
      const response = await fetch("/api/history", { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      for (const r of (data.calls || []).slice().reverse()) addRecord(r, true);
    } catch (e) { /* the next reconnect tries again */ }
  }

  window.linebox.openEvents({ record: (data) => addRecord(data) }, null, resync);
})();
