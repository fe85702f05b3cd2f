/**
 * A small SVG writer for the reproduction's figures: line charts with error bars, step histograms and box
 * plots. Plain strings, no dependency; every chart is a self-contained <svg> document.
 */

const W = 560;
const H = 340;
const M = { left: 64, right: 150, top: 36, bottom: 48 };
const COLOURS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];

export const colour = (i: number): string => COLOURS[i % COLOURS.length];

/** XML-escapes text for element content and attribute values. */
export const esc = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

const f = (v: number): string => (Math.round(v * 100) / 100).toString();

/** About five round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^k). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number(v.toPrecision(12)));
  return out;
}

interface Frame {
  x: (v: number) => number;
  y: (v: number) => number;
  parts: string[];
}

function frame(
  title: string,
  xLabel: string,
  yLabel: string,
  xr: [number, number],
  yr: [number, number],
  xTicks: Array<{ v: number; label: string }>,
): Frame {
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * pw;
  const y = (v: number) => M.top + ph - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * ph;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${f(M.left + pw / 2)}" y="20" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}" stroke="black"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}" stroke="black"/>`,
    `<text x="${f(M.left + pw / 2)}" y="${H - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${f(M.top + ph / 2)}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
  ];
  for (const t of niceTicks(yr[0], yr[1])) {
    parts.push(`<line x1="${M.left - 4}" y1="${f(y(t))}" x2="${M.left + pw}" y2="${f(y(t))}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${M.left - 6}" y="${f(y(t) + 4)}" text-anchor="end">${esc(String(t))}</text>`);
  }
  for (const t of xTicks) {
    parts.push(`<line x1="${f(x(t.v))}" y1="${M.top + ph}" x2="${f(x(t.v))}" y2="${M.top + ph + 4}" stroke="black"/>`);
    parts.push(`<text x="${f(x(t.v))}" y="${M.top + ph + 16}" text-anchor="middle">${esc(t.label)}</text>`);
  }
  return { x, y, parts };
}

function legend(parts: string[], names: string[]): void {
  names.forEach((n, i) => {
    const ly = M.top + 8 + i * 16;
    const lx = W - M.right + 12;
    parts.push(`<rect x="${lx}" y="${ly - 8}" width="12" height="10" fill="${colour(i)}"/>`);
    parts.push(`<text x="${lx + 18}" y="${ly + 1}">${esc(n)}</text>`);
  });
}

function range(values: number[], pad = 0.05, includeZero = false): [number, number] {
  const fin = values.filter(Number.isFinite);
  if (!fin.length) return [0, 1];
  let lo = Math.min(...fin, ...(includeZero ? [0] : []));
  let hi = Math.max(...fin);
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const d = (hi - lo) * pad;
  return [includeZero && lo >= 0 ? lo : lo - d, hi + d];
}

export interface LinePoint {
  x: number;
  y: number;
  /** Half-length of the error bar (e.g. one standard deviation). */
  err?: number;
}

/** A line chart, one polyline per series, with ± error bars where `err` is given. */
export function lineChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Array<{ name: string; points: LinePoint[] }>;
  xTickLabels?: Map<number, string>;
}): string {
  const pts = o.series.flatMap((s) => s.points);
  const xr = range(
    pts.map((p) => p.x),
    0.04,
  );
  const yr = range(
    pts.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)]),
    0.08,
    true,
  );
  const xs = [...new Set(pts.map((p) => p.x))].sort((a, b) => a - b);
  const fr = frame(
    o.title,
    o.xLabel,
    o.yLabel,
    xr,
    yr,
    xs.map((v) => ({ v, label: o.xTickLabels?.get(v) ?? String(v) })),
  );
  o.series.forEach((s, i) => {
    const c = colour(i);
    const ok = s.points.filter((p) => Number.isFinite(p.y));
    if (ok.length > 1)
      fr.parts.push(
        `<polyline fill="none" stroke="${c}" stroke-width="1.8" points="${ok.map((p) => `${f(fr.x(p.x))},${f(fr.y(p.y))}`).join(' ')}"/>`,
      );
    for (const p of ok) {
      fr.parts.push(`<circle cx="${f(fr.x(p.x))}" cy="${f(fr.y(p.y))}" r="2.8" fill="${c}"/>`);
      if (p.err) {
        const [a, b] = [fr.y(p.y - p.err), fr.y(p.y + p.err)];
        fr.parts.push(
          `<path d="M${f(fr.x(p.x))} ${f(a)}V${f(b)}M${f(fr.x(p.x) - 3)} ${f(a)}h6M${f(fr.x(p.x) - 3)} ${f(b)}h6" stroke="${c}" fill="none"/>`,
        );
      }
    }
  });
  legend(
    fr.parts,
    o.series.map((s) => s.name),
  );
  return `${fr.parts.join('\n')}\n</svg>\n`;
}

/** Step histograms over shared bin edges, one outline per series (values per bin, e.g. densities). */
export function histogramChart(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  edges: number[];
  series: Array<{ name: string; values: number[] }>;
}): string {
  const xr: [number, number] = [o.edges[0], o.edges.at(-1)!];
  const yr = range(
    o.series.flatMap((s) => s.values),
    0.08,
    true,
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((q) => xr[0] + q * (xr[1] - xr[0]))
    .map((v) => ({ v, label: v.toFixed(2) }));
  const fr = frame(o.title, o.xLabel, o.yLabel, xr, yr, ticks);
  o.series.forEach((s, i) => {
    const d = [`M${f(fr.x(o.edges[0]))} ${f(fr.y(0))}`];
    for (const [b, v] of s.values.entries()) d.push(`V${f(fr.y(v))}H${f(fr.x(o.edges[b + 1]))}`);
    d.push(`V${f(fr.y(0))}`);
    fr.parts.push(
      `<path d="${d.join('')}" fill="${colour(i)}" fill-opacity="0.12" stroke="${colour(i)}" stroke-width="1.6"/>`,
    );
  });
  legend(
    fr.parts,
    o.series.map((s) => s.name),
  );
  return `${fr.parts.join('\n')}\n</svg>\n`;
}

/** Quartiles by linear interpolation between order statistics (type 7, the NumPy default). */
export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Box plots grouped by category: per series a box from the 25th to the 75th percentile with the median, and
 * whiskers at the minimum and maximum (as in the paper's Fig. 3).
 */
export function boxPlot(o: {
  title: string;
  xLabel: string;
  yLabel: string;
  categories: string[];
  series: Array<{ name: string; values: number[][] }>;
}): string {
  const all = o.series.flatMap((s) => s.values.flat());
  const yr = range(all, 0.08, true);
  const nC = o.categories.length;
  const fr = frame(
    o.title,
    o.xLabel,
    o.yLabel,
    [-0.5, nC - 0.5],
    yr,
    o.categories.map((label, v) => ({ v, label })),
  );
  const nS = o.series.length;
  const slot = 0.8 / Math.max(1, nS);
  o.series.forEach((s, i) => {
    const c = colour(i);
    s.values.forEach((vals, k) => {
      const v = vals.filter(Number.isFinite).sort((a, b) => a - b);
      if (!v.length) return;
      const cx = k - 0.4 + slot * (i + 0.5);
      const x0 = fr.x(cx - slot * 0.4);
      const x1 = fr.x(cx + slot * 0.4);
      const [q1, med, q3] = [0.25, 0.5, 0.75].map((q) => quantile(v, q));
      fr.parts.push(
        `<path d="M${f(fr.x(cx))} ${f(fr.y(v[0]))}V${f(fr.y(q1))}M${f(fr.x(cx))} ${f(fr.y(q3))}V${f(fr.y(v.at(-1)!))}" stroke="${c}"/>`,
      );
      fr.parts.push(
        `<rect x="${f(x0)}" y="${f(fr.y(q3))}" width="${f(x1 - x0)}" height="${f(Math.max(0.5, fr.y(q1) - fr.y(q3)))}" fill="${c}" fill-opacity="0.25" stroke="${c}"/>`,
      );
      fr.parts.push(
        `<line x1="${f(x0)}" x2="${f(x1)}" y1="${f(fr.y(med))}" y2="${f(fr.y(med))}" stroke="${c}" stroke-width="2"/>`,
      );
    });
  });
  legend(
    fr.parts,
    o.series.map((s) => s.name),
  );
  return `${fr.parts.join('\n')}\n</svg>\n`;
}
