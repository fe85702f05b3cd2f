/**
 * Per-call overhead of the margin attacks on a residual net: for each attack, one minimalPerturbation call over
 * --images random 32×32×3 images with --steps iterations and one with twice as many, on the `native` backend.
 * The difference of the two calls is the cost of --steps more iterations; "overhead" is what the first call
 * spends beyond steps × that marginal iteration (prediction pass, first radius, refinement, transfers), as a share
 * of the call. An untimed one-step call runs first (primitives are created on first use).
 *
 *   npx tsx bench/arch-attacks.ts [--arch resnet] [--images 1000] [--batch 256] [--steps 100]
 *                                 [--attacks ddn-l2,fmn-l2] [--threads 2]
 *
 * Last stdout line: one JSON object with the commit and load averages.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { type Arch, type AttackName, createModel, minimalPerturbation, Rng, ready } from '@arcal/core';

const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const arch = opt('arch', 'resnet') as Arch;
const images = Number(opt('images', '1000'));
const batch = Number(opt('batch', '256'));
const steps = Number(opt('steps', '100'));
const attacks = opt('attacks', 'ddn-l2,fmn-l2').split(',') as AttackName[];

const info = await ready({ backend: 'native', threads: Number(opt('threads', '2')) });
const model = createModel({ arch, inputShape: [32, 32, 3], classes: 10 }, 0);
const rng = new Rng(1);
const x = Float32Array.from({ length: images * 32 * 32 * 3 }, () => rng.next());
const shape = [images, 32, 32, 3];

const call = async (attack: AttackName, n: number) => {
  const t0 = performance.now();
  const r = await minimalPerturbation(model, x, { attack, shape, batchSize: batch, steps: n });
  return { s: (performance.now() - t0) / 1000, iterations: r.iterations };
};

let commit: string | null = null;
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {}
const results: Record<string, unknown> = {};
for (const attack of attacks) {
  await call(attack, 1);
  const once = await call(attack, steps);
  const twice = await call(attack, 2 * steps);
  const extra = twice.iterations - once.iterations;
  const marginal = extra > 0 ? (twice.s - once.s) / extra : Number.NaN;
  const overhead = once.s - once.iterations * marginal;
  results[attack] = {
    seconds: +once.s.toFixed(2),
    iterations: once.iterations,
    secondsTwice: +twice.s.toFixed(2),
    iterationsTwice: twice.iterations,
    marginalSecondsPerIteration: +marginal.toFixed(4),
    overheadSeconds: +overhead.toFixed(2),
    overheadShare: +(overhead / once.s).toFixed(3),
  };
  console.error(`${attack}: ${JSON.stringify(results[attack])}`);
}
console.log(
  JSON.stringify({
    bench: 'arch-attacks',
    date: new Date().toISOString(),
    commit,
    arch,
    images,
    batch,
    steps,
    threads: info.threads,
    load: loadavg(),
    results,
  }),
);
