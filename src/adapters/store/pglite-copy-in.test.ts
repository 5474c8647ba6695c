import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { CompiledQuery, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from './open-database.ts';
import { CopyInData, copiedRows, copyInMessage } from './pglite-copy-in.ts';

const raw = (sql: string, parameters: readonly unknown[] = []): CompiledQuery => CompiledQuery.raw(sql, [...parameters]);

describe('copyInMessage', () => {
  it('frames the statement, one CopyData per piece and CopyDone, with UTF-8 byte lengths', () => {
    const m = Buffer.from(copyInMessage('copy t from stdin', ['é\t1\n', 'a\t2\n']));
    const sqlLen = Buffer.byteLength('copy t from stdin') + 1;
    expect(String.fromCharCode(m[0] ?? 0)).toBe('Q');
    expect(m.readInt32BE(1)).toBe(4 + sqlLen);
    let at = 1 + 4 + sqlLen;
    expect(String.fromCharCode(m[at] ?? 0)).toBe('d');
    // 'é' is two bytes: a length counted in UTF-16 units would cut the row short.
    expect(m.readInt32BE(at + 1)).toBe(4 + 5);
    expect(m.subarray(at + 5, at + 10).toString('utf8')).toBe('é\t1\n');
    at += 10;
    expect(String.fromCharCode(m[at] ?? 0)).toBe('d');
    at += 1 + 4 + 4;
    expect(String.fromCharCode(m[at] ?? 0)).toBe('c');
    expect(m.readInt32BE(at + 1)).toBe(4);
    expect(m.length).toBe(at + 5);
  });

  it('refuses a statement with a NUL, which would end it early on the wire', () => {
    expect(() => copyInMessage('copy t from stdin\0; drop table t', [])).toThrow(/NUL/);
  });

  it('reads the row count from the COPY command tag only', () => {
    expect(copiedRows('COPY 5000')).toBe(5000);
    expect(copiedRows('INSERT 0 1')).toBeUndefined();
  });
});

describe('COPY FROM STDIN through the PGlite dialect', () => {
  let db: Kysely<unknown>;

  beforeAll(async () => {
    db = (await openDatabase('memory://')).db;
    await db.executeQuery(raw('create table copy_probe (id int primary key, note text not null)'));
  });
  afterAll(async () => {
    await db.destroy();
  });

  it('stores every row of every piece, text byte for byte, and reports the count', async () => {
    const pieces = ['1\tplain\n2\tcafé ☕ 😀\n', '3\ttab\\there\n', '4\tback\\\\slash\n'];
    const r = await db.executeQuery(raw('copy copy_probe (id, note) from stdin', [new CopyInData(pieces)]));
    expect(r.numAffectedRows).toBe(4n);
    const rows = (await db.executeQuery<{ id: number; note: string }>(raw('select id, note from copy_probe order by id'))).rows;
    expect(rows).toEqual([
      { id: 1, note: 'plain' },
      { id: 2, note: 'café ☕ 😀' },
      { id: 3, note: 'tab\there' },
      { id: 4, note: 'back\\slash' },
    ]);
  });

  it('fails a duplicate key with the engine error the store translates, and the connection stays usable', async () => {
    const err = await db
      .executeQuery(raw('copy copy_probe (id, note) from stdin', [new CopyInData(['10\tnew\n', '1\tagain\n'])]))
      .then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: '23505', constraint: 'copy_probe_pkey' });
    // The rest of the message (later CopyData, CopyDone) was dropped, nothing was half-written,
    // and the next statement and the next COPY run normally.
    const n = (await db.executeQuery<{ n: number }>(raw('select count(*)::int as n from copy_probe'))).rows[0]?.n;
    expect(n).toBe(4);
    const r = await db.executeQuery(raw('copy copy_probe (id, note) from stdin', [new CopyInData(['5\tafter\n'])]));
    expect(r.numAffectedRows).toBe(1n);
  });

  it('fails malformed COPY text with a data error (class 22) and rolls back with its transaction', async () => {
    const err = await db
      .transaction()
      .execute(async (tx) => {
        await tx.executeQuery(raw('copy copy_probe (id, note) from stdin', [new CopyInData(['6\tok\n'])]));
        await tx.executeQuery(raw('copy copy_probe (id, note) from stdin', [new CopyInData(['7\tone\ttoo many\n'])]));
      })
      .then(() => undefined, (e: unknown) => e);
    expect((err as { code?: string }).code).toMatch(/^22/);
    const ids = (await db.executeQuery<{ id: number }>(raw('select id from copy_probe where id >= 5 order by id'))).rows.map((r) => r.id);
    expect(ids).toEqual([5]);
  });
});

describe('PGlite engine settings', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'spendtrail-pglite-settings-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const sharedBuffers = async (location: string): Promise<string | undefined> => {
    const { db } = await openDatabase(location);
    try {
      return (await db.executeQuery<{ shared_buffers: string }>(raw('show shared_buffers'))).rows[0]?.shared_buffers;
    } finally {
      await db.destroy();
    }
  };

  it('bounds the buffer pool of a directory it creates, and the directory opens again', async () => {
    const location = join(dir, 'new');
    expect(await sharedBuffers(location)).toBe('32MB');
    expect(await sharedBuffers(location)).toBe('32MB');
  }, 60_000);

  it('bounds the buffer pool of a directory created without the setting', async () => {
    const location = join(dir, 'older');
    const plain = new PGlite(location);
    await plain.waitReady;
    expect((await plain.query<{ shared_buffers: string }>('show shared_buffers')).rows[0]?.shared_buffers).toBe('128MB');
    await plain.close();
    expect(await sharedBuffers(location)).toBe('32MB');
  }, 60_000);
});
