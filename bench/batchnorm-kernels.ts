/**
 * The batch norm of the residual nets on the `native` backend, at ResNet-8's layer shapes:
 *
 * 1. what one training-mode layer (batchNormTrainAct with relu and the moving-average updates, as the models use
 *    it) costs per step: tfjs kernel calls in its forward and backward, and the addon calls they make;
 * 2. ms per addon call of each full-size pass, hot (its arrays in cache) and cold (out of cache), against a memcpy
 *    (Float32Array#set) moving as many bytes (reads plus writes) the same way: `…VsMemcpy` 1 means the pass runs
 *    at memcpy's rate.
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
// Each pass is timed hot (the same arrays every call, in cache after the first) and cold (rotating through copies
// of its arrays, 128 MiB in all, so that each call finds its arrays out of cache, as a training step's backward
// finds the forward's tensors); memcpy the same way.
const COLD_BYTES = 128 * 2 ** 20;
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
function time(fn: (set: number) => void, sets: number): number {
  for (let i = 0; i < Math.max(3, sets); i++) fn(i % sets);
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn(i % sets);
    t.push(performance.now() - t0);
  }
  return median(t);
}
const rand = (n: number, f = (v: number) => v) =>
  Float32Array.from({ length: n }, (_, i) => f(Math.sin(i * 12.9898) * 2));

interface Pass {
  shape: number[];
  pass: string;
  streams: number;
  hotMs: number;
  coldMs: number;
  hotVsMemcpy: number;
  coldVsMemcpy: number;
}
const passes: Pass[] = [];
const memcpyMs: Record<string, { hot: number; cold: number }> = {};
for (const { shape } of LAYERS) {
  const n = shape.reduce((a, b) => a * b, 1);
  const C = shape[3];
  const cold = Math.ceil(COLD_BYTES / (4 * n * 4));
  const sets = Array.from({ length: cold }, () => ({
    x: rand(n, (v) => v + 3),
    y: rand(n),
    dy: rand(n),
    dx: new Float32Array(n),
  }));
  const vec = (v: number) => new Float32Array(C).fill(v);
  const [mean, variance, gamma, beta, a, b, e, s1, s2] = [3, 1, 1, 0.1, 1, 0.01, 0.01, 0, 0].map(vec);
  const memcpy = (i: number) => sets[i].dx.set(sets[i].x);
  const mc = { hot: time(memcpy, 1), cold: time(memcpy, cold) };
  memcpyMs[`[${shape.join(',')}]`] = mc;
  // `streams`: full-size arrays read or written (memcpy: 2)
  const list: Array<[string, number, (i: number) => void]> = [];
  if (addon.bnTrain)
    list.push(
      [
        'bnTrain (stats + normalise, relu)',
        3,
        (i) => addon.bnTrain(sets[i].x, gamma, beta, EPS, true, sets[i].y, mean, variance),
      ],
      [
        'bnTrainGrad (sums + dx, relu)',
        5,
        (i) => addon.bnTrainGrad(sets[i].dy, sets[i].x, gamma, beta, mean, variance, EPS, true, sets[i].dx, s1, s2),
      ],
    );
  if (addon.bnStats) list.push(['bnStats', 1, (i) => addon.bnStats(sets[i].x, mean, variance)]);
  list.push(
    ['bnApply (relu)', 2, (i) => addon.bnApply(sets[i].x, mean, gamma, beta, sets[i].y, true)],
    ['bnGradSums (relu)', 3, (i) => addon.bnGradSums(sets[i].dy, sets[i].x, sets[i].y, mean, gamma, s1, s2)],
    [
      'bnGradApply (relu, affine)',
      4,
      (i) => addon.bnGradApply(sets[i].dy, sets[i].y, a, sets[i].x, mean, b, e, sets[i].dx),
    ],
  );
  for (const [pass, streams, fn] of list) {
    const hotMs = time(fn, 1);
    const coldMs = time(fn, cold);
    passes.push({
      shape,
      pass,
      streams,
      hotMs,
      coldMs,
      hotVsMemcpy: hotMs / ((mc.hot * streams) / 2),
      coldVsMemcpy: coldMs / ((mc.cold * streams) / 2),
    });
  }
}

const load = loadavg();
console.error(`${info.threads} threads, batch ${batch}, load ${load.map((l) => l.toFixed(2)).join(' ')}`);
console.error(`\none training-mode layer ${JSON.stringify(perLayer.shape)} per step, beyond the loss on x alone:`);
console.error(`  tfjs kernels: ${JSON.stringify(perLayer.kernels)}`);
console.error(`  addon calls:  ${JSON.stringify(perLayer.addonCalls)}`);
console.error('\nfull-size passes, median ms per call hot / cold (× memcpy: time / memcpy time for as many bytes):');
for (const [key, ms] of Object.entries(memcpyMs))
  console.error(`  ${key} memcpy ${ms.hot.toFixed(3)} / ${ms.cold.toFixed(3)} ms`);
for (const p of passes)
  console.error(
    `  [${p.shape.join(',')}] ${p.pass.padEnd(34)} ${p.hotMs.toFixed(3).padStart(6)} / ${p.coldMs.toFixed(3).padStart(6)} ms  ${p.hotVsMemcpy.toFixed(2)} / ${p.coldVsMemcpy.toFixed(2)}× memcpy`,
  );
// the training step's batch-norm passes over ResNet-8's 7 layers, as the kernels make them
const total = (names: string[], key: 'hotMs' | 'coldMs') =>
  LAYERS.reduce(
    (s, l) =>
      s + l.count * passes.filter((p) => p.shape === l.shape && names.includes(p.pass)).reduce((t, p) => t + p[key], 0),
    0,
  );
const fused = addon.bnTrain !== undefined;
const fwd = fused ? ['bnTrain (stats + normalise, relu)'] : ['bnStats', 'bnApply (relu)'];
const bwd = fused ? ['bnTrainGrad (sums + dx, relu)'] : ['bnGradSums (relu)', 'bnGradApply (relu, affine)'];
const r2 = (v: number) => Math.round(v * 100) / 100;
const stepMs = {
  forward: { hot: r2(total(fwd, 'hotMs')), cold: r2(total(fwd, 'coldMs')) },
  backward: { hot: r2(total(bwd, 'hotMs')), cold: r2(total(bwd, 'coldMs')) },
};
console.error(
  `\nResNet-8's 7 layers, addon ms per step (hot / cold): forward ${stepMs.forward.hot} / ${stepMs.forward.cold}, backward ${stepMs.backward.hot} / ${stepMs.backward.cold}`,
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
      hotMs: Math.round(p.hotMs * 1000) / 1000,
      coldMs: Math.round(p.coldMs * 1000) / 1000,
      hotVsMemcpy: r2(p.hotVsMemcpy),
      coldVsMemcpy: r2(p.coldVsMemcpy),
    })),
    resnet8StepMs: stepMs,
  }),
);
