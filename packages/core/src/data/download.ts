/**
 * Fetching a published dataset file into the cache: try each mirror, verify the published checksum over the
 * bytes received, and only then write — each file to a temporary name in the same folder, renamed into place,
 * so that a crash or a concurrent reader never sees half a file and a bad download leaves nothing behind.
 * The fetch function is injected: tests pass a local fake, callers pass `globalThis.fetch`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ArcalError } from '@arcal/contracts';
import type { RemoteFile } from './catalog.ts';
import { gunzipIfNeeded } from './file-bytes.ts';
import { tarMembers } from './tar.ts';
import type { LogFn } from './types.ts';

/** The part of the WHATWG fetch API the downloader uses. */
export type FetchLike = (url: string) => Promise<{ ok: boolean; status: number; arrayBuffer(): Promise<ArrayBuffer> }>;

/** Hex digest of `bytes` with `algorithm` ('md5' or 'sha256'). */
export const digestHex = (algorithm: 'md5' | 'sha256', bytes: Uint8Array): string =>
  createHash(algorithm).update(bytes).digest('hex');

/** Writes `bytes` to `dir/name` atomically (temporary file in `dir`, then rename). */
export function writeFileAtomic(dir: string, name: string, bytes: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const final = join(dir, name);
  const tmp = join(dir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.partial`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return final;
}

/**
 * Downloads `remote` into `dir` and returns the paths written. Mirrors are tried in order; a mirror whose
 * bytes fail the checksum is skipped like an unreachable one. When no mirror delivers verified bytes:
 * DATA_CORRUPT if any delivered bytes with the wrong checksum (nothing is written), else DATA_NOT_FOUND
 * listing each mirror's failure (offline, HTTP status, …).
 */
export async function downloadVerified(
  remote: RemoteFile,
  dir: string,
  fetchFn: FetchLike,
  onLog?: LogFn,
): Promise<string[]> {
  const failures: string[] = [];
  let mismatch: string | undefined;
  for (const url of remote.urls) {
    let bytes: Uint8Array;
    try {
      onLog?.(`downloading ${url}`);
      const res = await fetchFn(url);
      if (!res.ok) {
        failures.push(`${url}: HTTP ${res.status}`);
        continue;
      }
      bytes = new Uint8Array(await res.arrayBuffer());
    } catch (e) {
      failures.push(`${url}: ${(e as Error).message}`);
      continue;
    }
    const got = digestHex(remote.checksum.algorithm, bytes);
    if (got !== remote.checksum.hex.toLowerCase()) {
      mismatch = `${url}: ${remote.checksum.algorithm} ${got} does not match the published ${remote.checksum.hex}`;
      failures.push(mismatch);
      onLog?.(`checksum mismatch, discarded: ${mismatch}`);
      continue;
    }
    if (!remote.extract) return [writeFileAtomic(dir, remote.name, bytes)];
    const tar = gunzipIfNeeded(bytes, url);
    const members = tarMembers(
      tar,
      url,
      remote.extract.map((m) => m.member),
    );
    const missing = remote.extract.filter((m) => !members.has(m.member)).map((m) => m.member);
    if (missing.length) throw new ArcalError('DATA_CORRUPT', `${url}: archive lacks ${missing.join(', ')}`);
    return remote.extract.map((m) => writeFileAtomic(dir, m.name, members.get(m.member) as Uint8Array));
  }
  if (mismatch)
    throw new ArcalError(
      'DATA_CORRUPT',
      `download of ${remote.name} failed verification, nothing was cached: ${failures.join('; ')}`,
    );
  throw new ArcalError('DATA_NOT_FOUND', `download of ${remote.name} failed: ${failures.join('; ')}`);
}
