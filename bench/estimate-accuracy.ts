/**
 * How close the API's admission estimate is to what an experiment really takes: a handful of specs run with
 * `arcal run` in a child process (wall time, process start included), each next to its estimated
 * CPU-seconds at the configured effective FLOP/s. Prints a table and, as the last line, one JSON object.
 *
 *   npx tsx bench/estimate-accuracy.ts [--flops 2e9] [--only name,name] [--backend native]
 *
 * The ratio is measured / estimated; the goal is within 2× either way on the machine that sets
 * ARCAL_WORKER_FLOPS.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { validateSpec } from '@arcal/contracts';
import { estimateCost } from '../apps/api/src/estimate.ts';

const { values } = parseArgs({
  options: { flops: { type: 'string', default: '2e9' }, only: { type: 'string' }, backend: { type: 'string' } },
});
const workerFlops = Number(values.flops);

const synthetic = (shape: [number, number, number], trainLimit: number) => ({
  name: 'synthetic',
  classes: 10,
  shape,
  trainLimit,
  validationSize: 500,
  testLimit: 500,
});
const fashion = { name: 'fashion-mnist', trainLimit: 3000, validationSize: 500, testLimit: 1000 };
const adam = (epochs: number) => ({ epochs, batchSize: 128, optimizer: 'adam', learningRate: 0.002 });

const SPECS: Record<string, Record<string, unknown>> = {
  'mlp-vanilla': {
    dataset: synthetic([28, 28, 1], 5000),
    model: { arch: 'mlp' },
    training: adam(3),
    method: { kind: 'vanilla' },
    evaluation: { robustnessSubsets: 0 },
  },
  'cnn-vanilla': {
    dataset: fashion,
    model: { arch: 'cnn' },
    training: adam(3),
    method: { kind: 'vanilla' },
    evaluation: { robustnessSubsets: 0 },
  },
  'cnn-ar-adals-ddn': {
    dataset: fashion,
    model: { arch: 'cnn' },
    training: adam(3),
    method: { kind: 'ar-adals', subsets: 5, robustness: { attack: 'ddn-l2', source: 'precompute' } },
    evaluation: { robustnessSubsets: 5 },
  },
  'cnn-joint-3': {
    dataset: fashion,
    model: { arch: 'cnn' },
    training: adam(2),
    method: { kind: 'label-smoothing', epsilon: 0.1 },
    ensemble: { members: 3, mode: 'joint' },
    evaluation: { robustnessSubsets: 0 },
  },
  'resnet8-vanilla': {
    dataset: synthetic([32, 32, 3], 2000),
    model: { arch: 'resnet' },
    training: adam(2),
    method: { kind: 'vanilla' },
    evaluation: { robustnessSubsets: 0 },
  },
};

const only = values.only?.split(',');
const rows: Array<{ spec: string; estimatedSeconds: number; measuredSeconds: number; ratio: number }> = [];
const cli = join(import.meta.dirname, '..', 'packages', 'cli', 'bin', 'arcal.js');
for (const [name, body] of Object.entries(SPECS)) {
  if (only && !only.includes(name)) continue;
  const raw = { name, seed: 1, ...body };
  const v = validateSpec(raw);
  if (!v.ok) throw new Error(`${name}: ${JSON.stringify(v.problems)}`);
  const estimated = estimateCost(v.spec, { workerFlops, budgetSeconds: Number.POSITIVE_INFINITY }).seconds;
  const dir = mkdtempSync(join(tmpdir(), 'arcal-estimate-'));
  writeFileSync(join(dir, 'spec.json'), JSON.stringify(raw));
  const env = { ...process.env, ...(values.backend ? { ARCAL_BACKEND: values.backend } : {}) };
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [cli, 'run', join(dir, 'spec.json'), '--out', join(dir, 'out')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const measured = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`${name}: arcal run exited ${r.status}: ${r.stderr.toString().slice(-500)}`);
  rows.push({ spec: name, estimatedSeconds: estimated, measuredSeconds: +measured.toFixed(1), ratio: +(measured / estimated).toFixed(2) });
  console.error(`${name}: estimated ${estimated} s, measured ${measured.toFixed(1)} s`);
}

const commit = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD']).toString().trim();
  } catch {
    return null;
  }
})();
console.table(rows);
console.log(JSON.stringify({ bench: 'estimate-accuracy', commit, workerFlops, loadavg: loadavg(), rows }));
