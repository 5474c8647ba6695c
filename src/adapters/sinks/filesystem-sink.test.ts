import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SpendtrailError } from '../../domain/errors.ts';
import { filesystemSink } from './filesystem-sink.ts';

const NDJSON = 'application/x-ndjson';
const KEY = 'audit/acme/ledger/2026/03/01/1-10.ndjson';
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

async function errorOf(p: Promise<unknown>): Promise<SpendtrailError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SpendtrailError) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

/** Every file and directory under `dir`, relative. */
async function allEntries(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('filesystem sink', () => {
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'spendtrail-fs-sink-'));
    dir = join(root, 'exports');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('check() creates the directory and reports no Object Lock', async () => {
    const sink = filesystemSink(dir);
    expect(await sink.check()).toEqual({ kind: 'filesystem', location: dir, object_lock: null });
    expect((await stat(dir)).isDirectory()).toBe(true);
  });

  it('writes an object once, read-only, and reads it back', async () => {
    const sink = filesystemSink(dir);
    const r = await sink.put(KEY, Buffer.from('{"a":1}\n'), NDJSON);
    expect(r).toEqual({ key: KEY, version_id: null, sha256: sha('{"a":1}\n'), existed: false });
    expect((await sink.get(KEY))?.toString()).toBe('{"a":1}\n');
    const st = await stat(join(dir, ...KEY.split('/')));
    expect(st.mode & 0o777).toBe(0o444);
    expect(await sink.get('audit/acme/missing.ndjson')).toBeNull();
  });

  it('a re-put with the same bytes is a no-op reporting existed', async () => {
    const sink = filesystemSink(dir);
    await sink.put(KEY, Buffer.from('same\n'), NDJSON);
    const again = await sink.put(KEY, Buffer.from('same\n'), NDJSON);
    expect(again).toEqual({ key: KEY, version_id: null, sha256: sha('same\n'), existed: true });
  });

  it('different bytes under an existing key are refused and the first write stands', async () => {
    const sink = filesystemSink(dir);
    await sink.put(KEY, Buffer.from('first\n'), NDJSON);
    const e = await errorOf(sink.put(KEY, Buffer.from('second\n'), NDJSON));
    expect(e.code).toBe('EXPORT_CONFLICT');
    expect(e.field).toBe('key');
    expect(e.details).toMatchObject({ key: KEY, existing_sha256: sha('first\n'), sha256: sha('second\n') });
    expect((await sink.get(KEY))?.toString()).toBe('first\n');
  });

  it('racing writers of one key: exactly one wins, the others conflict or find identical bytes', async () => {
    const sink = filesystemSink(dir);
    const results = await Promise.allSettled(['a', 'b', 'c', 'd', 'a'].map((s) => sink.put(KEY, Buffer.from(s), NDJSON)));
    const stored = (await sink.get(KEY))!.toString();
    const written = results.filter((r) => r.status === 'fulfilled' && !r.value.existed);
    expect(written).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as SpendtrailError).code).toBe('EXPORT_CONFLICT');
      else expect(r.value.sha256).toBe(sha(stored));
    }
    expect(await allEntries(dir)).not.toContainEqual(expect.stringContaining('.spendtrail-tmp-'));
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['C:/x.ndjson', 'drive letter'],
    ['audit/../../escape.ndjson', 'parent segment'],
    ['..', 'parent'],
    ['audit/./x.ndjson', 'dot segment'],
    ['audit\\acme\\x.ndjson', 'backslashes'],
    ['audit//x.ndjson', 'empty segment'],
    ['audit/x.ndjson/', 'trailing slash'],
    ['audit/x\0.ndjson', 'NUL'],
    ['audit/.spendtrail-tmp-1', 'temp-file name'],
  ])('refuses the key %j (%s) with VALIDATION_FAILED', async (key) => {
    const sink = filesystemSink(dir);
    for (const p of [sink.put(key, Buffer.from('x'), NDJSON), sink.get(key)]) {
      const e = await errorOf(p);
      expect(e.code).toBe('VALIDATION_FAILED');
      expect(e.field).toBe('key');
    }
    expect(await allEntries(root)).toEqual([]);
  });

  it('lists keys under a prefix, sorted, with "/" separators', async () => {
    const sink = filesystemSink(dir);
    expect(await sink.list('audit/')).toEqual([]);
    const keys = [
      'audit/acme/ledger/2026/03/02/11-20.ndjson',
      'audit/acme/ledger/2026/03/01/1-10.ndjson',
      'audit/acme/changes/2026/03/01/1-3.ndjson',
      'audit/acme-eu/ledger/2026/03/01/1-5.ndjson',
      'audit/beta/ledger/2026/03/01/1-2.ndjson',
    ];
    for (const k of keys) await sink.put(k, Buffer.from(k), NDJSON);
    expect(await sink.list('')).toEqual([...keys].sort());
    expect(await sink.list('audit/acme/')).toEqual([
      'audit/acme/changes/2026/03/01/1-3.ndjson',
      'audit/acme/ledger/2026/03/01/1-10.ndjson',
      'audit/acme/ledger/2026/03/02/11-20.ndjson',
    ]);
    expect(await sink.list('audit/acme')).toEqual(keys.filter((k) => k.startsWith('audit/acme')).sort());
    expect(await sink.list('audit/acme/ledger/2026/03/0')).toHaveLength(2);
    expect(await sink.list('audit/nobody/')).toEqual([]);
    expect((await errorOf(sink.list('../'))).code).toBe('VALIDATION_FAILED');
  });

  it('leaves no temp files behind, after writes and after conflicts', async () => {
    const sink = filesystemSink(dir);
    await sink.put('audit/a/1.ndjson', Buffer.from('1'), NDJSON);
    await sink.put('audit/a/2.ndjson', Buffer.from('2'), NDJSON);
    await sink.put('audit/a/2.ndjson', Buffer.from('2'), NDJSON);
    await errorOf(sink.put('audit/a/2.ndjson', Buffer.from('other'), NDJSON));
    expect(await allEntries(dir)).toEqual(['audit', 'audit/a', 'audit/a/1.ndjson', 'audit/a/2.ndjson']);
  });

  it('check() reports an unusable directory as SINK_UNAVAILABLE', async () => {
    const sink = filesystemSink(dir);
    await sink.put('file', Buffer.from('x'), NDJSON); // a file where a directory is needed
    const e = await errorOf(filesystemSink(join(dir, 'file', 'below')).check());
    expect(e.code).toBe('SINK_UNAVAILABLE');
  });
});
