// The destination picker (templates/_destinations.html): pick the kind first, then the target.
// The grouped select stays the form field; this adds a kind select before it and shows only
// the chosen kind's targets. Rows copied by other scripts (IVR options) keep working: the
// groups travel in a data attribute and the change handler is delegated.
"use strict";
(() => {
  function readGroups(select) {
    return [...select.querySelectorAll("optgroup")].map((g) => ({
      label: g.label, kind: g.dataset.kind || g.label,
      items: [...g.querySelectorAll("option")].map((o) => [o.value, o.textContent]),
    }));
  }

  function fillTargets(picker, kind, keep) {
    const select = picker.querySelector("select.dest");
    const groups = JSON.parse(picker.dataset.groups || "[]");
    const group = groups.find((g) => g.kind === kind);
    const options = [new Option(group ? `— choose (${group.label.toLowerCase()}) —` : "— choose a kind first —", "")];
    for (const [value, text] of group ? group.items : []) options.push(new Option(text, value, false, value === keep));
    select.replaceChildren(...options);
    if (group && group.items.length === 1) select.value = group.items[0][0];   // "Hang up": nothing more to pick
    else if (keep && group && group.items.some(([v]) => v === keep)) select.value = keep;
    select.hidden = !group || (group.items.length === 1 && group.items[0][0].endsWith(":"));
  }

  function enhance(picker) {
    if (picker.querySelector("select.dest-kind")) return;
    const select = picker.querySelector("select.dest");
    if (!select) return;
    if (!picker.dataset.groups) picker.dataset.groups = JSON.stringify(readGroups(select));
    const groups = JSON.parse(picker.dataset.groups);
    const current = select.value;
    const kindSelect = document.createElement("select");
    kindSelect.className = "dest-kind";
    kindSelect.setAttribute("aria-label", `${picker.dataset.name || "Destination"}: kind`);
    kindSelect.append(new Option("— kind —", ""));
    for (const g of groups) kindSelect.append(new Option(g.label, g.kind));
    const owner = groups.find((g) => g.items.some(([v]) => v === current));
    kindSelect.value = owner ? owner.kind : "";
    picker.insertBefore(kindSelect, select);
    fillTargets(picker, kindSelect.value, current);
  }

  function enhanceAll(root) {
    for (const picker of root.querySelectorAll("[data-dest-picker]")) enhance(picker);
  }

  document.addEventListener("change", (event) => {
    const kind = event.target.closest("select.dest-kind");
    if (!kind) return;
    fillTargets(kind.closest("[data-dest-picker]"), kind.value, "");
  });
  // IVR option rows are copied by ivr.js: a copied picker is reset to "no kind"
  new MutationObserver((records) => {
    for (const r of records) for (const node of r.addedNodes) {
      if (node.nodeType !== 1) continue;
      for (const picker of node.querySelectorAll("[data-dest-picker]")) {
        const kind = picker.querySelector("select.dest-kind");
        if (kind) { kind.value = ""; fillTargets(picker, "", ""); }
      }
    }
  }).observe(document.body, { childList: true, subtree: true });
  enhanceAll(document);
})();
