/**
 * The context every section writes to (markdown, figures, claims, set-up checks; the rows of each method), and
 * the builders of the paper's claims the verdict section judges: paired differences, trends over the subsets,
 * accuracy equivalence.
 */
import type { ChartSpec } from '@arcal/charts';
import type { Stat } from '@arcal/contracts';
import type { Family, Preset } from '../plan.ts';
import { slope } from '../stats.ts';
import type { Claim } from '../verdicts.ts';
import {
  ACCURACY_MARGIN,
  EXP,
  finite,
  meanText,
  PP,
  PP_PER_SUBSET,
  pct,
  type ResultsInput,
  type SetupCheck,
  type Summary,
  statOf,
  strip,
} from './shared.ts';
import type { selectLsEpsilon } from './sweep.ts';

export interface Ctx {
  input: ResultsInput;
  p: Preset;
  sel: ReturnType<typeof selectLsEpsilon>;
  lsEps?: number;
  /** α of the AdaLS and AR-AdaLS rows (chosen by the sweep, or the preset's only one). */
  alpha: { adals?: number; arAdals?: number };
  md: string[];
  figures: Record<string, ChartSpec>;
  claims: Claim[];
  checks: SetupCheck[];
  /** Finished summaries of a row of the tables (for LS: only the selected ε), in seed order. */
  rows: (f: Family) => Summary[];
  label: (f: Family) => string;
}

/** Values of `get` for two families, paired by seed; seeds where either is missing are left out. */
export function paired(ctx: Ctx, a: Family, b: Family, get: (r: Summary) => number | undefined, seeds?: number[]) {
  const B = new Map(ctx.rows(b).map((r) => [r.seed, r]));
  const out = { seeds: [] as number[], a: [] as number[], b: [] as number[], diffs: [] as number[] };
  for (const ra of ctx.rows(a)) {
    const rb = B.get(ra.seed);
    if (!rb || (seeds && !seeds.includes(ra.seed))) continue;
    const va = get(ra);
    const vb = get(rb);
    if (!finite(va) || !finite(vb)) continue;
    out.seeds.push(ra.seed);
    out.a.push(va);
    out.b.push(vb);
    out.diffs.push(va - vb);
  }
  return out;
}

/** "A < B" (or ">") on a per-seed metric: the paired difference A − B, expected negative (or positive). */
export function compareClaim(
  ctx: Ctx,
  o: {
    text: string;
    source: string;
    a: Family;
    b: Family;
    get: (r: Summary) => number | undefined;
    expect: 'negative' | 'positive';
    format: (v: number) => string;
    aName?: string;
    bName?: string;
    seeds?: number[];
    note?: string;
  },
): Claim {
  const pr = paired(ctx, o.a, o.b, o.get, o.seeds);
  return {
    text: o.text,
    source: o.source,
    seeds: pr.seeds,
    test: { kind: 'difference', expect: o.expect, diffs: pr.diffs },
    format: o.format,
    evidence: `${o.aName ?? ctx.label(o.a)} ${strip(meanText(pr.a, o.format))} vs ${o.bName ?? ctx.label(o.b)} ${strip(meanText(pr.b, o.format))}`,
    note: o.note,
  };
}

/** A trend over the robustness subsets: the per-seed least-squares slope of a subset field, tested against 0. */
export function trendClaim(
  ctx: Ctx,
  o: {
    text: string;
    source: string;
    f: Family;
    field: 'acc' | 'conf' | 'ece' | 'variance';
    expect: 'negative' | 'positive';
    format: (v: number) => string;
  },
): Claim {
  const rs = ctx.rows(o.f).filter((r) => r.bySubset.length >= 2 && r.bySubset.every((b) => finite(b[o.field])));
  const slopes = rs.map((r) => slope(r.bySubset.map((b) => b[o.field] as number)));
  const first = statOf(rs.map((r) => r.bySubset[0][o.field]));
  const last = statOf(rs.map((r) => r.bySubset.at(-1)![o.field]));
  const show = o.format === PP_PER_SUBSET ? (s?: Stat) => pct(s) : (s?: Stat) => (s ? EXP(s.mean) : '–');
  return {
    text: o.text,
    source: o.source,
    seeds: rs.map((r) => r.seed),
    test: { kind: 'difference', expect: o.expect, diffs: slopes },
    format: o.format,
    evidence: `subset 1 ${show(first)} → subset R ${show(last)}`,
    note: 'per-seed least-squares slope over the R subsets, against 0',
  };
}

/** Test accuracy unchanged within ±ACCURACY_MARGIN against vanilla, paired by seed. */
export function equivalenceClaim(ctx: Ctx, f: Family, source: string): Claim {
  const pr = paired(ctx, f, 'vanilla', (r) => r.final.accuracy);
  return {
    text: `accuracy: ${ctx.label(f)} within ±${(100 * ACCURACY_MARGIN).toFixed(0)} pp of vanilla`,
    source,
    seeds: pr.seeds,
    test: { kind: 'equivalence', margin: ACCURACY_MARGIN, diffs: pr.diffs },
    format: PP,
    evidence: `${ctx.label(f)} ${strip(meanText(pr.a, PP))} vs Vanilla ${strip(meanText(pr.b, PP))}`,
    note: 'two one-sided tests against the margin',
  };
}
