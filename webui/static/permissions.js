// Permissions: each extension row has its own Save button (its own form). Saving one row reloads
// the page, so edits typed in other rows would be lost: they are marked "unsaved" as you type,
// and saving a row while others have unsaved edits asks first, naming them.
"use strict";
(() => {
  const table = document.getElementById("extension-classes");
  if (!table) return;
  const dirty = new Set();
  const initial = new Map();
  const fields = [...document.querySelectorAll("[form^='ext-']")].filter((f) => f.name);
  for (const f of fields) initial.set(f, f.value);

  function mark(formId) {
    const row = table.querySelector(`tr[data-number="${formId.slice(4)}"]`);
    const changed = fields.some((f) => f.getAttribute("form") === formId && f.value !== initial.get(f));
    if (changed) dirty.add(formId); else dirty.delete(formId);
    if (row) {
      row.classList.toggle("unsaved", changed);
      let note = row.querySelector(".unsaved-note");
      if (changed && !note) {
        note = document.createElement("span");
        note.className = "unsaved-note badge busy";
        note.textContent = "unsaved";
        row.cells[0].append(" ", note);
      } else if (!changed && note) {
        note.remove();
      }
    }
  }
  for (const f of fields) {
    f.addEventListener("input", () => mark(f.getAttribute("form")));
    f.addEventListener("change", () => mark(f.getAttribute("form")));
  }

  let submitting = false;
  document.addEventListener("submit", (event) => {
    if (event.defaultPrevented) return;
    const form = event.target;
    const own = form.id && form.id.startsWith("ext-") ? form.id : null;
    const what = own ? `extension ${own.slice(4)}` : "this";
    const others = [...dirty].filter((id) => id !== own).map((id) => id.slice(4));
    if (others.length && !window.confirm(
      `Extension${others.length > 1 ? "s" : ""} ${others.join(", ")} ${others.length > 1 ? "have" : "has"} ` +
      `unsaved changes that will be lost when ${what} is saved. Save ${what} anyway?`)) {
      event.preventDefault();
      return;
    }
    submitting = true;
  }, true);
  window.addEventListener("beforeunload", (event) => {
    if (dirty.size && !submitting) { event.preventDefault(); event.returnValue = ""; }
  });
})();
