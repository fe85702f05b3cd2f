/**
 * Cost estimate of an experiment, in seconds of one worker, from operation counts: forward multiply-adds per
 * example of the spec's architecture (the same layer shapes as @arcal/core's models), ×3 for a training step
 * (forward + two backward products), times examples, epochs and members; attacks cost their parameters'
 * forward+backward passes per attacked example (the same defaults the attacks use, from @arcal/contracts) plus
 * their own per-step work on the image (ATTACK_STEP_FLOPS_PER_INPUT), and the data sizes are the loader's
 * (splitSizes). A convolution's FLOPs count less than a dense layer's (CONV_SPEEDUP), an attack pass is 2
 * forward passes (the input's gradient only). The total over the worker's dense FLOPs per second
 * (DEFAULT_WORKER_FLOPS), plus a fixed cost per run (RUN_OVERHEAD_SECONDS), all measured, is the figure
 * admission control compares with the budget; bench/estimate-accuracy.ts measures how close it comes.
 */
import {
  type AttackName,
  attackPassesPerExample,
  DATASET_FILE_SIZES,
  needsRanking,
  needsReference,
  type ResolvedSpec,
  type SplitSizes,
  splitSizes,
} from '@arcal/contracts';

export interface Estimate {
  /** Estimated CPU-seconds on one worker. */
  seconds: number;
  budgetSeconds: number;
  /** Dense-equivalent FLOPs: a convolution's count 1/CONV_SPEEDUP. */
  flops: { training: number; robustness: number; evaluation: number; total: number };
  /** FLOPs of one forward pass, as counted (2 per multiply-add, convolutions at full weight). */
  forwardFlopsPerExample: number;
  examples: { train: number; validation: number; test: number };
  /** Peak memory of one worker process running a job of this experiment (see estimateMemory). */
  memoryBytes: number;
  assumptions: { workerFlops: number; note: string };
}

/** What one example costs the network: forward multiply-adds, parameters, and floats kept for the backward pass. */
export interface NetworkProfile {
  macs: number;
  /** The part of `macs` in convolutions (the rest is dense layers). */
  convMacs: number;
  params: number;
  /** Activations of one example stored by a forward pass (the tape keeps them for the gradient). */
  activations: number;
}

/** Layer by layer, with the same shapes as @arcal/core's models (convolutions with "same" padding, 2×2 pooling). */
export function networkProfile(spec: ResolvedSpec): NetworkProfile {
  const [h, w, c] = spec.dataset.shape;
  const z = spec.dataset.classes;
  const m = spec.model;
  let macs = 0;
  let convMacs = 0;
  let params = 0;
  let activations = h * w * c;
  const dense = (i: number, o: number) => {
    macs += i * o;
    params += i * o + o;
    activations += o;
  };
  const conv = (hs: number, ws: number, k: number, cin: number, cout: number, bias: boolean) => {
    macs += hs * ws * k * k * cin * cout;
    convMacs += hs * ws * k * k * cin * cout;
    params += k * k * cin * cout + (bias ? cout : 0);
    activations += hs * ws * cout;
  };
  switch (m.arch) {
    case 'mlp': {
      let d = h * w * c;
      for (const k of m.hidden) {
        dense(d, k);
        d = k;
      }
      dense(d, z);
      break;
    }
    case 'cnn': {
      const h2 = Math.floor(h / 2);
      const w2 = Math.floor(w / 2);
      const h4 = Math.floor(h2 / 2);
      const w4 = Math.floor(w2 / 2);
      conv(h, w, 3, c, 32, true);
      activations += h2 * w2 * 32;
      conv(h2, w2, 3, 32, 64, true);
      activations += h4 * w4 * 64;
      dense(h4 * w4 * 64, 128);
      dense(128, z);
      break;
    }
    case 'resnet':
    case 'wrn': {
      const isWrn = m.arch === 'wrn';
      const n = isWrn ? (m.depth - 4) / 6 : (m.depth - 2) / 6;
      const widths = isWrn ? [16 * m.width, 32 * m.width, 64 * m.width] : [m.width, 2 * m.width, 4 * m.width];
      const stem = isWrn ? 16 : m.width;
      conv(h, w, 3, c, stem, false);
      let cin = stem;
      let hs = h;
      let ws = w;
      widths.forEach((cout, stage) => {
        if (stage > 0) {
          hs = Math.ceil(hs / 2);
          ws = Math.ceil(ws / 2);
        }
        for (let b = 0; b < n; b++) {
          // two batch-norm + relu layers (4 parameters and 2 stored tensors per channel each)
          params += 4 * cin + 4 * cout;
          activations += 2 * hs * ws * cin + 2 * hs * ws * cout;
          conv(hs, ws, 3, cin, cout, false);
          conv(hs, ws, 3, cout, cout, false);
          if (cin !== cout) conv(hs, ws, 1, cin, cout, false);
          cin = cout;
        }
      });
      params += 4 * cin;
      activations += 2 * hs * ws * cin + cin;
      dense(cin, z);
      break;
    }
  }
  return { macs, convMacs, params, activations };
}

/*
 * The time model's constants, measured on the 2-core development machine with the native backend (7 December
 * 2026) with bench/estimate-accuracy.ts's eight specs: five runs at load averages 2–9, fitted over a grid of
 * the three constants below by the worst |log(measured / estimated)|, of wall time in the three runs at loads
 * 2–5 (worst 1.8×: where the native kernels got both cores a CNN ran in half its CPU time, where they got one
 * the MLP attacks ran 1.5× theirs) and of the child's CPU-seconds in all five (worst 1.36×).
 */

/**
 * Dense-layer FLOPs one worker does per second (ARCAL_WORKER_FLOPS's default): fitted 4.5e10 (with the other
 * two constants as below, 4e10 fitted CPU time best and 4.5e10 wall time at loads 2–5). Earlier defaults: 2e9
 * (over-estimated every run 7–20×), then 3e10 with neither the other constants nor 2-pass attack steps, which
 * over-estimated the convolutional and attack specs 2–5× at a load of 4.
 */
export const DEFAULT_WORKER_FLOPS = 4.5e10;

/**
 * How much faster than a dense layer's the native convolution kernels do a multiply-add: a convolution's
 * FLOPs count 1/CONV_SPEEDUP dense FLOPs. Fitted 1.2 (1.0 and 1.5 fitted CPU time worse); the CNN alone ran
 * faster, ResNet-8's thin 16–64-channel layers with their batch norms slower.
 */
export const CONV_SPEEDUP = 1.2;

/**
 * Seconds of every run beyond its operation count: making the data, building the models, the reports and
 * files written at the end. Fitted 0.75–1.5 s (1 s here); the old C&W spec (700 examples, 90-step budgets)
 * took 1.7 CPU-seconds in all.
 */
export const RUN_OVERHEAD_SECONDS = 1;

/**
 * Work of one attack step beyond the model's passes, per input value of an attacked example, in dense
 * FLOP-equivalents at DEFAULT_WORKER_FLOPS: the attacks' element-wise updates, norms and projections on the
 * image, which cost far more per value than the network's matrix products and dominate small networks.
 * Measured on the same machine as CPU time per step of a batch of 256 28×28 images beyond the passes:
 * DeepFool, DDN and C&W from 10 steps on an MLP and the CNN; FMN from the bench's on-the-fly MLP run (43
 * CPU-seconds for about 1,100 batch steps: 35 ms a step beyond 4 ms of passes); as FLOPs at 6e10 per
 * CPU-second then (10,000 for FMN, 11,000 DeepFool, 5,700 DDN, 3,400 C&W), scaled by 4.5e10/6e10 here. C&W
 * checks it: 9 × 200 steps on the MLP took 0.069 ms per example and pass (7 December 2026), 0.065 by this count.
 */
export const ATTACK_STEP_FLOPS_PER_INPUT: Record<AttackName, number> = {
  'fmn-l2': 7_500,
  'deepfool-l2': 8_250,
  'ddn-l2': 4_300,
  'cw-l2': 2_550,
};

/** Forward multiply-adds of one example (convolutions with "same" padding, 2×2 pooling). */
export const forwardMacs = (spec: ResolvedSpec): number => networkProfile(spec).macs;

/** Bytes per float32. */
const F32 = 4;
/** Resident size of a worker's runtime (Node, TensorFlow.js, the native kernels) before any data. */
export const RUNTIME_BYTES = 400 * 2 ** 20;
/** The batch the robustness attacks use when the spec does not set one (core's attackOptions). */
const ATTACK_BATCH = 256;

/**
 * Peak memory of one worker process running one job of the experiment, in bytes: the runtime, the dataset
 * (the official files as bytes plus the float32 splits), the training state of one member (weights,
 * gradients and two Adam moments), every member's weights at evaluation, the tape of one training batch or
 * one attack batch (activations and their gradients), and one corrupted copy of the test split. An upper
 * bound in spirit; the admission check compares it with a worker's memory.
 */
export function estimateMemory(spec: ResolvedSpec, net: NetworkProfile, sizes: SplitSizes): number {
  const [h, w, c] = spec.dataset.shape;
  const pixels = h * w * c;
  const file = spec.dataset.name === 'synthetic' ? { train: 0, test: 0 } : DATASET_FILE_SIZES[spec.dataset.name];
  const data = (file.train + file.test) * pixels + (sizes.train + sizes.validation + sizes.test) * pixels * F32;
  const training = 4 * net.params * F32;
  const evaluation = spec.ensemble.members * net.params * F32;
  const attackBatch = spec.method.robustness.params.batchSize ?? ATTACK_BATCH;
  const tapeRows = Math.max(spec.training.batchSize, attackBatch * spec.ensemble.members);
  const tape = 2 * tapeRows * net.activations * F32;
  const corrupted = spec.evaluation.corruptions.length > 0 ? sizes.test * pixels * F32 : 0;
  return Math.ceil(RUNTIME_BYTES + data + training + evaluation + tape + corrupted);
}

export function estimateCost(spec: ResolvedSpec, opts: { workerFlops: number; budgetSeconds: number }): Estimate {
  const sizes = splitSizes(spec.dataset);
  const { train, validation, test } = sizes;
  const net = networkProfile(spec);
  // one forward pass in dense-equivalent FLOPs: a convolution's multiply-adds count 1/CONV_SPEEDUP
  const fwd = 2 * (net.macs - net.convMacs + net.convMacs / CONV_SPEEDUP);
  const members = spec.ensemble.members;
  const epochs = spec.training.epochs;
  // the selection split is predicted after every epoch (its metrics) and once more at the end
  const selection = spec.dataset.selectionSize ?? 0;
  // CCAT attacks half of every batch with `steps` PGD iterations, each a forward and an input-gradient
  // backward pass (no weight gradients: about 2 forward passes), so `steps` forward passes per training example
  const ccatSteps = spec.method.kind === 'ccat' ? (spec.method.ccat?.steps ?? 0) : 0;
  const training = (3 + ccatSteps) * fwd * train * epochs * members + fwd * (validation + selection) * epochs * members;

  const { attack, params, source, everyEpochs } = spec.method.robustness;
  const [h, w, c] = spec.dataset.shape;
  // passes at their upper bound: DDN, FMN and DeepFool run every step. C&W's early abort can end a round
  // sooner; measured on the synthetic 28×28 MLP after 2 epochs (7 December 2026, 200 test examples in one
  // batch) 30 steps × 3 rounds spent 47 % of the bound, but the defaults, 9 × 200, all of it (a round ends
  // only once no example's loss falls, and in a batch of hundreds one always does), so the bound stays
  const passes = (a: AttackName) => attackPassesPerExample(a, params, spec.dataset.classes);
  // one attacked example: each pass a forward and an input-gradient backward pass (the gradient tape
  // differentiates the input only, not the weights: 2 forward passes), plus the attack's own work on the image
  const perExample = (a: AttackName) => passes(a) * (2 * fwd + ATTACK_STEP_FLOPS_PER_INPUT[a] * h * w * c);
  const perAttack = perExample(attack);
  // the same rules as the plan's (contracts' stages.ts): only AR-AdaLS with more than one subset ranks its
  // training examples (CCAT makes its adversarial examples inside every training batch, counted above); the
  // vanilla reference model is trained for that ranking (on the fly too: it gives the first one) and for test
  // subsets under it
  const ranks = needsRanking(spec);
  const reference = needsReference(spec);
  // the vanilla reference model is trained once and shared by all members
  let robustness = reference ? 3 * fwd * train * epochs + fwd * validation * epochs : 0;
  if (ranks) {
    if (source === 'precompute') robustness += perAttack * (train + validation);
    else {
      // the reference model ranked once for the start, then every `everyEpochs` after it each member (a joint
      // ensemble: its average of all members) attacked again
      const rounds = Math.ceil(epochs / everyEpochs);
      robustness += perAttack * (train + validation) * (1 + (rounds - 1) * members);
    }
  }
  let evaluation = fwd * (test + selection) * members;
  if (spec.evaluation.robustnessSubsets > 0) {
    const attacked = spec.evaluation.robustness.reference === 'vanilla' ? 1 : members;
    evaluation += perExample(spec.evaluation.robustness.attack) * test * attacked;
  }
  // corruption metrics on evaluation.shiftLimit test images when set
  const shifted = Math.min(test, spec.evaluation.shiftLimit ?? test);
  evaluation += fwd * shifted * members * spec.evaluation.corruptions.length * spec.evaluation.severities.length;
  if (spec.evaluation.ood) evaluation += fwd * test * members;

  const total = training + robustness + evaluation;
  return {
    seconds: Math.ceil(RUN_OVERHEAD_SECONDS + total / opts.workerFlops),
    budgetSeconds: opts.budgetSeconds,
    flops: { training, robustness, evaluation, total },
    forwardFlopsPerExample: 2 * net.macs,
    examples: { train, validation, test },
    memoryBytes: estimateMemory(spec, net, sizes),
    assumptions: {
      workerFlops: opts.workerFlops,
      note: `${RUN_OVERHEAD_SECONDS} s per run + dense-equivalent operation count / FLOP/s of one CPU worker; a convolution's multiply-add counts 1/${CONV_SPEEDUP}; training step = 3 forward passes, attack step = 2 (the input's gradient only) at their upper bound (no early stop) plus their work on the image`,
    },
  };
}
