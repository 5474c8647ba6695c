import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { inclusionProof, nodeAtFromLeaves, verifyInclusion } from '../domain/merkle/proofs.ts';
import { rootOf } from '../domain/merkle/tree-hash.ts';
import { segmentNodeAt } from './audit-export.ts';
import { TILE_LEVELS } from './log-sealer.ts';
import type { StoreReads, TileRow } from './ports/store.ts';
import { storedFrontier } from './tree-reader.ts';

const leaves = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest());

/**
 * The two reads storedFrontier makes, over an in-memory tree with tiles at the stored levels,
 * recording every row range asked for so a test can see nothing at or after `first` is read.
 */
function treeStore(all: readonly Buffer[]): { store: StoreReads; reads: { level: number; from: number; to: number }[] } {
  const full = nodeAtFromLeaves(all);
  const reads: { level: number; from: number; to: number }[] = [];
  const store = {
    leafHashes: (_org: string, from: number, to: number): Promise<Buffer[]> => {
      reads.push({ level: 0, from, to });
      return Promise.resolve(all.slice(from, to));
    },
    tiles: (_org: string, level: number, from: number, to: number): Promise<TileRow[]> => {
      if (!TILE_LEVELS.has(level)) throw new Error(`no tiles are stored at level ${level}`);
      reads.push({ level, from, to });
      return Promise.resolve(Array.from({ length: to - from }, (_, i) => ({ level, idx: from + i, hash: full(level, from + i) })));
    },
  } as unknown as StoreReads;
  return { store, reads };
}

/** Every leaf of [first, end) gets, through the frontier and the segment alone, the proof a full tree gives. */
async function expectSegmentProofs(all: readonly Buffer[], first: number, end: number): Promise<void> {
  const { store, reads } = treeStore(all);
  const frontier = await storedFrontier(store, 'org', first);
  expect(reads.filter((r) => r.to * 2 ** r.level > first)).toEqual([]);
  const nodeAt = segmentNodeAt(frontier, first, all.slice(first, end));
  const reference = nodeAtFromLeaves(all.slice(0, end));
  const root = rootOf(all.slice(0, end));
  const wrong: number[] = [];
  for (let i = first; i < end; i++) {
    const proof = inclusionProof(i, end, nodeAt);
    const expected = inclusionProof(i, end, reference);
    const same = proof.length === expected.length && proof.every((h, j) => h.equals(expected[j] as Buffer));
    if (!same || !verifyInclusion(all[i] as Buffer, i, end, proof, root)) wrong.push(i);
  }
  expect(wrong, `segment ${first}..${end - 1}`).toEqual([]);
}

describe('per-record inclusion proofs from the frontier before a segment and the segment itself', () => {
  it('match full-tree proofs for every segment of every tree up to 33 leaves', async () => {
    const all = leaves(33);
    for (let end = 1; end <= 33; end++) for (let first = 0; first < end; first++) await expectSegmentProofs(all, first, end);
  });

  it('read stored tiles for large subtrees before a segment at a non-power-of-two offset, and no more than 255 rows each', async () => {
    const all = leaves(1300);
    for (const [first, end] of [[1000, 1300], [256 + 128 + 5, 700], [767, 769], [513, 514]] as const) {
      const { store, reads } = treeStore(all);
      await storedFrontier(store, 'org', first);
      expect(reads.some((r) => r.level > 0)).toBe(true);
      for (const r of reads) expect(r.to - r.from).toBeLessThanOrEqual(255);
      await expectSegmentProofs(all, first, end);
    }
  });

  it('refuse a subtree the segment cannot know instead of inventing one', async () => {
    const all = leaves(12);
    const { store } = treeStore(all);
    const nodeAt = segmentNodeAt(await storedFrontier(store, 'org', 6), 6, all.slice(6, 10));
    expect(() => nodeAt(1, 1)).toThrow(/not known/); // leaves 2..3: inside the frontier subtree 0..3
    expect(() => nodeAt(2, 2)).toThrow(/not known/); // leaves 8..11: past the tree's end
    expect(nodeAt(2, 1)).toEqual(nodeAtFromLeaves(all)(2, 1)); // leaves 4..7 straddle the start
  });
});
