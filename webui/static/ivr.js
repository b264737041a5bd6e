// IVR builder: add/remove option rows, preview the chosen greeting. The form works without it
// (one empty row is always there); this only makes editing comfortable.
"use strict";
(function () {
  const table = document.querySelector("#options tbody");
  const add = document.getElementById("add-option");
  if (table && add) {
    add.addEventListener("click", function () {
      const rows = table.querySelectorAll("tr.option-row");
      if (rows.length >= 12) return;
      const copy = rows[rows.length - 1].cloneNode(true);
      copy.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
      copy.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      table.appendChild(copy);
      copy.querySelector("select").focus();
    });
    table.addEventListener("click", function (ev) {
      const btn = ev.target.closest(".remove-option");
      if (!btn) return;
      const row = btn.closest("tr");
      if (table.querySelectorAll("tr.option-row").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
        row.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      }
    });
  }
  const greeting = document.getElementById("greeting");
  const preview = document.getElementById("greeting-preview");
  const language = document.querySelector("select[name=language]");
  function update() {
    if (!greeting || !preview) return;
    if (greeting.value) {
      preview.src = "/prompts/audio/" + greeting.value + ".wav?lang=" + encodeURIComponent(language ? language.value : "en");
    } else {
      preview.removeAttribute("src");
    }
  }
  if (greeting) greeting.addEventListener("change", update);
  if (language) language.addEventListener("change", update);
})();
