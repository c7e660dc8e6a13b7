// Search: POST /api/v1/search with its filters; each hit links to its trace, the event opened.

import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { ErrorNote, Loading, Note, RangePicker, TypeBadge, html } from "../ui.js";
import {
  RANGES, Time, eventSummary, fromLocalInput, hashFor, isoOrNull, navigate, resolveRange, toLocalInput, traceHref,
} from "../util.js";

const SEARCH_RANGES = [{ id: "any", label: "Any time" }, ...RANGES];
const LIMITS = [10, 25, 50, 100];

export function SearchPage({ params }) {
  const query = {
    q: params.q || "",
    type: params.type || "",
    agent: params.agent || "",
    session: params.session || "",
    range: params.range || "any",
    start: params.start || "",
    end: params.end || "",
    limit: LIMITS.includes(Number(params.limit)) ? Number(params.limit) : 25,
  };
  const key = JSON.stringify(query);
  const [draft, setDraft] = useState(query);
  const [state, setState] = useState({});
  const [options, setOptions] = useState({ types: [], agents: [] });
  useEffect(() => setDraft(query), [key]);

  // The filters' choices: the event types and agents of the last 30 days (GET /stats).
  useEffect(() => {
    const start = new Date(Date.now() - 30 * 86_400_000).toISOString();
    Promise.all([
      api("stats", { query: { group_by: "event_type", start } }),
      api("stats", { query: { group_by: "agent_id", start } }),
    ])
      .then(([types, agents]) => setOptions({
        types: types.buckets.map((b) => b.key).filter(Boolean),
        agents: agents.buckets.map((b) => b.key).filter(Boolean),
      }))
      .catch(() => {});
  }, []);

  useEffect(() => {
    if (!query.q) {
      setState({});
      return undefined;
    }
    const span = resolveRange(query.range, query.start, query.end);
    const controller = new AbortController();
    setState({ loading: true });
    api("search", {
      method: "POST",
      signal: controller.signal,
      body: {
        query: query.q,
        limit: query.limit,
        filters: {
          event_type: query.type || undefined,
          agent_id: query.agent || undefined,
          session_id: query.session || undefined,
          start: isoOrNull(span.start),
          end: isoOrNull(span.end),
        },
      },
    })
      .then((res) => setState({ hits: res.hits }))
      .catch((error) => {
        if (error.name !== "AbortError") setState({ error });
      });
    return () => controller.abort();
  }, [key]);

  const apply = (next = {}) => {
    const f = { ...draft, ...next };
    navigate(hashFor("search", { ...f, range: f.range === "any" ? undefined : f.range, limit: f.limit === 25 ? undefined : f.limit }));
  };
  const set = (name) => (e) => setDraft({ ...draft, [name]: e.currentTarget.value });
  const onRange = ({ range, start, end }) => {
    if (range !== "custom") return setDraft({ ...draft, range, start: "", end: "" });
    const s = fromLocalInput(start) ?? Date.now() - 86_400_000;
    const e = fromLocalInput(end) ?? Date.now();
    return setDraft({ ...draft, range, start: isoOrNull(s), end: isoOrNull(e) });
  };
  const span = resolveRange(draft.range, draft.start, draft.end);

  return html`<div class="page">
    <div class="page-head">
      <div>
        <h1 tabindex="-1">Search</h1>
        <p class="page-sub">Find events by meaning, not only by words: “refund failed”, “the model was rate limited”</p>
      </div>
    </div>
    <form class="search-form card" role="search" data-testid="search-form" onSubmit=${(e) => { e.preventDefault(); apply(); }}>
      <div class="search-bar">
        <label class="sr-only" for="search-q">Search events</label>
        <input id="search-q" type="search" data-testid="search-input" value=${draft.q} onInput=${set("q")} required maxlength="4096"
          placeholder="Describe what you are looking for" autofocus />
        <button type="submit" class="btn btn-primary" data-testid="search-submit">Search</button>
      </div>
      <div class="filters-inline">
        <label class="field"><span>Event type</span>
          <select data-testid="search-type" value=${draft.type} onChange=${set("type")}>
            <option value="">Any type</option>
            ${[...new Set([...options.types, draft.type].filter(Boolean))].map((t) => html`<option value=${t}>${t}</option>`)}
          </select>
        </label>
        <label class="field"><span>Agent</span>
          <input type="text" list="search-agents" data-testid="search-agent" value=${draft.agent} onInput=${set("agent")} placeholder="agent_id" autocomplete="off" />
          <datalist id="search-agents">${options.agents.map((a) => html`<option value=${a}></option>`)}</datalist>
        </label>
        <label class="field"><span>Session</span>
          <input type="text" data-testid="search-session" value=${draft.session} onInput=${set("session")} placeholder="session_id" autocomplete="off" />
        </label>
        <${RangePicker} ranges=${SEARCH_RANGES} range=${draft.range} idPrefix="search-range"
          start=${toLocalInput(span.start)} end=${toLocalInput(span.end)} onChange=${onRange} />
        <label class="field"><span>Results</span>
          <select data-testid="search-limit" value=${draft.limit} onChange=${(e) => setDraft({ ...draft, limit: Number(e.currentTarget.value) })}>
            ${LIMITS.map((n) => html`<option value=${n}>${n}</option>`)}
          </select>
        </label>
      </div>
    </form>
    <div aria-live="polite" class="live-region">
      ${state.loading && html`<${Loading} label="Searching…" />`}
      ${state.error && (state.error.status === 409 || state.error.status === 503
        ? html`<${Note} kind="warn" testid="search-unavailable">Semantic search is not available right now: ${state.error.message}</${Note}>`
        : html`<${ErrorNote} error=${state.error} testid="search-error" />`)}
      ${state.hits && html`<p class="muted small" data-testid="search-count">${state.hits.length} ${state.hits.length === 1 ? "hit" : "hits"} for “${query.q}”, closest first</p>`}
    </div>
    ${state.hits && state.hits.length === 0 && html`<p class="empty card" data-testid="search-empty">Nothing found. Try other words, or fewer filters.</p>`}
    ${state.hits && state.hits.length > 0 && html`<ol class="hits card" data-testid="search-hits">
      ${state.hits.map((h) => {
        const e = h.event;
        return html`<li class=${`hit${e.is_error ? " hit-error" : ""}`} data-testid="search-hit" data-event-id=${e.event_id} data-trace-id=${e.trace_id || ""}>
          <span class="score" title="cosine similarity, higher is closer" data-testid="hit-score">${h.score.toFixed(3)}
            <span class="score-bar" aria-hidden="true"><span style=${`width:${Math.max(0, Math.min(1, h.score)) * 100}%`}></span></span></span>
          <div class="hit-main">
            <div class="hit-meta">
              <${TypeBadge} type=${e.event_type} error=${e.is_error} />
              ${e.agent_id && html`<span>${e.agent_id}</span>`}
              <${Time} value=${e.timestamp} />
              ${e.session_id && html`<span class="mono muted">${e.session_id}</span>`}
            </div>
            ${e.trace_id
              ? html`<a class="hit-text" href=${traceHref(e.trace_id, e.event_id)} data-testid="hit-link">${eventSummary(e) || e.event_id}</a>`
              : html`<span class="hit-text">${eventSummary(e) || e.event_id}</span>`}
          </div>
        </li>`;
      })}
    </ol>`}
    ${!query.q && html`<p class="muted hint">Type a description and press Enter. Results are events; each opens in its trace.</p>`}
  </div>`;
}
