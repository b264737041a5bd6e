// Setup wizard: suggest the browser's timezone while the box still says UTC; send a test e-mail.
"use strict";
(() => {
  const tz = document.getElementById("timezone");
  const hint = document.getElementById("timezone-hint");
  let browserZone = "";
  try { browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* none */ }
  if (tz && hint && browserZone && tz.dataset.current === "UTC" && browserZone !== "UTC"
      && [...tz.options].some((o) => o.value === browserZone)) {
    tz.value = browserZone;
    hint.textContent = `${browserZone} is this computer's timezone; Linebox was on UTC. Change it if the box is elsewhere.`;
    hint.hidden = false;
  }

  const form = document.getElementById("test-mail-form");
  const result = document.getElementById("test-mail-result");
  if (form && result) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button");
      button.disabled = true;
      result.className = "";
      result.textContent = "Sending…";
      try {
        const data = await window.linebox.send("POST", "/welcome-test-mail", { to: form.elements.to.value });
        result.className = "alert ok";
        result.textContent = `Sent to ${data.sent}. Check that mailbox (and its spam folder).`;
      } catch (err) {
        result.className = "alert error";
        result.textContent = err.message;
      } finally {
        button.disabled = false;
      }
    });
  }
})();
