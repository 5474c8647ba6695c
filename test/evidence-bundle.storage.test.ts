import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildEvidenceBundle, RAIL_PAYLOADS, SUMMARY_ENTRIES } from '../src/app/evidence-bundle.ts';
import { ingestRailCapture } from '../src/app/rail-ingest.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { generateSummary, signOffSummary } from '../src/app/summaries.ts';
import { ephemeralSigner } from '../src/adapters/signing/note-signer.ts';
import { signCheckpoint } from '../src/domain/checkpoint/checkpoint.ts';
import type { TransactionInput } from '../src/domain/ledger/transaction.ts';
import { manifestOf } from '../src/verifier/manifest.ts';
import type { BundleReport } from '../src/verifier/verify-bundle.ts';
import { verifyBundle } from '../src/verifier/verify-bundle.ts';
import { readBundle, writeBundle } from '../src/verifier/zip.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { codeOf, person, seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

const auditor = person('ann@audit.test', 'auditor');
const finance = person('fiona@acme.test', 'finance');
const failed = (r: BundleReport): string[] => [...new Set(r.checks.filter((c) => !c.ok).map((c) => c.check))];

/** A copy of the bundle with one file's text edited and (by default) the manifest recomputed to match. */
function edit(files: Map<string, Buffer>, name: string, change: (text: string) => string, remanifest = true): Map<string, Buffer> {
  const copy = new Map(files);
  const before = (files.get(name) as Buffer).toString('utf8');
  const after = change(before);
  expect(after).not.toBe(before);
  copy.set(name, Buffer.from(after, 'utf8'));
  if (remanifest) copy.set('MANIFEST.sha256', Buffer.from(manifestOf(copy)));
  return copy;
}

/** The parsed lines of an NDJSON file of a bundle. */
const linesOf = <T>(files: Map<string, Buffer>, name: string): T[] =>
  (files.get(name) as Buffer).toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as T);

/** Replaces the character at `i` by another base64 letter. */
const flipAt = (text: string, i: number): string => `${text.slice(0, i)}${text[i] === 'A' ? 'B' : 'A'}${text.slice(i + 1)}`;

const tmp = mkdtempSync(join(tmpdir(), 'evidence-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(ENGINES)('evidence bundle on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  let files: Map<string, Buffer>;
  let quarter: Map<string, Buffer>;
  let seedSize = 0;

  const record = async (items: TransactionInput[]): Promise<void> => {
    const out = await recordTransactions(env.deps, org.admin, items, 'atomic');
    expect(out.every((o) => o.ok)).toBe(true);
  };

  it('builds a bundle of a period that verifies offline', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    seedSize = (await env.store.latestCheckpoint('acme'))?.tree_size ?? 0;
    env.clock.set('2026-03-10T08:00:00.000Z');
    await record([tx({ timestamp: '2026-03-09T10:00:00Z' }), tx({ amount: '35.00', timestamp: '2026-03-09T11:00:00Z' }), tx({ agent_id: 'research-bot', merchant: 'OpenAI', merchant_category: null, amount: '12.00' })]);
    env.clock.set('2026-03-11T08:00:00.000Z');
    await record([
      tx({ amount: '2600.00', approver: 'dave@acme.test', timestamp: '2026-03-10T10:00:00Z' }),
      tx({ merchant: 'Lucky Casino', merchant_category: '7995', amount: '50.00', timestamp: '2026-03-10T11:00:00Z' }),
    ]);
    env.clock.set('2026-03-20T08:00:00.000Z');
    await generateSummary(env.deps, finance, { month: '2026-02' }, { verifier: env.signer.note });
    // March's summary is made once March is over, and signed off the next day. The period below
    // starts on March 5, so March does not lie within it and the bundle leaves them out.
    env.clock.set('2026-04-01T00:10:00.000Z');
    const march = await generateSummary(env.deps, finance, { month: '2026-03' }, { verifier: env.signer.note });
    env.clock.set('2026-04-02T09:00:00.000Z');
    await signOffSummary(env.deps, finance, march.summary.document.summary_id);
    env.clock.set('2026-04-05T08:00:00.000Z');
    await record([tx({ timestamp: '2026-04-04T10:00:00Z' })]);

    const t0 = performance.now();
    files = await buildEvidenceBundle(env.deps, auditor, { from: new Date('2026-03-05T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') }, env.signer.note);
    const built = performance.now() - t0;
    expect([...files.keys()].sort()).toEqual(['MANIFEST.sha256', 'README.md', 'checkpoints.ndjson', 'consistency.json', 'entries.ndjson', 'key.txt', 'policies.ndjson', 'proofs.ndjson', 'summaries.ndjson']);
    const entries = (files.get('entries.ndjson') as Buffer).toString().trim().split('\n').map((l) => JSON.parse(l) as { seq: number; kind: string });
    expect(entries[0]?.seq).toBe(seedSize);
    expect(entries.filter((e) => e.kind === 'transaction')).toHaveLength(5);
    expect(entries.some((e) => e.kind === 'summary')).toBe(true);
    expect((files.get('policies.ndjson') as Buffer).toString().trim().split('\n')).toHaveLength(2);
    expect((files.get('summaries.ndjson') as Buffer).toString().trim().split('\n')).toHaveLength(1);
    expect(JSON.parse((files.get('consistency.json') as Buffer).toString())).not.toHaveProperty('later');

    const t1 = performance.now();
    const r = verifyBundle(files, { trustedKey: env.signer.verifierKey });
    const verified = performance.now() - t1;
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    expect(r.ok).toBe(true);
    const count = (check: string): number => Number(/^(\d+)/.exec(r.checks.find((c) => c.check === check)?.detail ?? '')?.[1] ?? -1);
    expect(count('transaction-evaluation')).toBe(5);
    expect(count('summary-hash')).toBe(1);
    expect(count('inclusion-proof')).toBe(entries.length);
    expect(count('checkpoint-signature')).toBe(2);
    console.info(`[${engine}] bundle of ${entries.length} entries built in ${built.toFixed(0)} ms, verified in ${verified.toFixed(0)} ms`);
  });

  it("includes the summaries of the period's months made after it, with their sign-offs, proved in a later checkpoint", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    quarter = await buildEvidenceBundle(env.deps, auditor, { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') }, env.signer.note);
    expect([...quarter.keys()]).toContain(SUMMARY_ENTRIES);
    const summaries = linesOf<{ summary_id: string; seq: number; document: string }>(quarter, 'summaries.ndjson');
    expect(summaries.map((s) => (JSON.parse(s.document) as { period: string }).period)).toEqual(['2026-02', '2026-03']);
    const march = summaries[1] as (typeof summaries)[number];

    // March's summary and its sign-off lie after the span, each proved in the latest checkpoint.
    const consistency = JSON.parse((quarter.get('consistency.json') as Buffer).toString()) as { to_size: number; later: { from_size: number; to_size: number } };
    const latest = (await env.store.latestCheckpoint('acme'))?.tree_size;
    expect(consistency.later).toMatchObject({ from_size: consistency.to_size, to_size: latest });
    const cps = linesOf<{ tree_size: number }>(quarter, 'checkpoints.ndjson');
    expect(cps.map((c) => c.tree_size)).toEqual([cps[0]?.tree_size, consistency.to_size, latest]);
    const outside = linesOf<{ seq: number; kind: string; tree_size: number; bytes: string }>(quarter, SUMMARY_ENTRIES);
    expect(outside.map((e) => e.kind)).toEqual(['summary', 'summary_signoff']);
    expect(outside[0]?.seq).toBe(march.seq);
    for (const e of outside) {
      expect(e.seq).toBeGreaterThanOrEqual(consistency.to_size);
      expect(e.tree_size).toBe(latest);
      expect(JSON.parse(e.bytes)).toMatchObject({ entity_id: march.summary_id });
    }
    const entries = linesOf<{ kind: string }>(quarter, 'entries.ndjson');
    expect(entries.some((e) => e.kind === 'summary_signoff')).toBe(false);

    const r = verifyBundle(quarter, { trustedKey: env.signer.verifierKey });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
    const count = (check: string): number => Number(/^(\d+)/.exec(r.checks.find((c) => c.check === check)?.detail ?? '')?.[1] ?? -1);
    expect(count('summary-hash')).toBe(2);
    expect(count('summary-entry')).toBe(2);
    expect(count('inclusion-proof')).toBe(entries.length + 2);
    expect(count('consistency-proof')).toBe(2);
    expect(count('checkpoint-signature')).toBe(3);
    // A bundle without such entries does not report the check at all.
    expect(verifyBundle(files).checks.some((c) => c.check === 'summary-entry')).toBe(false);
  });

  it('fails on an altered byte anywhere in the summary entries, naming the file and line', (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const original = quarter.get(SUMMARY_ENTRIES) as Buffer;
    // Every punctuation byte (where a flip could change the structure rather than a value) and
    // every sixth byte besides, which lands in every field of both lines; one bit flipped each.
    const flipped = [...original.keys()].filter((i) => i % 6 === 0 || !/[A-Za-z0-9]/.test(String.fromCharCode(original[i] as number)));
    expect(flipped.length).toBeGreaterThan(original.length / 6);
    for (const i of flipped) {
      const altered = Buffer.from(original);
      altered[i] = (altered[i] as number) ^ 1;
      const copy = new Map(quarter).set(SUMMARY_ENTRIES, altered);
      copy.set('MANIFEST.sha256', Buffer.from(manifestOf(copy)));
      const r = verifyBundle(copy);
      const where = r.checks.filter((c) => !c.ok && c.file === SUMMARY_ENTRIES);
      expect(r.ok, `byte ${i}`).toBe(false);
      expect(where.length, `byte ${i}: ${JSON.stringify(r.checks.filter((c) => !c.ok))}`).toBeGreaterThan(0);
      // Every byte but the final newline belongs to a line, which is named.
      if (i < original.length - 1) expect(where.some((c) => (c.line ?? 0) > 0), `byte ${i}`).toBe(true);
    }
    // Dropping March's entry leaves its summary without the entry that logs it, and its sign-off
    // without a summary to sign.
    const dropped = edit(quarter, SUMMARY_ENTRIES, (t) => t.split('\n').slice(1).join('\n'));
    expect(failed(verifyBundle(dropped))).toEqual(['summary-hash', 'summary-entry']);
    // An entry of the span does not belong there.
    const firstEntry = (quarter.get('entries.ndjson') as Buffer).toString().split('\n')[0] as string;
    const moved = edit(quarter, SUMMARY_ENTRIES, (t) => `${t}${firstEntry.slice(0, -1)},"tree_size":1,"audit_path":[]}\n`);
    expect(failed(verifyBundle(moved))).toEqual(expect.arrayContaining(['summary-entry']));
  });

  it('refuses roles without audit access and empty periods', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    expect(await codeOf(buildEvidenceBundle(env.deps, person('ag', 'agent'), { from: new Date('2026-03-05T00:00:00Z'), to: new Date('2026-04-01T00:00:00Z') }, env.signer.note))).toBe('FORBIDDEN');
    expect(await codeOf(buildEvidenceBundle(env.deps, auditor, { from: new Date('2025-01-01T00:00:00Z'), to: new Date('2025-02-01T00:00:00Z') }, env.signer.note))).toBe('VALIDATION_FAILED');
  });

  it('names the check and file that an altered byte fails', (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const laterProof = (t: string): number => t.indexOf('"proof":["', t.indexOf('"later"'));
    const cases: [string, (t: string) => string, string[], Map<string, Buffer>?][] = [
      ['entries.ndjson', (t) => t.replace('"merchant\\":\\"AWS', '"merchant\\":\\"AWT'), ['entry-leaf-hash']],
      ['policies.ndjson', (t) => t.replace('2500.00', '2500.01'), ['policy-snapshot-id']],
      ['checkpoints.ndjson', (t) => flipAt(t, t.indexOf('\\n"') - 6), ['checkpoint-signature']],
      ['proofs.ndjson', (t) => flipAt(t, t.indexOf('"audit_path":["') + 20), ['inclusion-proof']],
      ['consistency.json', (t) => flipAt(t, t.indexOf('"proof":["') + 15), ['consistency-proof']],
      ['consistency.json', (t) => flipAt(t, t.indexOf('"frontier":["') + 18), ['entries-complete']],
      ['summaries.ndjson', (t) => t.replace('"period\\":\\"2026-02', '"period\\":\\"2026-01'), ['summary-hash']],
      ['key.txt', (t) => flipAt(t, t.indexOf('\n') - 6), ['key']],
      // The quarter's summary entries logged after its span, and the later checkpoint they rest on.
      [SUMMARY_ENTRIES, (t) => t.replace('\\"period\\":\\"2026-03', '\\"period\\":\\"2026-04'), ['entry-leaf-hash'], quarter],
      [SUMMARY_ENTRIES, (t) => flipAt(t, t.indexOf('"leaf_hash":"') + 20), ['entry-leaf-hash'], quarter],
      [SUMMARY_ENTRIES, (t) => flipAt(t, t.indexOf('"audit_path":["') + 20), ['inclusion-proof'], quarter],
      ['checkpoints.ndjson', (t) => flipAt(t, t.lastIndexOf('\\n"') - 6), ['checkpoint-signature'], quarter],
      ['consistency.json', (t) => flipAt(t, laterProof(t) + 15), ['consistency-proof'], quarter],
      ['summaries.ndjson', (t) => t.replace('"period\\":\\"2026-03', '"period\\":\\"2026-04'), ['summary-hash'], quarter],
    ];
    for (const [name, change, checks, bundle = files] of cases) {
      // The manifest catches the change as it is...
      const raw = verifyBundle(edit(bundle, name, change, false));
      expect(raw.ok).toBe(false);
      expect(raw.checks.some((c) => c.check === 'manifest' && !c.ok && c.file === name)).toBe(true);
      // ...and so do the content checks, even when the manifest is rewritten to match.
      const r = verifyBundle(edit(bundle, name, change));
      expect(r.ok, `${name} altered`).toBe(false);
      expect(failed(r)).toEqual(expect.arrayContaining(checks));
      expect(failed(r)).not.toContain('manifest');
      const named = r.checks.filter((c) => !c.ok && checks.includes(c.check));
      // A frontier that no longer leads to the signed roots is reported against the entries it extends.
      const file = checks[0] === 'entries-complete' ? 'entries.ndjson' : name;
      expect(named.some((c) => c.file === file), `${name}: ${JSON.stringify(named)}`).toBe(true);
    }
    // An entry's line number is reported.
    const r = verifyBundle(edit(files, 'entries.ndjson', (t) => t.replace('"merchant\\":\\"AWS', '"merchant\\":\\"AWT')));
    expect(r.checks.find((c) => c.check === 'entry-leaf-hash' && !c.ok)?.line).toBeGreaterThan(0);
    // The manifest itself.
    const m = verifyBundle(edit(files, 'MANIFEST.sha256', (t) => flipAt(t, 3), false));
    expect(failed(m)).toEqual(['manifest']);
    // A different key than the one the auditor trusts.
    expect(failed(verifyBundle(files, { trustedKey: ephemeralSigner('spendtrail.test').verifierKey }))).toContain('key');
  });

  it('fails a truncated entries file', (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const cut = edit(files, 'entries.ndjson', (t) => t.split('\n').slice(0, -2).join('\n') + '\n');
    const r = verifyBundle(cut);
    expect(failed(r)).toEqual(expect.arrayContaining(['entries-complete', 'inclusion-proof']));
    expect(failed(verifyBundle(edit(files, 'entries.ndjson', (t) => t.slice(0, -40), false)))).toEqual(expect.arrayContaining(['manifest', 'format']));
  });

  it('checks a checkpoint the auditor kept', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const cps = await env.store.listCheckpoints('acme');
    const atStart = cps.find((c) => c.tree_size === seedSize);
    const inside = cps.find((c) => c.tree_size > seedSize);
    expect(verifyBundle(files, { knownCheckpoint: atStart?.note as string }).ok).toBe(true);
    expect(verifyBundle(files, { knownCheckpoint: inside?.note as string }).ok).toBe(true);
    // Same key and log, a different root at that size: a fork.
    const org = await env.store.getOrg('acme');
    const forked = signCheckpoint({ origin: org?.log_origin as string, size: seedSize + 1, root: Buffer.alloc(32, 7) }, env.signer.note);
    expect(failed(verifyBundle(files, { knownCheckpoint: forked }))).toEqual(['known-checkpoint']);
    // Another log's checkpoint.
    const other = signCheckpoint({ origin: 'other.example/log', size: seedSize + 1, root: Buffer.alloc(32, 7) }, ephemeralSigner('other.example').note);
    expect(failed(verifyBundle(files, { knownCheckpoint: other }))).toEqual(['known-checkpoint']);
    const sameKeyOtherOrigin = signCheckpoint({ origin: 'other.example/log', size: seedSize + 1, root: Buffer.alloc(32, 7) }, env.signer.note);
    expect(failed(verifyBundle(files, { knownCheckpoint: sameKeyOtherOrigin }))).toEqual(['known-checkpoint']);
    // A later checkpoint than the bundle reaches cannot be vouched for.
    const latest = cps.sort((a, b) => b.tree_size - a.tree_size)[0];
    expect(failed(verifyBundle(files, { knownCheckpoint: latest?.note as string }))).toEqual(['known-checkpoint']);
  });

  it('round-trips through a zip and a directory', (ctx) => {
    if (suite.skipped()) return ctx.skip();
    for (const path of [join(tmp, `${engine}.zip`), join(tmp, `${engine}-dir`)]) {
      writeBundle(path, files);
      const back = readBundle(path);
      expect([...back.keys()].sort()).toEqual([...files.keys()].sort());
      for (const [k, v] of files) expect(back.get(k)?.equals(v)).toBe(true);
      expect(verifyBundle(back).ok).toBe(true);
    }
  });
  it("carries each rail's native record byte for byte and fails when one is altered or left out", async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    env.clock.set('2026-05-10T08:00:00.000Z');
    const payload = Buffer.from('{"id":"evt_bundle","type":"payment_intent.succeeded","data":{"object":{"amount":1900,"currency":"usd"}}}');
    await ingestRailCapture(env.deps, org.admin, {
      rail: 'stripe',
      source_id: 'evt_bundle',
      content_type: 'application/json',
      payload,
      outcome: 'settled',
      reason: null,
      transactions: [tx({ external_id: 'pi_bundle', amount: '19.00', timestamp: '2026-05-10T07:00:00Z' })],
    });
    const may = await buildEvidenceBundle(env.deps, auditor, { from: new Date('2026-05-01T00:00:00Z'), to: new Date('2026-06-01T00:00:00Z') }, env.signer.note);
    const [line] = linesOf<{ body: string; rail: string; source_id: string; payload_sha256: string }>(may, RAIL_PAYLOADS);
    expect(Buffer.from(line?.body ?? '', 'base64').equals(payload)).toBe(true);
    expect(line).toMatchObject({ rail: 'stripe', source_id: 'evt_bundle' });
    const ok = verifyBundle(may, { trustedKey: env.signer.verifierKey });
    expect(ok.checks.filter((c) => !c.ok)).toEqual([]);
    expect(ok.checks.find((c) => c.check === 'rail-payload')?.detail).toBe('1 checked');

    // One changed byte of what the rail said (1900 → 9900 cents).
    const altered = edit(may, RAIL_PAYLOADS, (t) => t.replace(line?.body ?? '', Buffer.from(payload.toString().replace('1900', '9900')).toString('base64')));
    const r = verifyBundle(altered);
    expect(failed(r)).toEqual(['rail-payload']);
    expect(r.checks.find((c) => c.check === 'rail-payload' && !c.ok)).toMatchObject({ file: RAIL_PAYLOADS, line: 1 });
    // The record left out: the entry that logged it is named.
    const without = new Map(may);
    without.delete(RAIL_PAYLOADS);
    without.set('MANIFEST.sha256', Buffer.from(manifestOf(without)));
    const gone = verifyBundle(without);
    expect(failed(gone)).toEqual(['rail-payload']);
    expect(gone.checks.find((c) => c.check === 'rail-payload' && !c.ok)?.file).toBe('entries.ndjson');
  });
  it('builds a bundle deep in a log from stored tiles, with proofs that verify', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    for (const [day, n] of [['01', 500], ['02', 333], ['03', 200]] as const) {
      env.clock.set(`2026-06-${day}T08:00:00.000Z`);
      for (let i = 0; i < n; i += 111) {
        await record(Array.from({ length: Math.min(111, n - i) }, (_, j) => tx({ amount: `${1 + ((i + j) % 50)}.00`, timestamp: `2026-06-${day}T07:00:00Z` })));
      }
    }
    const june2 = await buildEvidenceBundle(env.deps, auditor, { from: new Date('2026-06-02T00:00:00Z'), to: new Date('2026-06-03T00:00:00Z') }, env.signer.note);
    const lines = linesOf<{ seq: number; kind: string }>(june2, 'entries.ndjson');
    expect(lines.filter((l) => l.kind === 'transaction')).toHaveLength(333);
    expect(lines[0]?.seq ?? 0).toBeGreaterThan(512);
    const r = verifyBundle(june2, { trustedKey: env.signer.verifierKey });
    expect(r.checks.filter((c) => !c.ok)).toEqual([]);
  });
});
