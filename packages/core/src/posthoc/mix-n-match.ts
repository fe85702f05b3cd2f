/**
 * Mix-n-Match (Zhang, Kailkhura & Han 2020; the paper's baseline (8)): ensemble temperature scaling (ETS)
 * composed with multi-class isotonic regression (IRM). Everything is fitted on validation logits and labels.
 *
 * ETS (their Eq. 8): p(z) = w₁·softmax(z/T) + w₂·softmax(z) + w₃·(1/K), w on the probability simplex,
 * T the temperature-scaling temperature. The paper fits w by minimising MSE; arcal fits w by minimising the
 * validation NLL instead, which is the loss temperature scaling itself uses and makes the fit a convex problem
 * with an exact, deterministic solution (below). IRM is then fitted on the ETS outputs of the same validation set.
 */
import { ArcalError } from '@arcal/contracts';
import { goldenSectionMin } from './golden-section.ts';
import { applyIrm, fitIrm, type IsotonicMap } from './isotonic.ts';
import { checkLabels, checkRows, softmaxRows } from './softmax.ts';
import { fitTemperature } from './temperature.ts';

export type EtsWeights = [number, number, number];

/**
 * Weights w minimising F(w) = −(1/n) Σ_i ln(a_i · w) over the 2-simplex, a_i = (softmax(z_i/T)_{y_i},
 * softmax(z_i)_{y_i}, 1/K). F is convex, so its minimum is either an interior stationary point (found by damped
 * Newton on the plane Σw = 1) or lies on an edge of the simplex (a 1-D convex problem, solved by golden-section
 * search); all candidates are compared and the best returned. With T = 1 the first two components coincide and
 * the split between them is not identifiable; the edge search then returns one valid optimum.
 */
export function fitEtsWeights(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  T: number,
): EtsWeights {
  const n = checkRows(logits, classes, 'logits');
  checkLabels(labels, n, classes);
  if (n === 0) throw new ArcalError('INVALID_INPUT', 'fitEtsWeights needs at least one example');
  const pT = softmaxRows(logits, classes, T);
  const p1 = softmaxRows(logits, classes, 1);
  const a1 = new Float64Array(n);
  const a2 = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a1[i] = pT[i * classes + labels[i]];
    a2[i] = p1[i * classes + labels[i]];
  }
  const a3 = 1 / classes;
  const F = (w: EtsWeights): number => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const v = w[0] * a1[i] + w[1] * a2[i] + w[2] * a3;
      if (!(v > 0)) return Infinity;
      s -= Math.log(v);
    }
    return s / n;
  };
  const candidates: EtsWeights[] = [];
  const interior = newtonOnPlane(a1, a2, a3, F);
  if (interior) candidates.push(interior);
  const vertices: EtsWeights[] = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (const [ia, ib] of [
    [0, 1],
    [0, 2],
    [1, 2],
  ]) {
    const va = vertices[ia];
    const vb = vertices[ib];
    const at = (t: number): EtsWeights => [
      va[0] * (1 - t) + vb[0] * t,
      va[1] * (1 - t) + vb[1] * t,
      va[2] * (1 - t) + vb[2] * t,
    ];
    candidates.push(at(goldenSection01((t) => F(at(t)))));
  }
  let best = candidates[0];
  let fBest = F(best);
  for (const c of candidates.slice(1)) {
    const fc = F(c);
    if (fc < fBest) {
      best = c;
      fBest = fc;
    }
  }
  return best;
}

/** Damped Newton for F on w = (u, v, 1 − u − v) from the centroid; returns the point only if it is a stationary point inside the simplex. */
function newtonOnPlane(
  a1: Float64Array,
  a2: Float64Array,
  a3: number,
  F: (w: EtsWeights) => number,
): EtsWeights | null {
  const n = a1.length;
  let u = 1 / 3;
  let v = 1 / 3;
  let fCur = F([u, v, 1 - u - v]);
  for (let iter = 0; iter < 100; iter++) {
    let gu = 0;
    let gv = 0;
    let huu = 0;
    let huv = 0;
    let hvv = 0;
    for (let i = 0; i < n; i++) {
      const du = a1[i] - a3;
      const dv = a2[i] - a3;
      const s = a3 + u * du + v * dv;
      gu -= du / s;
      gv -= dv / s;
      huu += (du * du) / (s * s);
      huv += (du * dv) / (s * s);
      hvv += (dv * dv) / (s * s);
    }
    gu /= n;
    gv /= n;
    huu /= n;
    huv /= n;
    hvv /= n;
    const det = huu * hvv - huv * huv;
    if (!(det > 1e-14 * Math.max(1e-300, huu * hvv))) return null; // (near-)singular: components not identifiable
    const su = -(hvv * gu - huv * gv) / det;
    const sv = -(huu * gv - huv * gu) / det;
    let step = 1;
    let accepted = false;
    for (let h = 0; h < 60; h++) {
      const fn = F([u + step * su, v + step * sv, 1 - u - v - step * (su + sv)]);
      if (fn <= fCur + 1e-4 * step * (gu * su + gv * sv)) {
        u += step * su;
        v += step * sv;
        fCur = fn;
        accepted = true;
        break;
      }
      step /= 2;
    }
    if (!accepted) break;
    if (Math.abs(step * su) + Math.abs(step * sv) < 1e-13) break;
  }
  const w: EtsWeights = [u, v, 1 - u - v];
  return w.every((x) => x > 0 && x < 1) ? w : null;
}

/** Minimiser over [0, 1] of a unimodal function. */
const goldenSection01 = (f: (t: number) => number): number => goldenSectionMin(f, 0, 1, 1e-10);

/** ETS probabilities w₁·softmax(z/T) + w₂·softmax(z) + w₃/K, row-major [n, classes]. */
export function applyEts(logits: ArrayLike<number>, classes: number, T: number, weights: EtsWeights): Float64Array {
  const pT = softmaxRows(logits, classes, T);
  const p1 = softmaxRows(logits, classes, 1);
  const out = new Float64Array(pT.length);
  for (let j = 0; j < out.length; j++) out[j] = weights[0] * pT[j] + weights[1] * p1[j] + weights[2] / classes;
  return out;
}

/** The serialised form of a Mix-n-Match calibrator (plain JSON). */
export interface MixNMatchJSON {
  kind: 'mix-n-match';
  classes: number;
  T: number;
  weights: EtsWeights;
  /** IRM map fitted on ETS outputs, or null when the calibrator is ETS only. */
  isotonic: IsotonicMap | null;
}

/** A fitted Mix-n-Match calibrator: `apply(logits)` = IRM(ETS(logits)) (or ETS alone when `isotonic` is null). */
export class MixNMatchCalibrator {
  readonly kind = 'mix-n-match' as const;
  constructor(
    readonly classes: number,
    readonly T: number,
    readonly weights: EtsWeights,
    readonly isotonic: IsotonicMap | null,
  ) {}

  /** Calibrated probabilities, row-major [n, classes]. */
  apply(logits: ArrayLike<number>): Float32Array {
    checkRows(logits, this.classes, 'logits');
    const ets = applyEts(logits, this.classes, this.T, this.weights);
    return this.isotonic ? applyIrm(this.isotonic, ets, this.classes) : Float32Array.from(ets);
  }

  toJSON(): MixNMatchJSON {
    return {
      kind: this.kind,
      classes: this.classes,
      T: this.T,
      weights: [...this.weights] as EtsWeights,
      isotonic: this.isotonic && { x: [...this.isotonic.x], y: [...this.isotonic.y] },
    };
  }

  static fromJSON(json: MixNMatchJSON): MixNMatchCalibrator {
    const ok =
      json?.kind === 'mix-n-match' &&
      Number.isInteger(json.classes) &&
      json.classes >= 2 &&
      json.T > 0 &&
      Array.isArray(json.weights) &&
      json.weights.length === 3 &&
      json.weights.every((w) => w >= 0) &&
      (json.isotonic === null ||
        (Array.isArray(json.isotonic.x) &&
          Array.isArray(json.isotonic.y) &&
          json.isotonic.x.length === json.isotonic.y.length &&
          json.isotonic.x.length > 0));
    if (!ok) throw new ArcalError('INVALID_INPUT', 'not a serialised mix-n-match calibrator');
    return new MixNMatchCalibrator(
      json.classes,
      json.T,
      [...json.weights] as EtsWeights,
      json.isotonic && { x: [...json.isotonic.x], y: [...json.isotonic.y] },
    );
  }
}

export interface MixNMatchOptions {
  /** Compose ETS with IRM (default true). */
  isotonic?: boolean;
  /** Use this temperature instead of fitting one by temperature scaling. */
  T?: number;
}

/**
 * Fits Mix-n-Match on validation logits/labels: T by temperature scaling (`fitTemperature`), w by `fitEtsWeights`,
 * then the IRM map on the pooled (ETS probability, indicator) pairs of the same data.
 */
export function fitMixNMatch(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  options: MixNMatchOptions = {},
): MixNMatchCalibrator {
  const n = checkRows(logits, classes, 'logits');
  checkLabels(labels, n, classes);
  const T = options.T ?? fitTemperature(logits, labels, classes);
  const weights = fitEtsWeights(logits, labels, classes, T);
  const iso = options.isotonic === false ? null : fitIrm(applyEts(logits, classes, T, weights), labels, classes);
  return new MixNMatchCalibrator(classes, T, weights, iso);
}
