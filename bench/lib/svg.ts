// A small SVG plot, written by hand: one panel per setup, request latency (log scale) against the
// time the request started, failures as red crosses on top, restarts/reloads as dashed lines.
import type { TimedResult } from './load.js';

export interface Series {
  name: string;
  results: TimedResult[];
  /** ms on the same clock as results[].at: kills or reloads */
  marks: number[];
}

const W = 900;
const PANEL = 150;
const LEFT = 60;
const RIGHT = 20;
const TOP = 40;
const GAP = 38;
const Y_MIN = 0.5; // ms
const Y_MAX = 10000;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** The SVG text: panels share the x axis (seconds) and the y axis (latency, log scale). */
export function latencyPlot(title: string, series: Series[], markLabel: string): string {
  const seconds = Math.ceil(Math.max(...series.flatMap((s) => s.results.map((r) => r.at))) / 1000);
  const height = TOP + series.length * (PANEL + GAP) + 10;
  const x = (ms: number): number => LEFT + ((W - LEFT - RIGHT) * ms) / (seconds * 1000);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    `<text x="${W / 2}" y="32" text-anchor="middle" fill="#555">latency of each request (log scale) by start time; red ✕ = non-2xx or error; dashed = ${esc(markLabel)}</text>`,
  ];
  series.forEach((s, i) => {
    const top = TOP + i * (PANEL + GAP) + 14;
    const y = (ms: number): number =>
      top + PANEL - (PANEL * Math.log10(Math.min(Math.max(ms, Y_MIN), Y_MAX) / Y_MIN)) / Math.log10(Y_MAX / Y_MIN);
    const bad = s.results.filter((r) => r.status !== 200).length;
    const worst = Math.max(...s.results.map((r) => r.latencyMs));
    out.push(`<text x="${LEFT}" y="${top - 4}" font-size="12" font-weight="bold">${esc(s.name)}</text>`);
    out.push(
      `<text x="${W - RIGHT}" y="${top - 4}" text-anchor="end">${s.results.length} requests, ${bad} failed, max ${Math.round(worst)} ms</text>`,
    );
    out.push(`<rect x="${LEFT}" y="${top}" width="${W - LEFT - RIGHT}" height="${PANEL}" fill="none" stroke="#999"/>`);
    for (const tick of [1, 10, 100, 1000]) {
      out.push(`<line x1="${LEFT}" x2="${W - RIGHT}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#eee"/>`);
      out.push(
        `<text x="${LEFT - 4}" y="${(y(tick) + 4).toFixed(1)}" text-anchor="end">${tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`}</text>`,
      );
    }
    for (let t = 0; t <= seconds; t += 2) {
      out.push(`<text x="${x(t * 1000).toFixed(1)}" y="${top + PANEL + 12}" text-anchor="middle">${t} s</text>`);
    }
    for (const m of s.marks)
      out.push(
        `<line x1="${x(m).toFixed(1)}" x2="${x(m).toFixed(1)}" y1="${top}" y2="${top + PANEL}" stroke="#e69f00" stroke-dasharray="4 3"/>`,
      );
    const dots = s.results.filter((r) => r.status === 200).map((r) => `M${x(r.at).toFixed(1)} ${y(r.latencyMs).toFixed(1)}h0`);
    out.push(`<path d="${dots.join('')}" stroke="#0072b2" stroke-width="2.5" stroke-linecap="round" opacity="0.6"/>`);
    const crosses = s.results
      .filter((r) => r.status !== 200)
      .map((r) => `<text x="${x(r.at).toFixed(1)}" y="${top + 10}" text-anchor="middle" fill="#d00">✕</text>`);
    out.push(...crosses);
  });
  out.push('</svg>');
  return out.join('\n');
}
