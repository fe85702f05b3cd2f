/**
 * Spec validation: every problem at once, each with its dot-notation path; schema problems before
 * cross-field rules. `resolveSpec` returns the spec with every default filled in, so the rest of arcal
 * never guesses a default on its own.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType } from '@sinclair/typebox/errors';
import { DEFAULT_RANKING_ATTACKS, SPEC_VERSION, type SpecVersion } from './attack-defaults.ts';
import {
  ATTACKS,
  type AttackName,
  type CorruptionId,
  type DatasetName,
  ExperimentSpec,
  type MethodKind,
} from './spec.schema.ts';

export interface SpecProblem {
  /** Dot-notation path of the offending field, e.g. `ensemble.members`; `` for the document. */
  path: string;
  message: string;
}

export interface ResolvedSpec {
  name: string;
  seed: number;
  /**
   * Which defaults the spec was resolved with (SPEC_VERSION in attack-defaults.ts): a spec that names none
   * gets the current one, and a stored spec keeps its own, so changing a default never changes what a stored
   * spec means. Version 2 changed the ranking attacks' defaults (docs/ATTACKS.md).
   */
  version: SpecVersion;
  dataset: {
    name: DatasetName;
    path?: string;
    validationSize: number;
    /** Absent (never 0) when there is no selection split, so specs written before it resolve as they did. */
    selectionSize?: number;
    trainLimit?: number;
    testLimit?: number;
    classes: number;
    shape: [number, number, number];
    labelNoise: number;
  };
  model: { arch: 'mlp' | 'cnn' | 'resnet' | 'wrn'; depth: number; width: number; hidden: number[] };
  training: {
    epochs: number;
    batchSize: number;
    optimizer: 'sgd' | 'adam';
    learningRate: number;
    momentum: number;
    weightDecay: number;
    schedule: 'constant' | 'cosine' | 'step';
    checkpoint: 'last' | 'best-val';
  };
  method: {
    kind: MethodKind;
    epsilon: number;
    alpha: number;
    subsets: number;
    mixupAlpha: number;
    /** CCAT (Stutz et al. 2020) attack and target parameters; present only for method ccat. */
    ccat?: { epsilon: number; steps: number; stepSize: number; rho: number };
    robustness: {
      attack: AttackName;
      source: 'precompute' | 'on-the-fly';
      everyEpochs: number;
      params: Record<string, number>;
    };
  };
  ensemble: { members: number; mode: 'independent' | 'joint' };
  evaluation: {
    bins: number;
    robustnessSubsets: number;
    robustness: { reference: 'self' | 'vanilla'; attack: AttackName };
    corruptions: CorruptionId[];
    severities: number[];
    /** Corruption metrics on this fixed subset size of the test split (absent: all of it). */
    shiftLimit?: number;
    ood?: { dataset: string };
  };
}

const compiled = TypeCompiler.Compile(ExperimentSpec);

const toDot = (pointer: string): string =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');

function describe(e: {
  type: ValueErrorType;
  schema: Record<string, unknown>;
  message: string;
  value: unknown;
}): string {
  const s = e.schema;
  switch (e.type) {
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `must be >= ${s.minimum}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `must be <= ${s.maximum}`;
    case ValueErrorType.NumberExclusiveMinimum:
    case ValueErrorType.IntegerExclusiveMinimum:
      return `must be > ${s.exclusiveMinimum}`;
    case ValueErrorType.NumberExclusiveMaximum:
    case ValueErrorType.IntegerExclusiveMaximum:
      return `must be < ${s.exclusiveMaximum}`;
    case ValueErrorType.Integer:
      return 'must be an integer';
    case ValueErrorType.Number:
      return 'must be a number';
    case ValueErrorType.String:
      return 'must be a string';
    case ValueErrorType.StringMinLength:
      return 'must not be empty';
    case ValueErrorType.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case ValueErrorType.Object:
      return 'must be an object';
    case ValueErrorType.Array:
      return 'must be an array';
    case ValueErrorType.ArrayUniqueItems:
      return 'must not repeat items';
    case ValueErrorType.Tuple:
    case ValueErrorType.TupleLength:
      return `must be an array of ${(s.items as unknown[] | undefined)?.length ?? 'the right number of'} items`;
    case ValueErrorType.Union: {
      const values = ((s.anyOf as Array<{ const?: unknown }>) ?? []).map((x) => x.const).filter((x) => x !== undefined);
      return values.length ? `must be one of ${values.join(' | ')}` : 'has an invalid value';
    }
    case ValueErrorType.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'is not a known field';
    default:
      return e.message.toLowerCase();
  }
}

/** Schema problems only (types, ranges, unknown fields), every one, in document order. */
export function schemaProblems(input: unknown): SpecProblem[] {
  const out: SpecProblem[] = [];
  const seen = new Set<string>();
  for (const e of compiled.Errors(input)) {
    const path = toDot(e.path);
    const message = describe(e as never);
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message });
  }
  // Drop type errors reported under a path that already has "is required".
  return out.filter(
    (p) => p.message === 'is required' || !out.some((q) => q.path === p.path && q.message === 'is required'),
  );
}

/** Cross-field rules, checked only once the document matches the schema. */
function semanticProblems(s: ResolvedSpec, raw: Record<string, any>): SpecProblem[] {
  const out: SpecProblem[] = [];
  const m = s.method;
  const needsValidation = ['adals', 'ar-adals', 'temperature-scaling', 'mix-n-match'].includes(m.kind);
  if (needsValidation && s.dataset.validationSize < 2) {
    out.push({
      path: 'dataset.validationSize',
      message: `must be >= 2 for method ${m.kind} (it is fitted on validation data)`,
    });
  }
  if (s.training.checkpoint === 'best-val' && s.dataset.validationSize < 1) {
    out.push({ path: 'training.checkpoint', message: 'best-val needs dataset.validationSize >= 1' });
  }
  if (s.ensemble.mode === 'joint' && !['adals', 'ar-adals'].includes(m.kind)) {
    out.push({ path: 'ensemble.mode', message: `joint is only defined for adals and ar-adals, not ${m.kind}` });
  }
  if (raw.method?.epsilon !== undefined && m.kind !== 'label-smoothing') {
    out.push({ path: 'method.epsilon', message: 'only applies to method label-smoothing' });
  }
  if (raw.method?.subsets !== undefined && m.kind !== 'ar-adals') {
    out.push({ path: 'method.subsets', message: `only applies to method ar-adals (adals is R = 1)` });
  }
  if (raw.method?.alpha !== undefined && !['adals', 'ar-adals'].includes(m.kind)) {
    out.push({ path: 'method.alpha', message: 'only applies to methods adals and ar-adals' });
  }
  if (raw.method?.mixupAlpha !== undefined && m.kind !== 'mixup') {
    out.push({ path: 'method.mixupAlpha', message: 'only applies to method mixup' });
  }
  if (raw.method?.ccat !== undefined && m.kind !== 'ccat') {
    out.push({ path: 'method.ccat', message: 'only applies to method ccat' });
  }
  if (
    m.kind === 'ar-adals' &&
    needsValidation &&
    s.dataset.validationSize > 0 &&
    s.dataset.validationSize < m.subsets
  ) {
    out.push({ path: 'method.subsets', message: `must be <= dataset.validationSize (${s.dataset.validationSize})` });
  }
  if (s.dataset.trainLimit !== undefined && m.kind === 'ar-adals' && s.dataset.trainLimit < m.subsets) {
    out.push({ path: 'method.subsets', message: `must be <= dataset.trainLimit (${s.dataset.trainLimit})` });
  }
  const synthOnly = ['classes', 'shape', 'labelNoise'] as const;
  for (const k of synthOnly) {
    if (raw.dataset?.[k] !== undefined && s.dataset.name !== 'synthetic') {
      out.push({ path: `dataset.${k}`, message: 'only applies to dataset synthetic' });
    }
  }
  if (s.model.arch === 'wrn' && (s.model.depth - 4) % 6 !== 0) {
    out.push({ path: 'model.depth', message: 'must be 6n + 4 for wrn (e.g. 10, 16, 28)' });
  }
  if (s.model.arch === 'resnet' && (s.model.depth - 2) % 6 !== 0) {
    out.push({ path: 'model.depth', message: 'must be 6n + 2 for resnet (e.g. 8, 14, 20)' });
  }
  if (s.model.arch === 'cnn' && (s.dataset.shape[0] < 4 || s.dataset.shape[1] < 4)) {
    out.push({ path: 'model.arch', message: 'cnn needs images of at least 4×4' });
  }
  const ev = raw.evaluation ?? {};
  if (ev.corruptions?.length && !ev.severities) {
    // defaults to all five severities; nothing to report
  }
  if (ev.severities?.length && !ev.corruptions?.length) {
    out.push({ path: 'evaluation.severities', message: 'needs evaluation.corruptions' });
  }
  if (ev.shiftLimit !== undefined && !ev.corruptions?.length) {
    out.push({ path: 'evaluation.shiftLimit', message: 'needs evaluation.corruptions' });
  }
  return out;
}

const datasetDefaults: Record<DatasetName, { classes: number; shape: [number, number, number] }> = {
  'fashion-mnist': { classes: 10, shape: [28, 28, 1] },
  mnist: { classes: 10, shape: [28, 28, 1] },
  cifar10: { classes: 10, shape: [32, 32, 3] },
  cifar100: { classes: 100, shape: [32, 32, 3] },
  svhn: { classes: 10, shape: [32, 32, 3] },
  synthetic: { classes: 10, shape: [28, 28, 1] },
};

/**
 * CCAT defaults: ε = 0.3 on 1-channel (MNIST-like) images and 8/255 on colour images, the budgets Stutz et al.
 * train with; 10 PGD steps of 2.5·ε/steps (the step rule of Madry et al.; CCAT's own paper uses more steps);
 * ρ = 10, their power transition.
 */
function ccatDefaults(c: { epsilon?: number; steps?: number; stepSize?: number; rho?: number }, channels: number) {
  const epsilon = c.epsilon ?? (channels === 1 ? 0.3 : 8 / 255);
  const steps = c.steps ?? 10;
  return { epsilon, steps, stepSize: c.stepSize ?? (2.5 * epsilon) / steps, rho: c.rho ?? 10 };
}

/** Fills every default. Assumes `raw` already matches the schema. */
export function applyDefaults(raw: any): ResolvedSpec {
  const d = raw.dataset;
  const dd = datasetDefaults[d.name as DatasetName];
  const arch = raw.model.arch;
  const method = raw.method;
  const rob = method.robustness ?? {};
  const ev = raw.evaluation ?? {};
  const version: SpecVersion = raw.version ?? SPEC_VERSION;
  // The attack that ranks like the tightest known bound in the agreement study (docs/ATTACKS.md), per version;
  // a spec that names an attack always gets it.
  const methodAttack: AttackName = rob.attack ?? DEFAULT_RANKING_ATTACKS[version];
  return {
    name: raw.name,
    seed: raw.seed ?? 0,
    version,
    dataset: {
      name: d.name,
      ...(d.path !== undefined ? { path: d.path } : {}),
      validationSize: d.validationSize ?? 0,
      ...(d.selectionSize ? { selectionSize: d.selectionSize } : {}),
      ...(d.trainLimit !== undefined ? { trainLimit: d.trainLimit } : {}),
      ...(d.testLimit !== undefined ? { testLimit: d.testLimit } : {}),
      classes: d.name === 'synthetic' ? (d.classes ?? 10) : dd.classes,
      shape: d.name === 'synthetic' ? (d.shape ?? [28, 28, 1]) : dd.shape,
      labelNoise: d.name === 'synthetic' ? (d.labelNoise ?? 0.1) : 0,
    },
    model: {
      arch,
      depth: raw.model.depth ?? (arch === 'wrn' ? 16 : 8),
      width: raw.model.width ?? (arch === 'wrn' ? 4 : 16),
      hidden: raw.model.hidden ?? [256, 128],
    },
    training: {
      epochs: raw.training.epochs,
      batchSize: raw.training.batchSize,
      optimizer: raw.training.optimizer,
      learningRate: raw.training.learningRate,
      momentum: raw.training.momentum ?? (raw.training.optimizer === 'sgd' ? 0.9 : 0),
      weightDecay: raw.training.weightDecay ?? 0,
      schedule: raw.training.schedule ?? 'constant',
      checkpoint: raw.training.checkpoint ?? 'last',
    },
    method: {
      kind: method.kind,
      epsilon: method.epsilon ?? 0.1,
      alpha: method.alpha ?? 1,
      subsets: method.kind === 'ar-adals' ? (method.subsets ?? 10) : 1,
      mixupAlpha: method.mixupAlpha ?? 0.2,
      ...(method.kind === 'ccat'
        ? { ccat: ccatDefaults(method.ccat ?? {}, d.name === 'synthetic' ? (d.shape ?? [28, 28, 1])[2] : dd.shape[2]) }
        : {}),
      robustness: {
        attack: methodAttack,
        source: rob.source ?? 'precompute',
        everyEpochs: rob.everyEpochs ?? 1,
        params: { ...(rob.params ?? {}) },
      },
    },
    ensemble: { members: raw.ensemble?.members ?? 1, mode: raw.ensemble?.mode ?? 'independent' },
    evaluation: {
      bins: ev.bins ?? 15,
      robustnessSubsets: ev.robustnessSubsets ?? 10,
      robustness: {
        reference: ev.robustness?.reference ?? 'self',
        attack: ev.robustness?.attack ?? methodAttack,
      },
      corruptions: ev.corruptions ?? [],
      severities: ev.severities ?? (ev.corruptions?.length ? [1, 2, 3, 4, 5] : []),
      ...(ev.shiftLimit !== undefined ? { shiftLimit: ev.shiftLimit } : {}),
      ...(ev.ood ? { ood: ev.ood } : {}),
    },
  };
}

/** The attack that ranks examples when a spec of the current version names none. */
export const DEFAULT_RANKING_ATTACK: AttackName = DEFAULT_RANKING_ATTACKS[SPEC_VERSION];

/**
 * The spec as the user wrote it, pinned to the version its stored resolution has (none stored there: 1), for
 * re-resolving a spec that was resolved before: without a version of its own it would get the current
 * defaults and stop meaning what it meant when it started.
 */
export function pinSpecVersion(raw: unknown, stored: { version?: number } | undefined): unknown {
  if (stored === undefined || raw === null || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  if ((raw as { version?: unknown }).version !== undefined) return raw;
  return { ...(raw as object), version: stored.version ?? 1 };
}

export type ValidationResult = { ok: true; spec: ResolvedSpec } | { ok: false; problems: SpecProblem[] };

/** Validates a parsed JSON document: schema errors first (all of them); if none, cross-field rules. */
export function validateSpec(input: unknown): ValidationResult {
  const schema = schemaProblems(input);
  if (schema.length) return { ok: false, problems: schema };
  const spec = applyDefaults(input);
  const semantic = semanticProblems(spec, input as Record<string, any>);
  if (semantic.length) return { ok: false, problems: semantic };
  return { ok: true, spec };
}

/** `path: message`, the one-line form used by the CLI and in API error details. */
export const formatProblem = (p: SpecProblem): string => `${p.path || '(spec)'}: ${p.message}`;

export { ATTACKS };
