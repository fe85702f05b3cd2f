/**
 * Reading a dataset file into memory, transparently un-gzipping it. The only file I/O of the decoders;
 * every failure becomes an ArcalError that names the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { ArcalError } from '@arcal/contracts';

/** True when `b` starts with the gzip magic number 1f 8b. */
export const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** Decoded files kept in memory by path, size and modification time (a run of many experiments reads the same few). */
const CACHE_BYTES = 512 * 2 ** 20;
const decoded = new Map<string, Uint8Array>();
let cachedBytes = 0;
/** Files read once: only a second read keeps the bytes, so a process that loads its data once holds no copy. */
const seen = new Set<string>();

function remember(key: string, bytes: Uint8Array): void {
  if (bytes.byteLength > CACHE_BYTES) return;
  decoded.set(key, bytes);
  cachedBytes += bytes.byteLength;
  for (const [k, v] of decoded) {
    if (cachedBytes <= CACHE_BYTES) break;
    decoded.delete(k);
    cachedBytes -= v.byteLength;
  }
}

/**
 * The bytes of `file`, gunzipped when they start with the gzip magic (whatever the file is called).
 * A damaged or truncated gzip stream is DATA_CORRUPT; a missing file is DATA_NOT_FOUND. A file read a second
 * time stays in memory from then on (up to 512 MiB, keyed by path, size and modification time): a study of many
 * experiments in one process gunzipped Fashion-MNIST's 47 MB for each one, while a process that reads its data
 * once (a worker's job) keeps no extra copy. Each call returns its own copy.
 */
export function readDatasetFile(file: string): Uint8Array {
  let key: string | undefined;
  try {
    const st = statSync(file);
    key = `${file}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    // reported by the read below
  }
  const hit = key === undefined ? undefined : decoded.get(key);
  if (hit) return hit.slice();
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new ArcalError('DATA_NOT_FOUND', `${file}: file does not exist`);
    throw new ArcalError('DATA_CORRUPT', `${file}: cannot be read (${err.code ?? err.message})`);
  }
  const bytes = gunzipIfNeeded(raw, file);
  if (key !== undefined) {
    if (seen.has(key)) remember(key, bytes.slice());
    else seen.add(key);
  }
  return bytes;
}

/** `bytes` un-gzipped when gzipped, else unchanged; `file` only names the source in errors. */
export function gunzipIfNeeded(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new ArcalError('DATA_CORRUPT', `${file}: damaged or truncated gzip stream (${(e as Error).message})`);
  }
}
