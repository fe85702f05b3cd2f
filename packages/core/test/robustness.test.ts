/**
 * Robustness shards: slices (hand-computed), the JSON-lines round trip (Infinity included), merging (refusals
 * of disagreeing, overlapping and incomplete sets), and N merged shards equal to one serial run.
 */

import { isArcalError } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalPerturbation } from '../src/attacks/index.ts';
import { ready, tf } from '../src/backend/index.ts';
import {
  computeRobustness,
  mergeShards,
  parseShard,
  type RobustnessShard,
  type RobustnessSplit,
  serializeShard,
  shardBounds,
} from '../src/robustness/index.ts';
import { type LinearProblem, linearProblem } from './attacks.fixtures.ts';

const header = {
  datasetChecksum: 'sha256:d',
  split: 'validation',
  splitParams: { fraction: 0.1 },
  seed: 7,
  modelChecksum: 'sha256:m',
};
let p: LinearProblem;
let split: RobustnessSplit;
let model: (x: tf.Tensor) => tf.Tensor;

beforeAll(async () => {
  await ready({ backend: 'cpu' });
  p = linearProblem(21, { n: 22, d: 16, k: 5, minDist: 0.05 });
  const x = p.x;
  model = p.model;
  split = { x, shape: [p.n, p.d], indices: Int32Array.from({ length: p.n }, (_, i) => 1000 + 3 * i) };
});
afterAll(() => p.dispose());

const run = (index: number, count: number) =>
  computeRobustness(model, split, {
    shard: { index, count },
    batchSize: 4,
    attack: 'fmn-l2',
    params: { steps: 30 },
    header,
  });

const expectInvalid = (f: () => unknown, re: RegExp, code = 'INVALID_INPUT') => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(isArcalError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  expect((err as Error).message).toMatch(re);
};

describe('shardBounds', () => {
  it('deals batches out contiguously (10 examples, batch 3 → 4 batches over 3 shards: 1, 1, 2)', () => {
    expect([0, 1, 2].map((index) => shardBounds(10, 3, { index, count: 3 }))).toEqual([
      { start: 0, end: 3 },
      { start: 3, end: 6 },
      { start: 6, end: 10 },
    ]);
    // More shards than batches: some are empty, the rest still tile the split.
    expect([0, 1, 2].map((index) => shardBounds(5, 4, { index, count: 3 }))).toEqual([
      { start: 0, end: 0 },
      { start: 0, end: 4 },
      { start: 4, end: 5 },
    ]);
    expectInvalid(() => shardBounds(10, 3, { index: 3, count: 3 }), /0 ≤ index < count/);
    expectInvalid(() => shardBounds(10, 0, { index: 0, count: 1 }), /batchSize/);
  });
});

describe('computeRobustness + mergeShards', () => {
  it('three merged shards equal one serial run and the attack run directly', async () => {
    const serial = await run(0, 1);
    const shards = await Promise.all([2, 0, 1].map((i) => run(i, 3)));
    // 22 examples in batches of 4 → 6 batches, 2 per shard.
    expect(shards.map((s) => [s.header.start, s.header.end])).toEqual([
      [16, 22],
      [0, 8],
      [8, 16],
    ]);
    const merged = mergeShards(shards.map((s) => parseShard(serializeShard(s))));
    const one = mergeShards([serial]);
    expect(Array.from(merged.norms)).toEqual(Array.from(one.norms));
    expect(Array.from(merged.predicted)).toEqual(Array.from(one.predicted));
    expect(Array.from(merged.success)).toEqual(Array.from(one.success));
    expect(Array.from(merged.fileIndex)).toEqual(Array.from(split.indices));
    const direct = await minimalPerturbation(model, split.x, {
      attack: 'fmn-l2',
      steps: 30,
      batchSize: 4,
      shape: split.shape,
    });
    expect(Array.from(merged.norms)).toEqual(Array.from(direct.norms));
    for (let i = 0; i < p.n; i++) {
      expect(merged.success[i]).toBe(1);
      expect(merged.norms[i]).toBeGreaterThanOrEqual(p.exact[i] - 1e-4);
    }
    expect(merged.header).toMatchObject({
      ...header,
      attack: 'fmn-l2',
      params: { steps: 30 },
      batchSize: 4,
      total: 22,
      shard: { count: 3 },
    });
  });

  it('carries never-fooled examples (+Infinity, success 0) through text and merging', async () => {
    // Class 0 wins everywhere in the box: z₀ − z₁ = 1 + 0.5 Σx > 0.
    const boxed = (xb: tf.Tensor) =>
      tf.tidy(() => {
        const s = tf.sum(tf.reshape(xb, [xb.shape[0], -1]), 1, true);
        return tf.concat([tf.add(s, 1), tf.mul(s, 0.5), tf.zerosLike(s)], 1);
      });
    const small = { x: split.x.subarray(0, 6 * p.d), shape: [6, p.d], indices: split.indices.subarray(0, 6) };
    const shards = await Promise.all(
      [0, 1].map((index) =>
        computeRobustness(boxed, small, {
          shard: { index, count: 2 },
          batchSize: 2,
          attack: 'ddn-l2',
          params: { steps: 5 },
          header,
        }),
      ),
    );
    const text = shards.map(serializeShard);
    expect(text[0]).toContain('"norm":"Infinity"');
    const merged = mergeShards(text.map((t) => parseShard(t)));
    expect(Array.from(merged.norms)).toEqual(new Array(6).fill(Number.POSITIVE_INFINITY));
    expect(Array.from(merged.success)).toEqual(new Array(6).fill(0));
  });

  it('reports progress within the shard and maps rows to file indices', async () => {
    const seen: number[] = [];
    const s = await computeRobustness(model, split, {
      shard: { index: 1, count: 2 },
      batchSize: 4,
      attack: 'deepfool-l2',
      header,
      onProgress: (done, total) => seen.push(done, total),
    });
    // 6 batches: shard 1 of 2 takes batches 3..5 = rows [12, 22).
    expect([s.header.start, s.header.end, s.header.rows]).toEqual([12, 22, 10]);
    expect(seen).toEqual([4, 10, 8, 10, 10, 10]);
    expect(s.rows.map((r) => r.fileIndex)).toEqual(Array.from({ length: 10 }, (_, i) => 1000 + 3 * (12 + i)));
  });
});

describe('serializeShard / parseShard', () => {
  const shard: RobustnessShard = {
    header: {
      format: 'arcal.robustness/1',
      ...header,
      attack: 'cw-l2',
      params: { steps: 10 },
      batchSize: 2,
      outputs: 'logits',
      shard: { index: 0, count: 1 },
      total: 3,
      rows: 3,
      start: 0,
      end: 3,
    },
    rows: [
      { index: 0, fileIndex: 5, norm: Math.fround(0.1), predicted: 2, success: 1 },
      { index: 1, fileIndex: 9, norm: Number.POSITIVE_INFINITY, predicted: 0, success: 0 },
      { index: 2, fileIndex: 1, norm: Math.fround(1.2345678), predicted: 1, success: 1 },
    ],
  };

  it('round-trips exactly, Infinity and float32 norms included, from a string or a Buffer', () => {
    const text = serializeShard(shard);
    expect(text.split('\n')[2]).toBe('{"index":1,"fileIndex":9,"norm":"Infinity","predicted":0,"success":0}');
    expect(parseShard(text)).toEqual(shard);
    expect(parseShard(Buffer.from(text))).toEqual(shard);
    const merged = mergeShards([parseShard(text)]);
    expect(Array.from(merged.norms)).toEqual([Math.fround(0.1), Number.POSITIVE_INFINITY, Math.fround(1.2345678)]);
  });

  it('rejects truncated or damaged text as DATA_CORRUPT', () => {
    const lines = serializeShard(shard).trimEnd().split('\n');
    expectInvalid(() => parseShard(lines.slice(0, 3).join('\n')), /announces 3 rows, found 2/, 'DATA_CORRUPT');
    expectInvalid(
      () => parseShard([lines[0], lines[1], '{"index":1,', lines[3]].join('\n')),
      /line 3 is not valid JSON/,
      'DATA_CORRUPT',
    );
    expectInvalid(
      () => parseShard([lines[0], lines[2], lines[1], lines[3]].join('\n')),
      /index 1, expected 0/,
      'DATA_CORRUPT',
    );
    expectInvalid(
      () => parseShard(lines.join('\n').replace('"norm":"Infinity"', '"norm":null')),
      /norm must be/,
      'DATA_CORRUPT',
    );
    expectInvalid(() => parseShard(''), /empty/, 'DATA_CORRUPT');
  });
});

describe('mergeShards refuses', () => {
  let shards: RobustnessShard[];
  beforeAll(async () => {
    shards = await Promise.all(
      [0, 1, 2].map((i) =>
        computeRobustness(model, split, { shard: { index: i, count: 3 }, batchSize: 4, attack: 'deepfool-l2', header }),
      ),
    );
  });
  const withHeader = (s: RobustnessShard, h: object): RobustnessShard => ({ ...s, header: { ...s.header, ...h } });

  it('headers that disagree beyond the shard index', () => {
    expectInvalid(
      () => mergeShards([shards[0], withHeader(shards[1], { modelChecksum: 'sha256:other' }), shards[2]]),
      /disagrees .* on modelChecksum/,
    );
    expectInvalid(
      () => mergeShards([shards[0], withHeader(shards[1], { params: { steps: 3 } }), shards[2]]),
      /on params/,
    );
    expectInvalid(
      () => mergeShards([shards[0], withHeader(shards[1], { splitParams: { fraction: 0.2 } }), shards[2]]),
      /on splitParams/,
    );
  });

  it('overlaps, gaps and missing ends', () => {
    expectInvalid(() => mergeShards([shards[0], shards[1], shards[1], shards[2]]), /given twice/);
    expectInvalid(() => mergeShards([shards[0], shards[2]]), /rows \[8, 16\) are missing/);
    expectInvalid(() => mergeShards([shards[1], shards[2]]), /rows \[0, 8\) are missing/);
    expectInvalid(() => mergeShards([shards[0], shards[1]]), /rows \[16, 22\) are missing/);
    expectInvalid(() => mergeShards([]), /at least one shard/);
    // A shard relabelled with another index overlaps or mis-aligns with the slice that index owns.
    expectInvalid(
      () => mergeShards([shards[0], withHeader(shards[1], { shard: { index: 2, count: 3 } }), shards[2]]),
      /given twice|overlaps|covers/,
    );
  });
});
