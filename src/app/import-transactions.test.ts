import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestEnv } from '../../test/support/engines.ts';
import type { TestEnv } from '../../test/support/engines.ts';
import { rawTx, seedOrg } from '../../test/support/fixtures.ts';
import type { ImportRow } from './import-transactions.ts';
import { importTransactions } from './import-transactions.ts';
import { operator } from './principal.ts';

// An import of any size must hold a bounded number of rows: the chunk committing and the one
// being read. If the importer read ahead of its commits (flushes started without waiting, rows
// gathered before recording), a 10M-line file would sit in memory; these tests catch that by
// watching how far the reader gets ahead of what has been committed.
const buffered = (): Promise<void> => Promise.resolve();

describe('importTransactions keeps a bounded number of rows in flight', () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await openTestEnv('pglite');
    env.clock.set('2026-03-20T00:00:00Z');
    await seedOrg(env.deps);
  });
  afterAll(async () => {
    await env.close();
  });

  /** Rows that note, each time the importer asks for one, how many it holds that are not yet committed. */
  function watchedSource(rows: number, committed: () => number): { source: AsyncIterable<ImportRow>; maxHeld: () => number; read: () => number } {
    let read = 0;
    let maxHeld = 0;
    async function* gen(): AsyncGenerator<ImportRow> {
      for (let line = 1; line <= rows; line++) {
        // Reads that complete at once (the data already buffered): the fastest a reader can
        // outrun the commits, the worst case for what it holds.
        await buffered();
        maxHeld = Math.max(maxHeld, read - committed());
        read++;
        yield { line, raw: rawTx({ amount: '1.00' }) };
      }
    }
    return { source: gen(), maxHeld: () => maxHeld, read: () => read };
  }

  it('never holds more than two chunks of rows that are not committed', async () => {
    const chunk = 7;
    let committed = 0;
    const w = watchedSource(10 * chunk + 3, () => committed);
    const r = await importTransactions(env.deps, operator('acme'), w.source, {
      chunk,
      onProgress: (p) => {
        committed = p.recorded + p.duplicates;
      },
    });
    expect(r).toEqual({ lines: 10 * chunk + 3, recorded: 10 * chunk + 3, duplicates: 0 });
    expect(w.read()).toBe(10 * chunk + 3);
    // One chunk committing, the next one read up to its last row: 2 × chunk − 1 held at most.
    expect(w.maxHeld()).toBeLessThanOrEqual(2 * chunk - 1);
    // ...and the overlap is real: the next chunk is read while the previous one commits.
    expect(w.maxHeld()).toBeGreaterThan(chunk);
  });

  it('stops reading the source at a failed chunk instead of draining it', async () => {
    const chunk = 5;
    let committed = 0;
    let read = 0;
    async function* gen(): AsyncGenerator<ImportRow> {
      for (let line = 1; line <= 1_000; line++) {
        await buffered();
        read++;
        yield { line, raw: line === 8 ? { ...rawTx(), amount: 'twelve' } : rawTx({ amount: '1.00' }) };
      }
    }
    await expect(
      importTransactions(env.deps, operator('acme'), gen(), {
        chunk,
        onProgress: (p) => {
          committed = p.recorded;
        },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_AMOUNT', field: 'line 8.amount' });
    expect(read).toBe(8);
    expect(committed).toBeLessThanOrEqual(chunk);
  });
});
