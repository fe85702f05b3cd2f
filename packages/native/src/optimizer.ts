/**
 * The optimizer update of packages/core's `Optimizer` (SGD, SGD with heavy-ball momentum, Adam; L2 weight decay
 * folded into the gradient) as one kernel for all parameters of a step, instead of five to fifteen small tf ops
 * per parameter (each a separate dispatch, and in JavaScript below the elementwise size threshold).
 *
 * Arithmetic is float32 in the order of the tf-op formulation, every scalar rounded to float32 as a tf scalar
 * would be, so the result equals tfjs's cpu backend running those ops bit for bit:
 *
 *   g' = wd > 0 ? g + p·wd : g
 *   sgd:       p' = p − g'·lr
 *   momentum:  v' = v·μ + g';  p' = p − v'·lr
 *   adam:      m' = m·β1 + g'·(1−β1);  s' = s·β2 + (g'·g')·(1−β2);  p' = p − ((m'/c1) / (√(s'/c2) + ε))·lr
 *
 * with c1 = 1 − β1^t, c2 = 1 − β2^t computed in double by the caller. The kernel is registered on the `native`
 * backend only; the JavaScript fallback (same formulas, Math.fround after every operation) runs for storage
 * the addon does not take (non-float32).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NativeAddon } from './addon.ts';
import { jsArrays, type KernelArrays, type NativeBackend, nativeArrays } from './backend.ts';
import { fusedKernelActive, withFallback } from './kernels.ts';

export const OPTIMIZER_UPDATE = 'ArcalOptimizerUpdate';

export type UpdateKind = 'sgd' | 'momentum' | 'adam';
const KIND_CODE: Record<UpdateKind, number> = { sgd: 0, momentum: 1, adam: 2 };
/** State tensors per parameter for each kind. */
const STATES: Record<UpdateKind, number> = { sgd: 0, momentum: 1, adam: 2 };

/** Scalars of an update; `a`..`d` are μ (momentum) or β1, 1−β1, β2, 1−β2 (adam); c1, c2 Adam's bias corrections. */
export interface UpdateScalars {
  lr: number;
  weightDecay: number;
  a?: number;
  b?: number;
  c?: number;
  d?: number;
  c1?: number;
  c2?: number;
  epsilon?: number;
}

/** The scalars as float32, in the addon's order [lr, wd, a, b, c, d, c1, c2, eps]. */
function packScalars(s: UpdateScalars): Float32Array {
  return Float32Array.from([
    s.lr,
    s.weightDecay,
    s.a ?? 0,
    s.b ?? 0,
    s.c ?? 0,
    s.d ?? 0,
    s.c1 ?? 1,
    s.c2 ?? 1,
    s.epsilon ?? 0,
  ]);
}

/** The update in JavaScript: the addon's loop with Math.fround after each float32 operation. */
export function optimizerUpdateJs(
  kind: number,
  p: Float32Array,
  g: Float32Array,
  s1: Float32Array | null,
  s2: Float32Array | null,
  po: Float32Array,
  s1o: Float32Array | null,
  s2o: Float32Array | null,
  k: Float32Array,
): void {
  const f = Math.fround;
  const [lr, wd, a, b, c, d, c1, c2, eps] = k;
  const decay = wd > 0;
  for (let i = 0; i < p.length; i++) {
    const gi = decay ? f(g[i] + f(p[i] * wd)) : g[i];
    if (kind === 2) {
      const m = f(f(s1![i] * a) + f(gi * b));
      const v = f(f(s2![i] * c) + f(f(gi * gi) * d));
      s1o![i] = m;
      s2o![i] = v;
      const upd = f(f(m / c1) / f(f(Math.sqrt(f(v / c2))) + eps));
      po[i] = p[i] - f(upd * lr);
    } else if (kind === 1) {
      const v = f(f(s1![i] * a) + gi);
      s1o![i] = v;
      po[i] = p[i] - f(v * lr);
    } else po[i] = p[i] - f(gi * lr);
  }
}

type Inputs = Record<string, tf.TensorInfo>;
/** The kernel's arrays (backend.ts) and its arithmetic: native or the JS fallback's. */
type Io = KernelArrays & { run: typeof optimizerUpdateJs };

/** Inputs p0, g0, s0_0, s1_0, p1, …; outputs per parameter p' then its new state tensors. */
function update(io: Io, inputs: Inputs, attrs: tf.NamedAttrMap): tf.TensorInfo[] | undefined {
  const kind = attrs.kind as UpdateKind;
  const n = attrs.count as number;
  const ns = STATES[kind];
  const k = Float32Array.from(attrs.scalars as number[]);
  // Read every input first, so a decline leaves nothing allocated.
  const vals: Float32Array[][] = [];
  for (let i = 0; i < n; i++) {
    const ts = [inputs[`p${i}`], inputs[`g${i}`], ...Array.from({ length: ns }, (_, j) => inputs[`s${j}_${i}`])];
    const vs: Float32Array[] = [];
    for (const t of ts) {
      const v = t && io.values(t);
      if (!v || v.length !== ts[0].shape.reduce((x, y) => x * y, 1)) return undefined;
      vs.push(v);
    }
    vals.push(vs);
  }
  const outs: tf.TensorInfo[] = [];
  for (let i = 0; i < n; i++) {
    const [p, g, s1 = null, s2 = null] = vals[i];
    const shape = inputs[`p${i}`].shape;
    const po = io.alloc(p.length);
    const s1o = s1 ? io.alloc(p.length) : null;
    const s2o = s2 ? io.alloc(p.length) : null;
    io.run(KIND_CODE[kind], p, g, s1, s2, po, s1o, s2o, k);
    outs.push(io.output(shape, po));
    if (s1o) outs.push(io.output(shape, s1o));
    if (s2o) outs.push(io.output(shape, s2o));
  }
  return outs;
}

/** Registers the update kernel on `backendName` (once per process). */
export function registerOptimizerUpdate(addon: NativeAddon, backendName: string): void {
  if (tf.getKernel(OPTIMIZER_UPDATE, backendName)) return;
  tf.registerKernel({
    kernelName: OPTIMIZER_UPDATE,
    backendName,
    kernelFunc: withFallback(
      OPTIMIZER_UPDATE,
      (b, inputs, attrs) => update({ run: addon.optimizerUpdate, ...nativeArrays(b) }, inputs, attrs),
      ({ inputs, backend, attrs }) => {
        const b = backend as NativeBackend;
        const out = update({ run: optimizerUpdateJs, ...jsArrays(b) }, inputs as Inputs, attrs ?? {});
        if (!out) throw new Error(`${OPTIMIZER_UPDATE}: every gradient and state must have its parameter's shape`);
        return out;
      },
    ),
  });
}

/** Whether the fused update can run now: the `native` backend is current, the kernel registered, and ARCAL_NATIVE_FUSED ≠ 0. */
export const fusedOptimizerActive = (): boolean => fusedKernelActive(OPTIMIZER_UPDATE);

/**
 * One update of every parameter in one kernel call: returns the new parameters and the new state tensors
 * (`states[j][i]` is state j of parameter i: the velocity for momentum, first then second moment for Adam), as
 * fresh tensors the caller assigns to its variables. Requires `fusedOptimizerActive()`.
 */
export function optimizerUpdate(
  kind: UpdateKind,
  params: tf.Tensor[],
  grads: tf.Tensor[],
  states: tf.Tensor[][],
  scalars: UpdateScalars,
): { params: tf.Tensor[]; states: tf.Tensor[][] } {
  const ns = STATES[kind];
  const n = params.length;
  const inputs: Record<string, tf.Tensor> = {};
  for (let i = 0; i < n; i++) {
    inputs[`p${i}`] = params[i];
    inputs[`g${i}`] = grads[i];
    for (let j = 0; j < ns; j++) inputs[`s${j}_${i}`] = states[j][i];
  }
  const out = tf.engine().runKernel(OPTIMIZER_UPDATE, inputs, {
    kind,
    count: n,
    scalars: Array.from(packScalars(scalars)),
  }) as unknown as tf.Tensor[];
  const newParams: tf.Tensor[] = [];
  const newStates: tf.Tensor[][] = Array.from({ length: ns }, () => []);
  for (let i = 0; i < n; i++) {
    newParams.push(out[i * (ns + 1)]);
    for (let j = 0; j < ns; j++) newStates[j].push(out[i * (ns + 1) + 1 + j]);
  }
  return { params: newParams, states: newStates };
}
