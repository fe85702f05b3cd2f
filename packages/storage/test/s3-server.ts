/**
 * A real S3-protocol server for tests: s3rver (a dev dependency) in its own process, on a free port, storing in
 * a fresh temporary folder. Never an in-memory mock. When it cannot start the tests skip with a loud reason,
 * and fail instead under REQUIRE_S3=1 (as `.ci/run` sets).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { S3Location } from '../src/index.ts';

export interface S3TestServer {
  endpoint: string;
  bucket: string;
  /** s3rver's own folder: `<dir>/<bucket>/…` holds objects and unfinished multipart uploads. */
  dir: string;
  /** Environment a child process needs to reach the bucket under `prefix` (ARTIFACT_URL and AWS_*). */
  env(prefix: string): Record<string, string>;
  location(prefix: string): S3Location;
  stop(): Promise<void>;
}

export type S3ServerResult = { available: true; server: S3TestServer } | { available: false; reason: string };

const LAUNCHER = fileURLToPath(new URL('./s3rver-process.mjs', import.meta.url));
// s3rver's built-in account
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

function unavailable(reason: string): S3ServerResult {
  const msg = `S3 tests need a local S3-protocol server (s3rver): ${reason}`;
  if (process.env.REQUIRE_S3 === '1') throw new Error(`${msg} (REQUIRE_S3=1, so this is a failure)`);
  console.warn(`\n*** SKIPPING S3 tests: ${msg}. Install the dev dependencies (npm ci). ***\n`);
  return { available: false, reason: msg };
}

export async function startS3Server(bucket = 'arcal-test'): Promise<S3ServerResult> {
  try {
    createRequire(import.meta.url).resolve('s3rver');
  } catch {
    return unavailable('the s3rver package is not installed');
  }
  const dir = mkdtempSync(join(tmpdir(), 'arcal-s3rver-'));
  const child: ChildProcess = spawn(process.execPath, [LAUNCHER, dir, bucket], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => {
    stderr += c;
  });
  const port = await new Promise<number | string>((ok) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const line = out.split('\n')[0]!;
      if (out.includes('\n')) ok((JSON.parse(line) as { port: number }).port);
    });
    child.on('exit', (code) => ok(`s3rver exited with code ${code}: ${stderr.slice(-500)}`));
  });
  if (typeof port === 'string') {
    rmSync(dir, { recursive: true, force: true });
    return unavailable(port);
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const location = (prefix: string): S3Location => ({
    bucket,
    prefix: prefix ? `${prefix.replace(/\/+$/, '')}/` : '',
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  return {
    available: true,
    server: {
      endpoint,
      bucket,
      dir,
      location,
      env: (prefix) => ({
        ARTIFACT_URL: `s3://${bucket}/${prefix}`,
        AWS_ENDPOINT_URL: endpoint,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        AWS_S3_FORCE_PATH_STYLE: 'true',
      }),
      async stop() {
        if (child.exitCode === null) {
          const exited = new Promise((ok) => child.once('exit', ok));
          child.kill('SIGTERM');
          await exited;
        }
        rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}
