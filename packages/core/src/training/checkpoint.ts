/**
 * Member checkpoints. `checkpoint.bin` is self-contained: the magic `ARCALCK2`, a little-endian uint32 header
 * length, the header as JSON (epoch, history, soft-label table, ranking, array sizes, the data's sha256), zero
 * padding to a multiple of 4 bytes, then the weights, batch-norm state and optimizer slots as raw float32 in a
 * fixed order. It is written under a name unique to the writer and renamed into place, so a reader sees either
 * the previous checkpoint or the new one, never a mix — also when two processes write the same member at once
 * (a worker killed mid-job whose child is still finishing an epoch while the retry has started).
 * `checkpoint.json` repeats the header for people and tools; loading never depends on it. Checkpoints of the
 * earlier two-file format (header only in checkpoint.json) still load.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord } from '@arcal/contracts';
import { ArcalError } from '@arcal/contracts';
import { tf } from '../backend/index.ts';
import type { Model } from '../models/index.ts';
import { type CheckpointMeta, checkpointFileHeader, readCheckpointFiles, writeAtomically } from './checkpoint-file.ts';
import type { Optimizer } from './optimizer.ts';
import type { Ranking } from './ranking.ts';

export { checkpointEpochOf } from './checkpoint-file.ts';

export interface CheckpointState {
  epoch: number;
  epochs: EpochRecord[];
  pTrue: number[];
  best?: { nll: number; weights: Float32Array[] };
  ranking?: Ranking;
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
    format: 'arcal-checkpoint-2',
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
  await writeAtomically(join(dir, 'checkpoint.bin'), Buffer.concat([checkpointFileHeader(meta), bytes]));
  await writeAtomically(join(dir, 'checkpoint.json'), Buffer.from(JSON.stringify(meta)));
}

/** Restores model and optimizer in place; returns undefined when the directory holds no checkpoint. */
export async function loadCheckpoint(dir: string, model: Model, opt: Optimizer): Promise<CheckpointState | undefined> {
  const files = await readCheckpointFiles(dir);
  if (!files) return undefined;
  const { meta, data: bytes } = files;
  if (bytes.length !== meta.bytes || createHash('sha256').update(bytes).digest('hex') !== meta.sha256) {
    throw new ArcalError('INVALID_INPUT', `checkpoint ${dir} is torn: its data does not match its header`);
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
