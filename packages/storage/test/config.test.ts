/** ARTIFACT_URL, ARTIFACT_DIR and the AWS variables; ARCAL_CACHE_DIR and its cap. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactConfigFromEnv, cacheConfigFromEnv, describeArtifactConfig } from '../src/index.ts';

describe('artifact configuration', () => {
  it('defaults to the local folder: ARTIFACT_DIR, else ./runs/service', () => {
    expect(artifactConfigFromEnv({})).toEqual({ kind: 'file', dir: './runs/service' });
    expect(artifactConfigFromEnv({ ARTIFACT_DIR: '/srv/a' })).toEqual({ kind: 'file', dir: '/srv/a' });
  });

  it('file:///path names the local folder (and wins over ARTIFACT_DIR)', () => {
    expect(artifactConfigFromEnv({ ARTIFACT_URL: 'file:///var/lib/arcal/artifacts', ARTIFACT_DIR: '/x' })).toEqual({
      kind: 'file',
      dir: '/var/lib/arcal/artifacts',
    });
    expect(() => artifactConfigFromEnv({ ARTIFACT_URL: 'file://host/x' })).toThrow(
      'ARTIFACT_URL: "file://host/x" names a host; use file:///absolute/path',
    );
  });

  it('s3://bucket/prefix with the standard AWS variables', () => {
    const c = artifactConfigFromEnv({
      ARTIFACT_URL: 's3://arcal-artifacts/team-a/runs/',
      AWS_ENDPOINT_URL: 'http://minio:9000',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_S3_FORCE_PATH_STYLE: 'true',
    });
    expect(c).toEqual({
      kind: 's3',
      bucket: 'arcal-artifacts',
      prefix: 'team-a/runs/',
      endpoint: 'http://minio:9000',
      region: 'eu-west-3',
      forcePathStyle: true,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    });
    expect(describeArtifactConfig(c)).toBe('s3://arcal-artifacts/team-a/runs/');
    // AWS itself: no endpoint, virtual-host style, credentials from the SDK's default chain
    expect(artifactConfigFromEnv({ ARTIFACT_URL: 's3://b' })).toEqual({
      kind: 's3',
      bucket: 'b',
      prefix: '',
      region: 'us-east-1',
      forcePathStyle: false,
    });
    expect(
      artifactConfigFromEnv({
        ARTIFACT_URL: 's3://b/p',
        AWS_ENDPOINT_URL: 'http://a',
        AWS_ENDPOINT_URL_S3: 'http://s3',
      }),
    ).toMatchObject({ endpoint: 'http://s3', prefix: 'p/' });
  });

  it('refuses what it cannot use, in one line', () => {
    expect(() => artifactConfigFromEnv({ ARTIFACT_URL: 'gs://b/p' })).toThrow(
      'ARTIFACT_URL: unsupported scheme "gs:"; use file:///path or s3://bucket/prefix',
    );
    expect(() => artifactConfigFromEnv({ ARTIFACT_URL: 'not a url' })).toThrow(
      'ARTIFACT_URL: "not a url" is not a URL',
    );
    expect(() => artifactConfigFromEnv({ ARTIFACT_URL: 's3://b', AWS_ACCESS_KEY_ID: 'x' })).toThrow(
      'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
    );
  });

  it('the cache lives under ~/.cache/arcal unless ARCAL_CACHE_DIR says otherwise, capped at 10 GiB', () => {
    expect(cacheConfigFromEnv({})).toEqual({
      dir: join(homedir(), '.cache', 'arcal', 'objects'),
      maxBytes: 10737418240,
    });
    expect(cacheConfigFromEnv({ ARCAL_CACHE_DIR: '/c', ARCAL_CACHE_MAX_BYTES: '1000' })).toEqual({
      dir: '/c',
      maxBytes: 1000,
    });
    expect(() => cacheConfigFromEnv({ ARCAL_CACHE_MAX_BYTES: 'lots' })).toThrow(
      'ARCAL_CACHE_MAX_BYTES must be a non-negative number of bytes, got "lots"',
    );
  });
});
