/**
 * Attack throughput on the reference CNN (28×28×1: conv32 3×3 same relu, maxpool2, conv64 3×3 same relu,
 * maxpool2, dense128 relu, dense10; random He-initialised weights, seed 0) on the active backend (`ready()`),
 * batch 256 of uniform random images in [0,1]:
 *  - for each attack, one minimalPerturbation call with a stated iteration budget: examples/s, seconds per
 *    iteration (one gradient step of the batch's active examples) and example-gradient evaluations/s;
 *    the call is timed after an untimed one-step call, and again with twice the iterations: the difference gives the
 *    marginal cost of an iteration without what a call pays once (prediction pass, DDN's first radius and refinement);
 *  - the raw input gradient of the C&W margin z_y − max_{j≠y} z_j (the PyTorch reference's input_grad
 *    workload), in image-steps/s, as the ceiling an attack step can reach.
 *
 *   npx tsx bench/attack-throughput.ts [--backend b] [--threads n] [--batch 256] [--attacks cw-l2,fmn-l2,...]
 *                                      [--steps 5] [--candidates 4] [--torch /work/shared/bench/torch_cnn.py]
 *
 * Budgets (default --steps 5): cw-l2 1 binary-search round × steps Adam steps (no early abort); fmn-l2 and
 * ddn-l2 `steps` steps; deepfool-l2 up to `steps` linearisation steps over the `candidates` (default 4)
 * largest classes, candidates − 1 backward passes each (examples leave once fooled). With --torch, `/usr/bin/python3 <path> --seconds 3` also runs
 * and the ratio PyTorch ÷ arcal of image-gradient steps per second is printed. The last stdout line is one
 * JSON object. The default run takes well under a minute on two cores.
 */
import { execFileSync } from 'node:child_process';
import { type AttackName, createModel, margin, minimalPerturbation, Rng, ready, tf } from '@arcal/core';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const batch = Number(opt('batch') ?? 256);
const steps = Number(opt('steps') ?? 5);
const candidates = Number(opt('candidates') ?? 4);
const torchPath = opt('torch');
const attacks = (opt('attacks') ?? 'deepfool-l2,fmn-l2,ddn-l2,cw-l2').split(',') as AttackName[];

const info = await ready({ backend: opt('backend'), threads: opt('threads') ? Number(opt('threads')) : undefined });
const model = createModel({ arch: 'cnn', inputShape: [28, 28, 1], classes: 10 }, 0);
const rng = new Rng(1);
const x = Float32Array.from({ length: batch * 784 }, () => rng.next());
const shape = [batch, 28, 28, 1];

const budgets: Record<AttackName, Record<string, number | boolean>> = {
  'cw-l2': { binarySearchSteps: 1, steps, abortEarly: false },
  'fmn-l2': { steps },
  'ddn-l2': { steps },
  'deepfool-l2': { steps, candidates },
};
// Backward passes per example-iteration (DeepFool differentiates every other class).
const gradsPerStep: Record<AttackName, number> = {
  'cw-l2': 1,
  'fmn-l2': 1,
  'ddn-l2': 1,
  'deepfool-l2': candidates - 1,
};

// The PyTorch reference's workload: gradient of Σ (z_y − max_{j≠y} z_j) with respect to the input.
const xt = tf.tensor4d(x, [batch, 28, 28, 1]);
const yMask = tf
  .oneHot(
    tf.tensor1d(
      Int32Array.from({ length: batch }, (_, i) => (i * 3) % 10),
      'int32',
    ),
    10,
  )
  .toFloat();
const marginGrad = tf.grad((xi: tf.Tensor) => tf.sum(margin(model.apply(xi, false), yMask)));
tf.tidy(() => marginGrad(xt)).dataSync();
let reps = 0;
const g0 = performance.now();
while (reps < 3 || performance.now() - g0 < 3000) {
  tf.tidy(() => marginGrad(xt)).dataSync();
  reps++;
}
const inputGrad = (batch * reps * 1000) / (performance.now() - g0);
tf.dispose([xt, yMask]);

const results: Record<string, unknown> = {};
const runAttack = async (attack: AttackName, budget: Record<string, number | boolean>) => {
  const t0 = performance.now();
  const r = await minimalPerturbation(model, x, { attack, shape, batchSize: batch, ...budget });
  return { r, s: (performance.now() - t0) / 1000 };
};
for (const attack of attacks) {
  // One untimed single-step call first: oneDNN primitives and tfjs kernels are created on first use.
  await runAttack(attack, { ...budgets[attack], steps: 1 });
  const { r, s } = await runAttack(attack, budgets[attack]);
  let fooled = 0;
  for (let i = 0; i < batch; i++) fooled += r.success[i];
  const exampleGrads = r.exampleIterations * gradsPerStep[attack];
  // The same call with twice the iterations: the difference is the cost of `steps` more iterations alone, without
  // what a call pays once (the prediction pass, DDN's first-radius gradient and its bisection refinement).
  const twice = await runAttack(attack, { ...budgets[attack], steps: 2 * steps });
  const extraGrads = twice.r.exampleIterations * gradsPerStep[attack] - exampleGrads;
  const extraSeconds = twice.s - s;
  results[attack] = {
    params: budgets[attack],
    seconds: +s.toFixed(3),
    examples_per_s: +(batch / s).toFixed(2),
    iterations: r.iterations,
    seconds_per_iteration: +(s / Math.max(1, r.iterations)).toFixed(4),
    example_grads_per_s: +(exampleGrads / s).toFixed(1),
    // null where the larger budget ran no more iterations (DeepFool stops once every example is fooled)
    marginal_seconds_per_iteration:
      twice.r.iterations > r.iterations ? +(extraSeconds / (twice.r.iterations - r.iterations)).toFixed(4) : null,
    marginal_example_grads_per_s: extraGrads > 0 ? +(extraGrads / extraSeconds).toFixed(1) : null,
    fooled,
    median_norm: +Array.from(r.norms)
      .sort((a, b) => a - b)
      [Math.floor(batch / 2)].toFixed(4),
  };
  console.error(`${attack}: ${JSON.stringify(results[attack])}`);
}
model.dispose();

let torch: Record<string, unknown> | undefined;
if (torchPath) {
  const out = execFileSync('/usr/bin/python3', [torchPath, '--seconds', '3', '--threads', String(info.threads)], {
    encoding: 'utf8',
  });
  torch = JSON.parse(out.trim().split('\n').pop() as string);
}
const torchGrad = torch ? Number(torch.input_grad_img_step_s) : undefined;
const summary = {
  bench: 'attack-throughput',
  backend: info.name,
  threads: info.threads,
  batch,
  input_grad_img_step_s: +inputGrad.toFixed(1),
  attacks: results,
  ...(torch
    ? {
        torch,
        ratio_torch_over_arcal_input_grad: +((torchGrad as number) / inputGrad).toFixed(2),
        ratio_torch_over_arcal_attack_grads: Object.fromEntries(
          Object.entries(results).map(([k, v]) => [
            k,
            +((torchGrad as number) / (v as { example_grads_per_s: number }).example_grads_per_s).toFixed(2),
          ]),
        ),
        ratio_torch_over_arcal_marginal_attack_grads: Object.fromEntries(
          Object.entries(results).map(([k, v]) => {
            const rate = (v as { marginal_example_grads_per_s: number | null }).marginal_example_grads_per_s;
            return [k, rate === null ? null : +((torchGrad as number) / rate).toFixed(2)];
          }),
        ),
      }
    : {}),
};
console.log(JSON.stringify(summary));
