/**
 * @arcal/storage: the artifact store every process uses (local folder or S3-compatible bucket, objects recorded
 * with sha256 and size), its configuration and a worker's read cache. Imports no other arcal package: the
 * records come in by constructor.
 */
import type { ArtifactConfig } from './config.ts';
import { LocalFolderBackend } from './local-folder.backend.ts';
import { S3Backend, type S3BackendOptions } from './s3.backend.ts';
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
export { S3Backend, type S3BackendOptions } from './s3.backend.ts';
export { type Backend, RecordedStore, readAll, type ScannedObject } from './store.ts';
export * from './types.ts';

/** The store that `config` names, recording its objects in `records`. */
export function createArtifactStore(
  config: ArtifactConfig,
  records: ObjectRecords,
  s3Options: S3BackendOptions = {},
): ArtifactStore {
  const backend = config.kind === 'file' ? new LocalFolderBackend(config.dir) : new S3Backend(config, s3Options);
  return new RecordedStore(backend, records);
}
