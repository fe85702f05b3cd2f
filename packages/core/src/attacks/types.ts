/**
 * Types shared by the minimal-L2-perturbation attacks. Pure declarations: no tensors are made here.
 */
import type { tf } from '../backend/index.ts';

/** A classifier as a function from a batch of images in [0,1] to logits [N, K]. */
export type LogitsFunction = (x: tf.Tensor) => tf.Tensor;

/** A classifier object (a tfjs-layers model or one of arcal's models): `apply(x, training)` returns logits. */
export interface ApplyModel {
  apply(x: tf.Tensor, training?: boolean): tf.Tensor | tf.Tensor[] | unknown;
}

/** Either model form; both must be differentiable with `tf.grad` with respect to their input. */
export type AttackModel = LogitsFunction | ApplyModel;

export const ATTACK_NAMES = ['cw-l2', 'fmn-l2', 'ddn-l2', 'deepfool-l2'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

/** Carlini & Wagner L2 parameters (see cw-l2.attack.ts for their cost). */
export interface CwL2Params {
  /** Rounds of the binary search over the trade-off constant c (default 9). */
  binarySearchSteps?: number;
  /** Adam steps per round (default 200). */
  steps?: number;
  /** Adam learning rate in the tanh space at a round's first step (default 0.1; 0.01 for version-1 specs). */
  learningRate?: number;
  /** Learning rate reached at the last step of a round, cosine-annealed from learningRate (default: learningRate × learningRateFinalRatio). */
  learningRateFinal?: number;
  /** learningRateFinal / learningRate when learningRateFinal is not given (default 0.01; 1, a constant rate, for version-1 specs). */
  learningRateFinalRatio?: number;
  /** First c of every example (default 0.1). */
  initialConst?: number;
  /** Stop early when the loss has not fallen by 0.01 % over steps/10 steps (default true). */
  abortEarly?: boolean;
  /**
   * Whose loss stops a round early: 'all' (default) ends the round once no example's loss falls any more;
   * 'each' (version-1 specs) takes each example out of its round as soon as its own loss stalls.
   */
  abortRule?: 'all' | 'each';
}

/** Fast Minimum-Norm L2 parameters (see fmn-l2.attack.ts). */
export interface FmnL2Params {
  /** Gradient steps (default 100). */
  steps?: number;
  /** Initial L2 step length α₀, cosine-annealed to alphaFinal (default 1). */
  alphaInit?: number;
  /** Final step length (default alphaInit / 100). */
  alphaFinal?: number;
  /** Initial relative radius change γ₀, cosine-annealed to gammaFinal (default 0.05). */
  gammaInit?: number;
  /** Final γ (default 0.001). */
  gammaFinal?: number;
}

/** Decoupled Direction and Norm parameters (see ddn-l2.attack.ts). */
export interface DdnL2Params {
  /** Gradient steps (default 100). */
  steps?: number;
  /** Relative change of the radius ε per step (default 0.05). */
  gamma?: number;
  /** First radius ε₀ (default: per example, the first-order distance estimate m(x)/‖∇m(x)‖ of the margin m). */
  initNorm?: number;
  /** Initial L2 step length α, cosine-annealed to alphaFinal (default 1). */
  alphaInit?: number;
  /** Final step length (default 0.01). */
  alphaFinal?: number;
  /** Loss whose gradient gives the direction: 'margin' (default) or 'ce', the published cross-entropy. */
  ddnLoss?: 'ce' | 'margin';
}

/** DeepFool L2 parameters (see deepfool-l2.attack.ts). */
export interface DeepFoolL2Params {
  /** Maximum linearisation steps (default 50). */
  steps?: number;
  /** Overshoot η: the accumulated step is multiplied by 1 + η (default 0.02). */
  overshoot?: number;
  /** Classes considered: the `candidates` largest clean logits, the predicted one included (default all). */
  candidates?: number;
  /** Keep the accumulated step inside the box, so a part the clip removed stops pulling (default true; false for version-1 specs). */
  clipTotal?: boolean;
}

export type AttackParams = CwL2Params & FmnL2Params & DdnL2Params & DeepFoolL2Params;

export interface MinimalPerturbationOptions extends AttackParams {
  attack: AttackName;
  /** Examples per batch (default 128). Results do not depend on it beyond floating-point noise. */
  batchSize?: number;
  /** Also return the adversarial examples (rows of never-fooled examples are NaN). */
  returnAdversarial?: boolean;
  /**
   * What the model returns: 'logits' (default) or 'probabilities' (rows summing to 1, e.g. an ensemble's
   * averaged softmax). Probabilities are attacked through their logarithm, which has the same argmax.
   */
  outputs?: 'logits' | 'probabilities';
  /**
   * Bisection steps along each found perturbation δ: the smallest t in (0, 1] with f(x + tδ) ≠ f(x) is
   * located to 2^-steps, which can only shorten δ (default 10 for ddn-l2, 0 — off — for the others; each
   * step costs one forward pass over the successful examples).
   */
  refineSteps?: number;
  /** Called after each batch with (examples done, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Checked before every batch and every attack step (which also yields to the event loop, so a signal
   * handler gets to run): once aborted, the call rejects with an AbortError and keeps no tensors.
   */
  signal?: AbortSignal;
}

export interface MinimalPerturbationResult {
  /** ‖δ‖₂ of the smallest adversarial example found per example; +Infinity when none was found. */
  norms: Float32Array;
  /** 1 when an adversarial example was found (and re-checked), else 0. */
  success: Uint8Array;
  /** The model's predicted class on the clean input, argmax of the logits. */
  predicted: Int32Array;
  /** Attack iterations summed over batches (one iteration = one gradient step of a batch's active examples). */
  iterations: number;
  /** Example-iterations summed over batches: how many example-gradient steps were spent (shows batch shrinking). */
  exampleIterations: number;
  /** The adversarial examples, flat in the input's layout, when returnAdversarial was set. */
  adversarial?: Float32Array;
}

/** What one attack returns for one batch; the driver re-checks and measures it. */
export interface BatchAttackResult {
  /** Flat adversarial examples [n·D]; a row is meaningful only where found[i] = 1. */
  adversarial: Float32Array;
  found: Uint8Array;
  iterations: number;
  exampleIterations: number;
}

/** The contract between the driver and one attack: a batch, its predicted classes, the attack's parameters. */
export type BatchAttack = (
  logits: LogitsFunction,
  x: tf.Tensor,
  predicted: Int32Array,
  numClasses: number,
  params: AttackParams & { signal?: AbortSignal },
) => Promise<BatchAttackResult>;
