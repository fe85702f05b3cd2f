/**
 * A seeded synthetic image classification set whose classes overlap, so that a classifier is uncertain on
 * part of it and calibration has something to measure. Any image shape and any class count.
 *
 * The generator, step by step (the model from `Rng(seed)`, the examples from a stream derived from it and `stream`):
 *
 * 1. Smooth basis. L = min(D, clamp(2K, 8, 32)) patterns φ_1..φ_L over the D = h·w·c pixels; each channel of
 *    each pattern is a sum of three plane waves cos(2π(f_x·col/w + f_y·row/h) + θ) with f_x, f_y ~ U(−2, 2) and
 *    θ ~ U(0, 2π), scaled to unit root-mean-square. Images are therefore smooth blobs and stripes, not noise.
 * 2. Class prototypes in the L-dimensional latent space. Each class k has a centre m_k ~ N(0, I_L) and
 *    J = 3 mixture components μ_{k,j} = m_k + 0.6·d_{k,j}, d_{k,j} ~ N(0, I_L): every class is a mixture of
 *    three Gaussian blobs around its prototype.
 * 3. Overlap. δ = the median, over all components, of the distance to the nearest component of another class;
 *    the within-component spread is τ = δ / (2·z(K)), z(K) = min(2.4, 1 + ln(K/2)/ln 5) ({@link syntheticSeparation}).
 *    Two neighbouring blobs then overlap like two Gaussians whose means are 2z standard deviations apart. Measured
 *    on held-out data with clean labels (two seeds each), nearest-class-mean and a softmax regression both land
 *    in 0.6–0.86 for (K, shape) = (2, 8×8×1), (5, 4×4×1), (10, 28×28×1), (30, 28×28×1), (100, 16×16×3);
 *    10 classes at 32×32×3 gives nearest-class-mean ≈ 0.83–0.85, softmax regression ≈ 0.67–0.68.
 * 4. Examples. Clean class y_i: a fresh shuffle of 0,1,…,K−1 for every K examples (balanced to ±1); component
 *    j ~ U{0..J−1}; latent z = μ_{y,j} + τ·ε, ε ~ N(0, I_L); pixel p:
 *        x_p = clip(0.5 + γ·Σ_l z_l φ_l[p] + 0.03·η_p, 0, 1),  η_p ~ U(−√3, √3) (unit variance),
 *    with γ = 0.15 / √(L·(1 + 0.6² + τ²)) so that pixels spread about ±0.15 around 0.5 and are rarely clipped.
 * 5. Label noise. With probability `labelNoise` an example's observed label is replaced by a uniform draw from
 *    0..K−1 (which may equal the clean one), so the expected share of changed labels is labelNoise·(1 − 1/K).
 *    This makes some of the uncertainty aleatoric: no model can be confidently right on those examples.
 */
import { ArcalError } from '@arcal/contracts';
import { Rng } from '../util/rng.ts';
import type { DecodedImages, ImageShape } from './types.ts';

/**
 * Half the distance, in within-blob standard deviations, between a blob and its nearest other-class blob:
 * z(K) = min(2.4, 1 + ln(K/2)/ln 5). More classes put more competing blobs around each one, so z grows with K
 * to keep the accuracy of a linear model in the same band (z(2) = 1, z(10) = 2, z(K ≥ 20) = 2.4).
 */
export const syntheticSeparation = (classes: number): number => Math.min(2.4, 1 + Math.log(classes / 2) / Math.log(5));
const COMPONENTS = 3;
const SPREAD = 0.6;
const PIXEL_STD = 0.15;
const PIXEL_NOISE = 0.03;
const SQRT12 = Math.sqrt(12);

export interface SyntheticOptions {
  classes: number;
  shape: ImageShape;
  /** Share of examples whose label is resampled uniformly, in [0, 1]. */
  labelNoise: number;
  /** Number of examples. */
  n: number;
  /** Seed of the generator model (basis, prototypes, spread) and, with `stream`, of the examples. */
  seed: number;
  /**
   * Which example stream of the model to draw from [0]: files generated with one seed and different streams
   * share the class model but not their examples (arcal uses 0 for the training file, 1 for the test file).
   * For one seed and stream, the first m examples do not depend on n.
   */
  stream?: number;
}

export interface SyntheticImages extends DecodedImages {
  /** The labels before label noise. */
  cleanLabels: Int32Array;
}

/** Generates `n` synthetic images as described in the module documentation. Deterministic for a seed. */
export function syntheticImages(o: SyntheticOptions): SyntheticImages {
  const [h, w, c] = o.shape;
  const K = o.classes;
  if (![h, w, c, K, o.n].every((v) => Number.isInteger(v) && v >= 0) || h < 1 || w < 1 || c < 1 || K < 2) {
    throw new ArcalError(
      'INVALID_INPUT',
      `synthetic data needs positive integer shape and n, and at least 2 classes (got shape ${o.shape.join('×')}, classes ${K}, n ${o.n})`,
    );
  }
  if (!(o.labelNoise >= 0 && o.labelNoise <= 1))
    throw new ArcalError('INVALID_INPUT', `labelNoise must be in [0, 1], got ${o.labelNoise}`);
  const D = h * w * c;
  const L = Math.min(D, Math.max(8, Math.min(32, 2 * K)));
  const rng = new Rng(o.seed);

  // 1. smooth basis, basis[l·D + p]
  const basis = new Float32Array(L * D);
  for (let l = 0; l < L; l++) {
    for (let ch = 0; ch < c; ch++) {
      for (let q = 0; q < 3; q++) {
        const fx = 4 * rng.next() - 2;
        const fy = 4 * rng.next() - 2;
        const th = 2 * Math.PI * rng.next();
        for (let r = 0; r < h; r++) {
          for (let col = 0; col < w; col++) {
            basis[l * D + (r * w + col) * c + ch] += Math.cos(2 * Math.PI * ((fx * col) / w + (fy * r) / h) + th);
          }
        }
      }
    }
    let ss = 0;
    for (let p = 0; p < D; p++) ss += basis[l * D + p] ** 2;
    const scale = 1 / Math.sqrt(Math.max(ss / D, 1e-12));
    for (let p = 0; p < D; p++) basis[l * D + p] *= scale;
  }

  // 2. class prototypes and their mixture components, mu[(k·J + j)·L + l]
  const mu = new Float64Array(K * COMPONENTS * L);
  for (let k = 0; k < K; k++) {
    const centre = Array.from({ length: L }, () => rng.normal());
    for (let j = 0; j < COMPONENTS; j++) {
      for (let l = 0; l < L; l++) mu[(k * COMPONENTS + j) * L + l] = centre[l] + SPREAD * rng.normal();
    }
  }

  // 3. within-blob spread from the median nearest other-class distance
  const nearest: number[] = [];
  for (let a = 0; a < K * COMPONENTS; a++) {
    let best = Infinity;
    for (let b = 0; b < K * COMPONENTS; b++) {
      if (Math.floor(a / COMPONENTS) === Math.floor(b / COMPONENTS)) continue;
      let d2 = 0;
      for (let l = 0; l < L; l++) d2 += (mu[a * L + l] - mu[b * L + l]) ** 2;
      if (d2 < best) best = d2;
    }
    nearest.push(Math.sqrt(best));
  }
  nearest.sort((x, y) => x - y);
  const delta = nearest[Math.floor(nearest.length / 2)];
  const tau = delta / (2 * syntheticSeparation(K));
  const gamma = PIXEL_STD / Math.sqrt(L * (1 + SPREAD * SPREAD + tau * tau));

  // 4. examples, from their own stream so that several files can share one model
  const sample = new Rng((rng.fork() + Math.imul(o.stream ?? 0, 0x9e3779b9)) >>> 0);
  const n = o.n;
  const cleanLabels = new Int32Array(n);
  const pixels = new Float32Array(n * D);
  const labels = new Int32Array(n);
  const z = new Float64Array(L);
  const img = new Float64Array(D);
  let perm: Int32Array = new Int32Array(0);
  for (let i = 0; i < n; i++) {
    if (i % K === 0) perm = sample.permutation(K);
    const y = perm[i % K];
    cleanLabels[i] = y;
    const comp = (y * COMPONENTS + sample.int(COMPONENTS)) * L;
    for (let l = 0; l < L; l++) z[l] = mu[comp + l] + tau * sample.normal();
    img.fill(0);
    for (let l = 0; l < L; l++) {
      const zl = z[l];
      const row = l * D;
      for (let p = 0; p < D; p++) img[p] += zl * basis[row + p];
    }
    const out = i * D;
    for (let p = 0; p < D; p++) {
      const v = 0.5 + gamma * img[p] + PIXEL_NOISE * SQRT12 * (sample.next() - 0.5);
      pixels[out + p] = Math.min(1, Math.max(0, v));
    }
    // 5. label noise (both draws always made, so the images do not depend on labelNoise)
    const u = sample.next();
    const resampled = sample.int(K);
    labels[i] = u < o.labelNoise ? resampled : y;
  }
  return { pixels, labels, cleanLabels, n, shape: [h, w, c] };
}
