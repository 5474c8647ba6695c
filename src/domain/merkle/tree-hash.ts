import { sha256 } from '../hash.ts';

// RFC 6962 §2.1 domain separation: a leaf can never be reinterpreted as an interior node.
const LEAF_PREFIX = Buffer.from([0x00]);
const NODE_PREFIX = Buffer.from([0x01]);

export const HASH_SIZE = 32;

const EMPTY_ROOT = sha256(new Uint8Array(0));

export function leafHash(data: Uint8Array | string): Buffer {
  // For text, U+0000 encodes as the single byte 0x00: prefixing the string hashes the same
  // bytes as prefixing its UTF-8 encoding, without building a second buffer.
  if (typeof data === 'string') return sha256(`\u0000${data}`);
  return sha256(Buffer.concat([LEAF_PREFIX, data], 1 + data.length));
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return sha256(Buffer.concat([NODE_PREFIX, left, right], 1 + left.length + right.length));
}

/** MTH({}) = SHA-256 of the empty string. */
export function emptyRoot(): Buffer {
  return Buffer.from(EMPTY_ROOT);
}

/** RFC 6962 MTH over leaves that are already leaf-hashed. */
export function rootOf(leafHashes: readonly Buffer[]): Buffer {
  if (leafHashes.length === 0) return emptyRoot();
  return rangeRoot(leafHashes, 0, leafHashes.length);
}

function rangeRoot(leaves: readonly Buffer[], start: number, end: number): Buffer {
  const n = end - start;
  if (n === 1) return leaves[start]!;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(rangeRoot(leaves, start, start + k), rangeRoot(leaves, start + k, end));
}

/** The k of RFC 6962: the largest power of two strictly smaller than n (n ≥ 2). */
export function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  // Multiplication rather than shifts: tree sizes may exceed 2^31.
  while (k * 2 < n) k *= 2;
  return k;
}
