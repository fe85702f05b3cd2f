/**
 * Throughput and per-kernel profile of the reference CNN on the tfjs wasm backend, before and after
 * arcal's gradient kernels (one process: stock kernels first, then registerWasmKernels()).
 *
 * CNN (raw tf ops, tf.variable weights): 28×28×1 → conv 3×3×32 same + ReLU → maxpool 2 → conv 3×3×64 same
 * + ReLU → maxpool 2 → dense 128 + ReLU → dense 10. Train step: batch 128, softmax cross-entropy, SGD.
 * Input-gradient step: batch 256, ∇ₓ of the CW margin z_y − max_{j≠y} z_j summed over the batch.
 *
 *   npx tsx bench/profile-wasm.ts [--seconds 4] [--threads 1] [--profile] [--only train|grad]
 *
 * Prints one JSON object. The stock wasm backend has no Conv2DBackpropFilter, so the "stock" train
 * numbers use arcal's Conv2DBackpropFilter alone (nothing else can train on stock wasm).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng, tf } from '@arcal/core';
import { registerWasmKernels, type WasmKernelName } from '@arcal/core/wasm-kernels';
import * as wasm from '@tensorflow/tfjs-backend-wasm';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : fallback;
}
const seconds = Number(arg('seconds', '4'));
const threads = Number(arg('threads', '1'));
const profile = process.argv.includes('--profile');
const only = arg('only', 'both');

const rng = new Rng(7);
function normal(shape: number[], scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal() * scale;
  return tf.tensor(v, shape);
}
function uniform(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.next();
  return tf.tensor(v, shape);
}
function labels(n: number): tf.Tensor2D {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(10);
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), 10), 'float32') as tf.Tensor2D);
}

function makeModel() {
  const he = (fanIn: number) => Math.sqrt(2 / fanIn);
  const p = {
    w1: tf.variable(normal([3, 3, 1, 32], he(9))),
    b1: tf.variable(tf.zeros([32])),
    w2: tf.variable(normal([3, 3, 32, 64], he(288))),
    b2: tf.variable(tf.zeros([64])),
    w3: tf.variable(normal([7 * 7 * 64, 128], he(3136))),
    b3: tf.variable(tf.zeros([128])),
    w4: tf.variable(normal([128, 10], he(128))),
    b4: tf.variable(tf.zeros([10])),
  };
  const logits = (x: tf.Tensor): tf.Tensor2D => {
    let h = tf.relu(tf.add(tf.conv2d(x as tf.Tensor4D, p.w1 as tf.Tensor4D, 1, 'same'), p.b1)) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add(tf.conv2d(h, p.w2 as tf.Tensor4D, 1, 'same'), p.b2)) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    const f = tf.reshape(h, [x.shape[0], 7 * 7 * 64]) as tf.Tensor2D;
    const d = tf.relu(tf.add(tf.matMul(f, p.w3 as tf.Tensor2D), p.b3)) as tf.Tensor2D;
    return tf.add(tf.matMul(d, p.w4 as tf.Tensor2D), p.b4) as tf.Tensor2D;
  };
  return { p, logits };
}

type Step = () => void;

function trainStep(model: ReturnType<typeof makeModel>, opt: tf.Optimizer, x: tf.Tensor, y: tf.Tensor2D): Step {
  return () => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.logits(x)) as tf.Scalar, true);
    loss?.dataSync();
    loss?.dispose();
  };
}

/** ∇ₓ Σ_i (z_y − max_{j≠y} z_j): the CW margin's input gradient. */
function gradStep(model: ReturnType<typeof makeModel>, x: tf.Tensor, y: tf.Tensor2D): Step {
  const margin = (t: tf.Tensor) => {
    const z = model.logits(t);
    const zy = tf.sum(tf.mul(z, y), 1);
    const zOther = tf.max(tf.sub(z, tf.mul(y, 1e9)), 1);
    return tf.sum(tf.sub(zy, zOther));
  };
  const g = tf.grad(margin);
  return () => {
    const d = g(x);
    d.dataSync();
    d.dispose();
  };
}

function throughput(step: Step, batch: number): number {
  step(); // warm-up
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    step();
    n++;
  }
  return Math.round((n * batch) / ((performance.now() - t0) / 1000));
}

/** Per-kernel milliseconds of one step: for each kernel name the minimum over 3 profiled steps (shared cores are noisy). */
async function kernelProfile(step: Step): Promise<Record<string, number>> {
  const byName = new Map<string, number>();
  for (let rep = 0; rep < 3; rep++) {
    const info = await tf.profile(step);
    const once = new Map<string, number>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      once.set(k.name, (once.get(k.name) ?? 0) + ms);
    }
    for (const [name, ms] of once) byName.set(name, Math.min(byName.get(name) ?? Number.POSITIVE_INFINITY, ms));
  }
  let total = 0;
  for (const ms of byName.values()) total += ms;
  const out: Record<string, number> = { _totalKernelMs: Math.round(total * 10) / 10 };
  for (const [name, ms] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 14)) out[name] = Math.round(ms * 10) / 10;
  return out;
}

async function measure(label: string, kernels: readonly WasmKernelName[] | 'all') {
  registerWasmKernels(kernels === 'all' ? {} : { kernels });
  const model = makeModel();
  const opt = tf.train.sgd(0.01);
  const xt = uniform([128, 28, 28, 1]);
  const yt = labels(128);
  const xg = uniform([256, 28, 28, 1]);
  const yg = labels(256);
  const r: Record<string, unknown> = { label };
  if (only !== 'grad') {
    const s = trainStep(model, opt, xt, yt);
    r.trainImgPerSec = throughput(s, 128);
    if (profile) r.trainProfileMs = await kernelProfile(s);
  }
  if (only !== 'train') {
    const s = gradStep(model, xg, yg);
    r.inputGradImgPerSec = throughput(s, 256);
    if (profile) r.inputGradProfileMs = await kernelProfile(s);
  }
  tf.dispose([xt, yt, xg, yg, ...Object.values(model.p)]);
  opt.dispose();
  return r;
}

async function main() {
  const require = createRequire(import.meta.url);
  wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  wasm.setThreadsCount(threads);
  if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend failed to initialise');
  const results = [];
  // Stock kernels plus the one kernel training cannot do without.
  results.push(await measure('stock (+ Conv2DBackpropFilter)', ['Conv2DBackpropFilter']));
  results.push(await measure('arcal kernels', 'all'));
  console.log(JSON.stringify({ backend: 'wasm', threads: wasm.getThreadsCount(), seconds, results }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
