/**
 * The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): a 4-byte magic
 * `00 00 TT DD` (TT = element type, 0x08 for unsigned bytes; DD = number of dimensions), DD big-endian
 * uint32 sizes, then the elements in row-major order. Image files are 3-D (n × rows × cols), label files 1-D.
 * Pure decoding plus one reader; no network.
 */
import { ArcalError } from '@arcal/contracts';
import { readDatasetFile } from './file-bytes.ts';
import type { DecodedImages } from './types.ts';

export interface IdxArray {
  dims: number[];
  /** The elements, a view into the input (no copy). */
  data: Uint8Array;
}

const corrupt = (file: string, problem: string): ArcalError => new ArcalError('DATA_CORRUPT', `${file}: ${problem}`);

/**
 * Decodes one IDX array of unsigned bytes. Wrong magic, an element type other than 0x08, a dimension count
 * other than `expectedDims`, or a payload whose length is not the product of the sizes → DATA_CORRUPT naming `file`.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectedDims?: number): IdxArray {
  if (bytes.length < 4) throw corrupt(file, `truncated: ${bytes.length} bytes, shorter than the 4-byte IDX magic`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const hex = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw corrupt(file, `wrong magic ${hex}: not an IDX file (expected 00 00 08 0N)`);
  }
  if (bytes[2] !== 0x08)
    throw corrupt(file, `unsupported IDX element type 0x${bytes[2].toString(16)} (only 0x08, unsigned byte)`);
  const nd = bytes[3];
  if (expectedDims !== undefined && nd !== expectedDims)
    throw corrupt(file, `IDX file has ${nd} dimensions, expected ${expectedDims}`);
  const header = 4 + 4 * nd;
  if (bytes.length < header) throw corrupt(file, `truncated header: ${bytes.length} bytes, need ${header}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < nd; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const payload = bytes.length - header;
  if (payload < size)
    throw corrupt(file, `truncated: dimensions ${dims.join('×')} need ${size} data bytes, file has ${payload}`);
  if (payload > size) throw corrupt(file, `${payload - size} unexpected bytes after the ${dims.join('×')} data`);
  return { dims, data: bytes.subarray(header, header + size) };
}

/**
 * Pairs an IDX image array (n × h × w) with its IDX label array (n) into NHWC images with c = 1.
 * Counts that differ, or a label ≥ `classes`, → DATA_CORRUPT naming the file at fault.
 */
export function decodeIdxPair(
  imageBytes: Uint8Array,
  labelBytes: Uint8Array,
  files: { images: string; labels: string },
  classes: number,
): DecodedImages {
  const img = parseIdx(imageBytes, files.images, 3);
  const lab = parseIdx(labelBytes, files.labels, 1);
  const [n, h, w] = img.dims;
  if (lab.dims[0] !== n) {
    throw corrupt(files.labels, `has ${lab.dims[0]} labels but ${files.images} has ${n} images`);
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = lab.data[i];
    if (v >= classes) throw corrupt(files.labels, `label ${v} at index ${i} is out of range 0..${classes - 1}`);
    labels[i] = v;
  }
  return { pixels: img.data, labels, n, shape: [h, w, 1] };
}

/** Reads and decodes an IDX image file and label file (gzipped or plain). */
export function readIdxPair(imagesFile: string, labelsFile: string, classes: number): DecodedImages {
  return decodeIdxPair(
    readDatasetFile(imagesFile),
    readDatasetFile(labelsFile),
    { images: imagesFile, labels: labelsFile },
    classes,
  );
}
