/**
 * Cost estimate of an experiment, in CPU-seconds of one worker, from operation counts:
 * forward multiply-adds per example of the spec's architecture (the same layer shapes as
 * @arcal/core's models), ×3 for a training step (forward + two backward products), times examples,
 * epochs and members; attacks cost `steps` forward+backward passes per attacked example.
 * An order-of-magnitude figure for admission control, not a prediction.
 */
import type { ResolvedSpec } from '@arcal/contracts';

export interface Estimate {
  /** Estimated CPU-seconds on one worker. */
  seconds: number;
  budgetSeconds: number;
  flops: { training: number; robustness: number; evaluation: number; total: number };
  forwardFlopsPerExample: number;
  examples: { train: number; validation: number; test: number };
  assumptions: { workerFlops: number; note: string };
}

const officialSizes: Record<string, { train: number; test: number }> = {
  mnist: { train: 60000, test: 10000 },
  'fashion-mnist': { train: 60000, test: 10000 },
  cifar10: { train: 50000, test: 10000 },
  cifar100: { train: 50000, test: 10000 },
  svhn: { train: 73257, test: 26032 },
  synthetic: { train: 1024, test: 256 },
};

/** Forward multiply-adds of one example (convolutions with "same" padding, 2×2 pooling). */
export function forwardMacs(spec: ResolvedSpec): number {
  const [h, w, c] = spec.dataset.shape;
  const z = spec.dataset.classes;
  const m = spec.model;
  switch (m.arch) {
    case 'mlp': {
      let d = h * w * c;
      let macs = 0;
      for (const k of m.hidden) {
        macs += d * k;
        d = k;
      }
      return macs + d * z;
    }
    case 'cnn': {
      const h2 = Math.floor(h / 2);
      const w2 = Math.floor(w / 2);
      const h4 = Math.floor(h2 / 2);
      const w4 = Math.floor(w2 / 2);
      return h * w * 9 * c * 32 + h2 * w2 * 9 * 32 * 64 + h4 * w4 * 64 * 128 + 128 * z;
    }
    case 'resnet':
    case 'wrn': {
      const isWrn = m.arch === 'wrn';
      const n = isWrn ? (m.depth - 4) / 6 : (m.depth - 2) / 6;
      const widths = isWrn ? [16 * m.width, 32 * m.width, 64 * m.width] : [m.width, 2 * m.width, 4 * m.width];
      const stem = isWrn ? 16 : m.width;
      let macs = h * w * 9 * c * stem;
      let cin = stem;
      let hs = h;
      let ws = w;
      widths.forEach((cout, stage) => {
        if (stage > 0) {
          hs = Math.ceil(hs / 2);
          ws = Math.ceil(ws / 2);
        }
        for (let b = 0; b < n; b++) {
          macs += hs * ws * 9 * cin * cout + hs * ws * 9 * cout * cout;
          if (cin !== cout) macs += hs * ws * cin * cout;
          cin = cout;
        }
      });
      return macs + cin * z;
    }
  }
}

const attackSteps = (spec: ResolvedSpec): number => {
  const p = spec.method.robustness.params;
  const steps = p.steps ?? (spec.method.robustness.attack === 'cw-l2' ? 100 : 50);
  const searches = spec.method.robustness.attack === 'cw-l2' ? (p.binarySearchSteps ?? 5) : 1;
  return steps * searches;
};

export function estimateCost(spec: ResolvedSpec, opts: { workerFlops: number; budgetSeconds: number }): Estimate {
  const official = officialSizes[spec.dataset.name]!;
  const validation = spec.dataset.validationSize;
  const train = Math.max(0, Math.min(spec.dataset.trainLimit ?? Number.POSITIVE_INFINITY, official.train - validation));
  const test = Math.min(spec.dataset.testLimit ?? official.test, official.test);
  const fwd = 2 * forwardMacs(spec);
  const members = spec.ensemble.members;
  const epochs = spec.training.epochs;
  const training = 3 * fwd * train * epochs * members + fwd * validation * epochs * members;

  let robustness = 0;
  const kind = spec.method.kind;
  const perAttack = 3 * fwd * attackSteps(spec);
  if (kind === 'ar-adals' || kind === 'ccat') {
    if (spec.method.robustness.source === 'precompute') {
      // a vanilla model first, then every train/validation example attacked once
      robustness = 3 * fwd * train * epochs + perAttack * (train + validation);
    } else {
      const rounds = Math.ceil(epochs / spec.method.robustness.everyEpochs);
      robustness = perAttack * (train + validation) * rounds * members;
    }
  }
  let evaluation = fwd * test * members;
  if (spec.evaluation.robustnessSubsets > 0) evaluation += perAttack * test;
  evaluation += fwd * test * members * spec.evaluation.corruptions.length * spec.evaluation.severities.length;
  if (spec.evaluation.ood) evaluation += fwd * test * members;

  const total = training + robustness + evaluation;
  return {
    seconds: Math.ceil(total / opts.workerFlops),
    budgetSeconds: opts.budgetSeconds,
    flops: { training, robustness, evaluation, total },
    forwardFlopsPerExample: fwd,
    examples: { train, validation, test },
    assumptions: {
      workerFlops: opts.workerFlops,
      note: 'operation count / effective FLOP/s of one CPU worker; training step = 3 forward passes',
    },
  };
}
