/**
 * Member checkpoints: `checkpoint.json` (epoch, history, soft-label table, ranking) and `checkpoint.bin`
 * (weights, batch-norm state and optimizer slots as raw float32, in a fixed order). Both are written to
 * temporary names and renamed, the binary first, so a crash never leaves a torn checkpoint: the JSON names
 * the binary's byte length and sha256, and a mismatch is refused.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from '@arcal/contracts';
import { ArcalError } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import type { Model } from '../models/index.ts';
import type { Optimizer } from './optimizer.ts';
import type { Ranking } from './trainer.ts';

export interface CheckpointState {
  epoch: number;
  epochs: EpochRecord[];
  pTrue: number[];
  best?: { nll: number; weights: Float32Array[] };
  ranking?: Ranking;
}

interface CheckpointMeta {
  format: 'arcal-checkpoint-1';
  epoch: number;
  optimizerStep: number;
  sizes: number[];
  bestSizes?: number[];
  bestNll?: number;
  bytes: number;
  sha256: string;
  pTrue: number[];
  epochs: EpochRecord[];
  ranking?: { train: number[]; val: number[] };
}

function vars(model: Model, opt: Optimizer): tf.Variable[] {
  return [...model.trainable, ...model.state, ...opt.slots];
}

export async function saveCheckpoint(dir: string, model: Model, opt: Optimizer, s: CheckpointState): Promise<void> {
  await mkdir(dir, { recursive: true });
  const arrays = vars(model, opt).map((v) => v.dataSync() as Float32Array);
  const best = s.best?.weights ?? [];
  const total = [...arrays, ...best].reduce((n, a) => n + a.length, 0);
  const buf = new Float32Array(total);
  let off = 0;
  for (const a of [...arrays, ...best]) {
    buf.set(a, off);
    off += a.length;
  }
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const meta: CheckpointMeta = {
    format: 'arcal-checkpoint-1',
    epoch: s.epoch,
    optimizerStep: opt.step,
    sizes: arrays.map((a) => a.length),
    ...(s.best ? { bestSizes: best.map((a) => a.length), bestNll: s.best.nll } : {}),
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    pTrue: s.pTrue,
    epochs: s.epochs,
    ...(s.ranking
      ? { ranking: { train: Array.from(s.ranking.trainSubsetOf), val: Array.from(s.ranking.valSubsetOf) } }
      : {}),
  };
  await writeFile(join(dir, 'checkpoint.bin.tmp'), bytes);
  await rename(join(dir, 'checkpoint.bin.tmp'), join(dir, 'checkpoint.bin'));
  await writeFile(join(dir, 'checkpoint.json.tmp'), JSON.stringify(meta));
  await rename(join(dir, 'checkpoint.json.tmp'), join(dir, 'checkpoint.json'));
}

/** Restores model and optimizer in place; returns undefined when the directory holds no checkpoint. */
export async function loadCheckpoint(dir: string, model: Model, opt: Optimizer): Promise<CheckpointState | undefined> {
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ArcalError(
      'INVALID_INPUT',
      `checkpoint ${join(dir, 'checkpoint.json')} is unreadable: ${(e as Error).message}`,
    );
  }
  const bytes = await readFile(join(dir, 'checkpoint.bin'));
  if (bytes.length !== meta.bytes || createHash('sha256').update(bytes).digest('hex') !== meta.sha256) {
    throw new ArcalError('INVALID_INPUT', `checkpoint ${dir} is torn: checkpoint.bin does not match checkpoint.json`);
  }
  const vs = vars(model, opt);
  if (meta.sizes.length !== vs.length || meta.sizes.some((n, i) => n !== vs[i].size)) {
    throw new ArcalError('INVALID_INPUT', `checkpoint ${dir} was written by a different model or optimizer`);
  }
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  let off = 0;
  for (const v of vs) {
    const t = tf.tensor(all.subarray(off, off + v.size), v.shape);
    v.assign(t);
    t.dispose();
    off += v.size;
  }
  opt.step = meta.optimizerStep;
  let best: CheckpointState['best'];
  if (meta.bestSizes && meta.bestNll !== undefined) {
    const weights = meta.bestSizes.map((n) => {
      const a = all.slice(off, off + n);
      off += n;
      return a;
    });
    best = { nll: meta.bestNll, weights };
  }
  return {
    epoch: meta.epoch,
    epochs: meta.epochs,
    pTrue: meta.pTrue,
    best,
    ranking: meta.ranking
      ? { trainSubsetOf: Int32Array.from(meta.ranking.train), valSubsetOf: Int32Array.from(meta.ranking.val) }
      : undefined,
  };
}
