/**
 * MATLAB level-5 MAT-files (the format of `save -v6` / `-v7`), enough to read numeric arrays by name. Layout:
 * a 128-byte header (116 bytes of text, 8 bytes of subsystem offset, a 2-byte version 0x0100 and the endian
 * indicator 'IM' for little-endian or 'MI' for big-endian files), then data elements. Each element has an
 * 8-byte tag (uint32 type, uint32 byte count) followed by its data padded to 8 bytes, or the small form: a
 * 4-byte tag whose upper 16 bits hold the byte count (1–4) and lower 16 bits the type, followed by the data in
 * the next 4 bytes. A variable is a miMATRIX element holding array flags (class, complex bit), dimensions,
 * name and real part; miCOMPRESSED elements hold a zlib-deflated data element. MATLAB may store a class in a
 * narrower data type (a double array of small integers as miUINT8). MATLAB 7.3 files (HDF5) are not read.
 * Pure decoding; no network, no file I/O.
 */
import { inflateSync } from 'node:zlib';
import { ArcalError } from '@arcal/contracts';

/** Data element types. */
export const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;

/** Array classes (the low byte of the array flags). */
export const MX = {
  CELL: 1,
  STRUCT: 2,
  OBJECT: 3,
  CHAR: 4,
  SPARSE: 5,
  DOUBLE: 6,
  SINGLE: 7,
  INT8: 8,
  UINT8: 9,
  INT16: 10,
  UINT16: 11,
  INT32: 12,
  UINT32: 13,
  INT64: 14,
  UINT64: 15,
} as const;

const CLASS_NAMES: Record<number, string> = {
  1: 'cell',
  2: 'struct',
  3: 'object',
  4: 'char',
  5: 'sparse',
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
  14: 'int64',
  15: 'uint64',
};

/** The MATLAB name of array class `c`, e.g. `uint8`. */
export const matClassName = (c: number): string => CLASS_NAMES[c] ?? `class ${c}`;

/** Bytes per element of the numeric data types. */
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

export interface MatArray {
  name: string;
  /** Array class (`MX`). */
  cls: number;
  complex: boolean;
  /** Dimensions in MATLAB order (column-major data). */
  dims: number[];
  /** Data type of the real part as stored (`MI`); may be narrower than the class. */
  type: number;
  /** The real part's bytes, a view into the input (or into the inflated bytes of a compressed variable). */
  data: Uint8Array;
  littleEndian: boolean;
}

export interface MatContents {
  /** The variables asked for that the file holds. */
  arrays: Map<string, MatArray>;
  /** Every variable name seen, in file order (all of them unless every asked-for variable was found first). */
  names: string[];
}

const corrupt = (file: string, problem: string): ArcalError => new ArcalError('DATA_CORRUPT', `${file}: ${problem}`);

interface Tag {
  type: number;
  bytes: number;
  /** Offset of the data. */
  start: number;
  /** Offset of the next element. */
  next: number;
}

/** The tag at `pos` of an element that must end by `end`. */
function readTag(view: DataView, pos: number, end: number, le: boolean, file: string, what: string): Tag {
  if (pos + 8 > end) throw corrupt(file, `truncated: ${what} at byte ${pos} is cut off`);
  const w = view.getUint32(pos, le);
  if (w >>> 16 !== 0) {
    const bytes = w >>> 16;
    if (bytes > 4) throw corrupt(file, `malformed ${what} at byte ${pos}: small data element of ${bytes} bytes`);
    return { type: w & 0xffff, bytes, start: pos + 4, next: pos + 8 };
  }
  const bytes = view.getUint32(pos + 4, le);
  const start = pos + 8;
  if (start + bytes > end) {
    throw corrupt(file, `truncated: ${what} at byte ${pos} declares ${bytes} bytes, only ${end - start} follow`);
  }
  // Compressed elements are not padded; everything else is padded to 8 bytes (the last one may end the file).
  const next = w === MI.COMPRESSED ? start + bytes : Math.min(start + bytes + ((8 - (bytes % 8)) % 8), end);
  return { type: w, bytes, start, next };
}

/** Name, class, dimensions and (when `want(name)`) real part of the miMATRIX element with data [start, end). */
function readMatrix(
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
  le: boolean,
  file: string,
  want: (name: string) => boolean,
): MatArray | { name: string } | undefined {
  if (start === end) return undefined; // an empty array with no name (only found inside cells)
  const flags = readTag(view, start, end, le, file, 'array flags');
  if (flags.type !== MI.UINT32 || flags.bytes !== 8) {
    throw corrupt(file, `malformed variable at byte ${start - 8}: array flags are not two uint32 values`);
  }
  const word = view.getUint32(flags.start, le);
  const cls = word & 0xff;
  const complex = (word & 0x800) !== 0;
  if (cls < MX.CELL || cls > MX.UINT64) return undefined; // function handles and other opaque objects: no dims
  const dimTag = readTag(view, flags.next, end, le, file, 'dimensions');
  if (dimTag.type !== MI.INT32 || dimTag.bytes % 4 !== 0 || dimTag.bytes < 8) {
    throw corrupt(file, `malformed variable at byte ${start - 8}: dimensions are not two or more int32 values`);
  }
  const dims: number[] = [];
  for (let k = 0; k < dimTag.bytes; k += 4) {
    const d = view.getInt32(dimTag.start + k, le);
    if (d < 0) throw corrupt(file, `malformed variable at byte ${start - 8}: negative dimension ${d}`);
    dims.push(d);
  }
  const nameTag = readTag(view, dimTag.next, end, le, file, 'array name');
  if (nameTag.type !== MI.INT8 && nameTag.type !== MI.UINT8) {
    throw corrupt(file, `malformed variable at byte ${start - 8}: array name has data type ${nameTag.type}`);
  }
  const name = Buffer.from(bytes.buffer, bytes.byteOffset + nameTag.start, nameTag.bytes).toString('latin1');
  if (!want(name)) return { name };
  if (cls < MX.DOUBLE) return { name, cls, complex, dims, type: 0, data: new Uint8Array(0), littleEndian: le };
  const real = readTag(view, nameTag.next, end, le, file, `real part of ${name}`);
  const size = TYPE_SIZE[real.type];
  if (size === undefined) throw corrupt(file, `variable ${name}: unsupported data type ${real.type} for its values`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (real.bytes !== count * size) {
    throw corrupt(
      file,
      `variable ${name}: dimensions ${dims.join('×')} need ${count * size} bytes of values, the file has ${real.bytes}`,
    );
  }
  return {
    name,
    cls,
    complex,
    dims,
    type: real.type,
    data: bytes.subarray(real.start, real.start + real.bytes),
    littleEndian: le,
  };
}

/**
 * The variables named in `wanted` of the MAT-file `bytes` (other variables are skipped without decoding; the
 * scan stops once all are found). A header that is not level 5, a MATLAB 7.3 (HDF5) file, truncated or
 * malformed elements, or a compressed element that does not inflate → DATA_CORRUPT naming `file`.
 */
export function readMatFile(bytes: Uint8Array, file: string, wanted: string[]): MatContents {
  if (bytes.length < 128)
    throw corrupt(file, `truncated: ${bytes.length} bytes, shorter than the 128-byte MAT-file header`);
  const ind = String.fromCharCode(bytes[126], bytes[127]);
  if (ind !== 'IM' && ind !== 'MI') {
    throw corrupt(file, 'not a MATLAB level-5 MAT-file (no IM/MI endian indicator at bytes 126–127 of the header)');
  }
  const le = ind === 'IM';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(124, le);
  if (version === 0x0200) {
    throw corrupt(file, 'MATLAB 7.3 MAT-files (HDF5) are not supported; save it with -v7 or -v6');
  }
  if (version !== 0x0100)
    throw corrupt(file, `unsupported MAT-file version 0x${version.toString(16).padStart(4, '0')}`);
  const arrays = new Map<string, MatArray>();
  const names: string[] = [];
  const want = (name: string) => wanted.includes(name) && !arrays.has(name);
  const scan = (buf: Uint8Array, from: number, inflated: boolean): void => {
    const v = buf === bytes ? view : new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let pos = from;
    while (pos < buf.length && arrays.size < wanted.length) {
      const tag = readTag(v, pos, buf.length, le, file, inflated ? 'element in a compressed variable' : 'data element');
      if (tag.type === MI.COMPRESSED) {
        if (inflated) throw corrupt(file, `malformed: compressed element inside a compressed element`);
        let inner: Buffer;
        try {
          inner = inflateSync(buf.subarray(tag.start, tag.start + tag.bytes));
        } catch (e) {
          throw corrupt(file, `compressed variable at byte ${pos} does not inflate (${(e as Error).message})`);
        }
        scan(new Uint8Array(inner.buffer, inner.byteOffset, inner.byteLength), 0, true);
      } else if (tag.type === MI.MATRIX) {
        const m = readMatrix(buf, v, tag.start, tag.start + tag.bytes, le, file, want);
        if (m) {
          names.push(m.name);
          if ('cls' in m) arrays.set(m.name, m);
        }
      }
      pos = tag.next;
    }
  };
  scan(bytes, 128, false);
  return { arrays, names };
}

/** Element `k` of a numeric array's real part, as a number (64-bit integers beyond 2^53 lose precision). */
export function matValue(a: MatArray, view: DataView, k: number): number {
  const le = a.littleEndian;
  switch (a.type) {
    case MI.INT8:
      return view.getInt8(k);
    case MI.UINT8:
      return view.getUint8(k);
    case MI.INT16:
      return view.getInt16(2 * k, le);
    case MI.UINT16:
      return view.getUint16(2 * k, le);
    case MI.INT32:
      return view.getInt32(4 * k, le);
    case MI.UINT32:
      return view.getUint32(4 * k, le);
    case MI.SINGLE:
      return view.getFloat32(4 * k, le);
    case MI.DOUBLE:
      return view.getFloat64(8 * k, le);
    case MI.INT64:
      return Number(view.getBigInt64(8 * k, le));
    case MI.UINT64:
      return Number(view.getBigUint64(8 * k, le));
    default:
      throw new ArcalError('DATA_CORRUPT', `variable ${a.name}: unsupported data type ${a.type}`);
  }
}

/** The real part of a numeric array as numbers, in MATLAB (column-major) order. */
export function matNumbers(a: MatArray): Float64Array {
  const view = new DataView(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  const n = a.data.byteLength / TYPE_SIZE[a.type];
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) out[k] = matValue(a, view, k);
  return out;
}
