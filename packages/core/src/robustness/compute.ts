/**
 * One robustness shard: the minimal adversarial L2 norm (AR-AdaLS §3) of every example in a contiguous,
 * batch-aligned slice of a split, tagged with everything that identifies the computation. Pure: the split
 * arrives as arrays and the shard leaves as an object (serializeShard turns it into text).
 */
import { ArcalError } from '@arcal/contracts';
import { minimalPerturbation } from '../attacks/index.ts';
import type { AttackModel, AttackName, AttackParams } from '../attacks/types.ts';
import { type RobustnessRunHeader, type RobustnessShard, SHARD_FORMAT, shardBounds } from './shard.ts';

export interface RobustnessSplit {
  /** Pixels in [0,1], flat, in the layout of `shape`. */
  x: Float32Array;
  /** [N, ...image dims]. */
  shape: number[];
  /** Original file index of each of the N examples. */
  indices: Int32Array;
}

export interface ComputeRobustnessOptions {
  shard: { index: number; count: number };
  batchSize: number;
  attack: AttackName;
  /** Attack parameters, recorded in the header (JSON values only). */
  params?: AttackParams;
  header: RobustnessRunHeader;
  /** Examples done within this shard, out of its size. */
  onProgress?: (done: number, total: number) => void;
  /** What the model returns (see MinimalPerturbationOptions.outputs). */
  outputs?: 'logits' | 'probabilities';
  /** Stops the attack between batches and steps with an AbortError (see MinimalPerturbationOptions.signal). */
  signal?: AbortSignal;
}

/**
 * Attacks the examples [start, end) = shardBounds(N, batchSize, shard) in batches of batchSize, exactly the
 * batches a single serial run (shard 0 of 1) would make, so merged shards equal the serial result.
 * Row i of the shard: {index: start + i, fileIndex: indices[start + i], norm, predicted, success}.
 */
export async function computeRobustness(
  model: AttackModel,
  split: RobustnessSplit,
  opts: ComputeRobustnessOptions,
): Promise<RobustnessShard> {
  const { x, shape, indices } = split ?? ({} as RobustnessSplit);
  if (!(x instanceof Float32Array) || !Array.isArray(shape) || !(indices instanceof Int32Array)) {
    throw new ArcalError('INVALID_INPUT', 'split must be {x: Float32Array, shape: number[], indices: Int32Array}');
  }
  const n = shape[0];
  if (indices.length !== n)
    throw new ArcalError('INVALID_INPUT', `split.indices has ${indices.length} entries for ${n} examples`);
  const h = opts?.header;
  if (
    !h ||
    typeof h.datasetChecksum !== 'string' ||
    typeof h.modelChecksum !== 'string' ||
    typeof h.split !== 'string' ||
    typeof h.seed !== 'number'
  ) {
    throw new ArcalError(
      'INVALID_INPUT',
      'header must give datasetChecksum, split, splitParams, seed and modelChecksum',
    );
  }
  const params = { ...(opts.params ?? {}) } as AttackParams & Record<string, unknown>;
  for (const key of ['attack', 'batchSize', 'shape', 'onProgress', 'returnAdversarial', 'outputs', 'signal'])
    delete params[key];
  const { start, end } = shardBounds(n, opts.batchSize, opts.shard);
  const d = shape.slice(1).reduce((a, b) => a * b, 1);
  const r = await minimalPerturbation(model, x.subarray(start * d, end * d), {
    ...params,
    attack: opts.attack,
    batchSize: opts.batchSize,
    shape: [end - start, ...shape.slice(1)],
    outputs: opts.outputs,
    onProgress: opts.onProgress,
    signal: opts.signal,
  });
  const rows = Array.from({ length: end - start }, (_, i) => ({
    index: start + i,
    fileIndex: indices[start + i],
    norm: r.norms[i],
    predicted: r.predicted[i],
    success: r.success[i] as 0 | 1,
  }));
  return {
    header: {
      format: SHARD_FORMAT,
      datasetChecksum: h.datasetChecksum,
      split: h.split,
      splitParams: h.splitParams ?? null,
      seed: h.seed,
      modelChecksum: h.modelChecksum,
      attack: opts.attack,
      params,
      batchSize: opts.batchSize,
      outputs: opts.outputs ?? 'logits',
      shard: { index: opts.shard.index, count: opts.shard.count },
      total: n,
      rows: end - start,
      start,
      end,
    },
    rows,
  };
}
