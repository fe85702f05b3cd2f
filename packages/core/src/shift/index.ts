/** Distribution shift: the CIFAR-10-C corruptions at severities 1–5 and a reader for published CIFAR-10-C files. */
export {
  corrupt,
  corruptionApplicability,
  applicableCorruptions,
  isCorruptionId,
  CORRUPTION_IDS,
  SEVERITIES,
  LEFT_OUT,
  type CorruptionId,
  type Applicability,
} from './corrupt.ts';
export { jpegRoundTrip, dct8x8, idct8x8, luminanceQuantTable, chrominanceQuantTable } from './jpeg.ts';
export {
  parseNpy,
  parseNpyHeader,
  readNpyHeader,
  readNpyRows,
  readCifarCorruption,
  type NpyArray,
  type NpyHeader,
  type NpyDtype,
  type NpyData,
  type CorruptedSplit,
} from './npy.ts';
