/**
 * Throughput of the reference CNN on the `native` backend (tfjs cpu storage + oneDNN/OpenMP kernels).
 *
 * CNN from raw tf ops with tf.variable weights: 28×28×1 → conv 3×3×32 same + relu → maxpool 2 →
 * conv 3×3×64 same + relu → maxpool 2 → dense 128 + relu → dense 10 (fused conv/matmul + bias + relu
 * ops; tfjs-core un-fuses them under a gradient tape).
 * Workloads: train step b128 (softmax cross-entropy, SGD with momentum 0.9, as the PyTorch reference);
 * inference b512; input gradient b256 of the CW margin Σ_i (z_y − max_{j≠y} z_j).
 *
 *   npx vite-node bench/native-train.ts -- [--backend native] [--threads 2] [--seconds 5] [--profile]
 *        [--torch /work/shared/bench/torch_cnn.py]
 *
 * Prints one JSON line {backend, threads, train_img_s, infer_img_s, input_grad_img_step_s, ...}. With
 * --torch it first runs the PyTorch reference script (same threads and seconds) in the same process
 * window and adds its numbers and the ratios native / torch, since the cores are shared and noisy.
 */
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { spawnSync } from 'node:child_process';
import { ready, tf } from '../packages/core/src/backend/index.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] && !process.argv[i + 1].startsWith('--') ? process.argv[i + 1] : fallback;
}
const backend = arg('backend', 'native');
const threads = Number(arg('threads', '2'));
const seconds = Number(arg('seconds', '5'));
const torchScript = arg('torch', '');
const profile = process.argv.includes('--profile');

// Deterministic inputs without pulling in core's data code: a small LCG is enough for timing.
let seed = 12345;
const uniform = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
function normal(shape: number[], scale: number): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = scale * Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return tf.tensor(v, shape);
}
function oneHotLabels(n: number): tf.Tensor2D {
  const y = Int32Array.from({ length: n }, () => Math.floor(uniform() * 10));
  return tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(y, 'int32'), 10), 'float32') as tf.Tensor2D);
}

function referenceCnn() {
  const he = (fanIn: number) => Math.sqrt(2 / fanIn);
  const w = {
    c1: tf.variable(normal([3, 3, 1, 32], he(9))),
    b1: tf.variable(tf.zeros([32])),
    c2: tf.variable(normal([3, 3, 32, 64], he(288))),
    b2: tf.variable(tf.zeros([64])),
    d1: tf.variable(normal([3136, 128], he(3136))),
    b3: tf.variable(tf.zeros([128])),
    d2: tf.variable(normal([128, 10], he(128))),
    b4: tf.variable(tf.zeros([10])),
  };
  const logits = (x: tf.Tensor4D): tf.Tensor2D => {
    let h = tf.fused.conv2d({ x, filter: w.c1 as tf.Tensor4D, strides: 1, pad: 'same', bias: w.b1, activation: 'relu' });
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.fused.conv2d({ x: h, filter: w.c2 as tf.Tensor4D, strides: 1, pad: 'same', bias: w.b2, activation: 'relu' });
    h = tf.maxPool(h, 2, 2, 'valid');
    const f = tf.reshape(h, [x.shape[0], 3136]) as tf.Tensor2D;
    const d = tf.fused.matMul({ a: f, b: w.d1 as tf.Tensor2D, bias: w.b3, activation: 'relu' });
    return tf.fused.matMul({ a: d, b: w.d2 as tf.Tensor2D, bias: w.b4 }) as tf.Tensor2D;
  };
  return { w, logits };
}

/** Median of three timed windows (after three warm-up steps), in items per second. */
function rate(step: () => void, batch: number): number {
  for (let i = 0; i < 3; i++) step();
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < (seconds * 1000) / 3) {
      step();
      n++;
    }
    runs.push((batch * n) / ((performance.now() - t0) / 1000));
  }
  return Math.round(runs.sort((a, b) => a - b)[1]);
}

async function kernelMs(step: () => void): Promise<Record<string, number>> {
  const info = await tf.profile(step);
  const by = new Map<string, number>();
  for (const k of info.kernels) by.set(k.name, (by.get(k.name) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
  return Object.fromEntries([...by].sort((a, b) => b[1] - a[1]).slice(0, 16).map(([k, v]) => [k, Math.round(v * 10) / 10]));
}

let torch: Record<string, number> | undefined;
if (torchScript) {
  const r = spawnSync('/usr/bin/python3', [torchScript, '--threads', String(threads), '--seconds', String(seconds)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`torch reference failed: ${r.stderr.split('\n').slice(-3).join(' ')}`);
  torch = JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const info = await ready({ backend, threads });
const model = referenceCnn();
const opt = tf.train.momentum(0.01, 0.9);
const xt = normal([128, 28, 28, 1], 1) as tf.Tensor4D;
const yt = oneHotLabels(128);
const xi = normal([512, 28, 28, 1], 1) as tf.Tensor4D;
const xg = normal([256, 28, 28, 1], 1) as tf.Tensor4D;
const yg = oneHotLabels(256);

const train = () => {
  opt.minimize(() => tf.losses.softmaxCrossEntropy(yt, model.logits(xt)) as tf.Scalar);
};
const infer = () => tf.tidy(() => void model.logits(xi).dataSync());
const marginGrad = tf.grad((x: tf.Tensor) => {
  const z = model.logits(x as tf.Tensor4D);
  const zy = tf.sum(tf.mul(z, yg), 1);
  const zOther = tf.max(tf.sub(z, tf.mul(yg, 1e9)), 1);
  return tf.sum(tf.sub(zy, zOther));
});
const inputGrad = () => tf.dispose(marginGrad(xg));

train(); // creates the optimizer's momentum slots, which live on by design
const before = tf.memory().numTensors;
const out: Record<string, unknown> = {
  backend: info.name,
  threads,
  train_img_s: rate(train, 128),
  infer_img_s: rate(infer, 512),
  input_grad_img_step_s: rate(inputGrad, 256),
  leaked_tensors: tf.memory().numTensors - before,
};
if (torch) {
  out.torch = { train_img_s: Math.round(torch.train_img_s), infer_img_s: Math.round(torch.infer_img_s), input_grad_img_step_s: Math.round(torch.input_grad_img_step_s), version: torch.version, blas: torch.blas };
  out.ratio_vs_torch = {
    train: +((out.train_img_s as number) / torch.train_img_s).toFixed(2),
    infer: +((out.infer_img_s as number) / torch.infer_img_s).toFixed(2),
    input_grad: +((out.input_grad_img_step_s as number) / torch.input_grad_img_step_s).toFixed(2),
  };
}
if (profile) {
  out.profile_ms = { train: await kernelMs(train), input_grad: await kernelMs(inputGrad) };
  if (info.name === 'native') {
    const { nativeKernelStats } = await import('@arcal/native');
    nativeKernelStats(true);
    train();
    out.native_calls_per_train_step = nativeKernelStats(true);
  }
}
console.log(JSON.stringify(out));
