import { hash } from 'node:crypto';

// One-shot `crypto.hash` avoids allocating a Hash object per call, which dominates for the
// small inputs (leaves, 65-byte tree nodes) hashed on the ledger's hot path.
export function sha256(data: Uint8Array | string): Buffer {
  return hash('sha256', data, 'buffer');
}

export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex');
}

/** Content address of a canonical JSON document, e.g. `sha256:e3b0c442…`. */
export function snapshotId(canonicalJson: string): string {
  return `sha256:${sha256Hex(canonicalJson)}`;
}

/** Content address of raw bytes (a rail's native payload), in the same `sha256:` form. */
export function contentHash(bytes: Uint8Array): string {
  return `sha256:${sha256Hex(bytes)}`;
}
