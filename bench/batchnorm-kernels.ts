/**
 * The batch norm of the residual nets on the `native` backend, at ResNet-8's layer shapes:
 *
 * 1. what one training-mode layer (batchNormTrainAct with relu and the moving-average updates, as the models use
 *    it) costs per step: tfjs kernel calls in its forward and backward, and the addon calls they make;
 * 2. ms per addon call of each full-size pass, against a memcpy (Float32Array#set) moving as many bytes (reads plus
 *    writes): `vsMemcpy` 1 means the pass runs at memcpy's rate.
 *
 *   npx tsx bench/batchnorm-kernels.ts [--batch 64] [--reps 30] [--threads 2]
 *
 * Times are medians over --reps calls. Works with an addon that has the fused training calls (bnTrain,
 * bnTrainGrad) or only the separate passes (bnStats, bnApply, bnGradSums, bnGradApply). Last stdout line: one
 * JSON object.
 */
import { loadavg } from 'node:os';
import { ready, tf } from '@arcal/core';
import { batchNormTrainAct, loadAddon } from '@arcal/native';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const batch = Number(opt('batch', '64'));
const reps = Number(opt('reps', '30'));
const info = await ready({ backend: 'native', threads: Number(opt('threads', '2')) });
const addon = loadAddon().addon as unknown as Record<string, (...a: unknown[]) => unknown>;
if (!addon) throw new Error('the native addon is not built');

const EPS = 1e-5;
const MOMENTUM = 0.9;
// ResNet-8 (widths 16, 32, 64) on 32×32 images: 3 batch norms at 32×32×16, 2 at 16×16×32, 2 at 8×8×64
const LAYERS: Array<{ shape: number[]; count: number }> = [
  { shape: [batch, 32, 32, 16], count: 3 },
  { shape: [batch, 16, 16, 32], count: 2 },
  { shape: [batch, 8, 8, 64], count: 2 },
];

// --- 1. kernels and addon calls per layer and step -------------------------------------------------------
const calls = new Map<string, number>();
const originals = { ...addon };
for (const [name, f] of Object.entries(originals))
  if (typeof f === 'function' && name !== 'getThreads')
    addon[name] = (...a: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return f(...a);
    };

/** Kernel calls (name → count) and addon calls of fn, run under tf.profile. */
async function profileCounts(fn: () => void) {
  calls.clear();
  const prof = await tf.profile(fn);
  const kernels: Record<string, number> = {};
  for (const k of prof.kernels) kernels[k.name] = (kernels[k.name] ?? 0) + 1;
  return { kernels, addonCalls: Object.fromEntries(calls) };
}

const diff = (a: Record<string, number>, b: Record<string, number>) =>
  Object.fromEntries(
    Object.keys({ ...a, ...b })
      .map((k) => [k, (a[k] ?? 0) - (b[k] ?? 0)] as const)
      .filter(([, v]) => v !== 0),
  );

const perLayer = await (async () => {
  const [, H, W, C] = LAYERS[0].shape;
  const shape = [batch, H, W, C];
  const x = tf.variable(tf.randomNormal(shape));
  const gamma = tf.variable(tf.ones([C]));
  const beta = tf.variable(tf.zeros([C]));
  const mean = tf.variable(tf.zeros([C]), false);
  const variance = tf.variable(tf.ones([C]), false);
  const r = tf.randomNormal(shape);
  // the layer as the models use it (one loss term Σ y·r) and the same loss on x alone, whose kernels are subtracted
  const step = (withLayer: boolean) => () =>
    tf.tidy(() => {
      const updates: tf.Tensor[] = [];
      const { value, grads } = tf.variableGrads(
        () => {
          if (!withLayer) return tf.sum(tf.mul(x, r)) as tf.Scalar;
          // the moving statistics out of the kernel where it takes them, else as the models did before (tf ops)
          const moving = { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, momentum: MOMENTUM };
          const bn = batchNormTrainAct as (...a: unknown[]) => ReturnType<typeof batchNormTrainAct>;
          const o = bn(x, gamma, beta, EPS, true, moving);
          if (o.moving) updates.push(tf.keep(o.moving.mean), tf.keep(o.moving.variance));
          else {
            updates.push(tf.keep(tf.add(tf.mul(mean, MOMENTUM), tf.mul(o.mean, 1 - MOMENTUM))));
            updates.push(tf.keep(tf.add(tf.mul(variance, MOMENTUM), tf.mul(o.variance, 1 - MOMENTUM))));
          }
          return tf.sum(tf.mul(o.y, r)) as tf.Scalar;
        },
        withLayer ? [x, gamma, beta] : [x],
      );
      return [value, ...Object.values(grads), ...updates];
    });
  tf.dispose(step(true)());
  const withLayer = await profileCounts(() => tf.dispose(step(true)()));
  const without = await profileCounts(() => tf.dispose(step(false)()));
  tf.dispose([x, gamma, beta, mean, variance, r]);
  return {
    shape,
    kernels: diff(withLayer.kernels, without.kernels),
    addonCalls: diff(withLayer.addonCalls, without.addonCalls),
  };
})();
Object.assign(addon, originals);

// --- 2. full-size passes against memcpy ----------------------------------------------------------------------
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
function time(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}
const rand = (n: number, f = (v: number) => v) =>
  Float32Array.from({ length: n }, (_, i) => f(Math.sin(i * 12.9898) * 2));

const passes: Array<{ shape: number[]; pass: string; streams: number; ms: number; vsMemcpy: number }> = [];
const memcpyMs: Record<string, number> = {};
for (const { shape } of LAYERS) {
  const n = shape.reduce((a, b) => a * b, 1);
  const C = shape[3];
  const x = rand(n, (v) => v + 3);
  const y = rand(n);
  const dy = rand(n);
  const dx = new Float32Array(n);
  const vec = (v: number) => new Float32Array(C).fill(v);
  const [mean, variance, gamma, beta, a, b, e, s1, s2] = [3, 1, 1, 0.1, 1, 0.01, 0.01, 0, 0].map(vec);
  const mc = time(() => dx.set(x));
  const key = `[${shape.join(',')}]`;
  memcpyMs[key] = mc;
  // `streams`: full-size arrays read or written (memcpy: 2)
  const list: Array<[string, number, () => void]> = [];
  if (addon.bnTrain)
    list.push(
      ['bnTrain (stats + normalise, relu)', 3, () => addon.bnTrain(x, gamma, beta, EPS, true, y, mean, variance)],
      ['bnTrainGrad (sums + dx, relu)', 7, () => addon.bnTrainGrad(dy, x, y, gamma, mean, variance, EPS, dx, s1, s2)],
    );
  if (addon.bnStats) list.push(['bnStats', 1, () => addon.bnStats(x, mean, variance)]);
  list.push(
    ['bnApply (relu)', 2, () => addon.bnApply(x, mean, gamma, beta, y, true)],
    ['bnGradSums (relu)', 3, () => addon.bnGradSums(dy, x, y, mean, gamma, s1, s2)],
    ['bnGradApply (relu, affine)', 4, () => addon.bnGradApply(dy, y, a, x, mean, b, e, dx)],
  );
  for (const [pass, streams, fn] of list) {
    const ms = time(fn);
    passes.push({ shape, pass, streams, ms, vsMemcpy: ms / ((mc * streams) / 2) });
  }
}

const load = loadavg();
console.error(`${info.threads} threads, batch ${batch}, load ${load.map((l) => l.toFixed(2)).join(' ')}`);
console.error(`\none training-mode layer ${JSON.stringify(perLayer.shape)} per step, beyond the loss on x alone:`);
console.error(`  tfjs kernels: ${JSON.stringify(perLayer.kernels)}`);
console.error(`  addon calls:  ${JSON.stringify(perLayer.addonCalls)}`);
console.error('\nfull-size passes, median ms per call (vsMemcpy: time / memcpy time for as many bytes):');
for (const [key, ms] of Object.entries(memcpyMs)) console.error(`  ${key} memcpy ${ms.toFixed(3)} ms`);
for (const p of passes)
  console.error(
    `  [${p.shape.join(',')}] ${p.pass.padEnd(34)} ${p.ms.toFixed(3).padStart(7)} ms  ${p.vsMemcpy.toFixed(2)}× memcpy`,
  );
// the training step's batch-norm passes over ResNet-8's 7 layers, as the kernels make them
const total = (names: string[]) =>
  LAYERS.reduce(
    (s, l) =>
      s + l.count * passes.filter((p) => p.shape === l.shape && names.includes(p.pass)).reduce((t, p) => t + p.ms, 0),
    0,
  );
const fused = addon.bnTrain !== undefined;
const stepMs = {
  forward: total(fused ? ['bnTrain (stats + normalise, relu)'] : ['bnStats', 'bnApply (relu)']),
  backward: total(fused ? ['bnTrainGrad (sums + dx, relu)'] : ['bnGradSums (relu)', 'bnGradApply (relu, affine)']),
};
console.error(
  `\nResNet-8's 7 layers, addon time per step: forward ${stepMs.forward.toFixed(2)} ms, backward ${stepMs.backward.toFixed(2)} ms`,
);
console.log(
  JSON.stringify({
    bench: 'batchnorm-kernels',
    batch,
    threads: info.threads,
    reps,
    load,
    fused,
    perLayer,
    memcpyMs,
    passes: passes.map((p) => ({
      ...p,
      ms: Math.round(p.ms * 1000) / 1000,
      vsMemcpy: Math.round(p.vsMemcpy * 100) / 100,
    })),
    resnet8StepMs: {
      forward: Math.round(stepMs.forward * 100) / 100,
      backward: Math.round(stepMs.backward * 100) / 100,
    },
  }),
);
