/**
 * The artifact store's contract, run unchanged against every implementation (local folder, S3 through s3rver),
 * with records in a real PostgreSQL database. Digests are checked against published SHA-256 test vectors
 * (FIPS 180-2 "abc", the empty message) or against Node's hash of bytes the test generates itself.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ArtifactStore,
  type Backend,
  InvalidKeyError,
  ObjectNotFoundError,
  type ObjectRecords,
  RecordedStore,
  readAll,
} from '../src/index.ts';

export const SHA256_ABC = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
export const SHA256_EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** `n` bytes of a pattern that differs in every 256-byte block, in 1 MiB chunks. */
export function patterned(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + Math.floor(i / 256) * seed) & 0xff;
  return b;
}

async function* chunked(b: Buffer, size = 2 ** 20) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

export interface ContractSubject {
  backend: Backend;
  records: ObjectRecords;
  /** Whether the server lists multipart uploads (s3rver does not). */
  uploadListing: 'done' | 'unsupported' | 'not-applicable';
  /** Whether presigned URLs exist for this backend. */
  presigns: boolean;
}

/** Registers the contract tests; `setup` runs once (beforeAll) and returns null to skip. */
export function storeContract(name: string, setup: () => Promise<ContractSubject | null>): void {
  describe(`artifact store contract: ${name}`, () => {
    let subject: ContractSubject | null = null;
    let store: ArtifactStore;
    beforeAll(async () => {
      subject = await setup();
      if (subject) store = new RecordedStore(subject.backend, subject.records);
    });
    afterAll(async () => {
      await store?.close();
    });
    const run = (title: string, fn: () => Promise<void>) =>
      it(title, async (ctx) => {
        if (!subject) return ctx.skip();
        await fn();
      });

    run('put of a buffer, a stream and a file records sha256 and size; get returns the bytes', async () => {
      const a = await store.put('c1/abc.txt', Buffer.from('abc'), { contentType: 'text/plain' });
      expect(a).toMatchObject({ key: 'c1/abc.txt', sha256: SHA256_ABC, size: 3, contentType: 'text/plain' });
      const empty = await store.put('c1/empty', Readable.from([]));
      expect(empty).toMatchObject({ sha256: SHA256_EMPTY, size: 0 });
      const file = join(mkdtempSync(join(tmpdir(), 'arcal-store-')), 'f.bin');
      writeFileSync(file, 'abc');
      expect(await store.putFile('c1/from-file', file)).toMatchObject({ sha256: SHA256_ABC, size: 3 });

      const got = await store.get('c1/abc.txt');
      expect(got.record).toMatchObject({ sha256: SHA256_ABC, size: 3, contentType: 'text/plain' });
      expect(got.size).toBe(3);
      expect((await readAll(got.body)).toString()).toBe('abc');
      expect((await readAll((await store.get('c1/empty')).body)).length).toBe(0);
      expect(await store.exists('c1/from-file')).toBe(true);
      expect(await store.head('c1/from-file')).toMatchObject({ sha256: SHA256_ABC, size: 3 });
    });

    run('a 12 MiB stream (several multipart parts on S3) round-trips byte for byte', async () => {
      const big = patterned(12 * 2 ** 20 + 12345);
      const want = createHash('sha256').update(big).digest('hex');
      const r = await store.put('c2/big.bin', chunked(big));
      expect(r).toMatchObject({ sha256: want, size: big.length });
      const got = await store.get('c2/big.bin');
      expect(got.size).toBe(big.length);
      expect((await readAll(got.body)).equals(big)).toBe(true);
    });

    run('an unrecorded key is not found, even when bytes are stored under it', async () => {
      await expect(store.get('c3/never')).rejects.toBeInstanceOf(ObjectNotFoundError);
      expect(await store.exists('c3/never')).toBe(false);
      // bytes written straight to the backend, as a writer killed before recording leaves them
      await subject!.backend.write('c3/orphan', chunked(Buffer.from('half')), 'application/octet-stream');
      await expect(store.get('c3/orphan')).rejects.toThrow(/object c3\/orphan: not found/);
      expect(await store.exists('c3/orphan')).toBe(false);
      expect(await store.list('c3/')).toEqual([]);
      expect(await store.head('c3/orphan')).toBeNull();
    });

    run('a recorded key whose bytes are gone is not found', async () => {
      const r = await store.put('c4/gone', Buffer.from('x'));
      await subject!.backend.remove([r.location]);
      await expect(store.get('c4/gone')).rejects.toThrow('object c4/gone: recorded but its bytes are gone');
    });

    run('a second put overwrites the bytes and the record', async () => {
      await store.put('c5/k', Buffer.from('first version'));
      const r = await store.put('c5/k', Buffer.from('abc'));
      expect(r.sha256).toBe(SHA256_ABC);
      const got = await store.get('c5/k');
      expect(got.record).toMatchObject({ sha256: SHA256_ABC, size: 3 });
      expect((await readAll(got.body)).toString()).toBe('abc');
    });

    run(
      'a put whose body fails midway rejects with its error, records nothing and keeps the earlier version',
      async () => {
        await store.put('c10/k', Buffer.from('abc'));
        async function* broken() {
          yield* chunked(patterned(12 * 2 ** 20));
          throw new Error('the source broke');
        }
        await expect(store.put('c10/k', broken())).rejects.toThrow('the source broke');
        await expect(store.put('c10/new', broken())).rejects.toThrow('the source broke');
        expect(await store.head('c10/new')).toBeNull();
        const got = await store.get('c10/k');
        expect(got.record).toMatchObject({ sha256: SHA256_ABC, size: 3 });
        expect((await readAll(got.body)).toString()).toBe('abc');
        const stored: string[] = [];
        for await (const o of subject!.backend.scan('c10/')) stored.push(o.key);
        expect(stored).toEqual([(await store.head('c10/k'))!.location]);
      },
    );

    run('list returns the recorded keys under a prefix in key order, wildcards taken literally', async () => {
      for (const k of ['c6/e1/b/c', 'c6/e1/a', 'c6/e10/x', 'c6/e2/y', 'c6/p_q/a', 'c6/pxq/a', 'c6/p%/a'])
        await store.put(k, Buffer.from(k));
      expect((await store.list('c6/e1/')).map((r) => r.key)).toEqual(['c6/e1/a', 'c6/e1/b/c']);
      expect((await store.list('c6/p_q/')).map((r) => r.key)).toEqual(['c6/p_q/a']);
      expect((await store.list('c6/p%/')).map((r) => r.key)).toEqual(['c6/p%/a']);
      expect((await store.list('c6/e1')).map((r) => r.key)).toEqual(['c6/e1/a', 'c6/e1/b/c', 'c6/e10/x']);
      const r = (await store.list('c6/e2/'))[0]!;
      expect(r).toMatchObject({
        key: 'c6/e2/y',
        size: 7,
        sha256: createHash('sha256').update('c6/e2/y').digest('hex'),
      });
    });

    run('deletePrefix deletes records and every stored object under the prefix, nothing else', async () => {
      for (const k of ['c7/e1/a', 'c7/e1/sub/b', 'c7/e10/x']) await store.put(k, Buffer.from(k));
      // an earlier version of a recorded key, stored under a name of its own in a bucket, goes with it
      await store.put('c7/e1/a', Buffer.from('again'));
      await subject!.backend.write('c7/e1/unrecorded', chunked(Buffer.from('u')), 'application/octet-stream');
      expect(await store.deletePrefix('c7/e1/')).toBe(2);
      expect(await store.list('c7/e1/')).toEqual([]);
      await expect(store.get('c7/e1/a')).rejects.toBeInstanceOf(ObjectNotFoundError);
      const left: string[] = [];
      for await (const o of subject!.backend.scan('c7/')) left.push(o.key);
      expect(left).toEqual([(await store.head('c7/e10/x'))!.location]);
      expect((await readAll((await store.get('c7/e10/x')).body)).toString()).toBe('c7/e10/x');
    });

    run('sweep removes unrecorded objects older than the grace period, keeps recorded and young ones', async () => {
      await store.put('c8/recorded', Buffer.from('r'));
      await subject!.backend.write('c8/orphan', chunked(Buffer.from('o')), 'application/octet-stream');
      const young = await store.sweep({ graceMs: 3600_000 });
      expect(young.removed).not.toContain('c8/orphan');
      // an hour on: the orphan is older than the grace period
      const later = await store.sweep({ graceMs: 3600_000, now: new Date(Date.now() + 2 * 3600_000) });
      expect(later.removed).toContain('c8/orphan');
      expect(later.removed).not.toContain('c8/recorded');
      expect(later.uploadListing).toBe(subject!.uploadListing);
      const left: string[] = [];
      for await (const o of subject!.backend.scan('c8/')) left.push(o.key);
      expect(left).toEqual([(await store.head('c8/recorded'))!.location]);
      expect((await readAll((await store.get('c8/recorded')).body)).toString()).toBe('r');
    });

    run(
      'a writer that dies between upload and record leaves the recorded version readable; its retry replaces it',
      async () => {
        const a = Buffer.from('version A of the checkpoint');
        const b = patterned(3 * 2 ** 20 + 7, 5);
        await store.put('c11/members/m1/checkpoint.bin', a);
        // version B is uploaded, and the writer is killed before it records it
        const orphan = await store.upload('c11/members/m1/checkpoint.bin', b);
        expect(orphan.sha256).toBe(createHash('sha256').update(b).digest('hex'));
        const readBack = async () => {
          const got = await store.get('c11/members/m1/checkpoint.bin');
          const bytes = await readAll(got.body);
          return { recorded: got.record.sha256, actual: createHash('sha256').update(bytes).digest('hex'), bytes };
        };
        const first = await readBack();
        if (subject!.backend.kind === 'file') {
          // the shared folder is written in place (renamed whole): the upload is there, only its record is missing
          expect(first.actual).toBe(orphan.sha256);
        } else {
          expect(first.recorded).toBe(createHash('sha256').update(a).digest('hex'));
          expect(first.actual).toBe(first.recorded);
          expect(first.bytes.equals(a)).toBe(true);
        }
        // a retry that gets as far as its record
        await store.put('c11/members/m1/checkpoint.bin', b);
        const second = await readBack();
        expect(second.recorded).toBe(orphan.sha256);
        expect(second.actual).toBe(second.recorded);
        expect(second.bytes.equals(b)).toBe(true);
      },
    );

    run('the sweep removes uploads no record points to any more once older than the grace period', async () => {
      const a = await store.put('c12/k', Buffer.from('old'));
      const dead = await store.upload('c12/k', Buffer.from('never recorded'));
      const b = await store.put('c12/k', Buffer.from('abc'));
      const stored = async () => {
        const out: string[] = [];
        for await (const o of subject!.backend.scan('c12/')) out.push(o.key);
        return out.sort();
      };
      const young = await store.sweep({ graceMs: 3600_000 });
      expect(young.removed.filter((k) => k.startsWith('c12/'))).toEqual([]);
      const later = await store.sweep({ graceMs: 3600_000, now: new Date(Date.now() + 2 * 3600_000) });
      if (subject!.backend.kind === 'file') {
        // one file per key, the last one written
        expect([a.location, dead.location, b.location]).toEqual(['c12/k', 'c12/k', 'c12/k']);
        expect(later.removed.filter((k) => k.startsWith('c12/'))).toEqual([]);
      } else {
        expect(new Set([a.location, dead.location, b.location]).size).toBe(3);
        expect(later.removed.filter((k) => k.startsWith('c12/')).sort()).toEqual([a.location, dead.location].sort());
      }
      expect(await stored()).toEqual([b.location]);
      expect((await readAll((await store.get('c12/k')).body)).toString()).toBe('abc');
    });

    run('keys that are not relative paths are refused', async () => {
      for (const k of ['', '/abs', '../up', 'a/../b', 'a//b', 'a/', './a'])
        await expect(store.put(k, Buffer.from('x')), k).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get('../etc/passwd')).rejects.toBeInstanceOf(InvalidKeyError);
    });

    run('presignedUrl reads the object directly where the backend can sign', async () => {
      await store.put('c9/p.json', Buffer.from('{"a":1}'), { contentType: 'application/json' });
      const url = await store.presignedUrl('c9/p.json', { expiresInSeconds: 60, filename: 'p.json' });
      if (!subject!.presigns) {
        expect(url).toBeNull();
        return;
      }
      const r = await fetch(url!);
      expect(r.status).toBe(200);
      expect(await r.text()).toBe('{"a":1}');
      expect(r.headers.get('content-disposition')).toBe('attachment; filename="p.json"');
      await expect(store.presignedUrl('c9/none', { expiresInSeconds: 60 })).rejects.toBeInstanceOf(ObjectNotFoundError);
    });
  });
}
