import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CompactRange } from './compact-range.ts';
import { nodeAtFromLeaves } from './proofs.ts';
import { emptyRoot, leafHash, rootOf } from './tree-hash.ts';

const leavesFor = (n: number, salt = ''): Buffer[] => Array.from({ length: n }, (_, i) => leafHash(`${salt}leaf-${i}`));

const integrityFailure = expect.objectContaining({ code: 'INTEGRITY_FAILURE' });
const validationFailed = expect.objectContaining({ code: 'VALIDATION_FAILED' });

describe('CompactRange', () => {
  it('starts empty with the empty root and no frontier', () => {
    const range = CompactRange.empty();
    expect(range.size).toBe(0);
    expect(range.root().equals(emptyRoot())).toBe(true);
    expect(range.frontier()).toEqual([]);
    expect(range.serialize()).toHaveLength(0);
  });

  it('has the root of every prefix after each append, for sizes 1 to 130', () => {
    const leaves = leavesFor(130);
    const range = new CompactRange();
    leaves.forEach((leaf, i) => {
      range.append(leaf);
      expect(range.size).toBe(i + 1);
      expect(range.root().equals(rootOf(leaves.slice(0, i + 1)))).toBe(true);
    });
  });

  it('keeps one frontier hash per set bit of the size, left to right', () => {
    const leaves = leavesFor(13); // 13 = 8 + 4 + 1
    const range = CompactRange.empty();
    range.appendMany(leaves);
    const frontier = range.frontier();
    expect(frontier).toHaveLength(3);
    expect(frontier[0]!.equals(rootOf(leaves.slice(0, 8)))).toBe(true);
    expect(frontier[1]!.equals(rootOf(leaves.slice(8, 12)))).toBe(true);
    expect(frontier[2]!.equals(leaves[12]!)).toBe(true);
  });

  it('matches rootOf for random sizes up to 300', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.string(), (n, salt) => {
        const leaves = leavesFor(n, salt);
        const range = CompactRange.empty();
        range.appendMany(leaves);
        expect(range.size).toBe(n);
        expect(range.root().equals(rootOf(leaves))).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it('resumes from its frontier and serialized form with the same future roots', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 70 }), (m, extra) => {
        const leaves = leavesFor(m + extra);
        const original = CompactRange.empty();
        original.appendMany(leaves.slice(0, m));
        const fromState = CompactRange.fromState(original.size, original.frontier());
        const fromBytes = CompactRange.deserialize(original.size, original.serialize());
        for (const resumed of [fromState, fromBytes]) {
          resumed.appendMany(leaves.slice(m));
          expect(resumed.size).toBe(m + extra);
          expect(resumed.root().equals(rootOf(leaves))).toBe(true);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('reports every completed perfect subtree exactly once, with its correct hash', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), (n) => {
        const leaves = leavesFor(n);
        const nodeAt = nodeAtFromLeaves(leaves);
        const seen = new Map<string, Buffer>();
        const range = CompactRange.empty((level, index, hash) => {
          const key = `${level}/${index}`;
          expect(seen.has(key)).toBe(false);
          seen.set(key, hash);
        });
        range.appendMany(leaves);
        let expectedCount = 0;
        for (let level = 0, width = 1; width <= n; level++, width *= 2) {
          for (let index = 0; (index + 1) * width <= n; index++) {
            expectedCount++;
            expect(seen.get(`${level}/${index}`)?.equals(nodeAt(level, index))).toBe(true);
          }
        }
        expect(seen.size).toBe(expectedCount);
      }),
      { numRuns: 40 },
    );
  });

  it('reports subtrees bottom-up, in the order the append completes them', () => {
    const events: string[] = [];
    const seven = CompactRange.empty();
    seven.appendMany(leavesFor(7));
    const resumed = CompactRange.fromState(7, seven.frontier(), (level, index) => events.push(`${level}/${index}`));
    resumed.append(leafHash('eighth'));
    expect(events).toEqual(['0/7', '1/3', '2/1', '3/0']);
  });

  it('passes the listener through deserialize and the constructor', () => {
    const levels: number[] = [];
    const two = new CompactRange((level) => levels.push(level));
    two.appendMany(leavesFor(2));
    expect(levels).toEqual([0, 0, 1]);
    const resumed = CompactRange.deserialize(2, two.serialize(), (level) => levels.push(level));
    resumed.appendMany(leavesFor(2, 'more'));
    expect(levels).toEqual([0, 0, 1, 0, 0, 1, 2]);
  });

  it('is not affected by later mutation of an appended leaf buffer', () => {
    const leaf = leafHash('x');
    const range = CompactRange.empty();
    range.append(leaf);
    const before = range.root();
    leaf.fill(0);
    expect(range.root().equals(before)).toBe(true);
  });

  it('rejects a leaf hash that is not 32 bytes', () => {
    expect(() => CompactRange.empty().append(Buffer.alloc(31))).toThrow(validationFailed);
  });

  it('rejects persisted state whose frontier length does not match the size', () => {
    const range = CompactRange.empty();
    range.appendMany(leavesFor(6)); // 6 = 4 + 2: two frontier hashes
    const frontier = range.frontier();
    expect(() => CompactRange.fromState(7, frontier)).toThrow(integrityFailure);
    expect(() => CompactRange.fromState(6, frontier.slice(1))).toThrow(integrityFailure);
    expect(() => CompactRange.deserialize(6, range.serialize().subarray(1))).toThrow(integrityFailure);
    expect(() => CompactRange.deserialize(4, range.serialize())).toThrow(integrityFailure);
  });

  it('rejects persisted frontier hashes that are not 32 bytes', () => {
    expect(() => CompactRange.fromState(1, [Buffer.alloc(33)])).toThrow(integrityFailure);
  });

  it.each([-1, 1.5, NaN, 2 ** 53])('rejects the persisted size %d', (size) => {
    expect(() => CompactRange.fromState(size, [])).toThrow(integrityFailure);
  });
});
