/**
 * One step of a workload on one of arcal's architectures, for the throughput and profile benches: `train` one
 * Adam step, `infer` the inference-mode logits, `input-grad` the inference-mode gradient of the cross-entropy
 * with respect to a batch of uniform random images (32×32×3 for the residual nets, 28×28×1 otherwise).
 */
import { type Arch, createModel, Optimizer, tf, trainStep } from '@arcal/core';
import { softmaxCrossEntropyRows } from '@arcal/native';

export type ArchWorkload = 'train' | 'infer' | 'input-grad';

export interface ArchStep {
  step: () => void;
  dispose: () => void;
}

export function archStep(arch: Arch, batch: number, workload: ArchWorkload): ArchStep {
  const shape: [number, number, number] = arch === 'resnet' || arch === 'wrn' ? [32, 32, 3] : [28, 28, 1];
  const model = createModel({ arch, inputShape: shape, classes: 10 }, 0);
  const x = tf.randomUniform([batch, ...shape]) as tf.Tensor4D;
  const labels = tf.tensor1d(
    Int32Array.from({ length: batch }, (_, i) => i % 10),
    'int32',
  );
  const y = tf.oneHot(labels, 10).toFloat() as tf.Tensor2D;
  const opt = new Optimizer({ kind: 'adam', momentum: 0, weightDecay: 0 }, model.trainable);
  // The cross-entropy as DDN's attack and the trainer compute it (one native kernel on the `native` backend).
  const loss = (xx: tf.Tensor) => tf.sum(softmaxCrossEntropyRows(model.apply(xx), y)) as tf.Scalar;
  // The result is read outside the tidy: a tidy returning the Float32Array would walk its every element
  // looking for tensors (tfjs's getTensorsInContainer), which for an input gradient costs more than the step.
  const read = (t: tf.Tensor) => {
    t.dataSync();
    t.dispose();
  };
  const step =
    workload === 'train'
      ? () => void trainStep(model, opt, x, y, labels, 1e-3)
      : workload === 'infer'
        ? () => read(tf.tidy(() => model.apply(x)))
        : () => read(tf.tidy(() => tf.grad(loss)(x)));
  return {
    step,
    dispose: () => {
      tf.dispose([x, labels, y, ...opt.slots]);
      model.dispose();
    },
  };
}
