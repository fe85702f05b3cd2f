import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNpy, readCifarCorruption, readNpyRows } from '../src/shift/index.ts';

/** Writes an .npy file by the format's specification: magic, version, little-endian header length, padded header. */
function npyBytes(descr: string, shape: number[], data: Uint8Array, version = 1): Buffer {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const pre = version === 1 ? 10 : 12;
  let header = dict;
  while ((pre + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const head = Buffer.alloc(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(data)]);
}

const dir = mkdtempSync(join(tmpdir(), 'arcal-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npy reader', () => {
  it('reads one severity of a CIFAR-10-C style directory (v1 uint8 images, v2 int64 labels)', async () => {
    // 10 images of 2×2×3 → 2 per severity; pixel value = image index · 12 + position
    const img = Uint8Array.from({ length: 10 * 12 }, (_, i) => i % 256);
    writeFileSync(join(dir, 'fog.npy'), npyBytes('|u1', [10, 2, 2, 3], img));
    const labels = new BigInt64Array(10);
    for (let i = 0; i < 10; i++) labels[i] = BigInt(9 - i);
    writeFileSync(join(dir, 'labels.npy'), npyBytes('<i8', [10], new Uint8Array(labels.buffer), 2));
    const split = await readCifarCorruption(dir, 'fog', 3);
    expect(split.shape).toEqual([2, 2, 2, 3]);
    // severity 3 = images 4 and 5 → bytes 48..71
    expect(Array.from(split.images)).toEqual(Array.from({ length: 24 }, (_, i) => Math.fround((48 + i) / 255)));
    expect(Array.from(split.labels)).toEqual([5, 4]);
  });
  it('parses big-endian float32 in memory and reads a row range from disk', async () => {
    const f = new DataView(new ArrayBuffer(16));
    for (const [i, v] of [1.5, -2, 0.25, 1e6].entries()) f.setFloat32(i * 4, v, false);
    const bytes = npyBytes('>f4', [2, 2], new Uint8Array(f.buffer));
    const arr = parseNpy(new Uint8Array(bytes));
    expect(arr.header.shape).toEqual([2, 2]);
    expect(Array.from(arr.data)).toEqual([1.5, -2, 0.25, 1e6]);
    writeFileSync(join(dir, 'be.npy'), bytes);
    const row = await readNpyRows(join(dir, 'be.npy'), 1, 1);
    expect(row.header.shape).toEqual([1, 2]);
    expect(Array.from(row.data)).toEqual([0.25, 1e6]);
  });
  it('rejects a bad magic string, a missing file and a bad image file', async () => {
    expect(() => parseNpy(new Uint8Array(64))).toThrow(expect.objectContaining({ code: 'DATA_CORRUPT' }));
    await expect(readCifarCorruption(dir, 'snow', 1)).rejects.toMatchObject({ code: 'DATA_NOT_FOUND' });
    writeFileSync(join(dir, 'contrast.npy'), npyBytes('<f4', [5, 1, 1, 1], new Uint8Array(20)));
    await expect(readCifarCorruption(dir, 'contrast', 1)).rejects.toMatchObject({ code: 'DATA_CORRUPT' });
  });
});
