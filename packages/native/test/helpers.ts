/** Shared test setup: the addon probe (skip loudly, or fail under REQUIRE_NATIVE=1) and cross-backend runs. */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { probeNative, registerNativeBackend } from '../src/index.ts';

export { tf };

export const probe = probeNative();
export const required = process.env.REQUIRE_NATIVE === '1';
if (!probe.ok) {
  console.warn(`@arcal/native tests skipped: ${probe.reason}${required ? ' (REQUIRE_NATIVE=1: failing)' : ''}`);
} else {
  registerNativeBackend(2);
}
/** True when the native suites must be skipped (never when REQUIRE_NATIVE=1: they then run and fail). */
export const skipNative = !probe.ok && !required;

/** Seeded uniform/normal numbers (mulberry32), so cases are reproducible. */
export class TestRng {
  constructor(private s: number) {}
  next(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)];
  }
  normal(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const u = 1 - this.next(),
        v = this.next();
      out[i] = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
    return out;
  }
  /** Small integers in [0, k): many exact ties for max-pool tie-rule checks. */
  ties(n: number, k: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * k);
    return out;
  }
}

export interface Input {
  shape: number[];
  data: Float32Array;
}
export const input = (shape: number[], data: Float32Array): Input => ({ shape, data });

/** Runs fn on fresh copies of the inputs on one backend and returns every output's values. */
export async function runOn(
  backend: string,
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  inputs: Input[],
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const xs = inputs.map((i) => tf.tensor(i.data.slice(), i.shape));
  const out = tf.tidy(() => fn(...xs));
  const outs = Array.isArray(out) ? out : [out];
  const vals = outs.map((t) => Float32Array.from(t.dataSync()));
  tf.dispose([...outs, ...xs]);
  return vals;
}

/** max|a − b| / max|b| (NaN positions must agree; they are left out of the measure). */
export function relErr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let num = 0,
    den = 0;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) || Number.isNaN(b[i])) {
      if (!(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return Infinity;
      continue;
    }
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return den === 0 ? num : num / den;
}

/** Worst relative error of fn on 'native' against the pure-JS 'cpu' reference, over all outputs. */
export async function nativeVsCpu(
  fn: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  inputs: Input[],
): Promise<number> {
  const nat = await runOn('native', fn, inputs);
  const ref = await runOn('cpu', fn, inputs);
  return Math.max(...nat.map((v, i) => relErr(v, ref[i])));
}
