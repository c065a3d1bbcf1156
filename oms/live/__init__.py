"""Agents working together, live: who else has a record open, what changed since a page was
drawn, and actions refused when they were made on a stale page.

- `hub`: where events and presence travel (in-process, or through Redis across processes);
- `feed`: what a change looks like to a page, and the topics actions depend on;
- `guard`: the one check that refuses an action made from a page older than a change it
  depends on;
- `views`: the event stream (server-sent events), the polling fallback, and presence.
"""
