// The live status page: polls /status every REFRESH_MS and follows /tap for the top series.
// Plain script, no build step; every value from the agent goes into the page as text
// (textContent), never as markup, since series names come from whoever sends metrics.
"use strict";

const REFRESH_MS = 2000;
const TOP = 20;
const TOKEN_KEY = "sluice.token";

let previous = null; // { at, listeners: Map(name -> {lines, bytes}) }
let tap = null; // AbortController of the running /tap request
let rates = new Map(); // series label -> { kind, perSecond }

const $ = (id) => document.getElementById(id);

function headers() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: "Bearer " + token } : {};
}

class Unauthorized extends Error {}

async function getJson(path) {
  const answer = await fetch(path, { headers: headers(), cache: "no-store" });
  if (answer.status === 401) throw new Unauthorized();
  if (!answer.ok) throw new Error(path + " answered " + answer.status);
  return answer.json();
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function number(n) {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 });
}

function duration(seconds) {
  if (seconds == null) return "—";
  if (seconds < 60) return seconds.toFixed(1) + " s";
  if (seconds < 3600) return Math.floor(seconds / 60) + " min " + Math.floor(seconds % 60) + " s";
  return Math.floor(seconds / 3600) + " h " + Math.floor((seconds % 3600) / 60) + " min";
}

function reasons(list, counts) {
  list.replaceChildren();
  const entries = Object.entries(counts || {});
  if (entries.length === 0) {
    const li = document.createElement("li");
    li.textContent = "none";
    li.className = "muted";
    list.appendChild(li);
  }
  for (const [reason, count] of entries) {
    const li = document.createElement("li");
    li.textContent = reason + ": " + number(count);
    li.dataset.reason = reason;
    li.dataset.value = count;
    list.appendChild(li);
  }
}

function renderListeners(status, now) {
  const body = $("listeners");
  body.replaceChildren();
  const seen = new Map();
  for (const l of status.listeners) {
    const row = document.createElement("tr");
    row.dataset.listener = l.listener;
    const before = previous && previous.listeners.get(l.listener);
    const seconds = previous ? (now - previous.at) / 1000 : 0;
    const rate = (field) => (before && seconds > 0 ? Math.max(0, (l[field] - before[field]) / seconds) : null);
    cell(row, l.listener + (l.running ? "" : " (stopped)"));
    const lineRate = rate("lines");
    const byteRate = rate("bytes");
    cell(row, lineRate == null ? "—" : number(Math.round(lineRate)), "num").dataset.field = "lines-rate";
    cell(row, byteRate == null ? "—" : number(Math.round(byteRate)), "num").dataset.field = "bytes-rate";
    for (const field of ["lines", "bytes", "truncated"]) {
      const td = cell(row, number(l[field]), "num");
      td.dataset.field = field;
      td.dataset.value = l[field];
    }
    const drops = cell(row, l.kernel_drops == null ? "—" : number(l.kernel_drops), "num");
    drops.dataset.field = "kernel_drops";
    if (l.kernel_drops != null) drops.dataset.value = l.kernel_drops;
    body.appendChild(row);
    seen.set(l.listener, { lines: l.lines, bytes: l.bytes });
  }
  previous = { at: now, listeners: seen };
}

function renderBackends(status) {
  const body = $("backends");
  body.replaceChildren();
  for (const b of status.backends) {
    const row = document.createElement("tr");
    row.dataset.backend = b.name;
    cell(row, b.name);
    const state = b.buffer === "memory_fallback" ? "memory_fallback" : b.state;
    const td = cell(row, state, "state-" + state);
    td.dataset.field = "state";
    td.dataset.value = state;
    const queue = cell(row, number(b.queue_depth), "num");
    queue.dataset.field = "queue_depth";
    queue.dataset.value = b.queue_depth;
    cell(row, number(b.spooled_windows) + " windows", "num").dataset.field = "spooled_windows";
    cell(row, b.oldest_age_seconds == null ? "—" : duration(b.oldest_age_seconds), "num");
    const sent = cell(row, number(b.sent_series), "num");
    sent.dataset.field = "sent_series";
    sent.dataset.value = b.sent_series;
    const dropped = Object.entries(b.dropped || {}).map(([r, n]) => r + ": " + number(n));
    const droppedCell = cell(row, dropped.length ? dropped.join(", ") : "none");
    droppedCell.dataset.field = "dropped";
    droppedCell.dataset.value = b.dropped_series;
    cell(row, b.last_error || "", "error").dataset.field = "last_error";
    body.appendChild(row);
  }
}

// Alerts and probes appear once the agent reports them (`alerts`, `probes` in /status).
function renderOptional(status) {
  for (const [key, label] of [["alerts", (a) => a.name + " " + JSON.stringify(a.labels || {})], ["probes", (p) => p.name + ": " + (p.error || "failing")]]) {
    const items = (status[key] || []).filter((i) => key === "alerts" ? i.state === "firing" : !i.ok);
    $(key + "-section").hidden = !(key in status);
    const list = $(key);
    list.replaceChildren();
    for (const item of items) {
      const li = document.createElement("li");
      li.textContent = label(item);
      list.appendChild(li);
    }
  }
}

function render(status) {
  const now = Date.now();
  $("version").textContent = status.version;
  $("uptime").textContent = "up " + duration(status.uptime_seconds) + (status.ready ? ", ready" : ", starting");
  for (const [id, value, text] of [
    ["series", status.series, number(status.series)],
    ["flushes", status.flushes, number(status.flushes)],
    ["last-flush", status.last_flush_duration_ms, status.last_flush_duration_ms.toFixed(2) + " ms"],
  ]) {
    $(id).textContent = text;
    $(id).dataset.value = value;
  }
  const dropped = Object.values(status.dropped_samples || {}).reduce((a, b) => a + b, 0);
  $("dropped-samples").textContent = number(dropped);
  $("dropped-samples").dataset.value = dropped;
  reasons($("parse-errors"), status.parse_errors);
  renderListeners(status, now);
  renderBackends(status);
  renderOptional(status);
  document.body.dataset.refreshed = String(now);
}

function setConnection(state, text) {
  const el = $("connection");
  el.dataset.state = state;
  el.textContent = text;
}

async function refresh() {
  try {
    const status = await getJson("/status");
    $("login").hidden = true;
    $("main").hidden = false;
    render(status);
    setConnection("live", "live, every " + REFRESH_MS / 1000 + " s");
    if (!tap) followTap();
  } catch (e) {
    if (e instanceof Unauthorized) {
      $("main").hidden = true;
      $("login").hidden = false;
      setConnection("unauthorized", "needs a token");
    } else {
      setConnection("unreachable", "agent unreachable at " + new Date().toLocaleTimeString() + " (" + e.message + ")");
    }
  }
}

async function poll() {
  await refresh();
  setTimeout(poll, REFRESH_MS);
}

// The rate of a series in one window: a counter's per-second rate, else observations per second.
function perSecond(value, seconds) {
  switch (value.type) {
    case "counter": return value.rate;
    case "summary": return value.count / seconds;
    case "set": return value.count / seconds;
    case "buckets": return value.counts.reduce((a, b) => a + b, 0) / seconds;
    default: return null; // gauges have no rate
  }
}

function renderTop() {
  const body = $("top");
  body.replaceChildren();
  const top = [...rates.entries()].sort((a, b) => b[1].perSecond - a[1].perSecond).slice(0, TOP);
  for (const [label, { kind, perSecond }] of top) {
    const row = document.createElement("tr");
    cell(row, label);
    cell(row, kind);
    cell(row, number(Math.round(perSecond * 10) / 10), "num");
    body.appendChild(row);
  }
}

function onWindow(window) {
  const seconds = Math.max(0.001, (window.end_ms - window.start_ms) / 1000);
  rates = new Map();
  for (const s of window.series) {
    const rate = perSecond(s.value, seconds);
    if (rate == null) continue;
    const tags = s.key.tags.length ? "{" + s.key.tags.join(",") + "}" : "";
    rates.set(s.key.name + tags, { kind: s.value.kind || s.value.type, perSecond: rate });
  }
  renderTop();
  $("tap-state").textContent = "from the window ending " + new Date(window.end_ms).toLocaleTimeString();
}

async function followTap() {
  if (tap) tap.abort();
  const controller = new AbortController();
  tap = controller;
  const filter = $("filter").value.trim();
  const path = "/tap" + (filter ? "?match=" + encodeURIComponent(filter) : "");
  $("tap-state").textContent = "waiting for the next window…";
  try {
    const answer = await fetch(path, { headers: headers(), signal: controller.signal });
    if (!answer.ok) throw new Error("/tap answered " + answer.status);
    const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const parsed = JSON.parse(line);
        if (parsed.series) onWindow(parsed);
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    $("tap-state").textContent = "tap closed (" + e.message + "); retrying";
  }
  if (tap === controller) {
    tap = null; // the next refresh opens it again
  }
}

$("login").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
  $("token").value = "";
  previous = null;
  refresh();
});

let filterTimer = null;
$("filter").addEventListener("input", () => {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(followTap, 300);
});

poll();
