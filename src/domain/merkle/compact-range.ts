import { SpendtrailError } from '../errors.ts';
import { HASH_SIZE, emptyRoot, nodeHash } from './tree-hash.ts';

/**
 * Called once for every perfect subtree completed by an append, bottom-up: the leaf itself
 * (level 0) and each larger subtree it closes. `index` counts subtrees of size 2^level from
 * the left, so the subtree covers leaves [index·2^level, (index+1)·2^level).
 */
export type CompleteSubtreeListener = (level: number, index: number, hash: Buffer) => void;

const corrupt = (message: string): SpendtrailError => new SpendtrailError('INTEGRITY_FAILURE', message);

/** Number of perfect subtrees in the frontier of a tree of `size` leaves (its popcount). */
function frontierLength(size: number): number {
  let count = 0;
  for (let s = size; s > 0; s = Math.floor(s / 2)) count += s % 2;
  return count;
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw corrupt(`tree size ${size} is not a non-negative safe integer`);
}

/**
 * The right frontier of an append-only RFC 6962 tree: one hash per perfect subtree in the
 * binary decomposition of the size, largest (leftmost) first. O(log n) state is all that is
 * needed to keep appending and to compute the root, so the log never rereads old leaves.
 */
export class CompactRange {
  #size: number;
  readonly #frontier: Buffer[];
  readonly #onCompleteSubtree: CompleteSubtreeListener | undefined;

  constructor(onCompleteSubtree?: CompleteSubtreeListener) {
    this.#size = 0;
    this.#frontier = [];
    this.#onCompleteSubtree = onCompleteSubtree;
  }

  static empty(onCompleteSubtree?: CompleteSubtreeListener): CompactRange {
    return new CompactRange(onCompleteSubtree);
  }

  /** Resumes from persisted state; the state must be one this class produced. */
  static fromState(size: number, frontier: readonly Buffer[], onCompleteSubtree?: CompleteSubtreeListener): CompactRange {
    checkSize(size);
    const expected = frontierLength(size);
    if (frontier.length !== expected) {
      throw corrupt(`a tree of size ${size} has ${expected} frontier hashes, got ${frontier.length}`);
    }
    const range = new CompactRange(onCompleteSubtree);
    for (const hash of frontier) {
      if (hash.length !== HASH_SIZE) throw corrupt(`frontier hash is ${hash.length} bytes, expected ${HASH_SIZE}`);
      range.#frontier.push(Buffer.from(hash));
    }
    range.#size = size;
    return range;
  }

  static deserialize(size: number, buf: Uint8Array, onCompleteSubtree?: CompleteSubtreeListener): CompactRange {
    checkSize(size);
    const expected = frontierLength(size) * HASH_SIZE;
    if (buf.length !== expected) {
      throw corrupt(`a tree of size ${size} needs ${expected} bytes of frontier, got ${buf.length}`);
    }
    const frontier: Buffer[] = [];
    for (let offset = 0; offset < buf.length; offset += HASH_SIZE) {
      frontier.push(Buffer.from(buf.subarray(offset, offset + HASH_SIZE)));
    }
    return CompactRange.fromState(size, frontier, onCompleteSubtree);
  }

  get size(): number {
    return this.#size;
  }

  append(leafHash: Buffer): void {
    if (leafHash.length !== HASH_SIZE) {
      throw new SpendtrailError('VALIDATION_FAILED', `leaf hash is ${leafHash.length} bytes, expected ${HASH_SIZE}`);
    }
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new SpendtrailError('VALIDATION_FAILED', 'tree is full');
    const listener = this.#onCompleteSubtree;
    let hash = leafHash;
    // `s` walks the old size's bits from the bottom; each 1-bit is a same-sized perfect
    // subtree on the frontier that the new one merges with, like a binary carry.
    let s = this.#size;
    let level = 0;
    listener?.(0, s, hash);
    while (s % 2 === 1) {
      hash = nodeHash(this.#frontier.pop()!, hash);
      s = (s - 1) / 2;
      level++;
      listener?.(level, s, hash);
    }
    // An unmerged leaf is the caller's buffer; copy it so later mutation cannot alter the state.
    this.#frontier.push(level === 0 ? Buffer.from(hash) : hash);
    this.#size++;
  }

  appendMany(leafHashes: Iterable<Buffer>): void {
    for (const leafHash of leafHashes) this.append(leafHash);
  }

  /** MTH of all leaves appended so far. */
  root(): Buffer {
    const frontier = this.#frontier;
    if (frontier.length === 0) return emptyRoot();
    // RFC 6962 splits at the largest power of two, so the root nests the frontier from the right.
    let hash = frontier[frontier.length - 1]!;
    for (let i = frontier.length - 2; i >= 0; i--) hash = nodeHash(frontier[i]!, hash);
    return hash;
  }

  /** Roots of the perfect subtrees, left to right; copies, so callers cannot corrupt the state. */
  frontier(): Buffer[] {
    return this.#frontier.map((hash) => Buffer.from(hash));
  }

  serialize(): Buffer {
    return Buffer.concat(this.#frontier, this.#frontier.length * HASH_SIZE);
  }
}
