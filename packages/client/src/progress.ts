/** How far an experiment's training has come, from its spec and the (member, epoch) records seen so far. */
import type { ExperimentView } from './types.ts';

export interface Progress {
  /** Member-epochs recorded (pseudo-members, negative, are not counted). */
  done: number;
  /** members × epochs of the spec. */
  total: number;
  /** done / total in [0, 1]; 1 once the experiment succeeded. */
  fraction: number;
}

export function progressOf(
  e: Pick<ExperimentView, 'spec' | 'status'>,
  records: Iterable<{ member: number | string; epoch: number }>,
): Progress {
  const members = Number(e.spec?.ensemble?.members ?? 1) || 1;
  const epochs = Number(e.spec?.training?.epochs ?? 0) || 0;
  const total = members * epochs;
  const seen = new Set<string>();
  for (const r of records) if (typeof r.member === 'number' && r.member >= 0) seen.add(`${r.member}:${r.epoch}`);
  const done = Math.min(seen.size, total);
  const fraction = e.status === 'succeeded' ? 1 : total > 0 ? done / total : 0;
  return { done, total, fraction };
}
