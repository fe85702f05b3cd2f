/**
 * Models as small closures over tf.Variables: an MLP, the reference CNN, a CIFAR-style ResNet and a
 * Wide-ResNet. Initialisation draws from arcal's seeded Rng in JavaScript, so the same seed gives the same
 * weights on every backend. Inputs are NHWC images in [0, 1]; outputs are logits.
 */
import { batchNormInferAct, batchNormTrainAct, conv2dBiasAct, denseBiasAct, fusedLayersActive } from '@arcal/native';
import { tf } from '../backend/index.ts';
import { Rng } from '../util/rng.ts';

export type Arch = 'mlp' | 'cnn' | 'resnet' | 'wrn';

export interface ModelConfig {
  arch: Arch;
  inputShape: [number, number, number];
  classes: number;
  /** resnet: 6n+2 (default 8); wrn: 6n+4 (default 16). */
  depth?: number;
  /** resnet: filters of the first stage (default 16); wrn: widening factor k (default 4). */
  width?: number;
  /** mlp hidden sizes (default [256, 128]). */
  hidden?: number[];
}

export interface Model {
  readonly config: Required<ModelConfig>;
  /** Trainable parameters, in a fixed order (the order of checkpoints). */
  readonly trainable: tf.Variable[];
  /** Non-trainable state (batch-norm moving statistics), in a fixed order. */
  readonly state: tf.Variable[];
  /**
   * Logits for a batch. With `training`, batch-norm uses batch statistics and pushes the moving-average
   * updates it wants onto `updates` (applied by the caller after the gradient step).
   */
  apply(x: tf.Tensor, training?: boolean, updates?: Array<[tf.Variable, tf.Tensor]>): tf.Tensor2D;
  dispose(): void;
}

const BN_MOMENTUM = 0.9;
const BN_EPS = 1e-5;

class Builder {
  readonly trainable: tf.Variable[] = [];
  readonly state: tf.Variable[] = [];
  /** Called by the model's dispose(): layers' caches of derived tensors. */
  readonly disposers: Array<() => void> = [];
  constructor(private readonly rng: Rng) {}

  /** He-normal (fan-in) weights, the usual choice before ReLU. */
  he(shape: number[], fanIn: number): tf.Variable {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < n; i++) v[i] = this.rng.normal() * std;
    return this.param(tf.tensor(v, shape));
  }
  /** Glorot-uniform weights for the output layer. */
  glorot(shape: [number, number]): tf.Variable {
    const lim = Math.sqrt(6 / (shape[0] + shape[1]));
    const v = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < v.length; i++) v[i] = (this.rng.next() * 2 - 1) * lim;
    return this.param(tf.tensor(v, shape));
  }
  constant(shape: number[], value: number, trainable = true): tf.Variable {
    const t = tf.fill(shape, value);
    return trainable ? this.param(t) : this.stateVar(t);
  }
  private param(t: tf.Tensor): tf.Variable {
    const v = tf.variable(t, true);
    t.dispose();
    this.trainable.push(v);
    return v;
  }
  private stateVar(t: tf.Tensor): tf.Variable {
    const v = tf.variable(t, false);
    t.dispose();
    this.state.push(v);
    return v;
  }
}

type Layer = (x: tf.Tensor, training: boolean, updates?: Array<[tf.Variable, tf.Tensor]>) => tf.Tensor;

function dense(b: Builder, inDim: number, outDim: number, relu: boolean, last = false): Layer {
  const w = last ? b.glorot([inDim, outDim]) : b.he([inDim, outDim], inDim);
  const bias = b.constant([outDim], 0);
  return (x) =>
    fusedLayersActive()
      ? denseBiasAct(x as tf.Tensor2D, w as tf.Tensor2D, bias as tf.Tensor1D, relu)
      : tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias, activation: relu ? 'relu' : 'linear' });
}

function conv(
  b: Builder,
  k: number,
  cin: number,
  cout: number,
  stride: number,
  relu: boolean,
  bias = true,
): Layer & { w: tf.Variable; stride: number } {
  const w = b.he([k, k, cin, cout], k * k * cin);
  const bv = bias ? b.constant([cout], 0) : undefined;
  const layer: Layer = (x) =>
    fusedLayersActive()
      ? conv2dBiasAct(x as tf.Tensor4D, w as tf.Tensor4D, bv as tf.Tensor1D | undefined, stride, 'same', relu)
      : tf.fused.conv2d({
          x: x as tf.Tensor4D,
          filter: w as tf.Tensor4D,
          strides: stride,
          pad: 'same',
          bias: bv,
          activation: relu ? 'relu' : 'linear',
        });
  return Object.assign(layer, { w, stride });
}

/**
 * Batch normalisation over N, H, W with learned scale/offset and moving statistics, then ReLU (every batch
 * norm in the residual nets is followed by one). On the `native` backend one kernel with its own backward
 * (@arcal/native's batchNorm*Act); elsewhere tf.moments, tf.batchNorm and tf.relu. Same moving-average update.
 */
function batchNormRelu(b: Builder, c: number): Layer & { vars: BnVars } {
  const gamma = b.constant([c], 1);
  const beta = b.constant([c], 0);
  const mean = b.constant([c], 0, false);
  const variance = b.constant([c], 1, false);
  const g = gamma as tf.Tensor1D;
  const o = beta as tf.Tensor1D;
  const pushUpdates = (updates: Array<[tf.Variable, tf.Tensor]>, m: tf.Tensor, v: tf.Tensor) => {
    updates.push([mean, tf.keep(tf.add(tf.mul(mean, BN_MOMENTUM), tf.mul(m, 1 - BN_MOMENTUM)))]);
    updates.push([variance, tf.keep(tf.add(tf.mul(variance, BN_MOMENTUM), tf.mul(v, 1 - BN_MOMENTUM)))]);
  };
  const layer: Layer = (x, training, updates) => {
    if (fusedLayersActive()) {
      if (!training) return batchNormInferAct(x, mean as tf.Tensor1D, variance as tf.Tensor1D, g, o, BN_EPS, true);
      // the moving averages come out of the same kernel (no tfjs ops per statistic)
      const moving = { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, momentum: BN_MOMENTUM };
      const r = batchNormTrainAct(x, g, o, BN_EPS, true, updates ? moving : undefined);
      if (updates && r.moving) updates.push([mean, tf.keep(r.moving.mean)], [variance, tf.keep(r.moving.variance)]);
      return r.y;
    }
    if (!training) return tf.relu(tf.batchNorm(x as tf.Tensor4D, mean, variance, beta, gamma, BN_EPS));
    const m = tf.moments(x, [0, 1, 2]);
    if (updates) pushUpdates(updates, m.mean, m.variance);
    return tf.relu(tf.batchNorm(x as tf.Tensor4D, m.mean, m.variance, beta, gamma, BN_EPS));
  };
  return Object.assign(layer, { vars: { gamma, beta, mean, variance } });
}

interface BnVars {
  gamma: tf.Variable;
  beta: tf.Variable;
  mean: tf.Variable;
  variance: tf.Variable;
}

/** Whether a gradient tape is recording (tfjs-core keeps its depth in the engine state). */
const taping = () => ((tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth ?? 0) > 0;

/**
 * conv then BN-ReLU. In inference mode on `native` the batch norm is the fixed affine map
 * x ↦ x·s + (β − μ·s) with s = γ/√(σ² + ε), folded into the convolution (filter ·s per output channel, that
 * shift as its bias, relu fused): one layer kernel instead of a conv and a full-size batch-norm pass, and in the
 * backward one relu-mask pass before the conv's input gradient. Under a gradient tape the folding ops are
 * recorded, so gradients with respect to the filter and the batch-norm variables flow through them when asked
 * for; without a tape (plain inference) the folded filter and shift are kept and reused until one of the five
 * variables is assigned (a new dataId), so a forward pass pays no folding ops.
 */
function convBnRelu(b: Builder, c: Layer & { w: tf.Variable; stride: number }, bn: Layer & { vars: BnVars }): Layer {
  const { gamma, beta, mean, variance } = bn.vars;
  const fold = () => {
    const s = tf.mul(gamma, tf.rsqrt(tf.add(variance, BN_EPS)));
    return { w: tf.mul(c.w, s) as tf.Tensor4D, shift: tf.sub(beta, tf.mul(mean, s)) as tf.Tensor1D };
  };
  let cached: { ids: object[]; w: tf.Tensor4D; shift: tf.Tensor1D } | undefined;
  const drop = () => {
    if (cached) tf.dispose([cached.w, cached.shift]);
    cached = undefined;
  };
  b.disposers.push(drop);
  return (x, training, updates) => {
    if (training || !fusedLayersActive()) return bn(c(x, training, updates), training, updates);
    if (taping()) {
      const f = fold();
      return conv2dBiasAct(x as tf.Tensor4D, f.w, f.shift, c.stride, 'same', true);
    }
    const ids = [c.w, gamma, beta, mean, variance].map((v) => v.dataId);
    if (!cached || cached.ids.some((id, i) => id !== ids[i])) {
      drop();
      const f = tf.tidy(fold);
      cached = { ids, w: tf.keep(f.w), shift: tf.keep(f.shift) };
    }
    return conv2dBiasAct(x as tf.Tensor4D, cached.w, cached.shift, c.stride, 'same', true);
  };
}

/**
 * Global average pool [N, H, W, C] → [N, C]. On `native` an AvgPool over the whole map, whose gradient is one
 * native pass; tf.mean's gradient builds a full-size tensor of ones in JavaScript and two full-size passes.
 */
const globalAvgPool = (h: tf.Tensor): tf.Tensor2D =>
  fusedLayersActive()
    ? tf.reshape(tf.avgPool(h as tf.Tensor4D, [h.shape[1]!, h.shape[2]!], 1, 'valid'), [h.shape[0], h.shape[3]!])
    : tf.mean(h, [1, 2]);

const flatten = (x: tf.Tensor): tf.Tensor2D => tf.reshape(x, [x.shape[0], -1]);
const maxPool2: Layer = (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid');

function buildMlp(b: Builder, c: Required<ModelConfig>): Layer {
  const inDim = c.inputShape[0] * c.inputShape[1] * c.inputShape[2];
  const layers: Layer[] = [];
  let d = inDim;
  for (const h of c.hidden) {
    layers.push(dense(b, d, h, true));
    d = h;
  }
  layers.push(dense(b, d, c.classes, false, true));
  return (x, t, u) => layers.reduce((h, l) => l(h, t, u), flatten(x) as tf.Tensor);
}

/** The reference CNN: conv32 3×3 relu, maxpool2, conv64 3×3 relu, maxpool2, dense128 relu, dense Z. */
function buildCnn(b: Builder, c: Required<ModelConfig>): Layer {
  const [h, w, ch] = c.inputShape;
  const c1 = conv(b, 3, ch, 32, 1, true);
  const c2 = conv(b, 3, 32, 64, 1, true);
  const flat = Math.floor(Math.floor(h / 2) / 2) * Math.floor(Math.floor(w / 2) / 2) * 64;
  const d1 = dense(b, flat, 128, true);
  const d2 = dense(b, 128, c.classes, false, true);
  return (x, t, u) => d2(d1(flatten(maxPool2(c2(maxPool2(c1(x, t, u), t, u), t, u), t, u)), t, u), t, u);
}

/**
 * Pre-activation residual network (He et al. 2016) in the CIFAR layout: a 3×3 stem, three stages of n blocks
 * with `widths` filters (stride 2 at stages 2 and 3), BN-ReLU, global average pool, dense.
 * ResNet: depth 6n+2, blocks of two 3×3 convs, widths w, 2w, 4w. WRN-d-k (Zagoruyko & Komodakis 2016):
 * depth 6n+4, widths 16k, 32k, 64k.
 */
function buildResidual(b: Builder, c: Required<ModelConfig>, n: number, stem: number, widths: number[]): Layer {
  const [, , ch] = c.inputShape;
  const stemConv = conv(b, 3, ch, stem, 1, false, false);
  const blocks: Layer[] = [];
  let cin = stem;
  widths.forEach((cout, stage) => {
    for (let i = 0; i < n; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const bn1 = batchNormRelu(b, cin);
      const conv1 = conv(b, 3, cin, cout, stride, false, false);
      const bn2 = batchNormRelu(b, cout);
      const conv2 = conv(b, 3, cout, cout, 1, false, false);
      const shortcut = cin !== cout || stride !== 1 ? conv(b, 1, cin, cout, stride, false, false) : undefined;
      const conv1Bn2 = convBnRelu(b, conv1, bn2);
      blocks.push((x, t, u) => {
        const a = bn1(x, t, u);
        const y = conv2(conv1Bn2(a, t, u), t, u);
        return tf.add(y, shortcut ? shortcut(a, t, u) : x);
      });
      cin = cout;
    }
  });
  const bnOut = batchNormRelu(b, cin);
  const head = dense(b, cin, c.classes, false, true);
  return (x, t, u) => {
    let h = stemConv(x, t, u);
    for (const blk of blocks) h = blk(h, t, u);
    h = bnOut(h, t, u);
    return head(globalAvgPool(h), t, u);
  };
}

export function resolveModelConfig(c: ModelConfig): Required<ModelConfig> {
  const depth = c.depth ?? (c.arch === 'wrn' ? 16 : 8);
  const width = c.width ?? (c.arch === 'wrn' ? 4 : 16);
  if (c.arch === 'wrn' && ((depth - 4) % 6 !== 0 || depth < 10))
    throw new RangeError(`wrn depth must be 6n+4 >= 10, got ${depth}`);
  if (c.arch === 'resnet' && ((depth - 2) % 6 !== 0 || depth < 8))
    throw new RangeError(`resnet depth must be 6n+2 >= 8, got ${depth}`);
  return { arch: c.arch, inputShape: c.inputShape, classes: c.classes, depth, width, hidden: c.hidden ?? [256, 128] };
}

/** Builds a freshly initialised model; the same config and seed give the same weights. */
export function createModel(config: ModelConfig, seed: number): Model {
  const c = resolveModelConfig(config);
  const b = new Builder(new Rng(seed));
  let f: Layer;
  switch (c.arch) {
    case 'mlp':
      f = buildMlp(b, c);
      break;
    case 'cnn':
      f = buildCnn(b, c);
      break;
    case 'resnet': {
      const n = (c.depth - 2) / 6;
      f = buildResidual(b, c, n, c.width, [c.width, 2 * c.width, 4 * c.width]);
      break;
    }
    case 'wrn': {
      const n = (c.depth - 4) / 6;
      f = buildResidual(b, c, n, 16, [16 * c.width, 32 * c.width, 64 * c.width]);
      break;
    }
  }
  return {
    config: c,
    trainable: b.trainable,
    state: b.state,
    apply: (x, training = false, updates) => f(x, training, updates) as tf.Tensor2D,
    dispose() {
      for (const v of [...b.trainable, ...b.state]) v.dispose();
      for (const d of b.disposers) d();
    },
  };
}

/** Number of trainable scalars. */
export const parameterCount = (m: Model): number => m.trainable.reduce((s, v) => s + v.size, 0);

/** All weights (trainable then state) as plain arrays, in checkpoint order. */
export function getWeights(m: Model): Float32Array[] {
  return [...m.trainable, ...m.state].map((v) => v.dataSync() as Float32Array).map((a) => new Float32Array(a));
}

export function setWeights(m: Model, weights: Float32Array[]): void {
  const vars = [...m.trainable, ...m.state];
  if (weights.length !== vars.length)
    throw new RangeError(`expected ${vars.length} weight arrays, got ${weights.length}`);
  vars.forEach((v, i) => {
    if (weights[i].length !== v.size)
      throw new RangeError(`weight ${i}: expected ${v.size} values, got ${weights[i].length}`);
    const t = tf.tensor(weights[i], v.shape);
    v.assign(t);
    t.dispose();
  });
}

/** Class probabilities for a whole array of images, in batches, as a flat N·Z array. */
export function predictProbabilities(
  m: Model,
  x: Float32Array,
  n: number,
  opts: { batchSize?: number; temperature?: number } = {},
): Float32Array {
  const [h, w, c] = m.config.inputShape;
  const per = h * w * c;
  const Z = m.config.classes;
  const bs = opts.batchSize ?? 512;
  const out = new Float32Array(n * Z);
  for (let s = 0; s < n; s += bs) {
    const e = Math.min(n, s + bs);
    const p = tf.tidy(() => {
      const xb = tf.tensor4d(x.subarray(s * per, e * per), [e - s, h, w, c]);
      const z = m.apply(xb, false);
      return tf.softmax(opts.temperature && opts.temperature !== 1 ? tf.div(z, opts.temperature) : z);
    });
    out.set(p.dataSync() as Float32Array, s * Z);
    p.dispose();
  }
  return out;
}

/** Logits for a whole array of images, as a flat N·Z array. */
export function predictLogits(m: Model, x: Float32Array, n: number, batchSize = 512): Float32Array {
  const [h, w, c] = m.config.inputShape;
  const per = h * w * c;
  const Z = m.config.classes;
  const out = new Float32Array(n * Z);
  for (let s = 0; s < n; s += batchSize) {
    const e = Math.min(n, s + batchSize);
    const z = tf.tidy(() => m.apply(tf.tensor4d(x.subarray(s * per, e * per), [e - s, h, w, c]), false));
    out.set(z.dataSync() as Float32Array, s * Z);
    z.dispose();
  }
  return out;
}
