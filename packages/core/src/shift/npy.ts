/**
 * NumPy .npy reading (format versions 1, 2 and 3) and a reader for CIFAR-10-C style directories:
 * `<id>.npy` uint8 [N, H, W, C] holding N/5 images per severity (severity 1 first) and `labels.npy` with
 * N (or N/5) labels. Reads only the byte range a caller asks for, so one severity of a 150 MB file costs
 * one fifth of it. File I/O only; no tfjs.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { ArcalError } from '@arcal/contracts';

export type NpyDtype = 'u1' | 'i1' | 'u2' | 'i2' | 'u4' | 'i4' | 'i8' | 'u8' | 'f4' | 'f8';
export type NpyData =
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array;

export interface NpyHeader {
  dtype: NpyDtype;
  littleEndian: boolean;
  fortranOrder: boolean;
  shape: number[];
  /** Byte offset of the first array element in the file. */
  dataOffset: number;
  itemSize: number;
}

const ITEM_SIZE: Record<NpyDtype, number> = { u1: 1, i1: 1, u2: 2, i2: 2, u4: 4, i4: 4, i8: 8, u8: 8, f4: 4, f8: 8 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Length of the fixed preamble (magic, version, header length) and the header length it announces. */
function preamble(bytes: Uint8Array): { headerStart: number; headerLen: number } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw new ArcalError('DATA_CORRUPT', 'not an .npy file (bad magic string)');
  const major = bytes[6];
  if (major === 1) return { headerStart: 10, headerLen: bytes[8] | (bytes[9] << 8) };
  if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new ArcalError('DATA_CORRUPT', '.npy preamble truncated');
    return { headerStart: 12, headerLen: (bytes[8] | (bytes[9] << 8) | (bytes[10] << 16)) + bytes[11] * 2 ** 24 };
  }
  throw new ArcalError('DATA_CORRUPT', `unsupported .npy format version ${major}.${bytes[7]}`);
}

/** Parses the header dictionary, e.g. {'descr': '|u1', 'fortran_order': False, 'shape': (50000, 32, 32, 3), }. */
export function parseNpyHeader(bytes: Uint8Array): NpyHeader {
  const { headerStart, headerLen } = preamble(bytes);
  if (bytes.length < headerStart + headerLen) throw new ArcalError('DATA_CORRUPT', '.npy header truncated');
  const text = new TextDecoder('latin1').decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]+)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new ArcalError('DATA_CORRUPT', `cannot parse .npy header: ${text.trim()}`);
  const m = /^([<>|=])?([uif])(\d)$/.exec(descr);
  const dtype = m ? (`${m[2]}${m[3]}` as NpyDtype) : undefined;
  if (!m || !dtype || !(dtype in ITEM_SIZE)) throw new ArcalError('DATA_CORRUPT', `unsupported .npy dtype '${descr}'`);
  const shape = shapeText
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0)
    .map((t) => Number.parseInt(t.replace(/L$/, ''), 10));
  if (shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new ArcalError('DATA_CORRUPT', `bad .npy shape (${shapeText})`);
  return {
    dtype,
    littleEndian: m[1] !== '>',
    fortranOrder: fortran === 'True',
    shape,
    dataOffset: headerStart + headerLen,
    itemSize: ITEM_SIZE[dtype],
  };
}

/** Decodes `count` elements of `header.dtype` from raw bytes into a typed array (int64/uint64 become Float64Array). */
export function decodeNpyData(header: NpyHeader, raw: Uint8Array, count: number): NpyData {
  if (raw.length < count * header.itemSize)
    throw new ArcalError(
      'DATA_CORRUPT',
      `.npy data truncated: need ${count * header.itemSize} bytes, have ${raw.length}`,
    );
  const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = header.littleEndian;
  const sz = header.itemSize;
  switch (header.dtype) {
    case 'u1':
      return raw.slice(0, count);
    case 'i1':
      return new Int8Array(raw.slice(0, count).buffer);
    case 'u2':
      return Uint16Array.from({ length: count }, (_, i) => dv.getUint16(i * sz, le));
    case 'i2':
      return Int16Array.from({ length: count }, (_, i) => dv.getInt16(i * sz, le));
    case 'u4':
      return Uint32Array.from({ length: count }, (_, i) => dv.getUint32(i * sz, le));
    case 'i4':
      return Int32Array.from({ length: count }, (_, i) => dv.getInt32(i * sz, le));
    case 'i8':
      return Float64Array.from({ length: count }, (_, i) => Number(dv.getBigInt64(i * sz, le)));
    case 'u8':
      return Float64Array.from({ length: count }, (_, i) => Number(dv.getBigUint64(i * sz, le)));
    case 'f4':
      return Float32Array.from({ length: count }, (_, i) => dv.getFloat32(i * sz, le));
    case 'f8':
      return Float64Array.from({ length: count }, (_, i) => dv.getFloat64(i * sz, le));
  }
}

export interface NpyArray {
  header: NpyHeader;
  data: NpyData;
}

/** Parses a whole .npy file held in memory (C order only). */
export function parseNpy(bytes: Uint8Array): NpyArray {
  const header = parseNpyHeader(bytes);
  if (header.fortranOrder) throw new ArcalError('DATA_CORRUPT', 'Fortran-ordered .npy arrays are not supported');
  const count = header.shape.reduce((a, b) => a * b, 1);
  return { header, data: decodeNpyData(header, bytes.subarray(header.dataOffset), count) };
}

/** Reads and parses only the header of a .npy file. */
export async function readNpyHeader(path: string): Promise<NpyHeader> {
  const fh = await openOrThrow(path);
  try {
    return await headerOf(fh);
  } finally {
    await fh.close();
  }
}

async function openOrThrow(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw new ArcalError('DATA_NOT_FOUND', `cannot open ${path}: ${(e as Error).message}`);
  }
}

async function headerOf(fh: FileHandle): Promise<NpyHeader> {
  const head = new Uint8Array(12);
  await fh.read(head, 0, 12, 0);
  const { headerStart, headerLen } = preamble(head);
  const all = new Uint8Array(headerStart + headerLen);
  await fh.read(all, 0, all.length, 0);
  return parseNpyHeader(all);
}

/**
 * Reads rows [start, start + rows) along the first axis of a C-ordered .npy file without loading the rest
 * (all rows by default). The returned header's shape has the row count actually read.
 */
export async function readNpyRows(path: string, start?: number, rows?: number): Promise<NpyArray> {
  const fh = await openOrThrow(path);
  try {
    const header = await headerOf(fh);
    if (header.fortranOrder)
      throw new ArcalError('DATA_CORRUPT', `${path}: Fortran-ordered .npy arrays are not supported`);
    const n0 = header.shape.length > 0 ? header.shape[0] : 1;
    const rowItems = header.shape.slice(1).reduce((a, b) => a * b, 1);
    const s = start ?? 0;
    const r = rows ?? n0 - s;
    if (s < 0 || r < 0 || s + r > n0)
      throw new ArcalError('INVALID_INPUT', `${path}: rows [${s}, ${s + r}) outside [0, ${n0})`);
    const bytes = r * rowItems * header.itemSize;
    const raw = new Uint8Array(bytes);
    const { bytesRead } =
      bytes > 0 ? await fh.read(raw, 0, bytes, header.dataOffset + s * rowItems * header.itemSize) : { bytesRead: 0 };
    if (bytesRead < bytes) throw new ArcalError('DATA_CORRUPT', `${path}: file shorter than its header says`);
    const shape = header.shape.length > 0 ? [r, ...header.shape.slice(1)] : [];
    return { header: { ...header, shape }, data: decodeNpyData(header, raw, r * rowItems) };
  } finally {
    await fh.close();
  }
}

export interface CorruptedSplit {
  /** NHWC float32 in [0, 1] (uint8 / 255). */
  images: Float32Array;
  shape: [number, number, number, number];
  labels: Int32Array;
  severity: number;
}

/**
 * One severity (1–5) of a CIFAR-10-C style corruption file `<dir>/<id>.npy`: uint8 [N, H, W, C] whose severity s
 * occupies rows [(s − 1)·N/5, s·N/5). Labels come from `<dir>/labels.npy` (N entries, the matching slice is taken,
 * or N/5 entries shared by all severities).
 */
export async function readCifarCorruption(dir: string, id: string, severity: number): Promise<CorruptedSplit> {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5)
    throw new ArcalError('INVALID_INPUT', `severity must be an integer in 1..5, got ${severity}`);
  if (!/^[a-z0-9_]+$/.test(id)) throw new ArcalError('INVALID_INPUT', `bad corruption id '${id}'`);
  const file = join(dir, `${id}.npy`);
  const { shape, dtype } = await readNpyHeader(file);
  if (dtype !== 'u1' || shape.length !== 4)
    throw new ArcalError('DATA_CORRUPT', `${file}: expected uint8 [N, H, W, C], got ${dtype} of rank ${shape.length}`);
  const N = shape[0];
  if (N === 0 || N % 5 !== 0)
    throw new ArcalError('DATA_CORRUPT', `${file}: ${N} images do not split into 5 severities`);
  const per = N / 5;
  const { data } = await readNpyRows(file, (severity - 1) * per, per);
  const images = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) images[i] = data[i] / 255;
  const labelsFile = join(dir, 'labels.npy');
  const labelHeader = await readNpyHeader(labelsFile);
  const nLabels = labelHeader.shape[0];
  let labelRows: NpyArray;
  if (labelHeader.shape.length !== 1) throw new ArcalError('DATA_CORRUPT', `${labelsFile}: expected a 1-D label array`);
  if (nLabels === N) labelRows = await readNpyRows(labelsFile, (severity - 1) * per, per);
  else if (nLabels === per) labelRows = await readNpyRows(labelsFile);
  else throw new ArcalError('DATA_CORRUPT', `${labelsFile}: ${nLabels} labels for ${N} images`);
  const labels = Int32Array.from(labelRows.data as ArrayLike<number>);
  return { images, shape: [per, shape[1], shape[2], shape[3]], labels, severity };
}
