/**
 * Throughput of the reference CNN (28×28×1: conv32 3×3 relu, maxpool2, conv64 3×3 relu, maxpool2, dense128
 * relu, dense10) on the active backend — the same model and workloads as the PyTorch reference
 * (torch_cnn.py): SGD train step at batch 128, inference at batch 512, and the input gradient of the CW margin
 * z_y − max_{j≠y} z_j at batch 256.
 *
 *   npm run bench:train -- [--json] [--backend b] [--threads n] [--seconds s] [--repeat k] [--torch path/to/torch_cnn.py]
 *
 * With --torch the PyTorch reference runs in the same go (interleaved with arcal, k times, medians reported) and a
 * ratio table is printed. The last stdout line is always one JSON object.
 */
import { execFileSync } from 'node:child_process';
import { createModel, Optimizer, ready, tf, trainStep } from '@arcal/core';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seconds = Number(opt('seconds') ?? 5);
const repeat = Number(opt('repeat') ?? 1);
const torchPath = opt('torch');
const jsonOnly = args.includes('--json');

const info = await ready({ backend: opt('backend'), threads: opt('threads') ? Number(opt('threads')) : undefined });
const threads = info.threads;

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
    runs.push((batch * n * 1000) / (performance.now() - t0));
  }
  return runs.sort((a, b) => a - b)[1];
}

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u1 = (s + 1) / 4294967297;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const u2 = s / 4294967296;
    out[i] = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

function measureArcal() {
  const model = createModel({ arch: 'cnn', inputShape: [28, 28, 1], classes: 10 }, 0);
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9, weightDecay: 0 }, model.trainable);
  const xt = tf.tensor4d(randn(128 * 784, 1), [128, 28, 28, 1]);
  const yt = Int32Array.from({ length: 128 }, (_, i) => (i * 7) % 10);
  const tt = tf.oneHot(tf.tensor1d(yt, 'int32'), 10) as tf.Tensor2D;
  const lt = tf.tensor1d(yt, 'int32');
  const train = rate(() => void trainStep(model, optimizer, xt, tt, lt, 0.01), 128);

  const xi = tf.tensor4d(randn(512 * 784, 2), [512, 28, 28, 1]);
  const infer = rate(() => tf.tidy(() => model.apply(xi, false)).dispose(), 512);

  const xg = tf.tensor4d(randn(256 * 784, 3), [256, 28, 28, 1]);
  const yg = tf.oneHot(
    tf.tensor1d(
      Int32Array.from({ length: 256 }, (_, i) => (i * 3) % 10),
      'int32',
    ),
    10,
  );
  const marginGrad = tf.grad((x: tf.Tensor) => {
    const z = model.apply(x, false);
    const zy = tf.sum(tf.mul(z, yg), 1);
    const zo = tf.max(tf.sub(z, tf.mul(yg, 1e9)), 1);
    return tf.sum(tf.sub(zy, zo));
  });
  const inputGrad = rate(() => tf.tidy(() => marginGrad(xg)).dataSync(), 256);
  tf.dispose([xt, tt, lt, xi, xg, yg]);
  optimizer.dispose();
  model.dispose();
  return { train_img_s: train, infer_img_s: infer, input_grad_img_step_s: inputGrad };
}

function measureTorch(path: string) {
  const out = execFileSync('/usr/bin/python3', [path, '--threads', String(threads), '--seconds', String(seconds)], {
    encoding: 'utf8',
  });
  return JSON.parse(out.trim().split('\n').at(-1)!);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ours: Array<ReturnType<typeof measureArcal>> = [];
const theirs: any[] = [];
for (let r = 0; r < repeat; r++) {
  ours.push(measureArcal());
  if (torchPath) theirs.push(measureTorch(torchPath));
}
const keys = ['train_img_s', 'infer_img_s', 'input_grad_img_step_s'] as const;
const result: Record<string, unknown> = {
  backend: info.name,
  threads,
  seconds,
  repeat,
  date: new Date().toISOString(),
};
for (const k of keys) result[k] = Math.round(median(ours.map((o) => o[k])) * 10) / 10;
if (torchPath) {
  const torch: Record<string, unknown> = {
    version: theirs[0].version,
    blas: theirs[0].blas,
    threads: theirs[0].threads,
  };
  for (const k of keys) torch[k] = Math.round(median(theirs.map((t) => t[k])) * 10) / 10;
  result.torch = torch;
  result.ratio = Object.fromEntries(
    keys.map((k) => [k, Math.round(((result[k] as number) / (torch[k] as number)) * 1000) / 1000]),
  );
  if (!jsonOnly) {
    console.log(`| workload | arcal (${info.name}) | PyTorch ${torch.version} (${torch.blas}) | ratio |`);
    console.log('|---|---:|---:|---:|');
    for (const k of keys)
      console.log(`| ${k} | ${result[k]} | ${torch[k]} | ${(result.ratio as Record<string, number>)[k].toFixed(2)}x |`);
  }
} else if (!jsonOnly) {
  for (const k of keys) console.log(`${k}: ${result[k]}`);
}
console.log(JSON.stringify(result));
