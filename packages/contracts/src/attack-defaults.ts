/**
 * The minimal-L2 attacks' parameter defaults, in one place: the attacks read them when a spec leaves a
 * parameter out, and the API's cost estimate counts gradient steps from the same numbers.
 */
import type { AttackName } from './spec.schema.ts';

/**
 * Version of the defaults a spec resolved today gets (`ResolvedSpec.version`). A stored spec keeps the
 * version it was resolved with, and its attacks keep that version's defaults, so it keeps meaning what it
 * meant: version 1 (or none) is the table before the agreement study of docs/ATTACKS.md was redone with a
 * cross-entropy DDN in its reference pool; version 2 is the table after it.
 */
export const SPEC_VERSION = 2;
export const SPEC_VERSIONS = [1, 2] as const;
export type SpecVersion = (typeof SPEC_VERSIONS)[number];

const CW_V1 = {
  binarySearchSteps: 9,
  steps: 200,
  learningRate: 0.01,
  // a constant rate: learningRateFinal = learningRate
  learningRateFinalRatio: 1,
  initialConst: 0.1,
  abortEarly: true,
  // an example leaves its round as soon as its own loss stalls
  abortRule: 'each',
} as const;
// At 0.01 the pixels at exactly 0 or 1 (|w| ≈ 7.25 in C&W's tanh space) barely move in 200 Adam steps: median
// 1.27× the best norm known on Fashion-MNIST, 1.05× at 0.1. A constant 0.1 is too coarse to settle on the
// boundary (linear oracle of the attack tests: median gap 1.1 %, worst 5.1 %), so the rate is cosine-annealed
// to 0.001 within each round (median 0.02 %, worst 0.09 %). Stopping an example alone when its loss stalls left
// it > 1 % looser on 14 % of the images than stopping the round once every example has stalled.
const CW_V2 = { ...CW_V1, learningRate: 0.1, learningRateFinalRatio: 0.01, abortRule: 'all' } as const;

const DDN = {
  steps: 100,
  gamma: 0.05,
  alphaInit: 1,
  alphaFinal: 0.01,
  ddnLoss: 'margin',
  refineSteps: 10,
} as const;

// Version 1 added every step to the unclipped running total, so a part the box had removed kept pulling.
const DEEPFOOL_V1 = { steps: 50, overshoot: 0.02, clipTotal: false } as const;
const DEEPFOOL_V2 = { ...DEEPFOOL_V1, clipTotal: true } as const;

const FMN = { steps: 100, alphaInit: 1, gammaInit: 0.05, gammaFinal: 0.001 } as const;

/** Every attack's defaults, per spec version. */
export const ATTACK_DEFAULTS = {
  1: { 'cw-l2': CW_V1, 'ddn-l2': DDN, 'deepfool-l2': DEEPFOOL_V1, 'fmn-l2': FMN },
  2: { 'cw-l2': CW_V2, 'ddn-l2': DDN, 'deepfool-l2': DEEPFOOL_V2, 'fmn-l2': FMN },
} as const satisfies Record<SpecVersion, Record<AttackName, object>>;

/** The current defaults: what an attack uses for a parameter it is not given. */
export const CW_DEFAULTS = ATTACK_DEFAULTS[SPEC_VERSION]['cw-l2'];
export const DDN_DEFAULTS = ATTACK_DEFAULTS[SPEC_VERSION]['ddn-l2'];
export const DEEPFOOL_DEFAULTS = ATTACK_DEFAULTS[SPEC_VERSION]['deepfool-l2'];
export const FMN_DEFAULTS = ATTACK_DEFAULTS[SPEC_VERSION]['fmn-l2'];

/** The attack that ranks examples when a spec names none, per spec version (docs/ATTACKS.md). */
export const DEFAULT_RANKING_ATTACKS: Record<SpecVersion, AttackName> = { 1: 'ddn-l2', 2: 'ddn-l2' };

/** A resolved spec's version; a spec stored before versions existed (none) is version 1. */
export const specVersion = (spec: { version?: number }): SpecVersion => (spec.version === 2 ? 2 : 1);

/**
 * The parameters an attack runs with for a resolved spec: its version's defaults for that attack, then the
 * spec's own params on top. Every caller that attacks for a spec goes through this, so a stored version-1
 * spec keeps its version's defaults even though the attacks' own defaults are the current ones.
 */
export function attackParamsFor(
  spec: { version?: number; method: { robustness: { params: Record<string, unknown> } } },
  attack: AttackName,
): Record<string, number | boolean | string> {
  return {
    ...ATTACK_DEFAULTS[specVersion(spec)][attack],
    ...(spec.method.robustness.params as Record<string, number | boolean | string>),
  };
}

/**
 * Upper bound on the forward+backward passes one attack call spends per example (early stopping usually
 * spends fewer): C&W runs `steps` per binary-search round; DeepFool differentiates `candidates − 1` logit
 * differences per step (all classes by default); DDN adds its bisection's forward passes (counted as a
 * third of a pass each); FMN one pass per step.
 */
export function attackPassesPerExample(
  attack: AttackName,
  params: Record<string, number | boolean | string | undefined>,
  numClasses: number,
): number {
  const num = (k: string, d: number) => (typeof params[k] === 'number' ? (params[k] as number) : d);
  switch (attack) {
    case 'cw-l2':
      return num('steps', CW_DEFAULTS.steps) * num('binarySearchSteps', CW_DEFAULTS.binarySearchSteps);
    case 'deepfool-l2': {
      const candidates = Math.min(numClasses, num('candidates', numClasses));
      return num('steps', DEEPFOOL_DEFAULTS.steps) * Math.max(1, candidates - 1);
    }
    case 'ddn-l2':
      return num('steps', DDN_DEFAULTS.steps) + num('refineSteps', DDN_DEFAULTS.refineSteps) / 3;
    case 'fmn-l2':
      return num('steps', FMN_DEFAULTS.steps);
  }
}
