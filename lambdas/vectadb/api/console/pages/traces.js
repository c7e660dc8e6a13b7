// Traces: GET /api/v1/traces with filters and keyset pagination (a stack of cursors for Previous),
// refreshed every 5 s while a listed trace is running; or, when the user picks it, the traces of
// the events that POST /api/v1/search finds by meaning.

import { useEffect, useRef, useState } from "preact/hooks";
import { api, pool, seg } from "../api.js";
import { ErrorNote, Loading, Note, RangePicker, StatusBadge, html, useInterval } from "../ui.js";
import {
  RANGES, Time, eventSummary, fmtCost, fmtDuration, fmtInt, fromLocalInput, hashFor, isoOrNull, navigate,
  resolveRange, shortId, toLocalInput, toMs, traceHref,
} from "../util.js";

const PAGE_SIZE = 50;
const REFRESH_MS = 5000;
const TRACE_RANGES = [{ id: "any", label: "Any time" }, ...RANGES];
const SEMANTIC_HITS = 100;
const SEMANTIC_TRACES = 25;

export function TracesPage({ params }) {
  const filters = {
    status: params.status || "",
    errors: params.errors || "",
    agent: params.agent || "",
    session: params.session || "",
    range: params.range || "any",
    start: params.start || "",
    end: params.end || "",
    q: params.q || "",
    semantic: params.semantic === "1",
  };
  const filterKey = JSON.stringify(filters);
  // Keyset pages: the cursor of the page shown and the stack of those before it (for Previous),
  // both forgotten when the filters change.
  const [pages, setPages] = useState({ key: filterKey, stack: [], current: null });
  const cursors = pages.key === filterKey ? pages : { key: filterKey, stack: [], current: null };
  const setCursors = (fn) => setPages(() => ({ ...fn(cursors), key: filterKey }));
  const [state, setState] = useState({ loading: true });
  const [tick, setTick] = useState(0);
  const requestId = useRef(0);

  const load = (quiet) => {
    const id = ++requestId.current;
    const span = resolveRange(filters.range, filters.start, filters.end);
    if (span.start !== null && span.end !== null && span.start >= span.end) {
      setState({ loading: false, error: { message: "Choose a start before the end of the range." } });
      return;
    }
    if (!quiet) setState((s) => ({ ...s, loading: true, error: null }));
    const work = filters.semantic && filters.q ? semanticTraces(filters, span) : listTraces(filters, span, cursors.current);
    work
      .then((result) => {
        if (id === requestId.current) setState({ loading: false, ...result, at: Date.now() });
      })
      .catch((error) => {
        if (id === requestId.current) setState((s) => ({ ...s, loading: false, error }));
      });
  };
  useEffect(() => load(false), [filterKey, cursors.current, tick]);

  const rows = state.traces || [];
  const running = !filters.semantic && rows.some((t) => t.status === "running");
  useInterval(() => load(true), REFRESH_MS, running && !state.loading);

  const textFilter = !filters.semantic && filters.q ? filters.q.toLowerCase() : "";
  const shown = textFilter
    ? rows.filter((t) => [t.trace_id, t.session_id, t.agent_id, t.model].some((v) => v && v.toLowerCase().includes(textFilter)))
    : rows;

  return html`<div class="page">
    <div class="page-head">
      <div>
        <h1 tabindex="-1">Traces</h1>
        <p class="page-sub">Agent runs, most recently started first</p>
      </div>
      <div class="head-actions">
        ${running && html`<span class="live" data-testid="traces-live" title="A listed trace is running">
          <span class="pulse" aria-hidden="true"></span>Live · refreshing every 5 s</span>`}
        <button type="button" class="btn" data-testid="traces-refresh" onClick=${() => setTick((n) => n + 1)}>Refresh</button>
      </div>
    </div>
    <${TraceFilters} filters=${filters} />
    <div aria-live="polite" class="live-region">
      ${state.loading && html`<${Loading} label="Loading traces…" />`}
      <${ErrorNote} error=${state.error} testid="traces-error" retry=${() => setTick((n) => n + 1)} />
    </div>
    ${filters.semantic && filters.q && state.traces && html`<${Note} testid="traces-semantic-note">
      Traces whose events are closest in meaning to “${filters.q}” (best match first, from the top ${SEMANTIC_HITS} events).
      ${filters.status && ` Status ${filters.status} is applied to those traces.`}
    </${Note}>`}
    ${state.traces && html`<${TraceTable} traces=${shown} semantic=${filters.semantic && filters.q} />`}
    ${state.traces && !filters.semantic && html`<nav class="pager" aria-label="Pages of traces">
      <button type="button" class="btn" data-testid="page-prev" disabled=${!cursors.stack.length || state.loading}
        onClick=${() => setCursors((c) => ({ stack: c.stack.slice(0, -1), current: c.stack[c.stack.length - 1] }))}>← Previous</button>
      <span class="muted" data-testid="page-number">Page ${cursors.stack.length + 1}${textFilter ? ` · ${shown.length} of ${rows.length} match “${filters.q}”` : ""}</span>
      <button type="button" class="btn" data-testid="page-next" disabled=${!state.next || state.loading}
        onClick=${() => setCursors((c) => ({ stack: [...c.stack, c.current], current: state.next }))}>Next →</button>
    </nav>`}
  </div>`;
}

async function listTraces(filters, span, cursor) {
  const page = await api("traces", {
    query: {
      status: filters.status || undefined,
      has_errors: filters.errors || undefined,
      agent_id: filters.agent || undefined,
      session_id: filters.session || undefined,
      start: isoOrNull(span.start),
      end: isoOrNull(span.end),
      limit: PAGE_SIZE,
      cursor: cursor || undefined,
    },
  });
  return { traces: page.traces, next: page.next_cursor };
}

async function semanticTraces(filters, span) {
  const res = await api("search", {
    method: "POST",
    body: {
      query: filters.q,
      limit: SEMANTIC_HITS,
      filters: {
        agent_id: filters.agent || undefined,
        session_id: filters.session || undefined,
        start: isoOrNull(span.start),
        end: isoOrNull(span.end),
      },
    },
  });
  const best = new Map();
  for (const hit of res.hits) {
    const id = hit.event.trace_id;
    if (id && !best.has(id)) best.set(id, hit);
  }
  const ids = [...best.keys()].slice(0, SEMANTIC_TRACES);
  const traces = await pool(ids, 6, async (id) => {
    try {
      const detail = await api(`traces/${seg(id)}`, { query: { limit: 1 } });
      return { ...detail.trace, match: best.get(id) };
    } catch (exc) {
      if (exc.status === 404) return null;
      throw exc;
    }
  });
  return { traces: traces.filter((t) => t && (!filters.status || t.status === filters.status)), next: null };
}

function TraceFilters({ filters }) {
  const [draft, setDraft] = useState(filters);
  useEffect(() => setDraft(filters), [JSON.stringify(filters)]);
  const apply = (next) => {
    const f = { ...draft, ...next };
    navigate(hashFor("traces", { ...f, semantic: f.semantic && f.q ? "1" : undefined, range: f.range === "any" ? undefined : f.range }));
  };
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.type === "checkbox" ? e.currentTarget.checked : e.currentTarget.value });
  const onRange = ({ range, start, end }) => {
    if (range !== "custom") return apply({ range, start: "", end: "" });
    const s = fromLocalInput(start) ?? Date.now() - 86_400_000;
    const e = fromLocalInput(end) ?? Date.now();
    return apply({ range, start: isoOrNull(s), end: isoOrNull(e) });
  };
  const span = resolveRange(filters.range, filters.start, filters.end);
  return html`<form class="filters card" data-testid="traces-filters" aria-label="Trace filters"
      onSubmit=${(e) => { e.preventDefault(); apply({}); }}>
    <label class="field">
      <span>Status</span>
      <select data-testid="filter-status" value=${draft.status} onChange=${(e) => apply({ status: e.currentTarget.value })}>
        <option value="">Any status</option>
        <option value="running">Running</option>
        <option value="completed">Completed</option>
        <option value="failed">Failed</option>
      </select>
    </label>
    <label class="field">
      <span>Errors</span>
      <select data-testid="filter-errors" value=${draft.errors} onChange=${(e) => apply({ errors: e.currentTarget.value })}>
        <option value="">With or without</option>
        <option value="true">Has errors</option>
        <option value="false">No errors</option>
      </select>
    </label>
    <label class="field">
      <span>Agent</span>
      <input type="text" data-testid="filter-agent" value=${draft.agent} onInput=${set("agent")} placeholder="agent_id" autocomplete="off" spellcheck="false" />
    </label>
    <label class="field">
      <span>Session</span>
      <input type="text" data-testid="filter-session" value=${draft.session} onInput=${set("session")} placeholder="session_id" autocomplete="off" spellcheck="false" />
    </label>
    <${RangePicker} ranges=${TRACE_RANGES} range=${filters.range} idPrefix="traces-range"
      start=${toLocalInput(span.start)} end=${toLocalInput(span.end)} onChange=${onRange} />
    <label class="field field-grow">
      <span>Text</span>
      <input type="search" data-testid="filter-text" value=${draft.q} onInput=${set("q")}
        placeholder=${draft.semantic ? "Describe what happened, e.g. refund timed out" : "Filter this page by id, agent, session or model"} />
    </label>
    <label class="check">
      <input type="checkbox" data-testid="filter-semantic" checked=${draft.semantic} onChange=${set("semantic")} />
      <span>Semantic search</span>
    </label>
    <div class="filter-actions">
      <button type="submit" class="btn btn-primary" data-testid="filter-apply">Apply</button>
      <a class="btn btn-ghost" href="#/traces" data-testid="filter-clear">Clear</a>
    </div>
  </form>`;
}

function TraceTable({ traces, semantic }) {
  if (!traces.length) return html`<p class="empty card" data-testid="traces-empty">No traces match these filters.</p>`;
  const now = Date.now();
  const open = (e, trace) => {
    if (e.target.closest("a, button")) return;
    navigate(traceHref(trace.trace_id, trace.match ? trace.match.event.event_id : undefined));
  };
  return html`<div class="table-wrap card">
    <table class="table" data-testid="traces-table">
      <caption class="sr-only">Traces</caption>
      <thead><tr>
        <th scope="col">Started</th>
        <th scope="col" class="num">Duration</th>
        <th scope="col">Status</th>
        <th scope="col">Agent</th>
        <th scope="col">Session</th>
        <th scope="col" class="num">Events</th>
        <th scope="col" class="num">Errors</th>
        <th scope="col" class="num">Tokens</th>
        <th scope="col" class="num">Cost</th>
        <th scope="col">Model</th>
        ${semantic && html`<th scope="col">Best match</th>`}
        <th scope="col">Trace</th>
      </tr></thead>
      <tbody>
        ${traces.map((t) => {
          const start = toMs(t.start_time);
          const end = t.end_time ? toMs(t.end_time) : null;
          const duration = end !== null ? end - start : t.status === "running" ? now - start : toMs(t.last_event_at) - start;
          return html`<tr key=${t.trace_id} class=${`row-${t.status}`} data-testid="trace-row" data-trace-id=${t.trace_id}
              data-status=${t.status} onClick=${(e) => open(e, t)}>
            <td class="nowrap"><${Time} value=${t.start_time} /></td>
            <td class="num nowrap">${fmtDuration(duration)}${end === null && t.status === "running" ? html`<span class="muted"> so far</span>` : ""}</td>
            <td><${StatusBadge} status=${t.status} abandoned=${t.abandoned} /></td>
            <td>${t.agent_id || html`<span class="muted">–</span>`}</td>
            <td class="mono">${t.session_id ? html`<span class="ellipsis" title=${t.session_id}>${t.session_id}</span>` : html`<span class="muted">–</span>`}</td>
            <td class="num">${fmtInt(t.total_events)}</td>
            <td class=${t.error_count ? "num text-error" : "num"} data-testid="trace-errors" data-value=${t.error_count}>${fmtInt(t.error_count)}</td>
            <td class="num" data-testid="trace-tokens" data-value=${t.input_tokens + t.output_tokens}
              title=${`${fmtInt(t.input_tokens)} in, ${fmtInt(t.output_tokens)} out`}>${fmtInt(t.input_tokens + t.output_tokens)}</td>
            <td class="num" data-testid="trace-cost" data-value=${t.cost_usd}>${t.cost_usd ? fmtCost(t.cost_usd) : html`<span class="muted">–</span>`}</td>
            <td>${t.model || html`<span class="muted">–</span>`}</td>
            ${semantic && html`<td><div class="match">
              <span class="score" title="cosine similarity">${t.match.score.toFixed(3)}</span>
              <a href=${traceHref(t.trace_id, t.match.event.event_id)} class="ellipsis" title=${eventSummary(t.match.event)}>${eventSummary(t.match.event) || t.match.event.event_type}</a>
            </div></td>`}
            <td class="mono"><a href=${traceHref(t.trace_id)} title=${t.trace_id} data-testid="trace-link">${shortId(t.trace_id, 14)}</a></td>
          </tr>`;
        })}
      </tbody>
    </table>
  </div>`;
}
