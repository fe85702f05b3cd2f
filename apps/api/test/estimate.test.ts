import { readFileSync } from 'node:fs';
import { validateSpec } from '@arcal/contracts';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_WORKER_FLOPS,
  estimateCost,
  forwardMacs,
  ATTACK_STEP_FLOPS_PER_INPUT as PER_INPUT,
  RUN_OVERHEAD_SECONDS,
  RUNTIME_BYTES,
} from '../src/estimate.ts';

const spec = (over: Record<string, any>) => {
  const v = validateSpec({
    name: 'x',
    dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 100, validationSize: 20, testLimit: 10 },
    model: { arch: 'mlp', hidden: [5] },
    training: { epochs: 2, batchSize: 10, optimizer: 'sgd', learningRate: 0.1 },
    method: { kind: 'vanilla' },
    ...over,
  });
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return v.spec;
};

describe('estimateCost', () => {
  it('counts the corruption metrics on evaluation.shiftLimit test images when it is set', () => {
    const fwd = 2 * 95; // the MLP below: 16·5 + 5·3 multiply-adds
    const corruptions = ['contrast', 'brightness'];
    const all = estimateCost(spec({ evaluation: { robustnessSubsets: 0, corruptions, severities: [1, 2, 3] } }), {
      workerFlops: 1,
      budgetSeconds: 1e12,
    });
    const four = estimateCost(
      spec({ evaluation: { robustnessSubsets: 0, corruptions, severities: [1, 2, 3], shiftLimit: 4 } }),
      { workerFlops: 1, budgetSeconds: 1e12 },
    );
    // 10 test images: clean forward on 10, corrupted forward on 10 (or 4) images × 2 corruptions × 3 severities
    expect(all.flops.evaluation).toBe(fwd * 10 + fwd * 10 * 2 * 3);
    expect(four.flops.evaluation).toBe(fwd * 10 + fwd * 4 * 2 * 3);
  });

  it('counts an MLP by hand: 16·5 + 5·3 multiply-adds, 3 passes per training example, 2 per attack step', () => {
    const s = spec({});
    expect(forwardMacs(s)).toBe(16 * 5 + 5 * 3);
    const e = estimateCost(s, { workerFlops: 1, budgetSeconds: 1e12 });
    const fwd = 2 * 95;
    // training: 3·fwd·100 examples·2 epochs + validation forward 20·2; evaluation: test forward 10 + the
    // default test attack, DDN: 100 steps of 2 fwd (forward and the input's gradient) + 10 bisection forward
    // passes (100 + 10/3 passes), each pass with DDN's work on the 16 input values, on each of 10 examples
    expect(e.flops.training).toBe(3 * fwd * 100 * 2 + fwd * 20 * 2);
    expect(e.flops.training).toBe(121_600);
    const ddnPasses = 100 + 10 / 3;
    expect(e.flops.evaluation).toBeCloseTo(fwd * 10 + ddnPasses * (2 * fwd + PER_INPUT['ddn-l2'] * 16) * 10, 3);
    // at 1 FLOP/s the seconds are the FLOPs plus the fixed 1 s of a run, rounded up
    expect(RUN_OVERHEAD_SECONDS).toBe(1);
    expect(e.seconds).toBe(Math.ceil(1 + 121_600 + fwd * 10 + ddnPasses * (2 * fwd + PER_INPUT['ddn-l2'] * 16) * 10));
  });

  it("sizes a synthetic set by the spec's limits, with the loader's defaults when absent", () => {
    const big = estimateCost(
      spec({ dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], trainLimit: 100000, validationSize: 20 } }),
      { workerFlops: 1, budgetSeconds: 1 },
    );
    expect(big.examples).toEqual({ train: 100000, validation: 20, test: 1000 });
    const dflt = estimateCost(
      spec({ dataset: { name: 'synthetic', classes: 3, shape: [4, 4, 1], validationSize: 20 } }),
      { workerFlops: 1, budgetSeconds: 1 },
    );
    expect(dflt.examples).toEqual({ train: 5000, validation: 20, test: 1000 });
  });

  it('counts C&W at its defaults: 9 binary-search rounds of 200 steps', () => {
    const s = spec({
      method: { kind: 'ar-adals', subsets: 2, robustness: { attack: 'cw-l2' } },
      evaluation: { robustnessSubsets: 0 },
    });
    const fwd = 2 * 95;
    const e = estimateCost(s, { workerFlops: 1, budgetSeconds: 1 });
    // a vanilla reference (100 train × 2 epochs × 3 fwd + 20 validation × 2 forward), then 120 examples attacked
    // with 9 · 200 passes (the bound: early abort does not shorten the defaults), each 2 fwd and C&W's work
    // on the 16 input values
    expect(e.flops.robustness).toBe(
      3 * fwd * 100 * 2 + fwd * 20 * 2 + 9 * 200 * (2 * fwd + PER_INPUT['cw-l2'] * 16) * 120,
    );
  });

  it('counts CCAT as its PGD inside every training batch: no ranking and no reference model', () => {
    const fwd = 2 * 95;
    const e = estimateCost(
      spec({ method: { kind: 'ccat', ccat: { steps: 4 } }, evaluation: { robustnessSubsets: 0 } }),
      {
        workerFlops: 1,
        budgetSeconds: 1,
      },
    );
    // per training example a step (3 forward passes) and 4 PGD steps on half the batch, each a forward and an
    // input-gradient pass (2 forward passes): 3 + 4·2/2 = 7; validation forward as usual
    expect(e.flops.training).toBe(7 * fwd * 100 * 2 + fwd * 20 * 2);
    expect(e.flops.robustness).toBe(0);
    // AR-AdaLS with one subset ranks nothing either
    const one = spec({ method: { kind: 'ar-adals', subsets: 1 }, evaluation: { robustnessSubsets: 0 } });
    expect(estimateCost(one, { workerFlops: 1, budgetSeconds: 1 }).flops.robustness).toBe(0);
  });

  it('counts the reference model for on-the-fly ranking: its ranking starts the run, members re-rank after', () => {
    const fwd = 2 * 95;
    const reference = 3 * fwd * 100 * 4 + fwd * 20 * 4;
    const cw = 9 * 200 * (2 * fwd + PER_INPUT['cw-l2'] * 16) * 120;
    const otf = (members: number, mode: string) =>
      estimateCost(
        spec({
          training: { epochs: 4, batchSize: 10, optimizer: 'sgd', learningRate: 0.1 },
          method: {
            kind: 'ar-adals',
            subsets: 2,
            robustness: { attack: 'cw-l2', source: 'on-the-fly', everyEpochs: 2 },
          },
          evaluation: { robustnessSubsets: 0 },
          ensemble: { members, mode },
        }),
        { workerFlops: 1, budgetSeconds: 1 },
      ).flops.robustness;
    // epochs 0–1 on the reference ranking (one attack of 120 examples), epoch 2 re-ranked per member
    expect(otf(1, 'independent')).toBe(reference + cw * 2);
    expect(otf(3, 'independent')).toBe(reference + cw * (1 + 3));
  });

  it('counts a forward pass over the selection split after every epoch and at the end', () => {
    const fwd = 2 * 95;
    const sized = (selectionSize?: number) =>
      estimateCost(
        spec({
          dataset: {
            name: 'synthetic',
            classes: 3,
            shape: [4, 4, 1],
            trainLimit: 100,
            validationSize: 20,
            testLimit: 10,
            ...(selectionSize ? { selectionSize } : {}),
          },
          ensemble: { members: 3 },
          evaluation: { robustnessSubsets: 0 },
        }),
        { workerFlops: 1, budgetSeconds: 1 },
      ).flops;
    const a = sized();
    const b = sized(30);
    // 2 epochs × 3 members × 30 examples, then 3 members × 30 at the end
    expect(b.training - a.training).toBe(fwd * 30 * 2 * 3);
    expect(b.evaluation - a.evaluation).toBe(fwd * 30 * 3);
  });

  it('estimates memory by hand for a small MLP', () => {
    const e = estimateCost(spec({}), { workerFlops: 1, budgetSeconds: 1 });
    // weights 16·5+5 + 5·3+3 = 103; stored activations per example 16 + 5 + 3 = 24; the attack batch (256)
    // is the largest tape; synthetic data is generated, so no file bytes
    const expected = RUNTIME_BYTES + (100 + 20 + 10) * 16 * 4 + 4 * 103 * 4 + 103 * 4 + 2 * 256 * 24 * 4;
    expect(e.memoryBytes).toBe(expected);
  });

  it('counts the reference CNN on 8×8×1 by its layers', () => {
    const s = spec({
      model: { arch: 'cnn' },
      dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 10, validationSize: 0 },
    });
    expect(forwardMacs(s)).toBe(8 * 8 * 9 * 32 + 4 * 4 * 9 * 32 * 64 + 2 * 2 * 64 * 128 + 128 * 4);
  });

  it('counts a convolution multiply-add as 1/1.2 of a dense one', () => {
    const s = spec({
      model: { arch: 'cnn' },
      dataset: { name: 'synthetic', classes: 4, shape: [8, 8, 1], trainLimit: 10, validationSize: 0 },
      evaluation: { robustnessSubsets: 0 },
    });
    // convolutions 8·8·9·32 + 4·4·9·32·64 = 18,432 + 294,912 = 313,344 multiply-adds, /1.2 = 261,120;
    // dense 2·2·64·128 + 128·4 = 33,280; one forward pass 2·(261,120 + 33,280) = 588,800 dense FLOPs; training:
    // 3 passes × 10 examples × 2 epochs
    expect(estimateCost(s, { workerFlops: 1, budgetSeconds: 1 }).flops.training).toBeCloseTo(60 * 588_800, 3);
    // the raw count stays in forwardFlopsPerExample
    expect(estimateCost(s, { workerFlops: 1, budgetSeconds: 1 }).forwardFlopsPerExample).toBe(2 * (313_344 + 33_280));
  });

  it('the paper-scale example is far over the default budget, the laptop-scale examples are under it', () => {
    const load = (n: string) => {
      const v = validateSpec(JSON.parse(readFileSync(new URL(`./fixtures/${n}`, import.meta.url), 'utf8')));
      if (!v.ok) throw new Error(n);
      return estimateCost(v.spec, { workerFlops: DEFAULT_WORKER_FLOPS, budgetSeconds: 86400 });
    };
    expect(load('paper-cifar10.json').seconds).toBeGreaterThan(100 * 86400);
    for (const n of ['vanilla-synthetic.json', 'ar-adals-fashion.json', 'ensemble-joint.json'])
      expect(load(n).seconds).toBeLessThan(86400);
  });
});
