// Live pages (oms/live): who else has this record open, and what changed while it is open.
// The page's #oms-live element (oms/templatetags/live.py) says what to watch and where to ask.
// Changes come by server-sent events; when the stream is down the page polls, and tries the
// stream again every 30 seconds.
(() => {
  const root = document.getElementById("oms-live");
  if (!root) return;
  const conf = root.dataset;
  const self = String(conf.liveSelf || "");
  const isList = Boolean(conf.liveList);
  const RETRY_STREAM_MS = 30000;
  const TYPING_EVERY_MS = 3000;
  const MAX_NOTES = 5;

  // This tab (kept in sessionStorage), and this load of it: the "left" of the page before in
  // the same tab may reach the server after this one arrived, and must not remove it.
  const random = (n) => Array.from(crypto.getRandomValues(new Uint8Array(n)),
    (b) => b.toString(16).padStart(2, "0")).join("");
  const tab = (() => {
    const key = "oms-live-tab";
    let id = null;
    try { id = sessionStorage.getItem(key); } catch (_) { /* storage off: one id per load */ }
    if (!id) {
      id = random(8);
      try { sessionStorage.setItem(key, id); } catch (_) { /* as above */ }
    }
    return `${id}-${random(4)}`;
  })();

  const seen = () => Number(root.dataset.liveSeen || 0);
  let lastAt = seen(); // the newest change this page knows of (µs)
  const handled = new Set(); // event ids already shown (a reconnect may send one again)
  const presence = {}; // ref -> viewers

  const query = (extra) => {
    const params = new URLSearchParams(isList ? { list: conf.liveList } : { watch: conf.liveWatch });
    params.set("tab", tab);
    for (const [key, value] of Object.entries(extra || {})) params.set(key, value);
    return params.toString();
  };
  const withQuery = (url, extra) => `${url}${url.includes("?") ? "&" : "?"}${query(extra)}`;
  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const clock = (() => { // the page's own time zone (the retailer's), as the server writes times
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    try { return new Intl.DateTimeFormat("en-GB", { ...options, timeZone: conf.liveTz || undefined }); }
    catch (_) { return new Intl.DateTimeFormat("en-GB", options); }
  })();
  const hhmm = (epochSeconds) => clock.format(new Date(epochSeconds * 1000));
  const csrfToken = () => {
    const cookie = document.cookie.split("; ").find((c) => c.startsWith("csrftoken="));
    if (cookie) return decodeURIComponent(cookie.split("=")[1]);
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (_) { return ""; }
  };

  // -- presence: the other people on this record, since when, and who is typing
  const presenceBox = root.querySelector("[data-testid=presence]");
  let presenceTimer = null;
  function renderPresence() {
    if (!presenceBox) return;
    const now = Date.now() / 1000;
    const people = new Map(); // one entry per person, however many tabs they have open
    for (const viewers of Object.values(presence)) {
      for (const v of viewers || []) {
        if (String(v.user) === self) continue;
        const typing = v.typing && v.typing_until > now;
        const known = people.get(v.user);
        if (!known) people.set(v.user, { name: v.name, since: v.since, typing });
        else { known.since = Math.min(known.since, v.since); known.typing ||= typing; }
      }
    }
    presenceBox.replaceChildren();
    presenceBox.classList.toggle("oms-presence-on", people.size > 0);
    if (people.size) presenceBox.append(el("span", "oms-presence-label", "Also here:"));
    for (const person of people.values()) {
      const chip = el("span", "oms-presence-user", person.name);
      chip.dataset.testid = "present-user";
      chip.append(el("small", "oms-presence-since", ` since ${hhmm(person.since)}`));
      if (person.typing) chip.append(el("em", "oms-presence-typing", " typing…"));
      presenceBox.append(chip);
    }
    // a typing mark lapses on its own, even if the "stopped" message never comes
    clearTimeout(presenceTimer);
    const until = Math.min(...Object.values(presence).flat()
      .filter((v) => v.typing && v.typing_until > now).map((v) => v.typing_until));
    if (Number.isFinite(until)) presenceTimer = setTimeout(renderPresence, (until - now) * 1000 + 50);
  }
  function setPresence(ref, viewers) {
    presence[ref] = viewers;
    renderPresence();
  }

  // -- changes: a note saying what and who, the rows or regions that show it
  const notes = root.querySelector("[data-testid=live-changes]");
  const describe = (ev) => `${ev.text} — ${ev.by} at ${ev.time}`;
  function note(ev) {
    const item = el("div", "alert alert-info d-flex align-items-center gap-2 py-1 px-2 mb-1 small oms-live-note");
    item.setAttribute("role", "status");
    item.append(el("span", "flex-grow-1", describe(ev)));
    const close = el("button", "btn-close oms-live-close");
    close.type = "button";
    close.setAttribute("aria-label", "Dismiss");
    close.dataset.bsDismiss = "alert";
    item.append(close);
    notes.prepend(item);
    while (notes.children.length > MAX_NOTES) notes.lastElementChild.remove();
  }

  function markRows(ev) {
    for (const ref of ev.refs || []) {
      for (const row of document.querySelectorAll(`[data-live-row="${CSS.escape(ref)}"]`)) {
        row.classList.add("oms-row-changed");
        row.title = describe(ev);
      }
    }
  }

  function editing() {
    // a dialog open or opening (Bootstrap marks the body at once), or a menu open
    if (document.querySelector("body.modal-open, .modal.show, .dropdown-menu.show")) return true;
    const active = document.activeElement;
    if (active && active.form && active.form.method === "post" && active.value) return true;
    for (const form of document.querySelectorAll("#main form[method=post]")) {
      for (const field of form.elements) {
        if (field.type === "hidden" || field.disabled) continue;
        if (field.type === "checkbox" || field.type === "radio") {
          if (field.checked !== field.defaultChecked) return true;
        } else if (field.tagName === "SELECT") {
          const options = Array.from(field.options);
          const first = Math.max(0, options.findIndex((o) => o.defaultSelected)); // as drawn
          if (field.multiple ? options.some((o) => o.selected !== o.defaultSelected)
            : field.selectedIndex !== first) return true;
        } else if ("defaultValue" in field && field.value !== field.defaultValue) return true;
      }
    }
    return false;
  }

  let banner = null;
  function offerReload(ev) {
    if (banner && banner.shown && banner.shown !== ev) note(banner.shown); // kept in the list
    if (!banner) {
      banner = el("div", "alert alert-warning d-flex flex-wrap align-items-center gap-2 py-2 mb-1 oms-live-banner");
      banner.setAttribute("role", "alert");
      banner.dataset.testid = "live-banner";
      banner.append(el("span", "oms-live-banner-text"));
      const reload = el("button", "btn btn-sm btn-warning ms-auto", "Reload");
      reload.type = "button";
      reload.addEventListener("click", () => window.location.reload());
      banner.append(reload);
      notes.before(banner);
    }
    banner.shown = ev;
    banner.querySelector(".oms-live-banner-text").textContent =
      `Changed by ${ev.by} at ${ev.time}: ${ev.text}`;
  }

  // each region as it was drawn: one that comes back the same is left as it is
  // (its CSRF tokens aside: they are masked afresh each time a page is drawn)
  const drawn = new WeakMap();
  const htmlOf = (node) => node.outerHTML.replace(/(name="csrfmiddlewaretoken" value=")[^"]*/g, "$1");
  for (const part of document.querySelectorAll("[data-live-part]")) drawn.set(part, htmlOf(part));
  // htmx at work (a tab opening, a comment sent) or done while the page was asked for: ask
  // again once it is quiet, or its swap and ours would undo each other
  let [busy, swaps, waiting] = [0, 0, false];
  const whenQuiet = () => { if (waiting && !busy) { waiting = false; refresh(); } };
  document.addEventListener("htmx:beforeRequest", () => { busy += 1; });
  // a request's swap (and the URL it pushes) comes a moment after its answer: the page is quiet
  // again only once that is done, or a redraw in between would take the element htmx swaps into
  document.addEventListener("htmx:afterRequest", () => {
    setTimeout(() => { busy = Math.max(0, busy - 1); whenQuiet(); }, 250);
  });
  document.addEventListener("htmx:afterSwap", () => { swaps += 1; });
  let refreshing = null;
  let again = false;
  let pendingEvent = null; // the latest change being shown in place
  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = (async () => {
      const [url, before] = [window.location.href, swaps];
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`page answered ${response.status}`);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      if (busy || url !== window.location.href || before !== swaps) { waiting = true; return; }
      if (editing()) { // the user began while the page was asked for: leave their work be
        if (String(pendingEvent.by_id) !== self) offerReload(pendingEvent);
        return;
      }
      for (const part of document.querySelectorAll("[data-live-part]")) {
        const next = part.id && fresh.getElementById(part.id);
        const html = next && htmlOf(next);
        if (!next || html === drawn.get(part)) continue;
        if (part.tagName === "DETAILS") next.open = part.open; // keep what the user folded
        const adopted = document.importNode(next, true);
        drawn.set(adopted, html);
        part.replaceWith(adopted);
        adopted.classList.add("oms-live-flash");
        setTimeout(() => adopted.classList.remove("oms-live-flash"), 1500);
        if (window.htmx) window.htmx.process(adopted);
      }
      const freshRoot = fresh.getElementById("oms-live");
      if (freshRoot && freshRoot.dataset.liveSeen) root.dataset.liveSeen = freshRoot.dataset.liveSeen;
    })();
    try { await refreshing; } catch (_) { offerReload(pendingEvent); } finally {
      refreshing = null;
      if (again) { again = false; refresh(); } else whenQuiet();
    }
  }

  function onChange(ev) {
    if (!ev || handled.has(ev.id) || ev.at <= seen()) return;
    handled.add(ev.id);
    lastAt = Math.max(lastAt, ev.at);
    const mine = String(ev.by_id) === self;
    if (isList) { markRows(ev); return; }
    if (editing()) { if (!mine) offerReload(ev); return; } // the banner says it
    if (!mine) note(ev);
    pendingEvent = ev;
    refresh();
  }

  // -- the stream, and polling when it is down
  let source = null;
  let failures = 0;
  let pollTimer = null;
  let retryTimer = null;
  const on = (name, handler) => source.addEventListener(name, (message) => {
    let data = null;
    try { data = JSON.parse(message.data); } catch (_) { return; }
    handler(data);
  });

  function connect() {
    stopPolling();
    source = new EventSource(withQuery(conf.liveStream, { since: lastAt || seen() }));
    on("hello", (data) => {
      failures = 0;
      for (const [ref, viewers] of Object.entries(data.presence || {})) setPresence(ref, viewers);
    });
    on("change", onChange);
    on("presence", (data) => setPresence(data.ref, data.viewers));
    on("degraded", () => startPolling());
    on("resync", () => { source.close(); connect(); });
    source.onerror = () => {
      failures += 1;
      if (source.readyState === EventSource.CLOSED || failures >= 3) startPolling();
    };
  }

  function startPolling() {
    if (source) { source.close(); source = null; }
    if (pollTimer) return;
    const every = Math.max(1, Number(conf.livePollSeconds) || 2) * 1000;
    pollTimer = setInterval(poll, every);
    poll();
    retryTimer = setTimeout(() => { failures = 0; connect(); }, RETRY_STREAM_MS);
  }
  function stopPolling() {
    clearInterval(pollTimer);
    clearTimeout(retryTimer);
    pollTimer = retryTimer = null;
  }
  async function poll() {
    try {
      const response = await fetch(withQuery(conf.livePoll, { since: lastAt || seen() }), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const data = await response.json();
      for (const ev of data.changes || []) onChange(ev);
      for (const [ref, viewers] of Object.entries(data.presence || {})) setPresence(ref, viewers);
    } catch (_) { /* the server is away: the next tick asks again */ }
  }

  // -- what this tab tells the others: typing, stopped, gone
  function tell(state, beacon) {
    if (isList || !conf.livePresence) return;
    const body = new FormData();
    body.set("watch", conf.liveWatch);
    body.set("tab", tab);
    body.set("state", state);
    body.set("csrfmiddlewaretoken", csrfToken());
    if (beacon && navigator.sendBeacon) { navigator.sendBeacon(conf.livePresence, body); return; }
    fetch(conf.livePresence, { method: "POST", body, credentials: "same-origin" }).catch(() => {});
  }
  let typingSent = 0;
  const typingField = (target) =>
    target && target.tagName === "TEXTAREA" && target.closest("form[data-live-typing]");
  document.addEventListener("input", (event) => {
    if (!typingField(event.target) || Date.now() - typingSent < TYPING_EVERY_MS) return;
    typingSent = Date.now();
    tell("typing");
  });
  const stopTyping = () => { if (typingSent) { typingSent = 0; tell("idle"); } };
  document.addEventListener("focusout", (event) => { if (typingField(event.target)) stopTyping(); });

  // -- every action says what its page had seen: the server refuses a stale one
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form.matches("form[data-live-typing]")) stopTyping();
    if ((form.getAttribute("method") || "").toLowerCase() !== "post") return;
    let field = form.querySelector("input[name=_seen]");
    if (!field) { field = el("input"); field.type = "hidden"; field.name = "_seen"; form.append(field); }
    field.value = root.dataset.liveSeen || "";
  }, true);
  document.addEventListener("htmx:configRequest", (event) => {
    if (root.dataset.liveSeen) event.detail.headers["X-OMS-Seen"] = root.dataset.liveSeen;
  });

  window.addEventListener("pagehide", () => {
    if (source) { source.close(); source = null; }
    stopPolling();
    tell("leave", true);
  });
  window.addEventListener("pageshow", (event) => { if (event.persisted) connect(); });
  connect();
})();
