/**
 * How well the fast minimal-L2 attacks rank examples the way the tightest known bound does, on a trained
 * reference CNN.
 *
 * AR-AdaLS only uses the robustness of an example through its rank (the R equal-size subsets of Algorithm 1),
 * so a fast attack is good enough when it orders examples like the strong reference. For every attack A and
 * the reference R (cw-l2, and FMN with 1000 steps as a second reference), over the N test images:
 *   - Spearman ρ = Pearson correlation of the average ranks of the norms (+Infinity ranks above every finite norm);
 *   - same decile: share of examples i with ⌊10·(r_A(i) − 1)/N⌋ = ⌊10·(r_R(i) − 1)/N⌋ (ordinal ranks, ties by index);
 *   - median ratio: median of ‖δ_A(i)‖ / ‖δ_R(i)‖ over examples both fooled (1 = equally tight; < 1: A found smaller);
 *   - below reference: share of examples where A's norm is more than 1 % smaller than R's (R was not minimal there);
 *   - Spearman over the examples both attacks fooled (a failure ranks as most robust, which can dominate ρ);
 *   - seconds per example: wall time of A over the N images / N (on the backend and threads in the summary).
 * A third reference, "best", is per example the smallest norm any attack of the run found (the tightest known
 * bound); its pool includes DDN with the published cross-entropy loss, which can head for a class other than
 * the runner-up, so "best" is not limited to the boundaries margin-following attacks look for.
 * C&W's strength is shown first on the closed-form linear oracle of the attack tests (orthogonal rows, 32 examples):
 * the worst and median relative gap ‖δ‖/d* − 1 with the same parameters as the study.
 *
 *   npx tsx bench/attack-agreement.ts --out <dir> [--images 1000] [--train 10000] [--epochs 5] [--backend native]
 *     [--threads n] [--batch 100] [--cw-rounds 9] [--cw-steps 200] [--attacks a,b,...] [--probe [n]] [--summary]
 *
 * The images are the first --images of the official test file; the model is trained on --train images of the
 * training file (seed 0, 1,000 held out for validation). Resumable: the trained model is kept in <out>/model,
 * and each attack's norms in <out>/norms-<attack>.json, written after every batch (with the data and model
 * checksums and the parameters; a file that disagrees is an error, never silently reused). Batches run
 * batch-major (all attacks on batch b before batch b + 1), so a run stopped at any point leaves every attack
 * with the same prefix; --summary only reports on what is cached. --probe [n] times every attack on n images
 * (default 20, not cached) and exits. Progress goes to stderr; the last stdout line is one JSON summary.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ATTACK_DEFAULTS, validateSpec } from '@arcal/contracts';
import {
  type AttackName,
  type AttackParams,
  loadExperimentData,
  loadModel,
  minimalPerturbation,
  ready,
  saveModel,
  tf,
  trainMember,
} from '@arcal/core';
import { linearProblem } from '../packages/core/test/attacks.fixtures.ts';

const args = process.argv.slice(2);
const opt = (name: string, dflt?: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const flag = (name: string) => args.includes(`--${name}`);
const outArg = opt('out');
if (!outArg) {
  console.error('usage: npx tsx bench/attack-agreement.ts --out <dir> [--images 1000] [--probe] ...');
  process.exit(2);
}
const out = resolve(outArg);
const images = Number(opt('images', '1000'));
const trainN = Number(opt('train', '10000'));
const epochs = Number(opt('epochs', '5'));
const batch = Number(opt('batch', '100'));
const cwRounds = Number(opt('cw-rounds', '9'));
const cwSteps = Number(opt('cw-steps', '200'));
const probeN = /^\d+$/.test(opt('probe') ?? '') ? Number(opt('probe')) : 20;
const log = (s: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

interface Run {
  key: string;
  attack: AttackName;
  params: AttackParams;
  /** Run only when named in --attacks (a diagnostic, not part of the default study). */
  extra?: boolean;
}
// cw-l2 stays first: the oracle check and the comparisons look it up as RUNS[0]. Its parameters are the
// current (version-2) defaults written out, so the cache records them.
const CW_V2 = ATTACK_DEFAULTS[2]['cw-l2'];
const RUNS: Run[] = [
  {
    key: 'cw-l2',
    attack: 'cw-l2',
    params: {
      binarySearchSteps: cwRounds,
      steps: cwSteps,
      learningRate: CW_V2.learningRate,
      learningRateFinalRatio: CW_V2.learningRateFinalRatio,
      abortRule: CW_V2.abortRule,
    },
  },
  { key: 'fmn-l2-20', attack: 'fmn-l2', params: { steps: 20 } },
  { key: 'fmn-l2-50', attack: 'fmn-l2', params: { steps: 50 } },
  { key: 'fmn-l2-100', attack: 'fmn-l2', params: { steps: 100 } },
  { key: 'ddn-l2-100', attack: 'ddn-l2', params: { steps: 100 } },
  // DDN as published (cross-entropy direction): it heads for whichever class the loss falls fastest towards,
  // not only the runner-up, so it finds boundaries the margin-following attacks miss.
  { key: 'ddn-l2-ce-100', attack: 'ddn-l2', params: { steps: 100, ddnLoss: 'ce' } },
  { key: 'deepfool-l2', attack: 'deepfool-l2', params: { clipTotal: true } },
  // What the demo ranks with: DeepFool over the 4 largest clean logits.
  { key: 'deepfool-l2-c4', attack: 'deepfool-l2', params: { candidates: 4, clipTotal: true } },
  // DeepFool as version-1 specs run it (the unclipped running total).
  { key: 'deepfool-l2-v1', attack: 'deepfool-l2', params: { clipTotal: false } },
  { key: 'fmn-l2-1000', attack: 'fmn-l2', params: { steps: 1000 } },
  // C&W as version-1 specs run it: learning rate 0.01, an example leaves its round when its own loss stalls.
  // Pixels at exactly 0 or 1 sit at |w| ≈ 7.25 in the tanh space, where Adam's ~lr-sized steps need hundreds
  // of steps before the pixel can move at all.
  {
    key: 'cw-l2-v1',
    attack: 'cw-l2',
    params: {
      binarySearchSteps: cwRounds,
      steps: cwSteps,
      learningRate: 0.01,
      learningRateFinalRatio: 1,
      abortRule: 'each',
    },
    extra: true,
  },
];
const only = opt('attacks')?.split(',');
const runs = only ? RUNS.filter((r) => only.includes(r.key)) : RUNS.filter((r) => !r.extra);

const info = await ready({
  backend: opt('backend', 'native'),
  threads: opt('threads') ? Number(opt('threads')) : undefined,
});
log(`backend ${info.name}, ${info.threads} threads`);
mkdirSync(out, { recursive: true });

const writeJson = (file: string, v: unknown) => {
  writeFileSync(`${file}.tmp`, JSON.stringify(v));
  renameSync(`${file}.tmp`, file);
};

// ---- data and model -------------------------------------------------------------------------------------
const spec = (() => {
  const r = validateSpec({
    name: 'attack-agreement',
    seed: 0,
    dataset: { name: 'fashion-mnist', validationSize: 1000, trainLimit: trainN },
    model: { arch: 'cnn' },
    training: { epochs, batchSize: 128, optimizer: 'adam', learningRate: 1e-3 },
    method: { kind: 'vanilla' },
    evaluation: { robustnessSubsets: 0 },
  });
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.spec;
})();
const data = await loadExperimentData(spec.dataset, spec.seed, { dataDir: process.env.ARCAL_DATA_DIR });
log(`data ${data.source}: train ${data.train.n}, test ${data.test.n}, checksum ${data.checksum.slice(0, 12)}`);
const modelDir = join(out, 'model');
let trainSeconds: number | undefined;
if (!existsSync(join(modelDir, 'model.json'))) {
  log(`training the reference CNN: ${trainN} images, ${epochs} epochs, Adam lr 1e-3, batch 128`);
  const t0 = performance.now();
  const st = await trainMember({
    spec,
    data,
    member: 0,
    seed: 0,
    onEpoch: (r) =>
      log(
        `epoch ${r.epoch}: loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAccuracy).toFixed(2)}% val acc ${r.validation ? (100 * r.validation.accuracy).toFixed(2) : '?'}%`,
      ),
  });
  trainSeconds = (performance.now() - t0) / 1000;
  await saveModel(modelDir, st.model, { experiment: 'attack-agreement' });
  writeJson(join(out, 'training.json'), { seconds: trainSeconds, epochs: st.epochs });
  st.dispose();
}
const { model, meta } = await loadModel(modelDir);
// The first `images` examples of the official test file (the data checksum covers the whole file, so a
// smaller or larger --images reuses every cached batch).
if (!(images >= 1 && images <= data.test.n)) throw new Error(`--images must be in 1…${data.test.n}`);
const per = data.shape.reduce((a, b) => a * b, 1);
const test = { n: images, x: data.test.x.subarray(0, images * per), y: data.test.y.subarray(0, images) };
const shape = [test.n, ...data.shape];
let correct = 0;
{
  const z = tf.tidy(() => tf.argMax(model.apply(tf.tensor(test.x, shape), false), 1));
  const p = (await z.data()) as Int32Array;
  z.dispose();
  for (let i = 0; i < test.n; i++) correct += p[i] === test.y[i] ? 1 : 0;
}
log(`model ${meta.sha256.slice(0, 12)}: test accuracy ${((100 * correct) / test.n).toFixed(2)}% on ${test.n}`);

// ---- probe: one batch of each attack ----------------------------------------------------------------------
if (flag('probe')) {
  const probe: Record<string, number> = {};
  for (const r of runs) {
    const t0 = performance.now();
    await minimalPerturbation(model, test.x.subarray(0, probeN * per), {
      ...r.params,
      attack: r.attack,
      batchSize: probeN,
      shape: [probeN, ...data.shape],
    });
    probe[r.key] = +((performance.now() - t0) / 1000).toFixed(2);
    log(`probe ${r.key}: ${probe[r.key]} s for ${probeN} images`);
  }
  console.log(
    JSON.stringify({
      bench: 'attack-agreement-probe',
      backend: info.name,
      threads: info.threads,
      images: probeN,
      seconds: probe,
    }),
  );
  process.exit(0);
}

// ---- C&W strength on the closed-form linear oracle ---------------------------------------------------------
const oracleFile = join(out, 'cw-oracle.json');
let oracle: { params: AttackParams; maxGap: number; medianGap: number; n: number } | undefined;
if (runs.some((r) => r.key === 'cw-l2')) {
  const cwParams = RUNS[0].params;
  const cached = existsSync(oracleFile) ? JSON.parse(readFileSync(oracleFile, 'utf8')) : undefined;
  let o = cached && JSON.stringify(cached.params) === JSON.stringify(cwParams) ? (cached as typeof oracle) : undefined;
  if (!o) {
    const p = linearProblem(11, { n: 32, d: 32, rows: 'orthogonal', minDist: 0.05 });
    const r = await minimalPerturbation(p.model, p.x, {
      attack: 'cw-l2',
      ...cwParams,
      shape: [p.n, p.d],
      batchSize: 32,
    });
    const gaps = Array.from(r.norms, (v, i) => v / p.exact[i] - 1).sort((a, b) => a - b);
    p.dispose();
    o = { params: cwParams, n: gaps.length, maxGap: gaps[gaps.length - 1], medianGap: gaps[gaps.length >> 1] };
    writeJson(oracleFile, o);
  }
  oracle = o;
  log(
    `cw-l2 on the linear oracle: median gap ${(100 * o.medianGap).toFixed(3)}%, worst ${(100 * o.maxGap).toFixed(3)}%`,
  );
}

// ---- norms, resumable per batch --------------------------------------------------------------------------
interface NormFile {
  key: string;
  attack: AttackName;
  params: AttackParams;
  datasetChecksum: string;
  modelChecksum: string;
  batch: number;
  backend: string;
  threads: number;
  /** Norms of the completed batches, in order ("Infinity" when not fooled). */
  norms: Array<number | string>;
  seconds: number;
}

/** The cache file of one attack, checked against the current data, model and parameters. */
function openNorms(r: Run): { file: string; state: NormFile } {
  const file = join(out, `norms-${r.key}.json`);
  const ident = {
    key: r.key,
    attack: r.attack,
    params: r.params,
    datasetChecksum: data.checksum,
    modelChecksum: meta.sha256,
    batch,
  };
  if (!existsSync(file))
    return { file, state: { ...ident, backend: info.name, threads: info.threads, norms: [], seconds: 0 } };
  const state: NormFile = JSON.parse(readFileSync(file, 'utf8'));
  const have = {
    key: state.key,
    attack: state.attack,
    params: state.params,
    datasetChecksum: state.datasetChecksum,
    modelChecksum: state.modelChecksum,
    batch: state.batch,
  };
  if (JSON.stringify(have) !== JSON.stringify(ident))
    throw new Error(`${file} was computed for other settings (${JSON.stringify(have)}); move it away`);
  return { file, state };
}

// Batch-major: every attack finishes batch b before any starts batch b + 1, so a run stopped at any time
// leaves all attacks with the same completed prefix of images (--summary then reports on that prefix).
const open = runs.map((r) => ({ run: r, ...openNorms(r) }));
// The summary also takes in attacks computed by earlier runs with other --attacks.
const reported = flag('summary')
  ? RUNS.filter((r) => runs.includes(r) || existsSync(join(out, `norms-${r.key}.json`))).map((r) => ({
      run: r,
      ...openNorms(r),
    }))
  : open;
if (!flag('summary')) {
  for (let start = 0; start < test.n; start += batch) {
    const nb = Math.min(batch, test.n - start);
    for (const o of open) {
      if (o.state.norms.length >= start + nb) continue;
      if (o.state.norms.length !== start)
        throw new Error(`${o.file}: ${o.state.norms.length} norms, not a batch boundary`);
      const t0 = performance.now();
      const res = await minimalPerturbation(model, test.x.subarray(start * per, (start + nb) * per), {
        ...o.run.params,
        attack: o.run.attack,
        batchSize: batch,
        shape: [nb, ...data.shape],
      });
      const sec = (performance.now() - t0) / 1000;
      o.state.norms.push(...Array.from(res.norms, (v) => (Number.isFinite(v) ? v : 'Infinity')));
      o.state.seconds += sec;
      writeJson(o.file, o.state);
      log(
        `${o.run.key}: ${start + nb}/${test.n} (${sec.toFixed(1)} s this batch, ${((o.state.seconds / o.state.norms.length) * 1000).toFixed(1)} ms/example so far)`,
      );
    }
  }
}
// A comparison of two attacks uses the images both have (a prefix: batches run in order), so an attack left
// out of a later run (--attacks) still compares on what it has.
const done = Math.min(test.n, ...reported.map((o) => o.state.norms.length));
if (done < test.n) log(`every attack has the first ${done} of ${test.n} images; pairs compare on their common prefix`);
const results: Record<string, { norms: Float64Array; secondsPerExample: number; file: NormFile }> = {};
for (const o of reported) {
  results[o.run.key] = {
    norms: Float64Array.from(o.state.norms.slice(0, test.n), (v) =>
      v === 'Infinity' ? Number.POSITIVE_INFINITY : (v as number),
    ),
    secondsPerExample: o.state.seconds / Math.max(1, o.state.norms.length),
    file: o.state,
  };
}
model.dispose();

// ---- agreement -------------------------------------------------------------------------------------------
/** Average ranks 1…N (ties share their mean rank); +Infinity sorts last. */
function averageRanks(v: Float64Array): Float64Array {
  const idx = Array.from(v, (_, i) => i).sort((a, b) => v[a] - v[b] || a - b);
  const r = new Float64Array(v.length);
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && v[idx[j + 1]] === v[idx[i]]) j++;
    for (let k = i; k <= j; k++) r[idx[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return r;
}
function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  const ma = a.reduce((s, x) => s + x, 0) / n;
  const mb = b.reduce((s, x) => s + x, 0) / n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) ** 2;
    sbb += (b[i] - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}
/** Decile 0…9 of each example by ordinal rank (ties broken by index, as the subsets of Algorithm 1 are). */
function deciles(v: Float64Array): Int32Array {
  const idx = Array.from(v, (_, i) => i).sort((a, b) => v[a] - v[b] || a - b);
  const d = new Int32Array(v.length);
  idx.forEach((e, rank) => {
    d[e] = Math.floor((10 * rank) / v.length);
  });
  return d;
}
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? Number.NaN : s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
function agreement(aFull: Float64Array, refFull: Float64Array) {
  const n = Math.min(aFull.length, refFull.length);
  const a = aFull.subarray(0, n);
  const ref = refFull.subarray(0, n);
  const ra = averageRanks(a);
  const rr = averageRanks(ref);
  const da = deciles(a);
  const dr = deciles(ref);
  let same = 0;
  let below = 0;
  const ratios: number[] = [];
  for (let i = 0; i < a.length; i++) {
    if (da[i] === dr[i]) same++;
    if (a[i] < 0.99 * ref[i]) below++;
    if (Number.isFinite(a[i]) && Number.isFinite(ref[i]) && ref[i] > 0) ratios.push(a[i] / ref[i]);
  }
  const both = Array.from(a, (_, i) => i).filter((i) => Number.isFinite(a[i]) && Number.isFinite(ref[i]));
  const rho2 = pearson(
    averageRanks(Float64Array.from(both, (i) => a[i])),
    averageRanks(Float64Array.from(both, (i) => ref[i])),
  );
  return {
    images: n,
    spearman: +pearson(ra, rr).toFixed(4),
    spearman_both_fooled: +rho2.toFixed(4),
    same_decile: +(same / a.length).toFixed(4),
    median_ratio: +median(ratios).toFixed(4),
    below_reference: +(below / a.length).toFixed(4),
  };
}

// The tightest bound known per example: the smallest norm any attack found (on the images all attacks have).
const best = new Float64Array(done).fill(Number.POSITIVE_INFINITY);
for (const r of Object.values(results)) for (let i = 0; i < done; i++) best[i] = Math.min(best[i], r.norms[i]);
const summary: Record<string, unknown> = {};
for (const [key, r] of Object.entries(results)) {
  const fooled = r.norms.filter((v) => Number.isFinite(v)).length;
  summary[key] = {
    attack: r.file.attack,
    params: r.file.params,
    images: r.norms.length,
    seconds_per_example: +r.secondsPerExample.toFixed(4),
    fooled: +(fooled / r.norms.length).toFixed(4),
    median_norm: +median(Array.from(r.norms)).toFixed(4),
    vs_best: agreement(r.norms.subarray(0, done), best),
    ...(results['cw-l2'] && key !== 'cw-l2' ? { vs_cw: agreement(r.norms, results['cw-l2'].norms) } : {}),
    ...(results['fmn-l2-1000'] && key !== 'fmn-l2-1000'
      ? { vs_fmn1000: agreement(r.norms, results['fmn-l2-1000'].norms) }
      : {}),
  };
}
// How often the cross-entropy DDN finds a boundary more than 1 % closer than every other attack: the share of
// images on which a pool of margin-following attacks alone would have overstated the best bound.
const ceKey = 'ddn-l2-ce-100';
let ceCloser: number | undefined;
if (results[ceKey] && done > 0) {
  let c = 0;
  for (let i = 0; i < done; i++) {
    let rest = Number.POSITIVE_INFINITY;
    for (const [key, r] of Object.entries(results)) if (key !== ceKey) rest = Math.min(rest, r.norms[i]);
    if (results[ceKey].norms[i] < 0.99 * rest) c++;
  }
  ceCloser = +(c / done).toFixed(4);
}
// DeepFool's version-1 (unclipped running total) norms over the version-2 ones, per image both fooled.
let deepfoolV1: { median_ratio: number; max_ratio: number; looser_by_1pct: number } | undefined;
if (results['deepfool-l2'] && results['deepfool-l2-v1'] && done > 0) {
  const r: number[] = [];
  for (let i = 0; i < done; i++) {
    const a = results['deepfool-l2-v1'].norms[i];
    const b = results['deepfool-l2'].norms[i];
    if (Number.isFinite(a) && Number.isFinite(b) && b > 0) r.push(a / b);
  }
  deepfoolV1 = {
    median_ratio: +median(r).toFixed(4),
    max_ratio: +Math.max(...r).toFixed(4),
    looser_by_1pct: +(r.filter((v) => v > 1.01).length / Math.max(1, r.length)).toFixed(4),
  };
}
const training = existsSync(join(out, 'training.json'))
  ? JSON.parse(readFileSync(join(out, 'training.json'), 'utf8'))
  : undefined;
console.log(
  JSON.stringify({
    bench: 'attack-agreement',
    backend: info.name,
    threads: info.threads,
    images_all_attacks: done,
    batch,
    train_images: trainN,
    epochs,
    test_accuracy_first_images: +(correct / test.n).toFixed(4),
    training_seconds: training ? +training.seconds.toFixed(1) : trainSeconds,
    cw_oracle: oracle,
    ce_ddn_closer_than_all_others: ceCloser,
    deepfool_unclipped_over_clipped: deepfoolV1,
    attacks: summary,
  }),
);
