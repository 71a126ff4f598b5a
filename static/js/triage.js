/* Triage: keyboard shortcuts and small comforts for the queue page. The page works without this file.
 *
 *   j / k   move the selection down / up the table      Enter  open the selected lead's panel
 *   x       tick the selected row (bulk actions)        r n h  go to refer / nurture / help in the panel
 *   ?       list the shortcuts                          Esc    close that list
 *
 * Shortcuts rest while focus is in a field, and when Ctrl, Alt or Meta is held.
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
    if (focus) {
      row.focus({ preventScroll: true });
      row.scrollIntoView({ block: "nearest" });
    }
  }

  function move(step) {
    var all = rows();
    if (!all.length) return;
    var current = all.indexOf(rowFor(selectedId));
    var next = current === -1 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, current + step));
    select(all[next], true);
  }

  function openSelected() {
    var row = rowFor(selectedId);
    var link = row && row.querySelector("a.triage-open");
    if (link) link.click();
  }

  function toggleSelected() {
    var row = rowFor(selectedId);
    var box = row && row.querySelector("input.triage-check");
    if (box) {
      box.checked = !box.checked;
      box.dispatchEvent(new Event("change", { bubbles: true }));
    }
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
      if (!selectedId) return;
      event.preventDefault();
      openSelected();
      return;
    }
    var actions = {
      j: function () { move(1); },
      k: function () { move(-1); },
      x: toggleSelected,
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

  // Clicking a row selects it, so j/k continue from there.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("#" + TABLE + " tr[data-lead-id]");
    if (row) select(row, false);
    if (event.target.closest && event.target.closest("[data-shortcuts-open]")) showShortcuts();
  });

  // Ticked rows: count them in the bulk form; keep ticks and the selection when the table is re-rendered.
  function ticked() {
    return Array.prototype.slice
      .call(document.querySelectorAll("#" + TABLE + " input.triage-check:checked"))
      .map(function (box) { return box.value; });
  }

  function showCount() {
    var holder = document.querySelector("#bulk-form [data-selected-count]");
    if (!holder || holder.querySelector(".text-danger")) return;
    var n = ticked().length;
    holder.textContent = n ? n + " ticked" : "Tick rows to act on several leads at once.";
  }

  function showBulkFields() {
    var action = document.getElementById("bulk-action");
    if (!action) return;
    document.querySelectorAll("#bulk-form [data-bulk-for]").forEach(function (field) {
      var wanted = field.getAttribute("data-bulk-for") === action.value;
      field.hidden = !wanted && !field.querySelector(".is-invalid");
    });
  }

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input.triage-check")) showCount();
    if (event.target.id === "bulk-action") showBulkFields();
  });

  // Opening another lead ends this user's claim on the one the panel showed (instead of in a few minutes).
  document.addEventListener("htmx:configRequest", function (event) {
    var panel = document.getElementById("panel");
    var open = panel && panel.getAttribute("data-lead-id");
    if (event.detail.verb === "get" && event.detail.target === panel && open) {
      event.detail.parameters.release = open;
    }
    if (event.detail.parameters.lead === "") delete event.detail.parameters.lead; // no panel open: keep URLs clean
  });

  var keep = null;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === TABLE) keep = ticked();
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target;
    if (!target) return;
    if (target.id === TABLE) {
      if (keep) {
        keep.forEach(function (id) {
          var box = document.querySelector("#" + TABLE + ' input.triage-check[value="' + id + '"]');
          if (box) box.checked = true;
        });
        keep = null;
      }
      markOpen();
      select(rowFor(selectedId), false);
      showCount();
    }
    if (target.id === "panel") {
      markOpen();
      var filterLead = document.querySelector('#triage-filter input[name="lead"]');
      var panel = document.getElementById("panel");
      var id = panel && panel.getAttribute("data-lead-id");
      if (filterLead && id) filterLead.value = id;
      if (!panel) return;
      var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
      // After a refused action: the field to fix. After a done one: "Next lead", so Enter goes on. Else the panel.
      var focus = verb === "post" &&
        (panel.querySelector(".is-invalid") || (!panel.querySelector("form[method=post]") && panel.querySelector("[data-next-lead]")));
      if (focus) {
        focus.focus();
        focus.scrollIntoView({ block: "nearest" });
      } else if (verb === "get") {
        panel.focus({ preventScroll: true });
        if (panel.getBoundingClientRect().top > window.innerHeight) panel.scrollIntoView({ block: "start" });
      }
    }
    if (target.id === "bulk-form") {
      showBulkFields();
      showCount();
    }
  });

  // The row of the lead open in the panel.
  function markOpen() {
    var panel = document.getElementById("panel");
    var id = panel && panel.getAttribute("data-lead-id");
    rows().forEach(function (row) {
      row.classList.toggle("is-open", row.getAttribute("data-lead-id") === id);
    });
    if (id && rowFor(id) && !selectedId) select(rowFor(id), false);
  }

  function init() {
    markOpen();
    showBulkFields();
    showCount();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
