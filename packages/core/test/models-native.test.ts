import { nativeKernelStats } from '@arcal/native';
import { describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { createModel, type ModelConfig } from '../src/models/index.ts';
import { Optimizer } from '../src/training/optimizer.ts';
import { trainStep } from '../src/training/trainer.ts';
import { Rng } from '../src/util/rng.ts';
import { rel, skipWithoutNative } from './native-compare.ts';

/**
 * The models on the `native` backend (fused conv/dense + bias + relu and batch norm + relu layers with their own
 * backward) against the pure-JS `cpu` backend (tfjs's fused ops and autodiff): same logits, same input gradients
 * in training and inference mode (the latter is what attacks use), same parameter gradients, the same loss curve
 * under Adam and the same batch-norm moving statistics after it.
 */
const skip = await skipWithoutNative('native model tests');

const CNN: ModelConfig = { arch: 'cnn', inputShape: [12, 12, 1], classes: 5 };
const MLP: ModelConfig = { arch: 'mlp', inputShape: [6, 6, 1], classes: 4, hidden: [16, 8] };
const RESNET: ModelConfig = { arch: 'resnet', inputShape: [8, 8, 3], classes: 5, depth: 8, width: 4 };
const WRN: ModelConfig = { arch: 'wrn', inputShape: [8, 8, 3], classes: 5, depth: 10, width: 1 };

function batch(config: ModelConfig, n: number, seed: number) {
  const rng = new Rng(seed);
  const [h, w, c] = config.inputShape;
  const x = Float32Array.from({ length: n * h * w * c }, () => rng.next());
  const labels = Int32Array.from({ length: n }, () => Math.floor(rng.next() * config.classes));
  return { x, labels, shape: [n, h, w, c] as [number, number, number, number] };
}

/** Lets the event loop run between the synchronous pieces of work (the cpu reference takes seconds each). */
const tick = () => new Promise<void>((r) => setImmediate(r));

async function steps(n: number, step: () => number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    out.push(step());
    await tick();
  }
  return out;
}

async function on(backend: string, config: ModelConfig) {
  await tf.setBackend(backend);
  const model = createModel(config, 3);
  const { x, labels, shape } = batch(config, 4, 11);
  const xt = tf.tensor4d(x, shape);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), config.classes).toFloat() as tf.Tensor2D;
  const logits = tf.tidy(() => Float32Array.from(model.apply(xt).dataSync()));
  const loss = (xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(xx as tf.Tensor4D, true)) as tf.Scalar;
  await tick();
  const dx = tf.tidy(() => Float32Array.from(tf.grad(loss)(xt).dataSync()));
  await tick();
  // the input gradient through the inference-mode model (moving statistics), as attacks take it
  const evalLoss = (xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(xx as tf.Tensor4D)) as tf.Scalar;
  const dxEval = tf.tidy(() => Float32Array.from(tf.grad(evalLoss)(xt).dataSync()));
  await tick();
  const dw = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => loss(xt), model.trainable);
    return model.trainable.map((v) => Float32Array.from(grads[v.name].dataSync()));
  });
  const opt = new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, model.trainable);
  const lt = tf.tensor1d(labels, 'int32');
  await tick();
  const losses = await steps(4, () => trainStep(model, opt, xt, y, lt, 0.001).loss);
  // batch-norm moving statistics after the steps, and the inference-mode logits that use them
  const state = model.state.map((v) => Float32Array.from(v.dataSync()));
  const logitsAfter = tf.tidy(() => Float32Array.from(model.apply(xt).dataSync()));
  tf.dispose([xt, y, lt]);
  tf.dispose(opt.slots);
  model.dispose();
  return { logits, dx, dxEval, dw, losses, state, logitsAfter };
}

describe.skipIf(skip)('models on native match the cpu reference', () => {
  for (const [name, config] of [
    ['reference CNN', CNN],
    ['MLP', MLP],
    ['ResNet-8', RESNET],
    ['WRN-10-1', WRN],
  ] as const) {
    it(`${name}: logits, input and parameter gradients, and an Adam loss curve`, async () => {
      await ready({ backend: 'native' });
      nativeKernelStats(true);
      const nat = await on('native', config);
      const stats = nativeKernelStats(true);
      expect(stats.ArcalMatMulBiasAct?.native ?? 0, 'fused dense ran natively').toBeGreaterThan(0);
      expect(stats.ArcalBiasActGrad?.native ?? 0, 'fused backward ran natively').toBeGreaterThan(0);
      if (config.arch === 'cnn') expect(stats.ArcalConv2DBiasAct?.native ?? 0).toBeGreaterThan(0);
      // the Adam steps ran as one fused update each
      expect(stats.ArcalOptimizerUpdate, 'fused optimizer update ran natively').toEqual({ native: 4, fallback: 0 });
      // and their loss as one native kernel forward and one backward
      expect(stats.ArcalSoftmaxXent, 'training loss ran natively').toEqual({ native: 4, fallback: 0 });
      expect(stats.ArcalSoftmaxXentGrad, 'its gradient ran natively').toEqual({ native: 4, fallback: 0 });
      const residual = config.arch === 'resnet' || config.arch === 'wrn';
      if (residual)
        for (const k of ['ArcalBatchNormTrain', 'ArcalBatchNormInfer', 'ArcalBatchNormGrad'])
          expect(stats[k]?.native ?? 0, `${k} ran natively`).toBeGreaterThan(0);
      const ref = await on('cpu', config);
      const tol = 1e-5;
      expect(rel(nat.logits, ref.logits)).toBeLessThan(tol);
      expect(rel(nat.dx, ref.dx)).toBeLessThan(tol);
      expect(rel(nat.dxEval, ref.dxEval)).toBeLessThan(tol);
      for (const [i, g] of nat.dw.entries()) expect(rel(g, ref.dw[i]), `parameter ${i}`).toBeLessThan(tol);
      expect(ref.losses[3]).toBeLessThan(ref.losses[0]); // it trains
      for (const [i, l] of nat.losses.entries()) expect(Math.abs(l - ref.losses[i]) / ref.losses[i]).toBeLessThan(1e-4);
      expect(nat.state.length).toBe(residual ? ref.state.length : 0);
      for (const [i, v] of nat.state.entries()) expect(rel(v, ref.state[i]), `moving statistic ${i}`).toBeLessThan(tol);
      expect(rel(nat.logitsAfter, ref.logitsAfter)).toBeLessThan(1e-4);
    });
  }
});

describe.skipIf(skip)('the fused optimizer update on native', () => {
  /** 6 training steps of the reference CNN on 4 images (the cpu reference is slow): the loss curve and the final parameters. */
  async function curve(backend: string, kind: 'adam' | 'sgd', weightDecay: number) {
    await tf.setBackend(backend);
    const model = createModel(CNN, 5);
    const { x, labels, shape } = batch(CNN, 4, 13);
    const xt = tf.tensor4d(x, shape);
    const lt = tf.tensor1d(labels, 'int32');
    const y = tf.oneHot(lt, CNN.classes).toFloat() as tf.Tensor2D;
    const opt = new Optimizer({ kind, momentum: 0.9, weightDecay }, model.trainable);
    const lr = kind === 'adam' ? 0.002 : 0.02;
    const losses = await steps(6, () => trainStep(model, opt, xt, y, lt, lr).loss);
    const params = model.trainable.map((v) => Float32Array.from(v.dataSync()));
    tf.dispose([xt, lt, y]);
    opt.dispose();
    model.dispose();
    return { losses, params };
  }

  for (const [kind, wd] of [
    ['adam', 5e-4],
    ['sgd', 5e-4],
  ] as const)
    it(`reference CNN, ${kind === 'adam' ? 'Adam' : 'SGD with momentum'} with weight decay: loss curve and parameters equal cpu`, async () => {
      await ready({ backend: 'native' });
      nativeKernelStats(true);
      const nat = await curve('native', kind, wd);
      expect(nativeKernelStats(true).ArcalOptimizerUpdate).toEqual({ native: 6, fallback: 0 });
      const ref = await curve('cpu', kind, wd);
      expect(ref.losses[5]).toBeLessThan(ref.losses[0]); // it trains
      for (const [i, l] of nat.losses.entries()) expect(Math.abs(l - ref.losses[i]) / ref.losses[i]).toBeLessThan(1e-4);
      for (const [i, p] of nat.params.entries()) expect(rel(p, ref.params[i]), `parameter ${i}`).toBeLessThan(1e-4);
    });
});
