/**
 * @arcal/storage: the artifact store every process uses (local folder or S3-compatible bucket, objects recorded
 * with sha256 and size), its configuration and a worker's read cache. Imports no other arcal package: the
 * records come in by constructor.
 */
import type { ArtifactConfig } from './config.ts';
import { LocalFolderBackend } from './local-folder.backend.ts';
import type { S3BackendOptions } from './s3.backend.ts';
import { RecordedStore } from './store.ts';
import type { ArtifactStore, ObjectRecords } from './types.ts';

export { type CachedObject, ReadCache } from './cache.ts';
export {
  type ArtifactConfig,
  artifactConfigFromEnv,
  type CacheConfig,
  cacheConfigFromEnv,
  DEFAULT_ARTIFACT_DIR,
  describeArtifactConfig,
  type S3Location,
} from './config.ts';
export { LocalFolderBackend } from './local-folder.backend.ts';
// S3Backend itself is loaded only when configured (the AWS SDK takes most of a second to import): see createArtifactStore
export type { S3Backend, S3BackendOptions } from './s3.backend.ts';
export { type Backend, RecordedStore, readAll, type ScannedObject } from './store.ts';
export * from './types.ts';

/** The store that `config` names, recording its objects in `records`. */
export async function createArtifactStore(
  config: ArtifactConfig,
  records: ObjectRecords,
  s3Options: S3BackendOptions = {},
): Promise<ArtifactStore> {
  if (config.kind === 'file') return new RecordedStore(new LocalFolderBackend(config.dir), records);
  const { S3Backend } = await import('./s3.backend.ts');
  return new RecordedStore(new S3Backend(config, s3Options), records);
}
