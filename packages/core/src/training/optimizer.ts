/**
 * SGD (heavy-ball momentum) and Adam with L2 weight decay, written over tf ops so that every piece of optimizer
 * state is a plain variable that a checkpoint can save and restore bit for bit.
 */
import { fusedOptimizerActive, optimizerUpdate } from '@arcal/native';
import { tf } from '../backend/index.ts';

export interface OptimizerConfig {
  kind: 'sgd' | 'adam';
  momentum: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class Optimizer {
  /** sgd: one velocity per parameter; adam: first then second moments per parameter. */
  readonly slots: tf.Variable[];
  step = 0;
  private readonly b1: number;
  private readonly b2: number;
  private readonly eps: number;

  constructor(
    readonly config: OptimizerConfig,
    private readonly params: tf.Variable[],
  ) {
    this.b1 = config.beta1 ?? 0.9;
    this.b2 = config.beta2 ?? 0.999;
    this.eps = config.epsilon ?? 1e-8;
    const zeros = () =>
      params.map((p) => {
        const z = tf.zerosLike(p);
        const v = tf.variable(z, false);
        z.dispose();
        return v;
      });
    this.slots = config.kind === 'adam' ? [...zeros(), ...zeros()] : config.momentum > 0 ? zeros() : [];
  }

  /**
   * One update with learning rate `lr`. With g ← g + λ·θ:
   * SGD: v ← μ·v + g; θ ← θ − lr·v.  Adam: m ← β1·m + (1−β1)·g; s ← β2·s + (1−β2)·g²;
   * θ ← θ − lr·(m/(1−β1^t)) / (sqrt(s/(1−β2^t)) + ε).
   * On the `native` backend all parameters are updated by one fused kernel with the same float32 arithmetic
   * (@arcal/native's optimizer.ts); ARCAL_NATIVE_FUSED=0 keeps the tf ops there too.
   */
  apply(grads: tf.Tensor[], lr: number): void {
    this.step++;
    if (fusedOptimizerActive()) {
      this.applyFused(grads, lr);
      return;
    }
    const { kind, momentum, weightDecay } = this.config;
    const n = this.params.length;
    tf.tidy(() => {
      for (let i = 0; i < n; i++) {
        const p = this.params[i];
        let g = grads[i];
        if (weightDecay > 0) g = tf.add(g, tf.mul(p, weightDecay));
        if (kind === 'sgd') {
          if (momentum > 0) {
            const v = this.slots[i];
            v.assign(tf.add(tf.mul(v, momentum), g));
            p.assign(tf.sub(p, tf.mul(v, lr)));
          } else {
            p.assign(tf.sub(p, tf.mul(g, lr)));
          }
        } else {
          const m = this.slots[i];
          const s = this.slots[n + i];
          m.assign(tf.add(tf.mul(m, this.b1), tf.mul(g, 1 - this.b1)));
          s.assign(tf.add(tf.mul(s, this.b2), tf.mul(tf.square(g), 1 - this.b2)));
          const c1 = 1 - this.b1 ** this.step;
          const c2 = 1 - this.b2 ** this.step;
          const upd = tf.div(tf.div(m, c1), tf.add(tf.sqrt(tf.div(s, c2)), this.eps));
          p.assign(tf.sub(p, tf.mul(upd, lr)));
        }
      }
    });
  }

  private applyFused(grads: tf.Tensor[], lr: number): void {
    const { kind, momentum, weightDecay } = this.config;
    const n = this.params.length;
    const adam = kind === 'adam';
    const fusedKind = adam ? 'adam' : momentum > 0 ? 'momentum' : 'sgd';
    const states = adam ? [this.slots.slice(0, n), this.slots.slice(n)] : momentum > 0 ? [this.slots] : [];
    const out = optimizerUpdate(fusedKind, this.params, grads, states, {
      lr,
      weightDecay,
      ...(adam
        ? {
            a: this.b1,
            b: 1 - this.b1,
            c: this.b2,
            d: 1 - this.b2,
            c1: 1 - this.b1 ** this.step,
            c2: 1 - this.b2 ** this.step,
            epsilon: this.eps,
          }
        : { a: momentum }),
    });
    for (let i = 0; i < n; i++) {
      this.params[i].assign(out.params[i]);
      for (let j = 0; j < states.length; j++) states[j][i].assign(out.states[j][i]);
    }
    tf.dispose([...out.params, ...out.states.flat()]);
  }

  dispose(): void {
    for (const s of this.slots) s.dispose();
  }
}

export type Schedule = 'constant' | 'cosine' | 'step';

/**
 * Learning rate at a global step: constant; cosine lr0·½(1 + cos(π·step/total)); step ×0.1 after 50 % and
 * again after 75 % of training.
 */
export function learningRateAt(lr0: number, schedule: Schedule, step: number, totalSteps: number): number {
  if (schedule === 'cosine')
    return lr0 * 0.5 * (1 + Math.cos((Math.PI * Math.min(step, totalSteps)) / Math.max(1, totalSteps)));
  if (schedule === 'step') {
    const f = step / Math.max(1, totalSteps);
    return lr0 * (f >= 0.75 ? 0.01 : f >= 0.5 ? 0.1 : 1);
  }
  return lr0;
}
