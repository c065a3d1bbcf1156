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
