/**
 * The file layer of member checkpoints, without tfjs (the worker's main process reads checkpoint epochs too):
 * `checkpoint.bin` = the magic `ARCALCK2`, a little-endian uint32 header length, the header as JSON, zero
 * padding to a multiple of 4 bytes, then the float32 data. Files are written under a name unique to the writer
 * and renamed into place, so readers see whole checkpoints only, even with two writers at once.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArcalError, type EpochRecord } from '@arcal/contracts';

export interface CheckpointMeta {
  format: 'arcal-checkpoint-1' | 'arcal-checkpoint-2';
  epoch: number;
  optimizerStep: number;
  sizes: number[];
  bestSizes?: number[];
  bestNll?: number;
  bytes: number;
  sha256: string;
  pTrue: number[];
  epochs: EpochRecord[];
  ranking?: { train: number[]; val: number[] };
}

const MAGIC = Buffer.from('ARCALCK2', 'latin1');

/** Writes `path` through a temporary name unique to this writer, then renames it into place. */
export async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** The header and the float32 data of a checkpoint directory, from either format; undefined when there is none. */
export async function readCheckpointFiles(dir: string): Promise<{ meta: CheckpointMeta; data: Buffer } | undefined> {
  let bin: Buffer;
  try {
    bin = await readFile(join(dir, 'checkpoint.bin'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (bin.length >= MAGIC.length + 4 && bin.subarray(0, MAGIC.length).equals(MAGIC)) {
    const n = bin.readUInt32LE(MAGIC.length);
    const start = MAGIC.length + 4;
    let meta: CheckpointMeta;
    try {
      meta = JSON.parse(bin.subarray(start, start + n).toString('utf8'));
    } catch (e) {
      throw new ArcalError('INVALID_INPUT', `checkpoint ${dir} has an unreadable header: ${(e as Error).message}`);
    }
    const off = start + n + ((4 - ((start + n) % 4)) % 4);
    return { meta, data: bin.subarray(off) };
  }
  // The earlier two-file format: the header lives in checkpoint.json.
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, 'checkpoint.json'), 'utf8'));
  } catch (e) {
    throw new ArcalError(
      'INVALID_INPUT',
      `checkpoint ${join(dir, 'checkpoint.json')} is unreadable: ${(e as Error).message}`,
    );
  }
  return { meta, data: bin };
}

/** The epoch a checkpoint directory holds (0 when it holds none), read from the checkpoint itself. */
export async function checkpointEpochOf(dir: string): Promise<number> {
  const files = await readCheckpointFiles(dir).catch(() => undefined);
  return files ? Number(files.meta.epoch) || 0 : 0;
}

/** The bytes that precede the float32 data in checkpoint.bin. */
export function checkpointFileHeader(meta: CheckpointMeta): Buffer {
  const header = Buffer.from(JSON.stringify(meta), 'utf8');
  const pad = (4 - ((MAGIC.length + 4 + header.length) % 4)) % 4;
  const prefix = Buffer.alloc(MAGIC.length + 4 + header.length + pad);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(header.length, MAGIC.length);
  header.copy(prefix, MAGIC.length + 4);
  return prefix;
}
