// Backup page: follow the backup job the page shows (#backup-job) until the archive is written,
// then open the page that offers it for download; a failure is shown with its reason.
"use strict";
(() => {
  const box = document.getElementById("backup-job");
  if (!box) return;
  const job = box.dataset.job;
  const bar = box.querySelector("progress");
  const label = box.querySelector(".backup-percent");
  const POLL_MS = 500;

  function failed(message) {
    const alert = document.createElement("div");
    alert.className = "alert error";
    alert.setAttribute("role", "alert");
    alert.textContent = message;
    box.replaceWith(alert);
  }

  async function poll() {
    let state;
    try {
      const r = await fetch(`/api/backup/job/${encodeURIComponent(job)}`, { headers: { Accept: "application/json" } });
      state = await r.json();
      if (!r.ok) {
        failed(state.error || state.detail || `The backup's progress could not be read (HTTP ${r.status}).`);
        return;
      }
    } catch (e) {
      setTimeout(poll, POLL_MS * 4);        // the web server restarting: try again
      return;
    }
    if (state.state === "done") {
      location.replace(`/backup?done=created&archive=${encodeURIComponent(state.name)}`);
      return;
    }
    if (state.state === "failed") {
      failed(state.error);
      return;
    }
    bar.value = state.percent;
    bar.textContent = `${state.percent}%`;
    label.textContent = `${state.percent}%`;
    setTimeout(poll, POLL_MS);
  }
  setTimeout(poll, POLL_MS);
})();
