/**
 * Types the inline runner (run.ts) shares with its evaluation stages (evaluate-extra.ts), in a module of their
 * own so that the stages need not import the runner that imports them.
 */
import type { EpochRecord } from '@arcal/contracts';

export type RunEvent =
  | { type: 'stage'; stage: string; detail?: string }
  | { type: 'epoch'; record: EpochRecord; totalEpochs: number }
  | { type: 'batch'; member: number | 'reference'; epoch: number; done: number; total: number }
  | { type: 'attack'; what: string; done: number; total: number };

/** Loader for the OOD set named by evaluation.ood (injected so core stays free of data-source policy). */
export type OodLoader = (
  name: string,
) => Promise<{ x: Float32Array; n: number; shape: [number, number, number]; source: string }>;
