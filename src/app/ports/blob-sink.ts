/**
 * Write-once storage for audit export objects: the local filesystem, or S3 with Object Lock.
 * Keys are relative paths with "/" separators (`audit/<org>/<kind>/YYYY/MM/DD/<first>-<last>.ndjson`).
 */
export interface PutResult {
  readonly key: string;
  /** The store's version id (S3), or null where there is none (filesystem). */
  readonly version_id: string | null;
  /** SHA-256 of the bytes written, hex: what a later re-put must match. */
  readonly sha256: string;
  /** True when an object with these exact bytes was already there (an idempotent re-put). */
  readonly existed: boolean;
}

export interface SinkStatus {
  readonly kind: 'filesystem' | 's3';
  /** Where, without secrets: a directory, or `s3://bucket/prefix` at an endpoint. */
  readonly location: string;
  /** For S3: Object Lock enabled on the bucket, and its default mode/retention if any. */
  readonly object_lock: { readonly enabled: boolean; readonly mode: 'GOVERNANCE' | 'COMPLIANCE' | null } | null;
}

export interface BlobSink {
  /**
   * Writes an object once. Writing the same key again with the same bytes is a no-op that
   * reports `existed: true`; different bytes under an existing key are refused with
   * SpendtrailError EXPORT_CONFLICT (the first write stands).
   */
  put(key: string, body: Buffer, contentType: string): Promise<PutResult>;
  /** The bytes of an object (latest version), or null when absent. */
  get(key: string): Promise<Buffer | null>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  /** Checks the destination is usable (bucket exists, Object Lock on unless allowed off). */
  check(): Promise<SinkStatus>;
}
