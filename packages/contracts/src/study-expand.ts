/**
 * Expansion of a study document into its experiments: the cartesian product of the `vary` lists applied to
 * the base spec by dot path. Pure (no I/O, no tensors); the experiments still have to pass spec validation.
 */
import { ArcalError } from './errors.ts';
import type { StudyDocument } from './study.schema.ts';

export interface StudyExperiment {
  /** Experiment name: `<study>.<slug>`, also the spec's `name`. */
  name: string;
  /** Directory-safe label of this point of the grid, e.g. `method.epsilon=0.05_seed=1` (`base` for an empty grid). */
  slug: string;
  /** The varied values of this experiment except the seed, by dot path. */
  config: Record<string, unknown>;
  /** Identifies the configuration (all varied values but the seed); experiments differing only in seed share it. */
  configKey: string;
  seed: number;
  /** The raw experiment spec (base with the varied values set). */
  spec: Record<string, unknown>;
}

const UNSAFE = /[^A-Za-z0-9.=+-]+/g;

/** Keys that reach an object's prototype instead of one of its own properties. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function pathKeys(path: string): string[] {
  const keys = path.split('.');
  const bad = keys.find((k) => PROTOTYPE_KEYS.has(k) || k === '');
  if (bad !== undefined) throw new ArcalError('INVALID_INPUT', `${path}: "${bad}" is not a spec field`);
  return keys;
}

/** Value at a dot path, or undefined when a segment is missing. */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, k)) return undefined;
    cur = (cur as Record<string, unknown>)[k];
  }
  return cur;
}

/** A deep copy of `obj` with `value` at the dot path; missing intermediate objects are created. */
export function withPath<T extends Record<string, unknown>>(obj: T, path: string, value: unknown): T {
  const out = structuredClone(obj) as Record<string, unknown>;
  const keys = pathKeys(path);
  let cur = out;
  for (const k of keys.slice(0, -1)) {
    const next = Object.hasOwn(cur, k) ? cur[k] : undefined;
    if (next === undefined) cur[k] = {};
    else if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      throw new ArcalError('INVALID_INPUT', `cannot set ${path}: ${k} is not an object in the base spec`);
    }
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys.at(-1)!] = structuredClone(value);
  return out as T;
}

const valueLabel = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** `path=value` pairs joined by `_`, with characters unsafe in file names replaced by `-`. */
export function slugOf(values: Record<string, unknown>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${valueLabel(v)}`.replace(UNSAFE, '-'));
  return parts.length ? parts.join('_') : 'base';
}

/** Canonical key of a configuration: its varied values in document order, seed excluded. */
export const configKeyOf = (config: Record<string, unknown>): string => JSON.stringify(Object.entries(config));

/**
 * Every experiment of the study, in grid order: the first `vary` path is the outermost loop, the last the
 * innermost. The seed of an experiment is its `seed` value from the grid, else the base's, else 0.
 */
export function expandStudy(doc: StudyDocument): StudyExperiment[] {
  const vary = Object.entries(doc.vary ?? {});
  let points: Array<Record<string, unknown>> = [{}];
  for (const [path, values] of vary) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  }
  if (points.length === 0) throw new ArcalError('INVALID_INPUT', `study ${doc.name}: the grid is empty`);
  const seen = new Map<string, number>();
  return points.map((point, i) => {
    let spec = structuredClone(doc.base) as Record<string, unknown>;
    for (const [path, v] of Object.entries(point)) spec = withPath(spec, path, v);
    const slug = slugOf(point);
    const prev = seen.get(slug);
    if (prev !== undefined) {
      throw new ArcalError(
        'INVALID_INPUT',
        `study ${doc.name}: grid points ${prev} and ${i} both map to the name "${slug}"; make the varied values distinct`,
      );
    }
    seen.set(slug, i);
    const name = `${doc.name}.${slug}`.slice(0, 200);
    spec.name = name;
    const { seed: _seed, ...config } = point;
    const seed = typeof spec.seed === 'number' ? spec.seed : 0;
    return { name, slug, config, configKey: configKeyOf(config), seed, spec };
  });
}
