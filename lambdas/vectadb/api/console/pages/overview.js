// Overview: totals, events and errors over time, traces by status, tools, models and durations,
// every figure from GET /api/v1/stats (and GET /api/v1/traces for one agent's traces).

import { useEffect, useMemo, useState } from "preact/hooks";
import { api } from "../api.js";
import { TimeChart } from "../charts.js";
import { BarList, Card, ErrorNote, Loading, Note, RangePicker, Stat, html } from "../ui.js";
import {
  RANGES, fmtCost, fmtDuration, fmtInt, fmtPct, fmtTime, fromLocalInput, hashFor, isoOrNull, navigate,
  resolveRange, toLocalInput, toMs,
} from "../util.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
const STATUSES = ["running", "completed", "failed"];
// One agent's traces are counted by paging GET /traces; past this many per status, "N+".
const COUNT_PAGES = 5;
const COUNT_PAGE_SIZE = 1000;

export function OverviewPage({ params }) {
  const range = params.range || "24h";
  const agent = params.agent || "";
  const [reload, setReload] = useState(0);
  // A preset range is "now minus N"; it is fixed when the page (or Refresh) asks, not on every render.
  const win = useMemo(
    () => resolveRange(range, params.start, params.end),
    [range, params.start, params.end, reload],
  );
  const [state, setState] = useState({ loading: true });

  useEffect(() => {
    if (win.start === null || win.end === null || win.start >= win.end) {
      setState({ loading: false, error: { message: "Choose a start before the end of the range." } });
      return undefined;
    }
    const controller = new AbortController();
    const signal = controller.signal;
    const bucketMs = win.end - win.start <= 3 * DAY ? HOUR : DAY;
    const span = { start: isoOrNull(win.start), end: isoOrNull(win.end) };
    const stats = (group_by) => api("stats", { query: { group_by, ...span }, signal });
    setState((s) => ({ ...s, loading: true, error: null }));
    Promise.all([
      stats("event_type"),
      stats(bucketMs === HOUR ? "hour" : "day"),
      stats("tool"),
      stats("model"),
      stats("agent_id"),
      // /stats counts the traces of the whole range; for one agent, its traces are paged through.
      agent ? countTraces({ ...span, agent_id: agent }, signal) : null,
    ])
      .then(async ([byType, byTime, byTool, byModel, byAgent, agentTraces]) => {
        const traces = agentTraces || Object.fromEntries(
          STATUSES.map((s) => [s, { n: byType.traces[s], abandoned: 0, more: false }]),
        );
        let newest = null;
        if (byType.total === 0) {
          const page = await api("events", { query: { limit: 1, ...(agent ? { agent_id: agent } : {}) }, signal });
          newest = page.events[0] || null;
        }
        setState({ loading: false, bucketMs, byType, byTime, byTool, byModel, byAgent, traces, newest });
      })
      .catch((error) => {
        if (error.name !== "AbortError") setState({ loading: false, error });
      });
    return () => controller.abort();
  }, [win.start, win.end, agent]);

  const setParams = (next) => navigate(hashFor("overview", { range, agent, start: params.start, end: params.end, ...next }));
  const onRange = ({ range: r, start, end }) => {
    if (r !== "custom") return setParams({ range: r, start: undefined, end: undefined });
    const s = fromLocalInput(start) ?? win.start ?? Date.now() - DAY;
    const e = fromLocalInput(end) ?? win.end ?? Date.now();
    return setParams({ range: r, start: isoOrNull(s), end: isoOrNull(e) });
  };

  const agents = state.byAgent ? state.byAgent.buckets.filter((b) => b.key !== null).map((b) => b.key) : [];
  if (agent && !agents.includes(agent)) agents.unshift(agent);

  return html`<div class="page">
    <div class="page-head">
      <div>
        <h1 tabindex="-1">Overview</h1>
        <p class="page-sub">${state.byType
          ? html`From ${fmtTime(state.byType.start)} to ${fmtTime(state.byType.end)} (your time zone)`
          : "Agent activity from CloudWatch logs"}</p>
      </div>
      <form class="toolbar" onSubmit=${(e) => e.preventDefault()} aria-label="Overview filters">
        <${RangePicker} ranges=${RANGES} range=${range} idPrefix="overview-range"
          start=${toLocalInput(win.start)} end=${toLocalInput(win.end)} onChange=${onRange} />
        <label class="field">
          <span>Agent</span>
          <select data-testid="overview-agent" value=${agent} onChange=${(e) => setParams({ agent: e.currentTarget.value })}>
            <option value="">All agents</option>
            ${agents.map((a) => html`<option value=${a}>${a}</option>`)}
          </select>
        </label>
        <button type="button" class="btn" data-testid="overview-refresh" onClick=${() => setReload((n) => n + 1)}>Refresh</button>
      </form>
    </div>
    <div aria-live="polite" class="live-region">
      ${state.loading && html`<${Loading} label="Loading statistics…" />`}
      <${ErrorNote} error=${state.error} testid="overview-error" retry=${() => setReload((n) => n + 1)} />
    </div>
    ${state.byType && html`<${OverviewBody} state=${state} agent=${agent} setParams=${setParams}
      agentHref=${(a) => hashFor("overview", { range, agent: a, start: params.start, end: params.end })} />`}
  </div>`;
}

/** Pages through GET /traces per status, for one agent (/stats counts all agents' traces). */
async function countTraces(query, signal) {
  const counts = {};
  await Promise.all(
    STATUSES.map(async (status) => {
      let cursor;
      let n = 0;
      let abandoned = 0;
      for (let page = 0; page < COUNT_PAGES; page++) {
        const res = await api("traces", { query: { ...query, status, limit: COUNT_PAGE_SIZE, cursor }, signal });
        n += res.traces.length;
        abandoned += res.traces.filter((t) => t.abandoned).length;
        cursor = res.next_cursor;
        if (!cursor) break;
      }
      counts[status] = { n, abandoned, more: Boolean(cursor) };
    }),
  );
  return counts;
}

const plural = (n, word) => `${fmtInt(n)} ${word}${n === 1 ? "" : "s"}`;

function sumBuckets(buckets) {
  const out = { total: 0, errors: 0, calls: 0, input_tokens: 0, output_tokens: 0, cost_usd: 0 };
  for (const b of buckets) for (const k of Object.keys(out)) out[k] += b[k] || 0;
  return out;
}

function OverviewBody({ state, agent, setParams, agentHref }) {
  const { byType, byTime, byTool, byModel, byAgent, traces, bucketMs, newest } = state;
  const typeBucket = (t) => byType.buckets.find((b) => b.key === t);
  // With an agent chosen, the totals are that agent's row of group_by=agent_id; the other charts
  // cannot be narrowed to one agent (the API's /stats has no agent filter).
  const agentRow = agent ? byAgent.buckets.find((b) => b.key === agent) || sumBuckets([]) : null;
  const totals = agentRow || { ...sumBuckets(byType.buckets), total: byType.total, errors: byType.errors };
  const llm = typeBucket("llm_call");
  const tools = typeBucket("tool_call");

  const series = useMemo(() => timeSeries(byTime, bucketMs), [byTime, bucketMs]);
  const peak = series.x.length ? Math.max(...series.events) : 0;
  const bucketName = bucketMs === HOUR ? "hour" : "day";

  return html`
    ${byType.total === 0 && html`<${Note} kind="info" testid="overview-empty">
      No events between ${fmtTime(byType.start)} and ${fmtTime(byType.end)}.
      ${newest && html` The newest event is from ${fmtTime(newest.timestamp)}:${" "}<a href=${hashFor("overview", { range: "custom", agent, start: isoOrNull(toMs(newest.timestamp) - DAY + 1000), end: isoOrNull(toMs(newest.timestamp) + 1000) })}
          data-testid="overview-jump">show the 24 hours before it</a>.`}
    </${Note}>`}
    ${agent && html`<${Note} kind="warn" testid="overview-agent-note">
      Totals are for agent <strong>${agent}</strong>; the charts by time, tool and model cover all agents
      (the API's /stats cannot be filtered by agent). Traces by status are ${agent}'s.
    </${Note}>`}

    <section class="stats-row" aria-label="Totals" data-testid="overview-totals">
      <${Stat} label="Events" value=${totals.total} display=${fmtInt(totals.total)} testid="overview-total-events" />
      <${Stat} label="Errors" value=${totals.errors} display=${fmtInt(totals.errors)} testid="overview-total-errors"
        tone=${totals.errors ? "bad" : undefined} hint=${`${fmtPct(totals.errors, totals.total)} of events`} />
      <${Stat} label="LLM calls" value=${agent ? undefined : llm ? llm.total : 0} display=${agent ? "–" : fmtInt(llm ? llm.total : 0)}
        testid="overview-llm-calls" hint=${agent ? "not available per agent" : "llm_call events"} />
      <${Stat} label="Tool calls" value=${agent ? undefined : tools ? tools.total : 0} display=${agent ? "–" : fmtInt(tools ? tools.total : 0)}
        testid="overview-tool-calls" hint=${agent ? `${fmtInt(totals.calls)} LLM + tool calls` : "tool_call events"} />
      <${Stat} label="Input tokens" value=${totals.input_tokens} display=${fmtInt(totals.input_tokens)} testid="overview-input-tokens" />
      <${Stat} label="Output tokens" value=${totals.output_tokens} display=${fmtInt(totals.output_tokens)} testid="overview-output-tokens" />
      <${Stat} label="Total tokens" value=${totals.input_tokens + totals.output_tokens}
        display=${fmtInt(totals.input_tokens + totals.output_tokens)} testid="overview-total-tokens" />
      <${Stat} label="Cost" value=${totals.cost_usd} display=${fmtCost(totals.cost_usd)} testid="overview-cost" hint="USD, as logged" />
    </section>

    <div class="grid grid-2-1">
      <${Card} title="Events and errors" subtitle=${`Per ${bucketName}`} testid="chart-events">
        <${TimeChart} x=${series.x} bucketMs=${bucketMs} testid="chart-events-plot"
          label=${`Events and errors per ${bucketName}`} summary=${`Peak: ${fmtInt(peak)} events in one ${bucketName}.`}
          series=${series.eventSeries} />
      </${Card}>
      <${Card} title="Traces by status" subtitle="Traces that started in this range" testid="chart-trace-status">
        <${TraceStatus} traces=${traces} agent=${agent} />
      </${Card}>
    </div>

    <div class="grid grid-2-1">
      <${Card} title="Tokens and cost" subtitle=${`Per ${bucketName}, all models`} testid="chart-tokens">
        <${TimeChart} x=${series.x} bucketMs=${bucketMs} testid="chart-tokens-plot" axes=${{ y: "count", y2: "cost" }}
          label=${`Input and output tokens and cost per ${bucketName}`} series=${series.tokenSeries} />
      </${Card}>
      <${Card} title="Models" subtitle="LLM calls, tokens and cost by model" testid="chart-models">
        <${Models} byModel=${byModel} />
      </${Card}>
    </div>

    <div class="grid grid-2">
      <${Card} title="Slowest tools" subtitle="Mean duration_ms of the tool's events" testid="chart-tools-slowest">
        <${BarList} testid="tools-slowest" label="Slowest tools"
          items=${byTool.buckets.filter((b) => b.key !== null && b.avg_duration_ms !== null)
            .sort((a, b) => b.avg_duration_ms - a.avg_duration_ms).slice(0, 8)
            .map((b) => ({ label: b.key, value: b.avg_duration_ms, tone: "tool",
              text: html`<strong>${fmtDuration(b.avg_duration_ms)}</strong> <span class="muted">· ${plural(b.calls, "call")}</span>` }))}
          empty="No tool events with a duration in this range." />
      </${Card}>
      <${Card} title="Most failing tools" subtitle="Error events per call" testid="chart-tools-failing">
        <${BarList} testid="tools-failing" label="Most failing tools" max=${1}
          items=${byTool.buckets.filter((b) => b.key !== null && b.errors > 0)
            .map((b) => ({ ...b, rate: b.errors / Math.max(b.calls || b.total, 1) }))
            .sort((a, b) => b.rate - a.rate || b.errors - a.errors).slice(0, 8)
            .map((b) => ({ label: b.key, value: Math.min(1, b.rate), tone: "bad",
              text: html`<strong>${fmtPct(b.errors, Math.max(b.calls || b.total, 1))}</strong> <span class="muted">· ${fmtInt(b.errors)} of ${plural(b.calls, "call")}</span>` }))}
          empty=${byTool.buckets.some((b) => b.key !== null) ? "No tool errors in this range." : "No tool calls in this range."} />
      </${Card}>
    </div>

    <div class="grid grid-3">
      <${Card} title="Durations" subtitle="Mean duration_ms by event type" testid="chart-durations">
        <${Durations} byType=${byType} series=${series} bucketMs=${bucketMs} />
      </${Card}>
      <${Card} title="Agents" subtitle="Events and errors by agent" testid="chart-agents">
        <${BarList} testid="agents" label="Events by agent"
          items=${byAgent.buckets.slice().sort((a, b) => b.total - a.total).slice(0, 8).map((b) => ({
            label: b.key === null ? html`<span class="muted">no agent</span>`
              : html`<a href=${agentHref(b.key)}>${b.key}</a>`,
            value: b.total,
            parts: [{ value: b.total - b.errors, tone: "primary" }, { value: b.errors, tone: "bad" }],
            text: html`<strong>${fmtInt(b.total)}</strong>${b.errors ? html` <span class="muted">· ${plural(b.errors, "error")}</span>` : ""}`,
          }))} />
      </${Card}>
      <${Card} title="Event types" subtitle="Events by event_type" testid="chart-event-types">
        <${BarList} testid="event-types" label="Events by type"
          items=${byType.buckets.slice().sort((a, b) => b.total - a.total).slice(0, 10).map((b) => ({
            label: b.key ?? html`<span class="muted">untyped</span>`, value: b.total,
            parts: [{ value: b.total - b.errors, tone: "primary" }, { value: b.errors, tone: "bad" }],
            text: html`<strong>${fmtInt(b.total)}</strong>`,
          }))} />
      </${Card}>
    </div>`;
}

function timeSeries(byTime, bucketMs) {
  const start = toMs(byTime.start);
  const end = toMs(byTime.end);
  const first = start - (start % bucketMs);
  const x = [];
  for (let t = first; t < end && x.length < 2000; t += bucketMs) x.push(t);
  const index = new Map(x.map((t, i) => [t, i]));
  const zero = () => x.map(() => 0);
  const events = zero();
  const errors = zero();
  const input = zero();
  const output = zero();
  const cost = zero();
  const duration = x.map(() => null);
  for (const b of byTime.buckets) {
    const i = index.get(toMs(b.key));
    if (i === undefined) continue;
    events[i] = b.total;
    errors[i] = b.errors;
    input[i] = b.input_tokens;
    output[i] = b.output_tokens;
    cost[i] = b.cost_usd;
    duration[i] = b.avg_duration_ms;
  }
  return {
    x, events, duration,
    eventSeries: [
      { label: "Events", values: events, kind: "bars", color: "--chart-1" },
      { label: "Errors", values: errors, kind: "bars", color: "--bad" },
    ],
    tokenSeries: [
      { label: "Input tokens", values: input, kind: "bars", color: "--chart-2" },
      { label: "Output tokens", values: output, kind: "bars", color: "--chart-3" },
      { label: "Cost", values: cost, kind: "line", scale: "y2", color: "--chart-4" },
    ],
    durationSeries: [{ label: "Mean duration", values: duration, kind: "line", color: "--chart-4", format: "duration" }],
  };
}

function TraceStatus({ traces, agent }) {
  const total = STATUSES.reduce((n, s) => n + traces[s].n, 0);
  const more = STATUSES.some((s) => traces[s].more);
  const label = (s) => `${fmtInt(traces[s].n)}${traces[s].more ? "+" : ""}`;
  const link = (status) => hashFor("traces", { status, agent });
  return html`<div class="trace-status">
    <div class="status-bar" role="img" aria-label=${STATUSES.map((s) => `${label(s)} ${s}`).join(", ")}>
      ${STATUSES.map((s) => traces[s].n > 0 && html`<span class=${`seg seg-${s}`} style=${`flex-grow:${traces[s].n}`}></span>`)}
      ${total === 0 && html`<span class="seg seg-none"></span>`}
    </div>
    <dl class="status-counts">
      ${STATUSES.map((s) => html`<a class=${`status-count status-${s}`} href=${link(s)}>
        <dt><span class="dot" aria-hidden="true"></span>${s}</dt>
        <dd data-testid=${`overview-traces-${s}`} data-value=${traces[s].n}>${label(s)}</dd>
        ${s === "running" && traces.running.abandoned > 0 && html`<span class="stat-hint">${fmtInt(traces.running.abandoned)} abandoned</span>`}
      </a>`)}
    </dl>
    <p class="muted small">Total <strong data-testid="overview-traces-total" data-value=${total}>${fmtInt(total)}${more ? "+" : ""}</strong> traces
      ${more && html` (counted up to ${fmtInt(COUNT_PAGES * COUNT_PAGE_SIZE)} per status)`}.</p>
  </div>`;
}

function Models({ byModel }) {
  const models = byModel.buckets.filter((b) => b.key !== null).sort((a, b) => b.input_tokens + b.output_tokens - (a.input_tokens + a.output_tokens));
  if (!models.length) return html`<p class="muted empty" data-testid="models">No events naming a model in this range.</p>`;
  const maxCost = Math.max(...models.map((m) => m.cost_usd), 0);
  return html`<div class="models" data-testid="models">
    <h3 class="mini-head">Tokens <span class="legend"><i class="tone-chart2"></i>input <i class="tone-chart3"></i>output</span></h3>
    <${BarList} testid="models-tokens" label="Tokens by model"
      items=${models.slice(0, 8).map((m) => ({
        label: m.key, value: m.input_tokens + m.output_tokens,
        parts: [{ value: m.input_tokens, tone: "chart2" }, { value: m.output_tokens, tone: "chart3" }],
        title: `${m.key}: ${fmtInt(m.input_tokens)} input, ${fmtInt(m.output_tokens)} output tokens, ${fmtInt(m.calls)} calls`,
        text: html`<strong>${fmtInt(m.input_tokens + m.output_tokens)}</strong> <span class="muted">· ${plural(m.calls, "call")}</span>`,
      }))} />
    <h3 class="mini-head">Cost</h3>
    <${BarList} testid="models-cost" label="Cost by model" max=${maxCost}
      items=${models.slice(0, 8).map((m) => ({ label: m.key, value: m.cost_usd, tone: "chart4", text: html`<strong>${fmtCost(m.cost_usd)}</strong>` }))} />
  </div>`;
}

function Durations({ byType, series, bucketMs }) {
  const timed = byType.buckets.filter((b) => b.avg_duration_ms !== null).sort((a, b) => b.avg_duration_ms - a.avg_duration_ms);
  const invocation = byType.buckets.find((b) => b.key === "lambda_report");
  return html`<div>
    <div class="stats-row stats-row-compact">
      <${Stat} label="Invocation mean" testid="overview-invocation-mean" value=${invocation ? invocation.avg_duration_ms : undefined}
        display=${invocation ? fmtDuration(invocation.avg_duration_ms) : "–"} hint=${invocation ? `${fmtInt(invocation.total)} lambda_report events` : "no lambda_report events"} />
      <${Stat} label="Invocations p50 / p95" testid="overview-invocation-pct"
        value=${byType.invocations.p95_ms ?? undefined}
        display=${byType.invocations.count ? `${fmtDuration(byType.invocations.p50_ms)} / ${fmtDuration(byType.invocations.p95_ms)}` : "–"}
        hint=${`${fmtInt(byType.invocations.count)} reported${byType.invocations.sampled ? " (the newest)" : ""}`} />
    </div>
    <${BarList} testid="durations" label="Mean duration by event type" items=${timed.map((b) => ({
      label: b.key ?? "untyped", value: b.avg_duration_ms, tone: "chart4", text: html`<strong>${fmtDuration(b.avg_duration_ms)}</strong>`,
    }))} empty="No events with duration_ms in this range." />
    ${series.duration.some((v) => v !== null) && html`<${TimeChart} x=${series.x} bucketMs=${bucketMs} height=${140}
      testid="chart-durations-plot" axes=${{ y: "duration" }} label="Mean duration per bucket" series=${series.durationSeries} />`}
  </div>`;
}
