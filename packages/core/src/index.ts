/**
 * @arcal/core: the ML of arcal as a library — tensor backend, datasets, models, training with adaptive soft
 * labels, attacks and robustness, calibration metrics, shift and OOD evaluation, and the inline experiment
 * runner. Imports no queue, database or HTTP code.
 */

export * from './attacks/index.ts';
export * from './backend/index.ts';
export * from './calibration/index.ts';
export { readImagesFile } from './data/images-file.ts';
export * from './data/index.ts';
export * from './experiment/index.ts';
export * from './models/index.ts';
export * from './models/io.ts';
export * as ood from './ood/index.ts';
export * as posthoc from './posthoc/index.ts';
export * from './robustness/index.ts';
export * from './study/index.ts';
export * from './training/checkpoint.ts';
export * from './training/optimizer.ts';
export * from './training/trainer.ts';
export { memberSeed, Rng } from './util/rng.ts';
