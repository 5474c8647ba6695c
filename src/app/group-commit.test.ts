import { describe, expect, it } from 'vitest';
import { GroupCommitQueue } from './group-commit.ts';

/** A unit of work the test finishes by hand, so the queue's choices can be watched step by step. */
function harness(maxBatch: number, depth: number) {
  const units: { key: string; items: number[]; finish: () => void; fail: () => void }[] = [];
  const q = new GroupCommitQueue<number>(
    (key, items) =>
      new Promise<void>((resolve, reject) => {
        units.push({ key, items, finish: resolve, fail: () => reject(new Error('unit failed')) });
      }),
    maxBatch,
    depth,
  );
  const tick = () => new Promise((r) => setImmediate(r));
  return { q, units, tick };
}

describe('GroupCommitQueue', () => {
  it('runs a lone item at once and groups what arrives while a unit runs', async () => {
    const { q, units, tick } = harness(100, 1);
    q.push('a', 1);
    expect(units.map((u) => u.items)).toEqual([[1]]);
    for (let i = 2; i <= 5; i++) q.push('a', i);
    expect(units).toHaveLength(1);
    units[0]?.finish();
    await tick();
    expect(units.map((u) => u.items)).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('keeps keys apart and caps a unit at maxBatch', async () => {
    const { q, units, tick } = harness(2, 1);
    q.push('a', 1);
    q.push('b', 10);
    for (let i = 2; i <= 6; i++) q.push('a', i);
    expect(units.map((u) => [u.key, u.items])).toEqual([
      ['a', [1]],
      ['b', [10]],
    ]);
    units[0]?.finish();
    await tick();
    expect(units[2]?.items).toEqual([2, 3]);
    units[2]?.finish();
    await tick();
    expect(units[3]?.items).toEqual([4, 5]);
  });

  it('overlaps a second unit only once half as many items as the running one holds are queued', async () => {
    const { q, units, tick } = harness(100, 2);
    q.push('a', 0);
    for (let i = 1; i <= 8; i++) q.push('a', i);
    // Unit 0 holds [0]; the second slot opened for item 1, the rest wait for a slot.
    expect(units.map((u) => u.items)).toEqual([[0], [1]]);
    units[0]?.finish();
    await tick();
    expect(units[2]?.items).toEqual([2, 3, 4, 5, 6, 7, 8]);
    units[1]?.finish();
    await tick();
    // Unit 2 (7 items) runs alone: 3 queued items do not open the second slot, 4 do.
    for (let i = 9; i <= 11; i++) q.push('a', i);
    expect(units).toHaveLength(3);
    q.push('a', 12);
    expect(units[3]?.items).toEqual([9, 10, 11, 12]);
  });

  it('goes on after a unit fails', async () => {
    const { q, units, tick } = harness(100, 1);
    q.push('a', 1);
    q.push('a', 2);
    units[0]?.fail();
    await tick();
    expect(units[1]?.items).toEqual([2]);
  });
});
