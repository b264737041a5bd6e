// Linebox: behaviour shared by every page. No inline script anywhere (the CSP forbids it).
"use strict";
(() => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = meta ? meta.content : "";

  // Ask before destructive form posts (delete buttons carry data-confirm).
  document.addEventListener("submit", (event) => {
    const form = event.target;
    const question = form.dataset ? form.dataset.confirm : null;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // fetch() that carries the session's CSRF token, for pages that post JSON.
  async function send(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `Request failed (${response.status})`);
    return data;
  }

  function formatDuration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = String(seconds % 60).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
  }

  // The live event stream, reopened after the server restarts; back to the login page
  // once the session has ended. `handlers` maps event names to callbacks. `onConnect`
  // runs each time a stream opens: events published while no stream was open (page
  // still loading, the periodic reconnect, a server restart) are never replayed, so a
  // page whose data arrives only as events re-reads it there.
  function openEvents(handlers, onState, onConnect) {
    let source = null;
    let lostTimer = null;
    const report = onState || (() => {});
    const live = () => { clearTimeout(lostTimer); lostTimer = null; report("live"); };
    function connect() {
      source = new EventSource("/api/events");
      source.addEventListener("open", () => { live(); if (onConnect) onConnect(); });
      for (const [name, fn] of Object.entries(handlers)) {
        source.addEventListener(name, (e) => { live(); fn(JSON.parse(e.data)); });
      }
      source.addEventListener("logout", () => { source.close(); window.location.href = "/login"; });
      source.addEventListener("error", () => {
        // The server ends each stream after a while and the browser reconnects at once:
        // only call it lost when no new stream opens within two seconds.
        if (!lostTimer) lostTimer = setTimeout(() => report("lost"), 2000);
        if (source.readyState !== EventSource.CLOSED) return;   // the browser retries by itself
        fetch("/api/status", { credentials: "same-origin" }).then((r) => {
          if (r.status === 401) window.location.href = "/login";
          else setTimeout(connect, 3000);
        }).catch(() => setTimeout(connect, 3000));
      });
    }
    connect();
    return () => source && source.close();
  }

  // Times are shown in the site's timezone (Settings), whatever the browser's own is.
  const siteZone = document.body.dataset.timezone || undefined;
  function formatTime(epoch, options) {
    const date = new Date(epoch * 1000);
    try {
      return date.toLocaleString([], { ...options, timeZone: siteZone });
    } catch (e) {
      return date.toLocaleString([], options);
    }
  }

  // On a phone the navigation folds behind the Menu button.
  const menuButton = document.querySelector(".menu-button");
  const sidebar = document.querySelector(".sidebar");
  if (menuButton && sidebar) {
    const setOpen = (open) => {
      sidebar.classList.toggle("nav-open", open);
      menuButton.setAttribute("aria-expanded", String(open));
    };
    menuButton.addEventListener("click", () => {
      const open = menuButton.getAttribute("aria-expanded") !== "true";
      setOpen(open);
      if (open) {
        const current = sidebar.querySelector('.nav-link[aria-current="page"]') || sidebar.querySelector(".nav-link");
        if (current) current.focus();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && menuButton.getAttribute("aria-expanded") === "true") {
        setOpen(false);
        menuButton.focus();
      }
    });
  }

  // Tables on a phone show one card per row: every cell carries its column's name.
  // Rows that scripts add later (history, live calls) are labelled as they arrive.
  function labelCells(table) {
    const head = table.tHead && table.tHead.rows[0];
    if (!head || !table.tBodies[0]) return;
    const names = [...head.cells].map((c) => c.textContent.trim());
    for (const row of table.tBodies[0].rows) {
      for (const cell of row.cells) {
        if (cell.colSpan === 1 && cell.dataset.label === undefined) cell.dataset.label = names[cell.cellIndex] || "";
      }
    }
  }
  for (const table of document.querySelectorAll("table.data")) {
    labelCells(table);
    if (table.tBodies[0]) new MutationObserver(() => labelCells(table)).observe(table.tBodies[0], { childList: true });
  }

  window.linebox = { csrfToken, send, formatDuration, formatTime, openEvents };
})();
