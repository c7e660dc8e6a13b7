// Formatting, time ranges, hash routes and what the console reads out of an event.

import { html } from "./ui.js";

// ---------------------------------------------------------------- numbers and times

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const compactFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });

export const fmtInt = (n) => (n === null || n === undefined || Number.isNaN(n) ? "–" : intFormat.format(n));
export const fmtCompact = (n) => (n === null || n === undefined ? "–" : Math.abs(n) < 10000 ? fmtInt(n) : compactFormat.format(n));

export function fmtCost(usd) {
  if (usd === null || usd === undefined) return "–";
  if (usd === 0) return "$0";
  if (Math.abs(usd) < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function fmtPct(part, whole) {
  if (!whole) return "–";
  const pct = (100 * part) / whole;
  return `${pct < 10 && pct > 0 ? pct.toFixed(1) : Math.round(pct)}%`;
}

export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs === 0) return "0 ms";
  if (abs < 1) return `${ms.toFixed(2)} ms`;
  if (abs < 1000) return `${Math.round(ms)} ms`;
  if (abs < 60_000) return `${(ms / 1000).toFixed(abs < 10_000 ? 2 : 1)} s`;
  if (abs < 3_600_000) return `${Math.floor(abs / 60_000)} min ${Math.round((abs % 60_000) / 1000)} s`;
  const h = Math.floor(abs / 3_600_000);
  return h < 48 ? `${h} h ${Math.round((abs % 3_600_000) / 60_000)} min` : `${Math.round(abs / 86_400_000)} d`;
}

/** A compact offset from a trace's start: +850 ms, +12.34 s, +17m55s, +3h09m. */
export function fmtOffset(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1000) return `+${Math.round(ms)} ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(2)} s`;
  const s = Math.floor(ms / 1000);
  if (ms < 3_600_000) return `+${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `+${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export const toMs = (t) => (t === null || t === undefined ? null : typeof t === "number" ? t : Date.parse(t));

const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

export function fmtTime(t) {
  const ms = toMs(t);
  return ms === null || Number.isNaN(ms) ? "–" : dateTimeFormat.format(new Date(ms));
}

export function fmtClock(t) {
  const ms = toMs(t);
  if (ms === null) return "–";
  const d = new Date(ms);
  return `${timeFormat.format(d)}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** A time element: local time shown, UTC in the title and datetime. */
export function Time({ value, clock = false }) {
  const ms = toMs(value);
  if (ms === null || Number.isNaN(ms)) return html`<span class="muted">–</span>`;
  const iso = new Date(ms).toISOString();
  return html`<time datetime=${iso} title=${iso}>${clock ? fmtClock(ms) : fmtTime(ms)}</time>`;
}

export function ago(t) {
  const ms = Date.now() - toMs(t);
  if (ms < 5000) return "just now";
  return `${fmtDuration(ms).replace(/ \d+ (s|min)$/, "")} ago`;
}

// ---------------------------------------------------------------- time ranges

export const RANGES = [
  { id: "15m", label: "Last 15 min", ms: 15 * 60_000 },
  { id: "1h", label: "Last hour", ms: 3_600_000 },
  { id: "24h", label: "Last 24 hours", ms: 86_400_000 },
  { id: "7d", label: "Last 7 days", ms: 7 * 86_400_000 },
  { id: "30d", label: "Last 30 days", ms: 30 * 86_400_000 },
  { id: "custom", label: "Custom…" },
];

/** The {start, end} (ms) that a range selection means now; nulls when there is no bound. */
export function resolveRange(range, start, end, now = Date.now()) {
  const preset = RANGES.find((r) => r.id === range && r.ms);
  if (preset) return { start: now - preset.ms, end: now };
  if (range === "custom") {
    const s = toMs(start);
    const e = toMs(end);
    return { start: Number.isNaN(s) ? null : s, end: Number.isNaN(e) ? null : e };
  }
  return { start: null, end: null };
}

export const isoOrNull = (ms) => (ms === null || ms === undefined ? undefined : new Date(ms).toISOString());

/** datetime-local values are local times without a zone. */
export function toLocalInput(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}

// ---------------------------------------------------------------- hash routes

/** "#/traces?status=failed" → {path: ["traces"], params: {status: "failed"}} */
export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, "");
  const [pathPart, query = ""] = raw.split("?", 2);
  const path = pathPart.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path, params: Object.fromEntries(new URLSearchParams(query)) };
}

export function hashFor(path, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "" && v !== false) query.set(k, String(v));
  }
  const qs = query.toString();
  return `#/${path}${qs ? `?${qs}` : ""}`;
}

export const traceHref = (traceId, eventId) =>
  hashFor(`trace/${encodeURIComponent(traceId)}`, eventId ? { event: eventId } : {});

export function navigate(hash, { replace = false } = {}) {
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else if (location.hash !== hash) {
    location.hash = hash;
  }
}

// ---------------------------------------------------------------- events

const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);

/** The normalised fields the API's rollups also read (tool_name, model, tokens, cost_usd, duration_ms). */
export function eventFields(event) {
  const p = event.properties || {};
  return {
    tool: typeof p.tool_name === "string" ? p.tool_name : null,
    model: typeof p.model === "string" ? p.model : null,
    inputTokens: num(p.input_tokens),
    outputTokens: num(p.output_tokens),
    cost: num(p.cost_usd),
    duration: num(p.duration_ms),
    error: errorText(event),
  };
}

function errorText(event) {
  const p = event.properties || {};
  for (const key of ["error", "exception", "error_message", "exception_type"]) {
    const v = p[key];
    if (typeof v === "string" && v) return v;
    if (v && typeof v === "object") return v.message || JSON.stringify(v);
  }
  return event.is_error ? (typeof p.message === "string" ? p.message.split("\n")[0] : "error") : null;
}

/** The raw log line, when the parser kept one. */
export function rawLine(event) {
  const p = event.properties || {};
  for (const key of ["raw", "message"]) if (typeof p[key] === "string" && p[key]) return p[key];
  return null;
}

/** One line that says what the event is. */
export function eventSummary(event) {
  const p = event.properties || {};
  const f = eventFields(event);
  if (f.tool) return f.error && event.is_error ? `${f.tool}: ${f.error}` : f.tool;
  if (f.model) return f.inputTokens !== null ? `${f.model} · ${fmtInt(f.inputTokens)} → ${fmtInt(f.outputTokens)} tokens` : f.model;
  if (event.is_error && f.error) return f.error;
  const line = rawLine(event) || (typeof p.output === "string" ? p.output : "");
  return line.split("\n")[0].slice(0, 300);
}

/** The AWS console's region: the API's own, when the console is served by API Gateway. */
export function awsRegion() {
  const m = location.hostname.match(/\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/);
  return m ? m[1] : null;
}

/** CloudWatch Logs console link for an event's log stream, or null for a source that is not CloudWatch.
 *
 * The console's fragment is itself URL-encoded once more, with "$" for "%": a group or stream
 * name is encoded twice ("/" → %2F → %252F → $252F), the "?start=" query once ($3Fstart$3D). */
export function cloudWatchUrl(source, timestampMs) {
  if (!source || source.system !== "cloudwatch" || !source.log_group || !source.log_stream) return null;
  const twice = (s) => encodeURIComponent(encodeURIComponent(s)).replace(/%/g, "$");
  const region = awsRegion();
  const base = region
    ? `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}`
    : "https://console.aws.amazon.com/cloudwatch/home";
  let url = `${base}#logsV2:log-groups/log-group/${twice(source.log_group)}/log-events/${twice(source.log_stream)}`;
  if (timestampMs !== null && timestampMs !== undefined && !Number.isNaN(timestampMs)) {
    url += `$3Fstart$3D${Math.max(0, Math.floor(timestampMs) - 1000)}`;
  }
  return url;
}

export function shortId(id, n = 10) {
  if (!id) return "–";
  return id.length > n + 3 ? `${id.slice(0, n)}…` : id;
}

/** Debounce for input-driven work. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
