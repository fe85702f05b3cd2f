/**
 * Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2) through the AWS SDK v3. Writes go through
 * @aws-sdk/lib-storage's `Upload` (one PUT for small bodies, a multipart upload for large ones): S3 makes the
 * object visible only when the upload completes, so a killed writer leaves at most an unfinished multipart
 * upload, which the sweep aborts where the server can list them.
 */

import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  type ListMultipartUploadsCommandOutput,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Location } from './config.ts';
import type { Backend, ScannedObject } from './store.ts';
import type { PresignOptions } from './types.ts';

export interface S3BackendOptions {
  /** Multipart part size in bytes (S3's minimum is 5 MiB) [8 MiB]. */
  partSize?: number;
  /** Parts uploaded at once; at most partSize × queueSize bytes are buffered [4]. */
  queueSize?: number;
}

const status = (err: unknown) => (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;

export class S3Backend implements Backend {
  readonly kind = 's3' as const;
  readonly location: string;
  readonly client: S3Client;

  constructor(
    private readonly loc: S3Location,
    private readonly opts: S3BackendOptions = {},
  ) {
    this.location = `s3://${loc.bucket}/${loc.prefix}`;
    this.client = new S3Client({
      region: loc.region,
      forcePathStyle: loc.forcePathStyle,
      ...(loc.endpoint ? { endpoint: loc.endpoint } : {}),
      ...(loc.credentials ? { credentials: loc.credentials } : {}),
      // The SDK's default CRC32 trailers (aws-chunked bodies) are unknown to many S3-compatible servers;
      // integrity is checked by the sha256 the store records.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  private k(key: string): string {
    return this.loc.prefix + key;
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, contentType: string): Promise<void> {
    // When the body fails, Upload aborts the multipart upload; on a server that cannot abort (s3rver) that error
    // would replace the body's own, which is the one worth reporting.
    let bodyError: { error: unknown } | undefined;
    async function* guarded() {
      try {
        yield* body;
      } catch (error) {
        bodyError = { error };
        throw error;
      }
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.loc.bucket, Key: this.k(key), Body: Readable.from(guarded()), ContentType: contentType },
      partSize: this.opts.partSize ?? 8 * 2 ** 20,
      queueSize: this.opts.queueSize ?? 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      throw bodyError ? bodyError.error : err;
    }
  }

  async open(key: string): Promise<{ body: Readable; size: number } | null> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: this.loc.bucket, Key: this.k(key) }));
      return { body: r.Body as Readable, size: r.ContentLength ?? 0 };
    } catch (err) {
      if (status(err) === 404 || (err as Error).name === 'NoSuchKey') return null;
      throw err;
    }
  }

  async remove(keys: string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const r = await this.client.send(
        new DeleteObjectsCommand({
          Bucket: this.loc.bucket,
          Delete: { Objects: keys.slice(i, i + 1000).map((k) => ({ Key: this.k(k) })), Quiet: true },
        }),
      );
      if (r.Errors?.length) {
        const e = r.Errors[0]!;
        throw new Error(`S3 delete of ${r.Errors.length} object(s) failed, e.g. ${e.Key}: ${e.Code} ${e.Message}`);
      }
    }
  }

  async removePrefix(prefix: string): Promise<void> {
    const keys: string[] = [];
    for await (const o of this.scan(prefix)) keys.push(o.key);
    await this.remove(keys);
  }

  async *scan(prefix: string): AsyncIterable<ScannedObject> {
    let token: string | undefined;
    do {
      const r = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.loc.bucket, Prefix: this.k(prefix), ContinuationToken: token }),
      );
      for (const o of r.Contents ?? [])
        if (o.Key) yield { key: o.Key.slice(this.loc.prefix.length), modified: o.LastModified ?? new Date(0) };
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async abortUploads(before: Date): Promise<{ aborted: number; listing: 'done' | 'unsupported' }> {
    let aborted = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      let r: ListMultipartUploadsCommandOutput;
      try {
        r = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.loc.bucket,
            Prefix: this.loc.prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        if (err instanceof S3ServiceException && (err.name === 'NotImplemented' || status(err) === 501))
          return { aborted, listing: 'unsupported' };
        throw err;
      }
      for (const u of r.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated >= before) continue;
        await this.client.send(
          new AbortMultipartUploadCommand({ Bucket: this.loc.bucket, Key: u.Key, UploadId: u.UploadId }),
        );
        aborted++;
      }
      if (!r.IsTruncated) return { aborted, listing: 'done' };
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
    }
  }

  presign(key: string, opts: PresignOptions): Promise<string> {
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.loc.bucket,
        Key: this.k(key),
        ...(opts.filename ? { ResponseContentDisposition: `attachment; filename="${opts.filename}"` } : {}),
        ...(opts.contentType ? { ResponseContentType: opts.contentType } : {}),
      }),
      { expiresIn: opts.expiresInSeconds },
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
