// Small behaviours on top of htmx. Served from our own origin (the CSP allows only 'self').

// Filter forms send only the filters that are set, so the URL pushed to the address bar
// stays short and shareable: /orders/?status=processing rather than /orders/?q=&view=&status=...
document.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt.closest("form[data-drop-empty]");
  if (!form || event.detail.verb !== "get") return;
  const params = event.detail.parameters;
  for (const key of Array.from(params.keys ? params.keys() : Object.keys(params))) {
    const values = params.getAll ? params.getAll(key) : [params[key]].flat();
    if (values.every((value) => value === "" || value === null || value === undefined)) {
      params.delete ? params.delete(key) : delete params[key];
    }
  }
});

// A button with data-confirm asks before its form is sent (money moves, the customer is told).
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

// The top bar's search: "/" anywhere (outside a field) puts the cursor in it; the arrow keys
// move from the box through the suggestions and back; Escape closes them.
(() => {
  const box = () => document.getElementById("oms-search-box");
  const hits = () => Array.from(document.querySelectorAll("#oms-search-results .oms-search-hit"));
  const typing = (el) =>
    el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

  document.addEventListener("keydown", (event) => {
    const input = box();
    if (!input) return;
    if (event.key === "/" && !typing(document.activeElement) && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      input.focus();
      input.select();
      return;
    }
    const inSearch = document.activeElement === input || hits().includes(document.activeElement);
    if (!inSearch) return;
    const list = hits();
    const at = list.indexOf(document.activeElement);
    if (event.key === "ArrowDown" && list.length) {
      event.preventDefault();
      list[Math.min(at + 1, list.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      event.preventDefault();
      (at === 0 ? input : list[at - 1]).focus();
    } else if (event.key === "Escape") {
      // the first Escape closes the suggestions and keeps the text; the next one clears it
      const results = document.getElementById("oms-search-results");
      if (!results.childElementCount) return;
      event.preventDefault();
      results.replaceChildren();
      input.setAttribute("aria-expanded", "false");
      input.focus();
    }
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id === "oms-search-results") {
      box()?.setAttribute("aria-expanded", hits().length ? "true" : "false");
    }
  });

  // a click elsewhere closes the suggestions
  document.addEventListener("click", (event) => {
    const results = document.getElementById("oms-search-results");
    if (results && !event.target.closest(".oms-search")) results.replaceChildren();
  });
})();

// Bulk actions on the orders list: the page's checkbox ticks every order of the page, the count
// says how many are ticked, and only the chosen action's own fields show.
(() => {
  const count = () => {
    const shown = document.getElementById("bulk-count");
    if (!shown) return;
    const all = document.getElementById("bulk-all");
    const ticked = document.querySelectorAll(".oms-select:checked").length;
    shown.textContent = all && all.checked ? "All matching" : String(ticked);
  };
  const params = () => {
    const action = document.getElementById("bulk-action");
    if (!action) return;
    for (const field of document.querySelectorAll(".oms-bulk-param")) {
      field.hidden = !field.dataset.for.split(" ").includes(action.value);
    }
  };
  document.addEventListener("change", (event) => {
    if (event.target.classList.contains("oms-select-page")) {
      for (const box of document.querySelectorAll(".oms-select")) box.checked = event.target.checked;
    }
    if (event.target.id === "bulk-action") params();
    count();
  });
  document.addEventListener("htmx:afterSwap", count);
  document.addEventListener("DOMContentLoaded", () => {
    params();
    count();
  });
})();

// A table wider than its card scrolls sideways inside it; the scroller then takes the keyboard
// focus (Tab to it, the arrow keys scroll it), so its hidden columns are reachable without a mouse.
(() => {
  const mark = () => {
    for (const box of document.querySelectorAll(".table-responsive")) {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.omsScrolls = "";
      } else if (!scrolls && "omsScrolls" in box.dataset) {
        box.removeAttribute("tabindex");
        delete box.dataset.omsScrolls;
      }
    }
  };
  mark();
  document.addEventListener("htmx:afterSettle", mark);
  window.addEventListener("resize", mark);
})();
