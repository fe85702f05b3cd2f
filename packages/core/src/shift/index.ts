/** Distribution shift: the CIFAR-10-C corruptions at severities 1–5 and a reader for published CIFAR-10-C files. */
export {
  type Applicability,
  applicableCorruptions,
  CORRUPTION_IDS,
  type CorruptionId,
  corrupt,
  corruptionApplicability,
  isCorruptionId,
  LEFT_OUT,
  SEVERITIES,
} from './corrupt.ts';
export { chrominanceQuantTable, dct8x8, idct8x8, jpegRoundTrip, luminanceQuantTable } from './jpeg.ts';
export {
  type CorruptedSplit,
  type NpyArray,
  type NpyData,
  type NpyDtype,
  type NpyHeader,
  parseNpy,
  parseNpyHeader,
  readCifarCorruption,
  readNpyHeader,
  readNpyRows,
} from './npy.ts';
