import { SpendtrailError } from '../errors.ts';
import { emptyRoot, nodeHash } from './tree-hash.ts';

/**
 * Hash of the perfect subtree covering leaves [index·2^level, (index+1)·2^level); level 0 is
 * the leaf hash. Proof construction only asks for subtrees lying entirely inside the tree,
 * so storage needs to hold nothing but completed perfect subtrees.
 */
export type NodeAt = (level: number, index: number) => Buffer;

const invalid = (message: string): SpendtrailError => new SpendtrailError('VALIDATION_FAILED', message);

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** Largest power of two strictly below n (n ≥ 2) together with its log2. */
function split(n: number): { k: number; level: number } {
  let k = 1;
  let level = 0;
  while (k * 2 < n) {
    k *= 2;
    level++;
  }
  return { k, level };
}

/**
 * MTH of leaves [start, end), assembled from perfect subtrees. Callers guarantee `start` is a
 * multiple of the largest power of two not above end − start (true for every right-hand
 * range in the RFC 6962 recursion), so each piece is aligned and its index is exact.
 */
function rangeHash(start: number, end: number, nodeAt: NodeAt): Buffer {
  let size = 1;
  let level = 0;
  while (size * 2 <= end - start) {
    size *= 2;
    level++;
  }
  const parts: Buffer[] = [];
  for (let pos = start; pos < end; size /= 2, level--) {
    if (end - pos >= size) {
      parts.push(nodeAt(level, pos / size));
      pos += size;
    }
  }
  let hash = parts[parts.length - 1]!;
  for (let i = parts.length - 2; i >= 0; i--) hash = nodeHash(parts[i]!, hash);
  return hash;
}

/** RFC 6962 §2.1.1 PATH(index, D[size]): sibling hashes from the leaf up to the root. */
export function inclusionProof(index: number, size: number, nodeAt: NodeAt): Buffer[] {
  if (!isCount(size) || size === 0) throw invalid(`tree size ${size} must be a positive safe integer`);
  if (!isCount(index) || index >= size) throw invalid(`leaf index ${index} is outside a tree of size ${size}`);
  const proof: Buffer[] = [];
  const path = (m: number, start: number, n: number): void => {
    if (n === 1) return;
    const { k, level } = split(n);
    if (m < k) {
      path(m, start, k);
      proof.push(rangeHash(start + k, start + n, nodeAt));
    } else {
      path(m - k, start + k, n - k);
      proof.push(nodeAt(level, start / k));
    }
  };
  path(index, 0, size);
  return proof;
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]); empty when m is 0 or m = n. */
export function consistencyProof(m: number, n: number, nodeAt: NodeAt): Buffer[] {
  if (!isCount(n)) throw invalid(`tree size ${n} must be a non-negative safe integer`);
  if (!isCount(m) || m > n) throw invalid(`old tree size ${m} must be between 0 and ${n}`);
  const proof: Buffer[] = [];
  if (m === 0 || m === n) return proof;
  const subproof = (m: number, start: number, n: number, whole: boolean): void => {
    if (m === n) {
      if (!whole) proof.push(rangeHash(start, start + n, nodeAt));
      return;
    }
    const { k, level } = split(n);
    if (m <= k) {
      subproof(m, start, k, whole);
      proof.push(rangeHash(start + k, start + n, nodeAt));
    } else {
      subproof(m - k, start + k, n - k, false);
      proof.push(nodeAt(level, start / k));
    }
  };
  subproof(m, 0, n, true);
  return proof;
}

const half = (x: number): number => Math.floor(x / 2);
const isOdd = (x: number): boolean => x % 2 === 1;

/** RFC 9162 §2.1.3.2. Never throws: any malformed input is simply not a valid proof. */
export function verifyInclusion(
  leafHash: Buffer,
  index: number,
  size: number,
  proof: readonly Buffer[],
  root: Buffer,
): boolean {
  if (!isCount(index) || !isCount(size) || index >= size) return false;
  // Arithmetic instead of bit operators: sizes may exceed 2^31.
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      r = nodeHash(p, r);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2, extended to the trivial cases m = 0 and m = n. Never throws. */
export function verifyConsistency(
  m: number,
  n: number,
  rootM: Buffer,
  rootN: Buffer,
  proof: readonly Buffer[],
): boolean {
  if (!isCount(m) || !isCount(n) || m > n) return false;
  if (m === n) return proof.length === 0 && rootM.equals(rootN);
  // Every tree extends the empty one, but the claimed old root must still be the empty root.
  if (m === 0) return proof.length === 0 && rootM.equals(emptyRoot());
  if (proof.length === 0) return false;

  // When m is a power of two the old tree is a perfect subtree and its root is omitted from the proof.
  const path = isPowerOfTwo(m) ? [rootM, ...proof] : proof;
  let fn = m - 1;
  let sn = n - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (!isOdd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && fr.equals(rootM) && sr.equals(rootN);
}

function isPowerOfTwo(x: number): boolean {
  if (x < 1) return false;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/**
 * A NodeAt over an in-memory list of leaf hashes, for tests and small trees. Every level is
 * computed up front (O(n) hashes); asking for a subtree that is not complete inside the
 * list throws, which is what makes it useful for checking the proof code's access pattern.
 */
export function nodeAtFromLeaves(leafHashes: readonly Buffer[]): NodeAt {
  const levels: Buffer[][] = [leafHashes.slice()];
  for (let below = levels[0]!; below.length >= 2; ) {
    const above: Buffer[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) above.push(nodeHash(below[i]!, below[i + 1]!));
    levels.push(above);
    below = above;
  }
  return (level, index) => {
    const hash = levels[level]?.[index];
    if (hash === undefined) {
      throw invalid(`no complete subtree at level ${level}, index ${index} in a tree of ${leafHashes.length} leaves`);
    }
    return hash;
  };
}

