// Time-series charts (uPlot), themed from the CSS variables and redrawn on theme change and resize.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import { html, useTheme } from "./ui.js";
import { fmtCompact, fmtCost, fmtDuration } from "./util.js";

// Whole-number steps for count axes (no "0, 0, 1, 1" ticks on a small range).
const INT_STEPS = [];
for (let e = 0; e <= 12; e++) for (const m of [1, 2, 5]) INT_STEPS.push(m * 10 ** e);

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export const FORMATS = {
  count: (v) => fmtCompact(v),
  cost: (v) => fmtCost(v),
  duration: (v) => fmtDuration(v),
};

/**
 * series: [{label, values, color: "--css-var", kind: "bars" | "line", scale: "y" | "y2", format}]
 * x: bucket start times (ms). bucketMs: the bucket's length (bars are drawn across it).
 * axes: {y: format name, y2: format name}
 */
export function TimeChart({ x, series, bucketMs, axes = { y: "count" }, height = 220, testid, label, summary }) {
  const box = useRef(null);
  const theme = useTheme();
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const text = css("--text-2");
    const grid = css("--grid");
    const font = `12px ${css("--font-sans") || "system-ui"}`;
    const xs = x.map((t) => (t + bucketMs / 2) / 1000); // bars centred on their bucket
    const nBars = series.filter((s) => s.kind === "bars").length;
    let barIndex = 0;
    const uSeries = [
      { value: (u, v) => (v === null ? "–" : new Date(v * 1000).toLocaleString()) },
      ...series.map((s) => {
        const color = css(s.color) || s.color;
        const fmt = FORMATS[s.format || axes[s.scale || "y"] || "count"];
        if (s.kind === "bars") {
          const index = barIndex++;
          return {
            label: s.label, scale: s.scale || "y", stroke: color, fill: color, width: 0,
            paths: offsetBars(index, nBars),
            points: { show: false }, value: (u, v) => (v === null ? "–" : fmt(v)),
          };
        }
        return {
          label: s.label, scale: s.scale || "y", stroke: color, width: 2, spanGaps: false,
          points: { size: 5, fill: color }, value: (u, v) => (v === null ? "–" : fmt(v)),
        };
      }),
    ];
    const axis = (scale, side, format) => ({
      scale, side, stroke: text, font, size: 56,
      grid: { stroke: grid, width: 1, show: side === 3 },
      ticks: { stroke: grid, width: 1, size: 4 },
      values: (u, vals) => vals.map((v) => FORMATS[format](v)),
      ...(format === "count" ? { incrs: INT_STEPS } : {}),
    });
    const xMin = x.length ? x[0] / 1000 : 0;
    const xMax = x.length ? (x[x.length - 1] + bucketMs) / 1000 : 1;
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      padding: [12, 20, 0, 0],
      legend: { live: true },
      cursor: { points: { show: false }, drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: () => [xMin, xMax] },
        y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] },
        ...(axes.y2 ? { y2: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } } : {}),
      },
      axes: [
        { stroke: text, font, grid: { show: false }, ticks: { stroke: grid, width: 1, size: 4 } },
        axis("y", 3, axes.y),
        ...(axes.y2 ? [axis("y2", 1, axes.y2)] : []),
      ],
      series: uSeries,
    };
    const data = [xs, ...series.map((s) => s.values)];
    el.textContent = "";
    const plot = new uPlot(opts, data, el);
    const observer = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [x, series, bucketMs, theme, height]);
  return html`<figure class="chart" data-testid=${testid}>
    <div class="chart-plot" ref=${box} role="img" aria-label=${`${label}. ${summary || ""}`}></div>
    ${summary && html`<figcaption class="sr-only">${summary}</figcaption>`}
  </figure>`;
}

/** Side-by-side bars: series `index` of `count` takes its slot within the bucket. */
function offsetBars(index, count) {
  return (u, seriesIdx, idx0, idx1) => {
    const xs = u.data[0];
    const slot = xs.length > 1 ? (u.valToPos(xs[1], "x", true) - u.valToPos(xs[0], "x", true)) : u.bbox.width / 3;
    const groupW = Math.min(slot * 0.8, 56 * devicePixelRatio);
    const barW = groupW / count;
    const stroke = new Path2D();
    const fill = new Path2D();
    const ys = u.data[seriesIdx];
    const y0 = u.valToPos(0, u.series[seriesIdx].scale, true);
    for (let i = idx0; i <= idx1; i++) {
      const v = ys[i];
      if (v === null || v === undefined || v === 0) continue;
      const cx = u.valToPos(xs[i], "x", true);
      const left = cx - groupW / 2 + index * barW;
      const top = u.valToPos(v, u.series[seriesIdx].scale, true);
      fill.rect(Math.round(left), Math.round(top), Math.max(1, Math.round(barW) - 1), Math.round(y0 - top));
    }
    return { stroke, fill, clip: undefined, flags: 0 };
  };
}
