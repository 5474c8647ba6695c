import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactRange } from './compact-range.ts';
import type { NodeAt } from './proofs.ts';
import { consistencyProof, inclusionProof, nodeAtFromLeaves, verifyConsistency, verifyInclusion } from './proofs.ts';
import { emptyRoot, leafHash, nodeHash, rootOf } from './tree-hash.ts';

const hex = (proof: readonly Buffer[]): string[] => proof.map((b) => b.toString('hex'));
const leavesFor = (n: number, salt = ''): Buffer[] => Array.from({ length: n }, (_, i) => leafHash(`${salt}leaf-${i}`));
const flipped = (b: Buffer, at = 0): Buffer => {
  const copy = Buffer.from(b);
  copy[at % copy.length]! ^= 0x01;
  return copy;
};

/** nodeAtFromLeaves, plus an explicit check that every request is a perfect subtree inside [0, size). */
function strictNodeAt(leaves: readonly Buffer[]): NodeAt {
  const inner = nodeAtFromLeaves(leaves);
  return (level, index) => {
    expect(Number.isSafeInteger(level) && level >= 0).toBe(true);
    expect(Number.isSafeInteger(index) && index >= 0).toBe(true);
    expect((index + 1) * 2 ** level).toBeLessThanOrEqual(leaves.length);
    return inner(level, index);
  };
}

const validationFailed = expect.objectContaining({ code: 'VALIDATION_FAILED' });

describe('RFC 6962 §2.1.3 example tree of seven leaves', () => {
  const d = leavesFor(7, 'rfc6962-');
  const [a, b, c, dd, _e, f, j] = d as [Buffer, Buffer, Buffer, Buffer, Buffer, Buffer, Buffer];
  // Interior nodes named as in the RFC figure, computed from rootOf over sub-ranges.
  const g = rootOf(d.slice(0, 2));
  const h = rootOf(d.slice(2, 4));
  const i = rootOf(d.slice(4, 6));
  const k = rootOf(d.slice(0, 4));
  const l = rootOf(d.slice(4, 7));
  const root = rootOf(d);
  const nodeAt = strictNodeAt(d);

  it('names the nodes consistently with the root', () => {
    expect(nodeHash(k, l).equals(root)).toBe(true);
    expect(nodeHash(i, j).equals(l)).toBe(true);
    expect(nodeHash(a, b).equals(g)).toBe(true);
  });

  it.each([
    [0, () => [b, h, l]],
    [3, () => [c, g, l]],
    [4, () => [f, j, k]],
    [6, () => [i, k]],
  ])('gives the audit path of d%i from the RFC', (index, expected) => {
    const proof = inclusionProof(index, 7, nodeAt);
    expect(hex(proof)).toEqual(hex(expected()));
    expect(verifyInclusion(d[index]!, index, 7, proof, root)).toBe(true);
  });

  it.each([
    [3, () => [c, dd, g, l]],
    [4, () => [l]],
    [6, () => [i, j, k]],
  ])('gives the consistency proof from %i leaves from the RFC', (m, expected) => {
    const proof = consistencyProof(m, 7, nodeAt);
    expect(hex(proof)).toEqual(hex(expected()));
    expect(verifyConsistency(m, 7, rootOf(d.slice(0, m)), root, proof)).toBe(true);
  });

  it('rejects a consistency proof against the wrong old root', () => {
    const proof = consistencyProof(3, 7, nodeAt);
    expect(verifyConsistency(3, 7, rootOf(d.slice(0, 4)), root, proof)).toBe(false);
  });

  it('rejects an inclusion proof with its elements reordered', () => {
    expect(verifyInclusion(a, 0, 7, [h, b, l], root)).toBe(false);
  });
});

describe('Certificate Transparency reference vectors', () => {
  const leaves = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
    (h) => leafHash(Buffer.from(h, 'hex')),
  );
  const nodeAt = (n: number): NodeAt => strictNodeAt(leaves.slice(0, n));

  it.each([
    [0, 1, []],
    [
      0,
      8,
      [
        '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
        '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
        '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
      ],
    ],
    [
      5,
      8,
      [
        'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
        'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
        'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      ],
    ],
    [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
    [
      1,
      5,
      [
        '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
        '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
        'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      ],
    ],
  ])('proves leaf %i in a tree of %i with the reference path', (index, size, expected) => {
    const proof = inclusionProof(index, size, nodeAt(size));
    expect(hex(proof)).toEqual(expected);
    expect(verifyInclusion(leaves[index]!, index, size, proof, rootOf(leaves.slice(0, size)))).toBe(true);
  });

  it.each([
    [1, 1, []],
    [
      1,
      8,
      [
        '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
        '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
        '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
      ],
    ],
    [
      6,
      8,
      [
        '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
        'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
        'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
      ],
    ],
    [
      2,
      5,
      [
        '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
        'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      ],
    ],
  ])('proves %i leaves consistent with %i with the reference proof', (m, n, expected) => {
    const proof = consistencyProof(m, n, nodeAt(n));
    expect(hex(proof)).toEqual(expected);
    expect(verifyConsistency(m, n, rootOf(leaves.slice(0, m)), rootOf(leaves.slice(0, n)), proof)).toBe(true);
  });
});

describe('inclusion proofs', () => {
  it('verifies every leaf of every tree up to 40 leaves, and nowhere else', () => {
    const all = leavesFor(40);
    for (let size = 1; size <= 40; size++) {
      const leaves = all.slice(0, size);
      const root = rootOf(leaves);
      const nodeAt = strictNodeAt(leaves);
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(index, size, nodeAt);
        expect(verifyInclusion(leaves[index]!, index, size, proof, root)).toBe(true);
        for (let other = 0; other < size; other++) {
          if (other !== index) expect(verifyInclusion(leaves[index]!, other, size, proof, root)).toBe(false);
        }
      }
    }
  });

  it('verifies for random trees up to 300 leaves and fails for a different leaf, index or root', () => {
    const arb = fc
      .integer({ min: 1, max: 300 })
      .chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1), fc.nat(size - 1), fc.nat(31)));
    fc.assert(
      fc.property(arb, ([size, index, other, byte]) => {
        const leaves = leavesFor(size, `${size}-`);
        const root = rootOf(leaves);
        const proof = inclusionProof(index, size, strictNodeAt(leaves));
        const leaf = leaves[index]!;
        expect(verifyInclusion(leaf, index, size, proof, root)).toBe(true);
        expect(verifyInclusion(leafHash('not in the tree'), index, size, proof, root)).toBe(false);
        expect(verifyInclusion(flipped(leaf, byte), index, size, proof, root)).toBe(false);
        if (other !== index) {
          expect(verifyInclusion(leaf, other, size, proof, root)).toBe(false);
          expect(verifyInclusion(leaves[other]!, index, size, proof, root)).toBe(false);
        }
        expect(verifyInclusion(leaf, index, size, proof, flipped(root, byte))).toBe(false);
        expect(verifyInclusion(leaf, index, size + 1, proof, rootOf([...leaves, leafHash('next')]))).toBe(false);
        if (proof.length > 0) {
          const tampered = proof.map((p, i) => (i === byte % proof.length ? flipped(p, byte) : p));
          expect(verifyInclusion(leaf, index, size, tampered, root)).toBe(false);
          expect(verifyInclusion(leaf, index, size, proof.slice(1), root)).toBe(false);
        }
        expect(verifyInclusion(leaf, index, size, [...proof, root], root)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects a leaf index outside the tree when verifying', () => {
    const leaves = leavesFor(4);
    const root = rootOf(leaves);
    expect(verifyInclusion(leaves[0]!, 4, 4, [], root)).toBe(false);
    expect(verifyInclusion(leaves[0]!, -1, 4, [], root)).toBe(false);
    expect(verifyInclusion(leaves[0]!, 0.5, 4, [], root)).toBe(false);
  });

  it.each([
    [0, 0],
    [3, 3],
    [-1, 3],
    [1.5, 3],
  ])('refuses to build a proof for leaf %d in a tree of size %d', (index, size) => {
    expect(() => inclusionProof(index, size, nodeAtFromLeaves(leavesFor(Math.max(size, 0))))).toThrow(validationFailed);
  });
});

describe('consistency proofs', () => {
  it('verifies every pair of sizes up to 40 and fails when the old root is altered', () => {
    const leaves = leavesFor(40);
    const roots = Array.from({ length: 41 }, (_, n) => rootOf(leaves.slice(0, n)));
    for (let n = 0; n <= 40; n++) {
      const nodeAt = strictNodeAt(leaves.slice(0, n));
      for (let m = 0; m <= n; m++) {
        const proof = consistencyProof(m, n, nodeAt);
        expect(verifyConsistency(m, n, roots[m]!, roots[n]!, proof)).toBe(true);
        expect(verifyConsistency(m, n, flipped(roots[m]!), roots[n]!, proof)).toBe(false);
      }
    }
  });

  it('verifies for random sizes up to 300 and fails for altered roots or proofs', () => {
    const arb = fc
      .integer({ min: 0, max: 300 })
      .chain((n) => fc.tuple(fc.nat(n), fc.constant(n), fc.nat(31), fc.string({ maxLength: 4 })));
    fc.assert(
      fc.property(arb, ([m, n, byte, salt]) => {
        const leaves = leavesFor(n, salt);
        const rootM = rootOf(leaves.slice(0, m));
        const rootN = rootOf(leaves);
        const proof = consistencyProof(m, n, strictNodeAt(leaves));
        expect(verifyConsistency(m, n, rootM, rootN, proof)).toBe(true);
        expect(verifyConsistency(m, n, flipped(rootM, byte), rootN, proof)).toBe(false);
        // Every tree extends the empty tree, so only a non-empty old tree constrains the new root.
        if (m > 0) expect(verifyConsistency(m, n, rootM, flipped(rootN, byte), proof)).toBe(false);
        if (proof.length > 0) {
          const tampered = proof.map((p, i) => (i === byte % proof.length ? flipped(p, byte) : p));
          expect(verifyConsistency(m, n, rootM, rootN, tampered)).toBe(false);
          expect(verifyConsistency(m, n, rootM, rootN, proof.slice(0, -1))).toBe(false);
        }
        if (m > 0 && m < n) {
          const forked = [...leaves.slice(0, m - 1), leafHash('forked'), ...leaves.slice(m)];
          expect(verifyConsistency(m, n, rootM, rootOf(forked), proof)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('treats the empty tree as consistent with any tree only under the empty root', () => {
    const leaves = leavesFor(5);
    expect(verifyConsistency(0, 5, emptyRoot(), rootOf(leaves), [])).toBe(true);
    expect(verifyConsistency(0, 5, rootOf(leaves), rootOf(leaves), [])).toBe(false);
    expect(verifyConsistency(0, 5, emptyRoot(), rootOf(leaves), [leaves[0]!])).toBe(false);
  });

  it('requires equal roots and an empty proof for equal sizes', () => {
    const leaves = leavesFor(5);
    expect(verifyConsistency(5, 5, rootOf(leaves), rootOf(leaves), [])).toBe(true);
    expect(verifyConsistency(5, 5, rootOf(leaves), rootOf(leaves), [leaves[0]!])).toBe(false);
  });

  it('rejects a shrinking tree', () => {
    const leaves = leavesFor(5);
    expect(verifyConsistency(5, 4, rootOf(leaves), rootOf(leaves.slice(0, 4)), [])).toBe(false);
    expect(() => consistencyProof(5, 4, nodeAtFromLeaves(leaves))).toThrow(validationFailed);
  });
});

describe('proofs beyond 2^32 leaves', () => {
  // With every leaf equal, the hash of a perfect subtree depends only on its level, so a
  // tree of trillions of leaves is cheap to describe; this exercises the index arithmetic.
  const levelHashes = [leafHash('same')];
  for (let l = 1; l <= 52; l++) levelHashes.push(nodeHash(levelHashes[l - 1]!, levelHashes[l - 1]!));
  const virtualTree = (size: number): { nodeAt: NodeAt; root: Buffer } => {
    const frontier: Buffer[] = [];
    for (let level = 52; level >= 0; level--) {
      if (Math.floor(size / 2 ** level) % 2 === 1) frontier.push(levelHashes[level]!);
    }
    const nodeAt: NodeAt = (level, index) => {
      expect((index + 1) * 2 ** level).toBeLessThanOrEqual(size);
      return levelHashes[level]!;
    };
    return { nodeAt, root: CompactRange.fromState(size, frontier).root() };
  };

  it('builds and verifies inclusion and consistency proofs at sizes above 32 bits', () => {
    const n = 2 ** 40 + 2 ** 33 + 12345;
    const m = 2 ** 36 + 7;
    const big = virtualTree(n);
    const small = virtualTree(m);
    for (const index of [0, 2 ** 35 + 3, n - 1]) {
      const proof = inclusionProof(index, n, big.nodeAt);
      expect(verifyInclusion(levelHashes[0]!, index, n, proof, big.root)).toBe(true);
    }
    const proof = consistencyProof(m, n, big.nodeAt);
    expect(verifyConsistency(m, n, small.root, big.root, proof)).toBe(true);
    expect(verifyConsistency(m, n, flipped(small.root), big.root, proof)).toBe(false);
  });
});

describe('nodeAtFromLeaves', () => {
  it('returns leaf hashes at level 0 and subtree roots above', () => {
    const leaves = leavesFor(6);
    const nodeAt = nodeAtFromLeaves(leaves);
    expect(nodeAt(0, 5).equals(leaves[5]!)).toBe(true);
    expect(nodeAt(1, 2).equals(rootOf(leaves.slice(4, 6)))).toBe(true);
    expect(nodeAt(2, 0).equals(rootOf(leaves.slice(0, 4)))).toBe(true);
  });

  it('refuses subtrees that are not complete inside the leaves', () => {
    const nodeAt = nodeAtFromLeaves(leavesFor(6));
    expect(() => nodeAt(2, 1)).toThrow(validationFailed);
    expect(() => nodeAt(0, 6)).toThrow(validationFailed);
    expect(() => nodeAt(3, 0)).toThrow(validationFailed);
  });
});
