/**
 * The inline experiment runner: one spec in, report.json and models out, no services. The service's workers
 * call the same stage functions (trainMember, robustnessOf, evaluateExperiment) so both paths give the same
 * numbers. Everything is written under `outDir` and every stage is resumable: member checkpoints after each
 * epoch, robustness results and the joint soft-label table as files. What runs, with which seeds, and where each
 * file lives is the experiment's plan (../plan), which the service's job graph executes too.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EpochRecord, ExperimentReport, ResolvedSpec } from '@arcal/contracts';
import { ArcalError, attackParamsFor } from '@arcal/contracts';
import { type AttackParams, minimalPerturbation } from '../attacks/index.ts';
import { activeBackend, tf } from '../backend/index.ts';
import {
  averageProbabilities,
  calibrationBySubset,
  classificationSummary,
  predictionVariance,
  predictionVarianceBySubset,
  reliabilityDiagram,
  subsetOfExamples,
} from '../calibration/index.ts';
import type { ExperimentData, Split } from '../data/types.ts';
import { type Model, predictLogits } from '../models/index.ts';
import { saveModel } from '../models/io.ts';
import {
  decodeRobustness,
  encodeRobustness,
  epochRecordOrder,
  evaluateStep,
  initialTable,
  type JointFile,
  jointEpochUpdate,
  KEYS,
  memberSeeds,
  needsRanking,
  needsReference,
  type Split as PlanSplit,
  type PlanStep,
  posthocOf,
  type RobustnessFile,
  ranksOnTheFly,
  referenceAttacks,
  referenceSeed,
  referenceTraining,
  reRankAt,
  singleSubsetRanking,
  tableSize,
  unfooledCount,
} from '../plan/index.ts';
import { fitMixNMatch, fitTemperature } from '../posthoc/index.ts';
import { type MemberState, type Ranking, trainMember } from '../training/trainer.ts';
import { calibratedProbabilities, evaluateShiftAndOod, type Posthoc } from './evaluate-extra.ts';
import type { OodLoader, RunEvent } from './run-types.ts';

export type { OodLoader, RunEvent } from './run-types.ts';

export interface RunOptions {
  outDir: string;
  data: ExperimentData;
  log?: (line: string) => void;
  onEvent?: (e: RunEvent) => void;
  signal?: AbortSignal;
  /** Loader for the OOD set named by evaluation.ood (injected so core stays free of data-source policy). */
  loadOod?: OodLoader;
  /**
   * Where the vanilla reference model and the robustness computed on it live (default `outDir/reference`).
   * Experiments that share dataset, model, training settings, seed and attack can share it (the demo does):
   * a key file guards against reuse by an experiment whose reference would differ.
   */
  referenceDir?: string;
  /** Told each step of the plan (../plan) as the run starts it; tests compare them with the job graph's. */
  onStep?: (step: PlanStep) => void;
}

/** `key` (a plan's artifact key, '/'-separated) under `dir`. */
const at = (dir: string, key: string) => join(dir, ...key.split('/'));

/** What determines the reference model and its robustness; a shared reference directory must match it. */
export function referenceKey(spec: ResolvedSpec): string {
  return JSON.stringify({
    dataset: spec.dataset,
    model: spec.model,
    training: spec.training,
    seed: spec.seed,
    attack: spec.method.robustness.attack,
    params: spec.method.robustness.params,
    evalAttack: spec.evaluation.robustness.attack,
    // version 1 wrote no version here; a later one changes the attacks' defaults, so it must not share
    ...(spec.version !== 1 ? { version: spec.version } : {}),
  });
}

async function referenceDirFor(spec: ResolvedSpec, o: RunOptions): Promise<string> {
  const dir = o.referenceDir ?? at(o.outDir, KEYS.referenceDir);
  await mkdir(dir, { recursive: true });
  const key = referenceKey(spec);
  const existing = await readFile(at(dir, KEYS.inReference.key), 'utf8').catch(() => undefined);
  if (existing !== undefined && existing !== key) {
    throw new ArcalError(
      'CONFLICT',
      `${dir} holds a reference model for different settings; use another reference directory`,
    );
  }
  if (existing === undefined) await writeFile(at(dir, KEYS.inReference.key), key);
  return dir;
}

const ARCAL_VERSION = '0.1.0';

async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFile(`${file}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Attack parameters of the spec, in the attacks' own option names. */
function attackOptions(spec: ResolvedSpec, attack: ResolvedSpec['method']['robustness']['attack']) {
  // the spec's version's defaults, so a stored version-1 spec keeps its attacks as they were
  const p = attackParamsFor(spec, attack) as AttackParams;
  return { attack, ...p, batchSize: spec.method.robustness.params.batchSize ?? 256 };
}

/**
 * L2 robustness of every example of a split under a model (an ensemble is attacked on its averaged
 * probabilities). Cached in `file` when given, keyed by what determines it.
 */
/** The radii a robustness file holds for `attack` on a split of `n` examples, or undefined when it holds none. */
async function cachedRobustness(file: string, attack: string, n: number): Promise<Float32Array | undefined> {
  const cached = await readJson<RobustnessFile>(file);
  return cached && cached.attack === attack && cached.n === n ? decodeRobustness(cached) : undefined;
}

export async function robustnessOf(
  models: Model[],
  split: Split,
  shape: [number, number, number],
  spec: ResolvedSpec,
  attack: ResolvedSpec['method']['robustness']['attack'],
  o: { file?: string; what: string; onEvent?: (e: RunEvent) => void; signal?: AbortSignal },
): Promise<Float32Array> {
  if (o.file) {
    const cached = await cachedRobustness(o.file, attack, split.n);
    if (cached) return cached;
  }
  const f =
    models.length === 1
      ? (x: tf.Tensor) => models[0].apply(x, false)
      : (x: tf.Tensor) =>
          tf.tidy(() =>
            tf.log(
              tf
                .addN(models.map((m) => tf.softmax(m.apply(x, false))))
                .div(models.length)
                .add(1e-12),
            ),
          );
  const r = await minimalPerturbation(f, split.x, {
    ...attackOptions(spec, attack),
    shape: [split.n, ...shape],
    onProgress: (done, total) => o.onEvent?.({ type: 'attack', what: o.what, done, total }),
    signal: o.signal,
  });
  if (o.file) await writeJsonAtomic(o.file, encodeRobustness(attack, r.norms));
  return r.norms;
}

/** Ranking of training and validation examples, each split on its own robustness (Algorithm 1). */
export function rankingFrom(trainNorms: Float32Array, valNorms: Float32Array, R: number): Ranking {
  return { trainSubsetOf: subsetOfExamples(trainNorms, R), valSubsetOf: subsetOfExamples(valNorms, R) };
}

/**
 * An on-the-fly re-rank before training epoch index `epoch`: `models` (an ensemble on its averaged
 * probabilities) attacked with the method's attack on the training and validation splits, each ranked into the
 * plan's subsets. The inline runner and the service's re-rank steps both call this.
 */
export async function attackRanking(
  models: Model[],
  data: Pick<ExperimentData, 'train' | 'validation' | 'shape'>,
  spec: ResolvedSpec,
  epoch: number,
  o: { onEvent?: (e: RunEvent) => void; signal?: AbortSignal } = {},
): Promise<{ ranking: Ranking; unfooled: number }> {
  const attack = spec.method.robustness.attack;
  const tr = await robustnessOf(models, data.train, data.shape, spec, attack, { what: `train (epoch ${epoch})`, ...o });
  const va = await robustnessOf(models, data.validation, data.shape, spec, attack, {
    what: `validation (epoch ${epoch})`,
    ...o,
  });
  return { ranking: rankingFrom(tr, va, tableSize(spec)), unfooled: unfooledCount(tr, va) };
}

interface Trained {
  states: MemberState[];
  epochs: EpochRecord[];
  referenceModel?: Model;
  notes: string[];
  attackSeconds: number;
}

/** Trains every member (independent or joint) and, where needed, the vanilla reference model. */
async function trainAll(spec: ResolvedSpec, o: RunOptions): Promise<Trained> {
  const { data, outDir } = o;
  const log = o.log ?? (() => {});
  const M = spec.ensemble.members;
  const R = tableSize(spec);
  const notes: string[] = [];
  const epochsOut: EpochRecord[] = [];
  let attackSeconds = 0;
  let ranking: Ranking | undefined;
  let referenceModel: Model | undefined;
  const refDir = await referenceDirFor(spec, o);
  const onEpoch = (record: EpochRecord) => {
    epochsOut.push(record);
    o.onEvent?.({ type: 'epoch', record, totalEpochs: spec.training.epochs });
  };

  // The reference model is only ever attacked: when every radius the plan asks of it is on file already (a resumed
  // run, or a reference directory carried over from another machine), it is not trained again.
  const planned = referenceAttacks(spec, data.test.n);
  const onFile = await Promise.all(
    planned.map(async (a) =>
      cachedRobustness(at(refDir, KEYS.inReference.robustness(a.split)), a.attack, data[a.split].n),
    ),
  );
  const allOnFile = planned.length > 0 && onFile.every((r) => r !== undefined);
  if (needsReference(spec) && allOnFile) notes.push('vanilla reference model: not needed, its robustness is on file');
  if (needsReference(spec) && !allOnFile) {
    o.onStep?.({ step: 'reference', seed: referenceSeed(spec.seed) });
    o.onEvent?.({ type: 'stage', stage: 'reference', detail: 'training the vanilla reference model' });
    log('training the vanilla reference model (shared ranking for all members)');
    const ref = await trainMember({
      spec,
      data,
      ...referenceTraining(spec),
      checkpointDir: at(refDir, KEYS.inReference.model),
      signal: o.signal,
      onBatch: (done, total) => o.onEvent?.({ type: 'batch', member: 'reference', epoch: 0, done, total }),
    });
    referenceModel = ref.model;
    notes.push(
      `vanilla reference model: validation accuracy ${(ref.epochs.at(-1)?.validation?.accuracy ?? Number.NaN).toFixed(4)} after ${ref.epoch} epochs`,
    );
  }
  // The reference model's robustness on every split the plan attacks it on (its test radii are the evaluation's
  // cached file), then the ranking of training and validation examples.
  if (planned.length) {
    o.onEvent?.({
      type: 'stage',
      stage: 'robustness',
      detail: planned.map((a, i) => `${a.attack} on ${a.split}${onFile[i] ? ' (on file)' : ''}`).join(', '),
    });
    const t0 = performance.now();
    const norms: Partial<Record<PlanSplit, Float32Array>> = {};
    try {
      for (const a of planned) {
        o.onStep?.({ step: 'robustness', ...a });
        norms[a.split] = await robustnessOf([referenceModel!], data[a.split], data.shape, spec, a.attack, {
          file: at(refDir, KEYS.inReference.robustness(a.split)),
          what: a.split === 'test' ? 'test (vanilla reference)' : a.split,
          onEvent: o.onEvent,
          signal: o.signal,
        });
      }
    } catch (e) {
      // interrupted (or failed): the reference model is on disk for a resume; its tensors are released here
      referenceModel?.dispose();
      throw e;
    }
    attackSeconds += (performance.now() - t0) / 1000;
    if (needsRanking(spec)) {
      const tr = norms.train!;
      const va = norms.validation!;
      ranking = rankingFrom(tr, va, R);
      const unfooled = unfooledCount(tr, va);
      if (unfooled)
        notes.push(
          `${unfooled} training/validation examples were never fooled by ${spec.method.robustness.attack}; they rank as the most robust`,
        );
    }
  }

  const onTheFly = ranksOnTheFly(spec);
  const referenceRanking = ranking;
  /**
   * The plan's re-rank before epoch index `epoch`: epochs 0 … everyEpochs − 1 train on the reference ranking;
   * later re-ranks attack the model(s) as they stand (one member's, or the joint ensemble's when `member` is unset).
   */
  const reRankWith = async (models: Model[], epoch: number, member?: number): Promise<Ranking | undefined> => {
    const what = reRankAt(spec, epoch);
    if (what === 'keep') return undefined;
    if (what === 'reference') return referenceRanking;
    o.onStep?.(member === undefined ? { step: 'rerank', epoch } : { step: 'rerank', member, epoch });
    const t0 = performance.now();
    const { ranking: next } = await attackRanking(models, data, spec, epoch, { onEvent: o.onEvent, signal: o.signal });
    attackSeconds += (performance.now() - t0) / 1000;
    return next;
  };

  const states: MemberState[] = [];
  let ensembleRecords: EpochRecord[] = [];
  const seeds = memberSeeds(spec);
  if (spec.ensemble.mode !== 'joint') {
    for (let m = 0; m < M; m++) {
      o.onStep?.({ step: 'member', member: m, seed: seeds[m]! });
      o.onEvent?.({ type: 'stage', stage: 'train', detail: `member ${m + 1}/${M}` });
      states.push(
        await trainMember({
          spec,
          data,
          member: m,
          seed: seeds[m],
          checkpointDir: at(outDir, KEYS.member(m)),
          // on the fly, the ranking comes from reRank (the reference's at epoch 0), so a resumed member keeps
          // the one its checkpoint trained with
          ranking: onTheFly ? undefined : ranking,
          reRank: onTheFly ? (model, epoch) => reRankWith([model], epoch, m) : undefined,
          onEpoch,
          onBatch: (done, total) => o.onEvent?.({ type: 'batch', member: m, epoch: 0, done, total }),
          signal: o.signal,
        }),
      );
    }
  } else {
    // Joint ("AR-AdaLS of Ensemble"): one soft-label table from the averaged validation prediction.
    const jointFile = at(outDir, KEYS.jointFile);
    const saved = await readJson<JointFile>(jointFile);
    let pTrue = saved?.pTrue ?? initialTable(spec);
    const done = saved?.epoch ?? 0;
    if (saved?.ranking)
      ranking = {
        trainSubsetOf: Int32Array.from(saved.ranking.train),
        valSubsetOf: Int32Array.from(saved.ranking.val),
      };
    if (!ranking) ranking = singleSubsetRanking(data.train.n, data.validation.n);
    ensembleRecords = saved?.records ?? [];
    for (const r of ensembleRecords) onEpoch(r);
    for (let e = done; e < spec.training.epochs; e++) {
      // before epoch 0 the ranking is the reference's (set above); later, attack the averaged ensemble as it
      // stands before epoch e
      if (onTheFly && reRankAt(spec, e) === 'attack') {
        const current: MemberState[] = [];
        for (let m = 0; m < M; m++)
          current.push(
            await trainMember({
              spec,
              data,
              member: m,
              seed: seeds[m],
              checkpointDir: at(outDir, KEYS.member(m)),
              untilEpoch: e,
              ranking,
              sharedPTrue: pTrue,
              signal: o.signal,
            }),
          );
        ranking =
          (await reRankWith(
            current.map((s) => s.model),
            e,
          )) ?? ranking;
        for (const s of current) s.dispose();
      }
      const t0 = performance.now();
      const valProbs: Float32Array[] = [];
      const memberRecords: EpochRecord[] = [];
      for (let m = 0; m < M; m++) {
        o.onStep?.({ step: 'member-epoch', member: m, epoch: e });
        o.onEvent?.({
          type: 'stage',
          stage: 'train',
          detail: `epoch ${e + 1}/${spec.training.epochs}, member ${m + 1}/${M}`,
        });
        const s = await trainMember({
          spec,
          data,
          member: m,
          seed: seeds[m],
          checkpointDir: at(outDir, KEYS.member(m)),
          untilEpoch: e + 1,
          ranking,
          sharedPTrue: pTrue,
          onEpoch,
          onBatch: (d, total) => o.onEvent?.({ type: 'batch', member: m, epoch: e, done: d, total }),
          signal: o.signal,
        });
        valProbs.push(s.valProbs);
        memberRecords.push(s.epochs.at(-1)!);
        s.dispose();
      }
      o.onStep?.({ step: 'joint-update', epoch: e });
      const upd = jointEpochUpdate(spec, {
        epoch: e,
        valProbs,
        valLabels: data.validation.y,
        valSubsetOf: ranking.valSubsetOf,
        pTrue,
        memberRecords,
        classes: data.classes,
        seconds: (performance.now() - t0) / 1000,
      });
      pTrue = upd.pTrue;
      const rec = upd.record;
      ensembleRecords.push(rec);
      onEpoch(rec);
      await writeJsonAtomic(jointFile, {
        epoch: e + 1,
        pTrue,
        records: ensembleRecords,
        ranking: { train: Array.from(ranking.trainSubsetOf), val: Array.from(ranking.valSubsetOf) },
      });
    }
    for (let m = 0; m < M; m++) {
      states.push(
        await trainMember({
          spec,
          data,
          member: m,
          seed: seeds[m],
          checkpointDir: at(outDir, KEYS.member(m)),
          untilEpoch: spec.training.epochs,
          ranking,
          sharedPTrue: pTrue,
          signal: o.signal,
        }),
      );
    }
  }
  return {
    states,
    epochs: fullHistory(spec, states, ensembleRecords) ?? epochsOut,
    referenceModel,
    notes,
    attackSeconds,
  };
}

/**
 * Every epoch record of the run in the order an uninterrupted run emits them: member by member (independent), or
 * per epoch the members then the ensemble (joint). A resumed run only sees the epochs after its checkpoints
 * through `onEpoch`; the members' checkpoints keep their whole history. Undefined when a history is incomplete.
 */
function fullHistory(spec: ResolvedSpec, states: MemberState[], ensemble: EpochRecord[]): EpochRecord[] | undefined {
  const E = spec.training.epochs;
  if (states.some((s) => s.epochs.length !== E)) return undefined;
  if (spec.ensemble.mode === 'joint' && ensemble.length !== E) return undefined;
  const all = [...states.flatMap((s) => s.epochs), ...(spec.ensemble.mode === 'joint' ? ensemble : [])];
  return all.sort(epochRecordOrder(spec));
}

/**
 * Runs a whole experiment inline and writes `report.json`, the exported model(s) and the checkpoints under
 * `outDir`. Calling it again with the same outDir resumes from what was finished.
 */
export async function runExperiment(spec: ResolvedSpec, o: RunOptions): Promise<ExperimentReport> {
  const t0 = performance.now();
  const { data, outDir } = o;
  const log = o.log ?? (() => {});
  await mkdir(outDir, { recursive: true });
  await writeJsonAtomic(at(outDir, KEYS.spec), spec);
  if (data.classes < 2) throw new ArcalError('INVALID_INPUT', 'a dataset needs at least two classes');

  const trained = await trainAll(spec, o);
  const trainSeconds = (performance.now() - t0) / 1000 - trained.attackSeconds;
  const notes = [...trained.notes];
  const tEval = performance.now();
  o.onStep?.(evaluateStep(spec, data.test.n));
  o.onEvent?.({ type: 'stage', stage: 'evaluate' });

  // Post-hoc calibration fitted on validation logits, per member.
  const Z = data.classes;
  const memberTest: Float32Array[] = [];
  const posthoc: Posthoc[] = [];
  const kind = posthocOf(spec);
  for (const s of trained.states) {
    if (kind) {
      const valLogits = predictLogits(s.model, data.validation.x, data.validation.n);
      if (kind === 'temperature-scaling') {
        posthoc.push({ temperature: fitTemperature(valLogits, data.validation.y, Z) });
      } else {
        const cal = fitMixNMatch(valLogits, data.validation.y, Z);
        posthoc.push({ calibrator: cal.toJSON(), temperature: cal.T });
      }
    } else {
      posthoc.push({});
    }
    memberTest.push(calibratedProbabilities(s.model, data.test.x, data.test.n, posthoc.at(-1)!));
  }
  const ensembleTest = memberTest.length === 1 ? memberTest[0] : averageProbabilities(memberTest);
  const bins = spec.evaluation.bins;
  // How well the final model(s) fit the training split, in inference mode (the epochs' trainAccuracy is a
  // running mean over batches while the weights still move).
  const memberTrain = trained.states.map((s, m) =>
    calibratedProbabilities(s.model, data.train.x, data.train.n, posthoc[m]),
  );
  const trainFit = classificationSummary(
    memberTrain.length === 1 ? memberTrain[0] : averageProbabilities(memberTrain),
    data.train.y,
    bins,
  );
  // The selection split, calibrated like the test split: what tuned settings (α, ε) are chosen by.
  const selection = data.selection?.n
    ? classificationSummary(
        averageProbabilities(
          trained.states.map((s, m) =>
            calibratedProbabilities(s.model, data.selection!.x, data.selection!.n, posthoc[m]),
          ),
        ),
        data.selection.y,
        bins,
      )
    : undefined;
  const final = {
    ...classificationSummary(ensembleTest, data.test.y, bins),
    reliability: reliabilityDiagram(ensembleTest, data.test.y, { bins }),
  };

  // Robustness subsets of the test set.
  let bySubset: ExperimentReport['bySubset'] = [];
  let testNorms: Float32Array | undefined;
  let attackSeconds = trained.attackSeconds;
  const Rr = spec.evaluation.robustnessSubsets;
  const posthocChangesArgmaxOnly = spec.method.kind === 'mix-n-match';
  if (Rr > 0) {
    if (data.test.n < Rr) {
      notes.push(
        `bySubset omitted: the test split has ${data.test.n} examples, fewer than evaluation.robustnessSubsets = ${Rr}`,
      );
    } else {
      const ta = performance.now();
      const ref = spec.evaluation.robustness.reference;
      const models = ref === 'vanilla' ? [trained.referenceModel!] : trained.states.map((s) => s.model);
      testNorms = await robustnessOf(models, data.test, data.shape, spec, spec.evaluation.robustness.attack, {
        file:
          ref === 'vanilla'
            ? at(await referenceDirFor(spec, o), KEYS.inReference.robustness('test'))
            : at(outDir, KEYS.selfRobustnessTest),
        what: `test (${ref === 'vanilla' ? 'vanilla reference' : models.length > 1 ? 'averaged ensemble' : 'final model'})`,
        onEvent: o.onEvent,
        signal: o.signal,
      });
      attackSeconds += (performance.now() - ta) / 1000;
      // σ² among members per subset (Figs. 1–2 variance panels); for a joint ensemble the note below applies.
      const subsetVariance = memberTest.length > 1 ? predictionVarianceBySubset(memberTest, testNorms, Rr) : undefined;
      bySubset = calibrationBySubset(ensembleTest, data.test.y, testNorms, Rr, { bins }).map((r, i) => ({
        subset: i,
        ...r,
        ...(subsetVariance ? { variance: subsetVariance[i] } : {}),
      }));
      notes.push(
        `test robustness: ${spec.evaluation.robustness.attack} on the ${ref === 'vanilla' ? 'vanilla reference model' : 'evaluated model'}` +
          (posthocChangesArgmaxOnly ? ' (before the post-hoc calibrator, which can change the predicted class)' : ''),
      );
    }
  } else {
    notes.push('bySubset omitted: evaluation.robustnessSubsets is 0');
  }

  const seeds = memberSeeds(spec);
  const members = trained.states.map((_, m) => ({
    member: m,
    seed: seeds[m]!,
    final: classificationSummary(memberTest[m], data.test.y, bins),
    ...(posthoc[m].temperature !== undefined ? { temperature: posthoc[m].temperature } : {}),
    ...(testNorms && Rr > 0
      ? {
          bySubset: calibrationBySubset(memberTest[m], data.test.y, testNorms, Rr, { bins }).map((r, i) => ({
            subset: i,
            ...r,
          })),
        }
      : {}),
  }));
  const variance = memberTest.length > 1 ? predictionVariance(memberTest, data.test.n) : undefined;
  if (variance !== undefined && spec.ensemble.mode === 'joint')
    notes.push('variance: members of a joint ensemble share soft labels and are not independent runs');

  const extra = await evaluateShiftAndOod(
    spec,
    data,
    trained.states.map((s) => s.model),
    posthoc,
    o,
  );
  notes.push(...extra.notes);

  // Export the model(s).
  for (let m = 0; m < trained.states.length; m++) {
    await saveModel(at(outDir, KEYS.exported(trained.states.length, m)), trained.states[m].model, {
      ...posthoc[m],
      experiment: spec.name,
      member: m,
    });
  }
  const evalSeconds = (performance.now() - tEval) / 1000 - (attackSeconds - trained.attackSeconds);
  const backend = activeBackend();
  const report: ExperimentReport = {
    arcal: ARCAL_VERSION,
    spec,
    backend: backend?.name ?? tf.getBackend(),
    threads: backend?.threads,
    dataset: {
      name: data.name,
      source: data.source,
      train: data.train.n,
      validation: data.validation.n,
      ...(data.selection ? { selection: data.selection.n } : {}),
      test: data.test.n,
      checksum: data.checksum,
    },
    epochs: trained.epochs,
    final,
    train: trainFit,
    members,
    bySubset,
    ...(selection ? { selection } : {}),
    ...(variance !== undefined ? { variance } : {}),
    ...extra.sections,
    notes,
    timings: { totalSeconds: (performance.now() - t0) / 1000, trainSeconds, attackSeconds, evalSeconds },
  };
  await writeJsonAtomic(at(outDir, KEYS.report), report);
  for (const s of trained.states) s.dispose();
  trained.referenceModel?.dispose();
  log(`report written to ${at(outDir, KEYS.report)}`);
  return report;
}

/** True when outDir holds a finished report. */
export const hasReport = (outDir: string): boolean => existsSync(at(outDir, KEYS.report));
