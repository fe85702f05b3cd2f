/**
 * The minimal-L2 attacks' parameter defaults, in one place: the attacks read them when a spec leaves a
 * parameter out, and the API's cost estimate counts gradient steps from the same numbers.
 */
import type { AttackName } from './spec.schema.ts';

export const CW_DEFAULTS = {
  binarySearchSteps: 9,
  steps: 200,
  learningRate: 0.01,
  initialConst: 0.1,
  abortEarly: true,
} as const;

export const DDN_DEFAULTS = {
  steps: 100,
  gamma: 0.05,
  alphaInit: 1,
  alphaFinal: 0.01,
  ddnLoss: 'margin',
  refineSteps: 10,
} as const;

export const DEEPFOOL_DEFAULTS = { steps: 50, overshoot: 0.02 } as const;

export const FMN_DEFAULTS = { steps: 100, alphaInit: 1, gammaInit: 0.05, gammaFinal: 0.001 } as const;

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
