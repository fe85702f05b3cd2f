import { nativeKernelStats } from '@arcal/native';
import { describe, expect, it } from 'vitest';
import { ready, tf } from '../src/backend/index.ts';
import { createModel, getWeights, type ModelConfig, setWeights } from '../src/models/index.ts';
import { Rng } from '../src/util/rng.ts';
import { rel, skipWithoutNative } from './native-compare.ts';

/**
 * The residual nets in inference mode on `native` (each block's conv1 + BN-ReLU folded into one conv layer with
 * a per-channel filter scale and bias; global average pool as an AvgPool) against the `cpu` backend's unfused
 * ops and autodiff, with batch-norm statistics, scales and offsets far from their initial values (a trained
 * network's): logits, the input gradient (an attack step) and the parameter gradients through the frozen
 * statistics.
 */
const skip = await skipWithoutNative('native residual-net tests');

async function evalRun(backend: string, config: ModelConfig, weights: Float32Array[] | undefined) {
  await tf.setBackend(backend);
  const model = createModel(config, 7);
  const rng = new Rng(21);
  if (!weights) {
    // trainable weights as initialised, but scales in [0.5, 1.5], offsets in [-0.5, 0.5]; moving means in
    // [-0.5, 0.5] and variances in [0.2, 2.2]: every per-channel vector is a 1-D weight of the residual nets
    const w = getWeights(model);
    const nTrain = model.trainable.length;
    for (const [i, a] of w.entries()) {
      const v = i < nTrain ? model.trainable[i] : model.state[i - nTrain];
      if (v.rank !== 1 || v.shape[0] === config.classes) continue; // the dense bias
      const stateIndex = i - nTrain;
      for (let j = 0; j < a.length; j++)
        a[j] =
          i < nTrain
            ? a[j] + (rng.next() - 0.5) // scale 1 ± 0.5, offset 0 ± 0.5
            : stateIndex % 2 === 0
              ? rng.next() - 0.5
              : 0.2 + 2 * rng.next();
    }
    weights = w;
  }
  setWeights(model, weights);
  const [h, w, c] = config.inputShape;
  const n = 4;
  const xr = new Rng(22);
  const x = tf.tensor4d(
    Float32Array.from({ length: n * h * w * c }, () => xr.next()),
    [n, h, w, c],
  );
  const y = tf.tidy(
    () =>
      tf
        .oneHot(
          tf.tensor1d(
            Int32Array.from({ length: n }, (_, i) => i % config.classes),
            'int32',
          ),
          config.classes,
        )
        .toFloat() as tf.Tensor2D,
  );
  const loss = (xx: tf.Tensor) => tf.losses.softmaxCrossEntropy(y, model.apply(xx as tf.Tensor4D)) as tf.Scalar;
  const logits = tf.tidy(() => Float32Array.from(model.apply(x).dataSync()));
  const dx = tf.tidy(() => Float32Array.from(tf.grad(loss)(x).dataSync()));
  const dw = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => loss(x), model.trainable);
    return model.trainable.map((v) => Float32Array.from(grads[v.name].dataSync()));
  });
  tf.dispose([x, y]);
  model.dispose();
  return { logits, dx, dw, weights };
}

describe.skipIf(skip)('residual nets in inference mode on native match the cpu reference', () => {
  for (const config of [
    { arch: 'resnet', inputShape: [8, 8, 3], classes: 5, depth: 8, width: 4 },
    { arch: 'wrn', inputShape: [8, 8, 3], classes: 5, depth: 10, width: 1 },
  ] as ModelConfig[])
    it(`${config.arch}: logits, input gradient and parameter gradients with trained-like batch-norm statistics`, async () => {
      await ready({ backend: 'native' });
      const before = tf.memory().numTensors;
      nativeKernelStats(true);
      const nat = await evalRun('native', config, undefined);
      const stats = nativeKernelStats(true);
      // the folded layers ran: the batch-norm kernel serves only bn1 and the final BN (4 of 7 in ResNet-8)
      expect(stats.ArcalConv2DBiasAct?.native ?? 0).toBeGreaterThan(0);
      expect(stats.AvgPool?.native ?? 0).toBeGreaterThan(0);
      expect(tf.memory().numTensors, 'no tensor left behind').toBe(before);
      const ref = await evalRun('cpu', config, nat.weights);
      const tol = 2e-5;
      expect(rel(nat.logits, ref.logits), 'logits').toBeLessThan(tol);
      expect(rel(nat.dx, ref.dx), 'input gradient').toBeLessThan(tol);
      for (const [i, g] of nat.dw.entries()) expect(rel(g, ref.dw[i]), `parameter ${i}`).toBeLessThan(tol);
      // the statistics moved the logits: the test is not of an identity batch norm
      const plain = await evalRun('cpu', config, [
        ...nat.weights.slice(0, nat.dw.length),
        ...nat.weights.slice(nat.dw.length).map((a, i) => a.map(() => (i % 2 === 0 ? 0 : 1))),
      ]);
      expect(rel(plain.logits, ref.logits)).toBeGreaterThan(0.05);
    });
});
