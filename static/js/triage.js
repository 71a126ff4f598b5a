/* Triage: the keyboard shortcuts of the queue page, and nothing else. The page works without this file.
 *
 *   j / k   move the selection down / up the table      Enter  open the selected lead's panel
 *   x       tick the selected row (bulk actions)        r n h  go to refer / nurture / help in the panel
 *   ?       list the shortcuts                          Esc    close that list
 *
 * Shortcuts rest while focus is in a field, and when Ctrl, Alt or Meta is held. The rest is the page's own:
 * htmx attributes (a row's link sends the open lead to release; the table's requests carry the ticked rows,
 * which come back ticked), `autofocus` in the returned panel (the panel, the field to fix, or "Next lead"), and
 * CSS for the bulk form's fields.
 */
(function () {
  "use strict";

  var TABLE = "triage-table-region";
  var selectedId = null;

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll("#" + TABLE + " tbody tr[data-lead-id]"));
  }

  function rowFor(id) {
    return id ? document.querySelector("#" + TABLE + ' tr[data-lead-id="' + id + '"]') : null;
  }

  function select(row, focus) {
    rows().forEach(function (r) {
      r.classList.remove("is-selected");
      r.removeAttribute("aria-selected");
    });
    if (!row) return;
    row.classList.add("is-selected");
    row.setAttribute("aria-selected", "true");
    row.setAttribute("tabindex", "-1");
    selectedId = row.getAttribute("data-lead-id");
    if (!focus) return;
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var current = all.indexOf(rowFor(selectedId));
    var next = current === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, current + step));
    select(all[next], true);
  }

  function selectedRow() {
    return rowFor(selectedId);
  }

  function goToSection(id) {
    var section = document.getElementById(id);
    if (!section) return;
    // The section's main control: the first enabled, visible one marked data-shortcut-focus; else the section.
    var target = Array.prototype.slice.call(section.querySelectorAll("[data-shortcut-focus]")).filter(function (el) {
      return !el.disabled && el.offsetParent !== null;
    })[0] || section;
    section.scrollIntoView({ block: "start", behavior: "smooth" });
    target.focus({ preventScroll: true });
  }

  function showShortcuts() {
    var dialog = document.getElementById("shortcuts-dialog");
    if (dialog && !dialog.open) dialog.showModal();
  }

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true']"));
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var dialog = document.getElementById("shortcuts-dialog");
    if (dialog && dialog.open) return; // the dialog handles Esc itself
    var key = event.key;
    if (key === "Enter") {
      // Enter on a link or button keeps its own meaning; on a row (or nothing) it opens the selected lead.
      if (event.target.closest && event.target.closest("a, button, summary")) return;
      var link = selectedRow() && selectedRow().querySelector("a.triage-open");
      if (!link) return;
      event.preventDefault();
      link.click();
      return;
    }
    var actions = {
      j: function () { move(1); },
      k: function () { move(-1); },
      x: function () {
        var box = selectedRow() && selectedRow().querySelector("input.triage-check");
        if (box) box.click();
      },
      r: function () { goToSection("triage-refer"); },
      n: function () { goToSection("triage-nurture"); },
      h: function () { goToSection("triage-help"); },
      "?": showShortcuts,
    };
    if (actions[key]) {
      event.preventDefault();
      actions[key]();
    }
  });

  // Clicking a row selects it, so j/k go on from there; the "Keyboard shortcuts" button opens the list as "?" does.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#" + TABLE + " tr[data-lead-id]");
    if (row) select(row, false);
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) showShortcuts();
  });
})();
