/**
 * Target maths of confidence-calibrated adversarial training (CCAT, Stutz et al. 2020; the paper's
 * baseline (6)): an adversarial example's target moves from the one-hot label towards uniform as its
 * perturbation grows. The training loop lives elsewhere; this file is arithmetic only.
 */
import { ArcalError } from '@arcal/contracts';

/**
 * λ(δ) = (1 − min(1, ‖δ‖∞ / ε))^ρ: 1 at δ = 0, decaying to 0 at ‖δ‖∞ ≥ ε ("power transition", ρ = 10 by default).
 * `deltaLinf` is the L∞ norm of the perturbation, `eps` the attack budget.
 */
export function ccatLambda(deltaLinf: number, eps: number, rho = 10): number {
  if (!(eps > 0)) throw new ArcalError('INVALID_INPUT', `eps must be > 0, got ${eps}`);
  if (!(deltaLinf >= 0)) throw new ArcalError('INVALID_INPUT', `deltaLinf must be ≥ 0, got ${deltaLinf}`);
  if (!(rho >= 0)) throw new ArcalError('INVALID_INPUT', `rho must be ≥ 0, got ${rho}`);
  return (1 - Math.min(1, deltaLinf / eps)) ** rho;
}

/**
 * Row-major [n, classes] targets t_i = λ_i · onehot(y_i) + (1 − λ_i) · 1/K: the labelled class gets
 * λ_i + (1 − λ_i)/K, every other class (1 − λ_i)/K. Each row sums to 1.
 */
export function ccatTargets(labels: ArrayLike<number>, lambdas: ArrayLike<number>, classes: number): Float32Array {
  const n = labels.length;
  if (lambdas.length !== n) throw new ArcalError('INVALID_INPUT', `lambdas has ${lambdas.length} entries, labels ${n}`);
  if (!Number.isInteger(classes) || classes < 1)
    throw new ArcalError('INVALID_INPUT', `classes must be a positive integer, got ${classes}`);
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    const l = lambdas[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new ArcalError('INVALID_INPUT', `label ${y} at ${i} is outside [0, ${classes})`);
    if (!(l >= 0 && l <= 1)) throw new ArcalError('INVALID_INPUT', `lambda ${l} at ${i} is outside [0, 1]`);
    const base = (1 - l) / classes;
    for (let k = 0; k < classes; k++) out[i * classes + k] = base;
    out[i * classes + y] = l + base;
  }
  return out;
}
