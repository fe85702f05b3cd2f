/**
 * The robustness computation stops on an AbortSignal: between batches, and inside a batch between attack
 * steps, keeping no tensors; an experiment interrupted in its robustness stage resumes to the report an
 * uninterrupted run gives.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { validateSpec } from '@arcal/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalPerturbation } from '../src/attacks/index.ts';
import { ATTACK_NAMES } from '../src/attacks/types.ts';
import { ready, tf } from '../src/backend/index.ts';
import { runExperiment } from '../src/experiment/run.ts';
import { computeRobustness } from '../src/robustness/compute.ts';
import { linearProblem } from './attacks.fixtures.ts';
import { tinyData } from './helpers/tiny-data.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: 'wasm' });
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const isAbort = (e: unknown) => (e as Error)?.name === 'AbortError';

describe('abortable attacks', () => {
  it.each(ATTACK_NAMES)(
    '%s: aborted after the first batch, no later batch starts and no tensor is kept',
    async (attack) => {
      const p = linearProblem(11, { n: 6, d: 8, k: 3 });
      try {
        const ac = new AbortController();
        const progress: number[] = [];
        const before = tf.memory().numTensors;
        const err = await minimalPerturbation(p.model, p.x, {
          attack,
          shape: [p.n, p.d],
          batchSize: 2,
          steps: 20,
          binarySearchSteps: 2,
          signal: ac.signal,
          onProgress: (done) => {
            progress.push(done);
            ac.abort();
          },
        }).catch((e) => e);
        expect(isAbort(err), String(err)).toBe(true);
        expect(progress).toEqual([2]);
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        p.dispose();
      }
    },
  );

  it.each(ATTACK_NAMES)('%s: aborted inside a batch, it stops at the next step', async (attack) => {
    const p = linearProblem(12, { n: 4, d: 8, k: 3 });
    try {
      const ac = new AbortController();
      let calls = 0;
      let callsAtAbort = 0;
      // The model counts its forward passes and aborts on the third: the clean pass and two steps at most.
      const model = (x: tf.Tensor) => {
        if (++calls === 3) {
          ac.abort();
          callsAtAbort = calls;
        }
        return p.model(x);
      };
      const progress: number[] = [];
      const before = tf.memory().numTensors;
      const err = await minimalPerturbation(model, p.x, {
        attack,
        shape: [p.n, p.d],
        batchSize: 4,
        steps: 1000,
        binarySearchSteps: 5,
        signal: ac.signal,
        onProgress: (done) => progress.push(done),
      }).catch((e) => e);
      expect(isAbort(err), String(err)).toBe(true);
      expect(progress).toEqual([]);
      // only the rest of the step in which it was aborted: a few passes (DeepFool's step makes a margin pass and
      // a gradient over its candidate classes), where finishing the batch would take thousands
      expect(calls - callsAtAbort).toBeLessThanOrEqual(4);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      p.dispose();
    }
  });

  it('a signal that never fires changes no result', async () => {
    const p = linearProblem(13, { n: 6, d: 8, k: 3 });
    try {
      const opts = { attack: 'fmn-l2' as const, shape: [p.n, p.d], batchSize: 4, steps: 30 };
      const plain = await minimalPerturbation(p.model, p.x, opts);
      const watched = await minimalPerturbation(p.model, p.x, { ...opts, signal: new AbortController().signal });
      expect(Array.from(watched.norms)).toEqual(Array.from(plain.norms));
      expect(watched.iterations).toBe(plain.iterations);
    } finally {
      p.dispose();
    }
  });

  it('computeRobustness passes the signal on', async () => {
    const p = linearProblem(14, { n: 6, d: 8, k: 3 });
    try {
      const ac = new AbortController();
      ac.abort();
      const err = await computeRobustness(
        p.model,
        { x: p.x, shape: [p.n, p.d], indices: Int32Array.from({ length: p.n }, (_, i) => i) },
        {
          shard: { index: 0, count: 1 },
          batchSize: 2,
          attack: 'deepfool-l2',
          header: { datasetChecksum: 'd', split: 'train', splitParams: null, seed: 1, modelChecksum: 'm' },
          signal: ac.signal,
        },
      ).catch((e) => e);
      expect(isAbort(err), String(err)).toBe(true);
    } finally {
      p.dispose();
    }
  });
});

describe('an experiment interrupted during its robustness stage', () => {
  const spec = () => {
    const r = validateSpec({
      name: 'abort-resume',
      seed: 4,
      dataset: { name: 'synthetic', validationSize: 24 },
      model: { arch: 'mlp', hidden: [8] },
      training: { epochs: 2, batchSize: 16, optimizer: 'adam', learningRate: 0.01 },
      method: {
        kind: 'ar-adals',
        subsets: 2,
        alpha: 1,
        robustness: { attack: 'deepfool-l2', source: 'precompute', params: { batchSize: 8 } },
      },
      ensemble: { members: 1, mode: 'independent' },
      evaluation: { robustnessSubsets: 2 },
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    return r.spec;
  };
  const data = () => tinyData({ shape: [4, 4, 1] });

  it('stops there, and a resumed run gives the report an uninterrupted run gives', async () => {
    const out = mkdtempSync(join(tmpdir(), 'arcal-abort-'));
    const clean = mkdtempSync(join(tmpdir(), 'arcal-abort-clean-'));
    dirs.push(out, clean);
    const ac = new AbortController();
    const stages: string[] = [];
    const before = tf.memory().numTensors;
    const err = await runExperiment(spec(), {
      outDir: out,
      data: data(),
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'stage') stages.push(e.stage);
        // after the first batch of the training split's attack
        if (e.type === 'attack') ac.abort();
      },
    }).catch((e) => e);
    expect(isAbort(err), String(err)).toBe(true);
    expect(stages).toEqual(['reference', 'robustness']);
    expect(tf.memory().numTensors).toBe(before);
    expect(existsSync(join(out, 'reference', 'robustness-train.json'))).toBe(false);

    const resumedStages: string[] = [];
    const resumed = await runExperiment(spec(), {
      outDir: out,
      data: data(),
      onEvent: (e) => {
        if (e.type === 'stage') resumedStages.push(e.stage);
      },
    });
    const uninterrupted = await runExperiment(spec(), { outDir: clean, data: data() });
    expect(resumedStages.slice(0, 2)).toEqual(['reference', 'robustness']);
    expect(resumed.final).toEqual(uninterrupted.final);
    expect(resumed.bySubset).toEqual(uninterrupted.bySubset);
    expect(resumed.epochs.map((e) => [e.member, e.epoch, e.trainLoss])).toEqual(
      uninterrupted.epochs.map((e) => [e.member, e.epoch, e.trainLoss]),
    );
  }, 30_000);
});
