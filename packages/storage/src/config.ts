/**
 * Where artifacts live, parsed once from the environment at a process's entry point and passed down:
 * `ARTIFACT_URL` (`file:///var/lib/arcal/artifacts` or `s3://bucket/prefix`), else `ARTIFACT_DIR`, else the
 * default folder; for S3 the standard AWS variables. Also the worker's read cache (`ARCAL_CACHE_DIR`).
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface S3Location {
  bucket: string;
  /** Key prefix inside the bucket, empty or ending in `/`. */
  prefix: string;
  /** AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (MinIO, Ceph, R2, s3rver); unset for AWS itself. */
  endpoint?: string;
  region: string;
  /** Bucket in the path rather than the host name (AWS_S3_FORCE_PATH_STYLE=true), as most non-AWS servers need. */
  forcePathStyle: boolean;
  /** From AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN]; unset: the SDK's default chain (profile, IMDS, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export type ArtifactConfig = { kind: 'file'; dir: string } | ({ kind: 's3' } & S3Location);

export const DEFAULT_ARTIFACT_DIR = './runs/service';

const truthy = (v: string | undefined) => v === '1' || v?.toLowerCase() === 'true';

/** Parses ARTIFACT_URL / ARTIFACT_DIR and the AWS variables; throws one readable line on a bad URL. */
export function artifactConfigFromEnv(
  env: Record<string, string | undefined>,
  defaultDir = DEFAULT_ARTIFACT_DIR,
): ArtifactConfig {
  const raw = env.ARTIFACT_URL?.trim();
  if (!raw) return { kind: 'file', dir: env.ARTIFACT_DIR || defaultDir };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`ARTIFACT_URL: "${raw}" is not a URL; use file:///path or s3://bucket/prefix`);
  }
  if (url.protocol === 'file:') {
    if (url.host) throw new Error(`ARTIFACT_URL: "${raw}" names a host; use file:///absolute/path`);
    return { kind: 'file', dir: fileURLToPath(url) };
  }
  if (url.protocol !== 's3:')
    throw new Error(`ARTIFACT_URL: unsupported scheme "${url.protocol}"; use file:///path or s3://bucket/prefix`);
  if (!url.hostname) throw new Error(`ARTIFACT_URL: "${raw}" has no bucket; use s3://bucket/prefix`);
  const path = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, '');
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL;
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = env;
  if (Boolean(id) !== Boolean(secret))
    throw new Error('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together');
  return {
    kind: 's3',
    bucket: url.hostname,
    prefix: path ? `${path}/` : '',
    ...(endpoint ? { endpoint } : {}),
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: truthy(env.AWS_S3_FORCE_PATH_STYLE),
    ...(id && secret
      ? { credentials: { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) } }
      : {}),
  };
}

/** `file:///abs` or `s3://bucket/prefix`, with no credentials. */
export function describeArtifactConfig(c: ArtifactConfig): string {
  return c.kind === 'file' ? `file://${resolve(c.dir)}` : `s3://${c.bucket}/${c.prefix}`;
}

export interface CacheConfig {
  dir: string;
  /** Largest total size of cached objects; the least recently used go first [10 GiB]. */
  maxBytes: number;
}

/** `ARCAL_CACHE_DIR` [~/.cache/arcal/objects], `ARCAL_CACHE_MAX_BYTES` [10 GiB]. */
export function cacheConfigFromEnv(env: Record<string, string | undefined>): CacheConfig {
  const max = env.ARCAL_CACHE_MAX_BYTES;
  const maxBytes = max === undefined || max === '' ? 10 * 2 ** 30 : Number(max);
  if (!Number.isFinite(maxBytes) || maxBytes < 0)
    throw new Error(`ARCAL_CACHE_MAX_BYTES must be a non-negative number of bytes, got "${max}"`);
  return { dir: env.ARCAL_CACHE_DIR || join(homedir(), '.cache', 'arcal', 'objects'), maxBytes };
}
