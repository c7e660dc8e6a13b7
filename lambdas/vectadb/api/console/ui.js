// Shared UI pieces: htm bound to Preact, status badges, notes, the range picker, bar lists.

import { h } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import htm from "htm";

export const html = htm.bind(h);

/** aria-live status: the loading line and the error note. */
export function Loading({ label = "Loading…" }) {
  return html`<p class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}</p>`;
}

export function ErrorNote({ error, testid = "error", retry }) {
  if (!error) return null;
  const detail = error.status ? ` (HTTP ${error.status}${error.code ? `, ${error.code}` : ""})` : "";
  return html`<div class="note note-error" role="alert" data-testid=${testid}>
    <strong>${error.message || String(error)}</strong><span class="muted">${detail}</span>
    ${retry && html` <button type="button" class="btn btn-small" onClick=${retry}>Try again</button>`}
  </div>`;
}

export function Note({ kind = "info", children, testid }) {
  return html`<div class=${`note note-${kind}`} role=${kind === "warn" ? "status" : undefined} data-testid=${testid}>${children}</div>`;
}

export function StatusBadge({ status, abandoned }) {
  const label = status === "running" && abandoned ? "abandoned" : status;
  const title = abandoned
    ? "Running, but no event for 15 minutes: the run most likely died without an end marker"
    : undefined;
  return html`<span class=${`badge badge-${label}`} title=${title}><span class="dot" aria-hidden="true"></span>${label}</span>`;
}

export function TypeBadge({ type, error }) {
  const t = type || "event";
  return html`<span class=${`type type-${typeClass(t)}${error ? " type-error" : ""}`}>${t}</span>`;
}

export function typeClass(type) {
  if (!type) return "other";
  if (type === "llm_call") return "llm";
  if (type.startsWith("tool")) return "tool";
  if (type.includes("error")) return "err";
  if (type.startsWith("agent")) return "agent";
  if (type.startsWith("lambda")) return "lambda";
  return "other";
}

/** Big number with its label; the raw figure in data-value for tests and screen readers. */
export function Stat({ label, value, display, testid, hint, tone }) {
  return html`<div class=${`stat${tone ? ` stat-${tone}` : ""}`}>
    <div class="stat-label">${label}</div>
    <div class="stat-value" data-testid=${testid} data-value=${value ?? ""}>${display ?? value ?? "–"}</div>
    ${hint && html`<div class="stat-hint">${hint}</div>`}
  </div>`;
}

export function Card({ title, subtitle, children, testid, actions, className = "" }) {
  return html`<section class=${`card ${className}`} data-testid=${testid} aria-label=${title}>
    <header class="card-head">
      <div><h2>${title}</h2>${subtitle && html`<p class="card-sub">${subtitle}</p>`}</div>
      ${actions}
    </header>
    ${children}
  </section>`;
}

/** A horizontal bar chart in HTML: one row per item, the value's text beside its bar.
 * items: [{label, value, text, title, tone, parts: [{value, tone, label}]}] */
export function BarList({ items, max, testid, empty = "No data in this range.", label }) {
  if (!items.length) return html`<p class="muted empty" data-testid=${testid}>${empty}</p>`;
  const top = max ?? Math.max(...items.map((i) => i.value || 0), 0);
  return html`<ul class="barlist" data-testid=${testid} aria-label=${label}>
    ${items.map((item) => {
      const parts = item.parts || [{ value: item.value, tone: item.tone }];
      return html`<li class="barlist-row" title=${item.title}>
        <span class="barlist-label">${item.label}</span>
        <span class="barlist-track" aria-hidden="true">
          ${parts.map((p) => html`<span class=${`barlist-fill tone-${p.tone || "primary"}`} style=${`width:${top ? Math.max(0, (100 * (p.value || 0)) / top) : 0}%`}></span>`)}
        </span>
        <span class="barlist-value">${item.text}</span>
      </li>`;
    })}
  </ul>`;
}

/** Time range: presets or a custom start–end (datetime-local). onChange({range, start, end}). */
export function RangePicker({ ranges, range, start, end, onChange, idPrefix = "range" }) {
  const [custom, setCustom] = useState({ start: start || "", end: end || "" });
  useEffect(() => setCustom({ start: start || "", end: end || "" }), [start, end]);
  return html`<div class="range-picker">
    <label class="field">
      <span>Time range</span>
      <select id=${`${idPrefix}-select`} data-testid=${`${idPrefix}-select`} value=${range}
        onChange=${(e) => onChange({ range: e.currentTarget.value, start: custom.start, end: custom.end })}>
        ${ranges.map((r) => html`<option value=${r.id}>${r.label}</option>`)}
      </select>
    </label>
    ${range === "custom" && html`
      <label class="field"><span>From</span>
        <input type="datetime-local" data-testid=${`${idPrefix}-start`} value=${custom.start}
          onChange=${(e) => { const s = e.currentTarget.value; setCustom((c) => ({ ...c, start: s })); onChange({ range, start: s, end: custom.end }); }} />
      </label>
      <label class="field"><span>To</span>
        <input type="datetime-local" data-testid=${`${idPrefix}-end`} value=${custom.end}
          onChange=${(e) => { const v = e.currentTarget.value; setCustom((c) => ({ ...c, end: v })); onChange({ range, start: custom.start, end: v }); }} />
      </label>`}
  </div>`;
}

/** Calls fn every `ms` while `active`, paused while the page is hidden. */
export function useInterval(fn, ms, active) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (!active) return undefined;
    const id = setInterval(() => {
      if (document.visibilityState === "visible") saved.current();
    }, ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

/** The current theme ("light" | "dark"), updated when it changes. */
export function useTheme() {
  const [theme, setTheme] = useState(currentTheme());
  useEffect(() => {
    const update = () => setTheme(currentTheme());
    window.addEventListener("vectadb:theme", update);
    const mq = matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", update);
    return () => {
      window.removeEventListener("vectadb:theme", update);
      mq.removeEventListener("change", update);
    };
  }, []);
  return theme;
}

export function currentTheme() {
  const set = document.documentElement.dataset.theme;
  if (set === "light" || set === "dark") return set;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  try {
    localStorage.setItem("vectadb.theme", theme);
  } catch {
    /* not kept */
  }
  window.dispatchEvent(new Event("vectadb:theme"));
}
