// Trace detail: GET /api/v1/traces/{id} page after page (the waterfall fills in as they arrive),
// a windowed waterfall (fixed row height, only the rows in view are in the DOM), and the event
// panel (GET /api/v1/events/{id} when the event is not loaded yet, GET /events/{id}/similar).

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api, seg } from "../api.js";
import { ErrorNote, Loading, Note, StatusBadge, TypeBadge, html, typeClass, useInterval } from "../ui.js";
import {
  Time, cloudWatchUrl, eventFields, eventSummary, fmtCost, fmtDuration, fmtInt, fmtOffset, navigate, rawLine, shortId,
  toMs, traceHref,
} from "../util.js";

const ROW = 30; // px: every row has this height, so a row's position is index × ROW
const OVERSCAN = 12;
const FIRST_PAGE = 200; // a quick first paint, then the largest pages the API allows
const PAGE = 1000;
const POLL_MS = 5000;

/** One waterfall row per event, computed once when its page arrives. */
function rowModel(event, index, depthOf) {
  const f = eventFields(event);
  const ts = toMs(event.timestamp);
  // A log line is written when its work ends: a span with duration_ms ends at its event's time.
  const start = f.duration !== null && f.duration > 0 ? ts - f.duration : ts;
  const parent = event.parent_event_id;
  const depth = parent && depthOf.has(parent) ? Math.min(depthOf.get(parent) + 1, 12) : 0;
  depthOf.set(event.event_id, depth);
  return { event, index, ts, start, end: ts, depth, f, error: Boolean(event.is_error), label: eventSummary(event) };
}

export function TracePage({ traceId, params }) {
  const selectedId = params.event || null;
  const [trace, setTrace] = useState(null);
  const [error, setError] = useState(null);
  const [progress, setProgress] = useState({ loaded: 0, done: false });
  const [version, setVersion] = useState(0); // bumped when rows grow
  const [reload, setReload] = useState(0);
  const [errorsOnly, setErrorsOnly] = useState(false);
  const store = useRef(null);

  useEffect(() => {
    const controller = new AbortController();
    const s = { rows: [], byId: new Map(), depthOf: new Map(), t0: Infinity, t1: -Infinity, done: false };
    store.current = s;
    setTrace(null);
    setError(null);
    setProgress({ loaded: 0, done: false });
    setVersion((v) => v + 1);
    (async () => {
      let cursor;
      let first = true;
      do {
        const page = await api(`traces/${seg(traceId)}`, {
          query: { limit: first ? FIRST_PAGE : PAGE, cursor }, signal: controller.signal,
        });
        if (store.current !== s) return;
        if (first) setTrace(page.trace);
        append(s, page.events);
        cursor = page.next_cursor;
        first = false;
        setProgress({ loaded: s.rows.length, done: !cursor });
        setVersion((v) => v + 1);
      } while (cursor);
      s.done = true;
    })().catch((exc) => {
      if (exc.name !== "AbortError" && store.current === s) setError(exc);
    });
    return () => controller.abort();
  }, [traceId, reload]);

  // A running trace: new events (after the last one loaded) every 5 s, and its header again.
  const live = trace && trace.status === "running" && !trace.abandoned && progress.done;
  useInterval(async () => {
    const s = store.current;
    if (!s || !s.done) return;
    try {
      const last = s.rows.length ? s.rows[s.rows.length - 1].event.timestamp : trace.start_time;
      let cursor;
      do {
        const page = await api("events", { query: { trace_id: traceId, order: "asc", start: last, limit: PAGE, cursor } });
        if (store.current !== s) return;
        append(s, page.events.filter((e) => !s.byId.has(e.event_id)));
        cursor = page.next_cursor;
      } while (cursor);
      const head = await api(`traces/${seg(traceId)}`, { query: { limit: 1 } });
      if (store.current !== s) return;
      setTrace(head.trace);
      setProgress({ loaded: s.rows.length, done: true });
      setVersion((v) => v + 1);
    } catch (exc) {
      setError(exc);
    }
  }, POLL_MS, live);

  const s = store.current;
  const rows = useMemo(() => (s ? (errorsOnly ? s.rows.filter((r) => r.error) : s.rows) : []), [version, errorsOnly]);
  const selectedRow = s && selectedId ? s.byId.get(selectedId) : null;
  const totals = useMemo(() => summarize(s ? s.rows : []), [version]);

  const select = (eventId) => navigate(traceHref(traceId, eventId), { replace: true });

  if (error && !trace) {
    return html`<div class="page">
      <p><a href="#/traces" class="back">← Traces</a></p>
      <h1 tabindex="-1">Trace <span class="mono">${shortId(traceId, 24)}</span></h1>
      <${ErrorNote} error=${error} testid="trace-error" retry=${() => setReload((n) => n + 1)} />
    </div>`;
  }
  return html`<div class=${`page page-trace${selectedId ? " with-panel" : ""}`}>
    <div class="trace-main">
      <p class="crumbs"><a href="#/traces" class="back" data-testid="back-to-traces">← Traces</a></p>
      <div class="page-head">
        <div>
          <h1 tabindex="-1" class="trace-title">Trace <span class="mono" title=${traceId} data-testid="trace-id">${shortId(traceId, 36)}</span>
            ${trace && html` <${StatusBadge} status=${trace.status} abandoned=${trace.abandoned} />`}</h1>
          ${trace && html`<p class="page-sub">
            ${trace.agent_id ? html`Agent <strong>${trace.agent_id}</strong> · ` : ""}
            Session <a class="mono" href=${`#/traces?session=${encodeURIComponent(trace.session_id || "")}`}>${trace.session_id || "–"}</a>
            ${" · "}started <${Time} value=${trace.start_time} /></p>`}
        </div>
        <div class="head-actions">
          ${live && html`<span class="live"><span class="pulse" aria-hidden="true"></span>Live</span>`}
          <button type="button" class="btn" onClick=${() => setReload((n) => n + 1)} data-testid="trace-reload">Reload</button>
        </div>
      </div>
      ${trace && html`<${TraceSummary} trace=${trace} totals=${totals} done=${progress.done} />`}
      <div aria-live="polite" class="live-region">
        ${!trace && html`<${Loading} label="Loading the trace…" />`}
        ${trace && !progress.done && html`<div class="progress" role="status" data-testid="trace-progress">
          <span>Loading events: ${fmtInt(progress.loaded)} of ${fmtInt(trace.total_events)}</span>
          <progress max=${trace.total_events || 1} value=${progress.loaded}></progress>
        </div>`}
        <${ErrorNote} error=${trace && error} testid="trace-error" />
      </div>
      ${trace && html`<div class="wf-toolbar">
        <label class="check"><input type="checkbox" checked=${errorsOnly} data-testid="errors-only"
          onChange=${(e) => setErrorsOnly(e.currentTarget.checked)} /> <span>Errors only</span></label>
        ${totals.errors > 0 && html`<button type="button" class="btn btn-small" data-testid="first-error"
          onClick=${() => select(s.rows.find((r) => r.error).event.event_id)}>Go to first error</button>`}
        <span class="muted small">${fmtInt(rows.length)} rows · ↑/↓ to move, Enter to open</span>
      </div>
      <${Waterfall} rows=${rows} t0=${s.t0} t1=${s.t1} version=${version} selectedId=${selectedId} onSelect=${select} />`}
    </div>
    ${selectedId && html`<${EventPanel} key=${selectedId} eventId=${selectedId} row=${selectedRow}
      t0=${s ? s.t0 : null} onClose=${() => select(null)} onSelect=${select} traceId=${traceId} />`}
  </div>`;
}

function append(s, events) {
  for (const event of events) {
    if (s.byId.has(event.event_id)) continue;
    const row = rowModel(event, s.rows.length, s.depthOf);
    s.rows.push(row);
    s.byId.set(event.event_id, row);
    if (row.start < s.t0) s.t0 = row.start;
    if (row.end > s.t1) s.t1 = row.end;
  }
}

function summarize(rows) {
  const t = { errors: 0, llm: 0, tools: 0, input: 0, output: 0, cost: 0, loaded: rows.length };
  for (const r of rows) {
    if (r.error) t.errors++;
    if (r.event.event_type === "llm_call") t.llm++;
    if (r.event.event_type === "tool_call") t.tools++;
    t.input += r.f.inputTokens || 0;
    t.output += r.f.outputTokens || 0;
    t.cost += r.f.cost || 0;
  }
  return t;
}

function TraceSummary({ trace, totals, done }) {
  const start = toMs(trace.start_time);
  const end = trace.end_time ? toMs(trace.end_time) : toMs(trace.last_event_at);
  const partial = done ? "" : " (so far)";
  const item = (label, value, testid, tone) => html`<div class=${`kv${tone ? ` kv-${tone}` : ""}`}><dt>${label}</dt><dd data-testid=${testid}>${value}</dd></div>`;
  return html`<dl class="trace-summary card" data-testid="trace-summary">
    ${item("Duration", html`${fmtDuration(end - start)}${trace.end_time ? "" : html`<span class="muted"> so far</span>`}`, "trace-duration")}
    ${item("Events", fmtInt(trace.total_events), "trace-events")}
    ${item(`Errors${partial}`, fmtInt(totals.errors), "trace-errors", totals.errors ? "bad" : null)}
    ${item(`LLM calls${partial}`, fmtInt(totals.llm), "trace-llm")}
    ${item(`Tool calls${partial}`, fmtInt(totals.tools), "trace-tools")}
    ${item(`Tokens${partial}`, html`<span title=${`${fmtInt(totals.input)} input, ${fmtInt(totals.output)} output`}>${fmtInt(totals.input + totals.output)}</span>`, "trace-tokens")}
    ${item(`Cost${partial}`, fmtCost(totals.cost), "trace-cost")}
    ${item("Model", trace.model || "–", "trace-model")}
  </dl>`;
}

function Waterfall({ rows, t0, t1, version, selectedId, onSelect }) {
  const box = useRef(null);
  const [view, setView] = useState({ top: 0, height: 600 });
  const [active, setActive] = useState(0);
  const frame = useRef(0);
  const span = Math.max(t1 - t0, 1);
  // rows grows in place as pages arrive: its length is part of the key.
  const indexOf = useMemo(() => new Map(rows.map((r, i) => [r.event.event_id, i])), [rows, rows.length]);

  useEffect(() => {
    const el = box.current;
    const measure = () => setView({ top: el.scrollTop, height: el.clientHeight });
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  // The selected event (from the URL, a click or the keyboard): active, and scrolled into view
  // when it is outside it (also when its page arrives after the selection).
  const selectedIndex = selectedId ? indexOf.get(selectedId) : undefined;
  useEffect(() => {
    if (selectedIndex === undefined) return;
    setActive(selectedIndex);
    scrollIntoView(selectedIndex, true);
  }, [selectedId, selectedIndex === undefined]);

  const scrollIntoView = (index, center) => {
    const el = box.current;
    if (!el) return;
    const top = (index + 1) * ROW; // below the sticky header, one row high
    if (top < el.scrollTop + ROW || top + ROW > el.scrollTop + el.clientHeight) {
      el.scrollTop = center
        ? Math.max(0, top - el.clientHeight / 3)
        : top < el.scrollTop + ROW ? top - ROW : top + ROW - el.clientHeight;
    }
  };

  const onScroll = () => {
    cancelAnimationFrame(frame.current);
    frame.current = requestAnimationFrame(() => {
      const el = box.current;
      if (el) setView({ top: el.scrollTop, height: el.clientHeight });
    });
  };

  const onKey = (e) => {
    if (!rows.length) return;
    const pageRows = Math.max(1, Math.floor(view.height / ROW) - 2);
    const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: pageRows, PageUp: -pageRows, Home: -Infinity, End: Infinity };
    if (e.key in moves) {
      e.preventDefault();
      const next = Math.max(0, Math.min(rows.length - 1, active + moves[e.key]));
      setActive(next);
      scrollIntoView(next, false);
    } else if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      onSelect(rows[Math.min(active, rows.length - 1)].event.event_id);
    } else if (e.key === "Escape" && selectedId) {
      onSelect(null);
    }
  };

  const first = Math.max(0, Math.floor(view.top / ROW) - OVERSCAN);
  const last = Math.min(rows.length, Math.ceil((view.top + view.height) / ROW) + OVERSCAN);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const pct = (t) => `${(100 * (t - t0)) / span}%`;

  return html`<div class="waterfall card" data-testid="timeline">
    <div class="wf-scroll" ref=${box} onScroll=${onScroll} tabindex="0" role="listbox"
      aria-label="Events of the trace, in order" aria-activedescendant=${rows.length ? `wf-row-${active}` : undefined}
      onKeyDown=${onKey} data-testid="timeline-list" data-version=${version}>
      <div class="wf-header" aria-hidden="true">
        <div class="wf-label">Event</div>
        <div class="wf-track wf-axis">${ticks.map((t) => html`<span style=${`left:${t * 100}%`} class=${t === 1 ? "end" : t === 0 ? "start" : ""}>${fmtDuration(t * span)}</span>`)}</div>
        <div class="wf-dur">Duration</div>
      </div>
      <div class="wf-body" style=${`height:${rows.length * ROW}px`}>
        ${rows.slice(first, last).map((r, k) => {
          const i = first + k;
          const e = r.event;
          const width = r.end > r.start ? Math.max(0.15, (100 * (r.end - r.start)) / span) : 0;
          const cls = `wf-row${r.error ? " error" : ""}${e.event_id === selectedId ? " selected" : ""}${i === active ? " active" : ""}`;
          return html`<div key=${e.event_id} id=${`wf-row-${i}`} class=${cls} style=${`top:${i * ROW}px`}
              role="option" aria-selected=${e.event_id === selectedId ? "true" : "false"}
              data-testid="timeline-row" data-event-id=${e.event_id} data-event-type=${e.event_type || ""}
              data-error=${r.error ? "true" : "false"} onClick=${() => { setActive(i); onSelect(e.event_id); }}>
            <div class="wf-label" style=${`--depth:${r.depth}`}>
              <span class="wf-offset">${fmtOffset(r.ts - t0)}</span>
              <${TypeBadge} type=${e.event_type} error=${r.error} />
              <span class="wf-name" title=${r.label}>${r.label}</span>
            </div>
            <div class="wf-track">
              ${ticks.slice(1, -1).map((t) => html`<i class="wf-grid" style=${`left:${t * 100}%`}></i>`)}
              ${width > 0
                ? html`<span class=${`wf-bar bar-${typeClass(e.event_type)}${r.error ? " bar-error" : ""}`} style=${`left:${pct(r.start)};width:${width}%`}></span>`
                : html`<span class=${`wf-mark bar-${typeClass(e.event_type)}${r.error ? " bar-error" : ""}`} style=${`left:${pct(r.ts)}`}></span>`}
            </div>
            <div class="wf-dur">${r.f.duration !== null ? fmtDuration(r.f.duration) : ""}</div>
          </div>`;
        })}
      </div>
    </div>
    ${!rows.length && html`<p class="empty">No events to show.</p>`}
  </div>`;
}

function EventPanel({ eventId, row, t0, onClose, onSelect, traceId }) {
  const [fetched, setFetched] = useState(null);
  const [error, setError] = useState(null);
  const heading = useRef(null);
  const event = row ? row.event : fetched;

  // Not loaded yet (a later page, or another trace's event): read it on its own.
  useEffect(() => {
    if (row || fetched) return undefined;
    const controller = new AbortController();
    api(`events/${seg(eventId)}`, { signal: controller.signal }).then(setFetched).catch((exc) => {
      if (exc.name !== "AbortError") setError(exc);
    });
    return () => controller.abort();
  }, [eventId, Boolean(row)]);

  useEffect(() => {
    const onKey = (e) => {
      if (e.key === "Escape" && !e.defaultPrevented && !e.target.closest(".wf-scroll")) onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [onClose]);

  return html`<aside class="panel" data-testid="event-panel" aria-labelledby="panel-title">
    <div class="panel-head">
      <h2 id="panel-title" ref=${heading} tabindex="-1">${event ? html`<${TypeBadge} type=${event.event_type} error=${event.is_error} />` : "Event"}
        ${event && event.is_error && html` <span class="badge badge-failed">error</span>`}</h2>
      <button type="button" class="btn btn-icon" aria-label="Close the event panel" data-testid="panel-close" onClick=${onClose}>✕</button>
    </div>
    <div class="panel-body">
      ${!event && !error && html`<${Loading} label="Loading the event…" />`}
      <${ErrorNote} error=${error} testid="panel-error" />
      ${event && html`<${EventDetails} event=${event} t0=${t0} onSelect=${onSelect} traceId=${traceId} />`}
      ${event && html`<${SimilarEvents} eventId=${event.event_id} />`}
    </div>
  </aside>`;
}

function EventDetails({ event, t0, onSelect, traceId }) {
  const f = eventFields(event);
  const ts = toMs(event.timestamp);
  const raw = rawLine(event);
  const source = event.source || null;
  const cw = cloudWatchUrl(source, ts);
  const otherTrace = event.trace_id && event.trace_id !== traceId;
  const kv = (label, value, testid) => value !== null && value !== undefined && value !== "" &&
    html`<div class="kv"><dt>${label}</dt><dd data-testid=${testid}>${value}</dd></div>`;
  return html`
    ${f.error && html`<div class="note note-error" data-testid="panel-error-text"><strong>Error</strong><pre class="wrap">${f.error}</pre></div>`}
    <dl class="kvs">
      ${kv("Event id", html`<span class="mono">${event.event_id}</span>`, "panel-event-id")}
      ${kv("Time", html`<${Time} value=${event.timestamp} /> <span class="muted mono small">${new Date(ts).toISOString()}</span>`)}
      ${t0 !== null && Number.isFinite(t0) && !otherTrace && kv("Offset", `+${fmtDuration(ts - t0)}`)}
      ${kv("Agent", event.agent_id)}
      ${kv("Session", event.session_id && html`<span class="mono">${event.session_id}</span>`)}
      ${otherTrace && kv("Trace", html`<a class="mono" href=${traceHref(event.trace_id, event.event_id)}>${event.trace_id}</a>`)}
      ${event.parent_event_id && kv("Caused by", html`<a class="mono" href=${traceHref(event.trace_id || traceId, event.parent_event_id)}
        onClick=${(e) => { if (!otherTrace) { e.preventDefault(); onSelect(event.parent_event_id); } }}>${shortId(event.parent_event_id, 28)}</a>`)}
    </dl>
    <h3 class="mini-head">Normalised fields</h3>
    <dl class="kvs" data-testid="panel-fields">
      ${kv("Tool", f.tool, "panel-tool")}
      ${kv("Model", f.model, "panel-model")}
      ${kv("Input tokens", f.inputTokens !== null ? fmtInt(f.inputTokens) : null, "panel-input-tokens")}
      ${kv("Output tokens", f.outputTokens !== null ? fmtInt(f.outputTokens) : null, "panel-output-tokens")}
      ${kv("Cost", f.cost !== null ? fmtCost(f.cost) : null, "panel-cost")}
      ${kv("Duration", f.duration !== null ? fmtDuration(f.duration) : null, "panel-duration")}
      ${kv("Is error", event.is_error ? "yes" : "no")}
      ${kv("Indexed", event.indexed ? "yes (semantic search)" : "no vector yet")}
    </dl>
    ${raw && html`<h3 class="mini-head">Log line</h3><pre class="code wrap" data-testid="panel-raw">${raw}</pre>`}
    <h3 class="mini-head">Properties</h3>
    <pre class="code" data-testid="panel-properties">${JSON.stringify(event.properties || {}, null, 2)}</pre>
    <h3 class="mini-head">Source</h3>
    ${source ? html`<dl class="kvs" data-testid="panel-source">
      ${kv("System", source.system)}
      ${kv("Log group", source.log_group && html`<span class="mono">${source.log_group}</span>`)}
      ${kv("Log stream", source.log_stream && html`<span class="mono">${source.log_stream}</span>`)}
      ${kv("Account", source.owner)}
      ${kv("Log event id", source.log_id && html`<span class="mono small">${source.log_id}</span>`)}
    </dl>
    ${cw && html`<p><a class="btn btn-small" href=${cw} target="_blank" rel="noopener noreferrer" data-testid="cloudwatch-link">
      Open in CloudWatch Logs ↗</a></p>`}` : html`<p class="muted">No source recorded.</p>`}`;
}

function SimilarEvents({ eventId }) {
  const [state, setState] = useState({ loading: true });
  useEffect(() => {
    const controller = new AbortController();
    setState({ loading: true });
    api(`events/${seg(eventId)}/similar`, { query: { limit: 8 }, signal: controller.signal })
      .then((res) => setState({ hits: res.hits.filter((h) => h.event.event_id !== eventId) }))
      .catch((error) => {
        if (error.name !== "AbortError") setState({ error });
      });
    return () => controller.abort();
  }, [eventId]);
  return html`<section class="similar" aria-labelledby="similar-title">
    <h3 class="mini-head" id="similar-title">Similar events</h3>
    <div aria-live="polite">
      ${state.loading && html`<${Loading} label="Finding similar events…" />`}
      ${state.error && (state.error.status === 409 || state.error.status === 503
        ? html`<${Note} kind="warn" testid="similar-unavailable">Similar events are not available right now: ${state.error.message}
            ${state.error.status === 409 ? " (the vector index does not match the model; a reindex fixes it)" : ""}</${Note}>`
        : html`<${ErrorNote} error=${state.error} testid="similar-error" />`)}
      ${state.hits && !state.hits.length && html`<p class="muted" data-testid="similar-list">No similar events.</p>`}
      ${state.hits && state.hits.length > 0 && html`<ol class="hits hits-compact" data-testid="similar-list">
        ${state.hits.map((h) => html`<li class="hit" data-testid="similar-item" data-event-id=${h.event.event_id}>
          <span class="score" title="cosine similarity">${h.score.toFixed(3)}</span>
          <${TypeBadge} type=${h.event.event_type} error=${h.event.is_error} />
          <a href=${traceHref(h.event.trace_id, h.event.event_id)} class="hit-text">${eventSummary(h.event) || h.event.event_id}</a>
          <span class="muted small">${h.event.agent_id || ""} · <${Time} value=${h.event.timestamp} /></span>
        </li>`)}
      </ol>`}
    </div>
  </section>`;
}
