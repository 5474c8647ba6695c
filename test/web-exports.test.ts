import { unzipSync } from 'fflate';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changeLogRows, listChanges } from '../src/app/change-history.ts';
import { createCheckpoint } from '../src/app/checkpoint.ts';
import { listLedger } from '../src/app/ledger-queries.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { LEDGER_COLUMNS } from '../src/adapters/reports/ledger-csv.ts';
import { buildServer } from '../src/interfaces/http/server.ts';
import { verifyBundle } from '../src/verifier/verify-bundle.ts';
import { person, tx } from './support/fixtures.ts';
import type { WebOrg } from './support/web-people.ts';
import { openWebOrg, textOf } from './support/web-people.ts';
import { getPage } from './support/web.ts';

/**
 * The Exports page and its downloads through the real server: who may use them, that each
 * download is a real file with the right content (the CSV parses and holds every row, across
 * keyset pages; the workbooks and zips open and hold the expected files; the evidence bundle
 * verifies offline), and that bad parameters are the error page with code and field.
 */

let w: WebOrg;
/** More than one keyset page of the CSV download (1000 rows). */
const MANY = 1105;
const march: string[] = [];

beforeAll(async () => {
  w = await openWebOrg();
  const agent = person('ops@acme.test', 'agent');
  const inputs = Array.from({ length: MANY }, (_, i) =>
    tx({ amount: '1.00', timestamp: new Date(Date.UTC(2026, 2, 2 + (i % 27), 8, 0, i % 60)).toISOString() }),
  );
  inputs.push(tx({ agent_id: 'research-bot', amount: '100.50', merchant: '=HYPERLINK("http://x")', payment_rail: 'x402', merchant_category: null, accounting_code: '6420', timestamp: '2026-03-07T10:00:00Z' }));
  const outs = await recordTransactions(w.env.deps, agent, inputs);
  expect(outs.every((o) => o.ok)).toBe(true);
  await createCheckpoint(w.env.deps, w.org.admin);
  let cursor: string | undefined;
  do {
    const page = await listLedger(w.env.deps, w.org.admin, { from: '2026-03-01T00:00:00Z', to: '2026-04-01T00:00:00Z', limit: 1000, cursor });
    march.push(...page.transactions.map((t) => t.tx_id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
});
afterAll(async () => {
  await w?.close();
});

/** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  if (cell !== '' || row.length > 0) rows.push([...row, cell]);
  return rows;
}

const refusedWith = (body: string, code: string, field: string): void => {
  const text = textOf(body);
  expect(text).toContain(code);
  expect(text).toContain(`(field ${field})`);
};

describe('/exports access', () => {
  it('is for finance, auditors and admins; others get 403 on the page and the downloads; signed out goes to sign-in', async () => {
    for (const who of ['fin@acme.test', 'aud@acme.test', 'root@acme.test']) expect((await w.get('/exports', who)).statusCode, who).toBe(200);
    for (const who of ['abe@acme.test', 'pam@acme.test']) {
      expect((await w.get('/exports', who)).statusCode, who).toBe(403);
      expect((await w.get('/exports/ledger.csv?month=2026-03', who)).statusCode, who).toBe(403);
      expect((await w.get('/exports/evidence.zip?month=2026-03', who)).statusCode, who).toBe(403);
    }
    const out = await w.app.inject({ method: 'GET', url: '/exports/ledger.csv' });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login?next=%2Fexports%2Fledger.csv');
  });

  it('says when this server does not export, and shows the status when it does', async () => {
    expect(textOf((await w.get('/exports', 'aud@acme.test')).body)).toContain('This server does not export the log');
    let other: FastifyInstance | undefined;
    try {
      other = await buildServer(w.env.deps, { verifier: w.env.signer.note, exportSinkName: 'audit-bucket' });
      const res = await getPage(other, '/exports', w.as['aud@acme.test']!.cookie);
      expect(res.statusCode).toBe(200);
      const text = textOf(res.body);
      const cp = await w.env.deps.store.latestCheckpoint('acme');
      expect(text).toContain('Destination audit-bucket');
      expect(text).toContain(`Log size (last checkpoint) ${cp!.tree_size}`);
      expect(text).toContain(`Entries behind ${cp!.tree_size}`);
      expect(text).toContain('behind');
    } finally {
      await other?.close();
    }
  });
});

describe('ledger CSV', () => {
  it('streams every row of the period across keyset pages, header first, formulas defused', async () => {
    const res = await w.get('/exports/ledger.csv?month=2026-03&agent_id=&cluster=', 'fin@acme.test');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    expect(res.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-ledger-2026-03.csv"');
    const rows = parseCsv(res.body);
    expect(rows[0]).toEqual([...LEDGER_COLUMNS]);
    const body = rows.slice(1);
    expect(march.length).toBe(MANY + 1);
    expect(body.map((r) => r[0])).toEqual(march);
    expect(new Set(body.map((r) => r[0])).size).toBe(MANY + 1);
    const merchant = LEDGER_COLUMNS.indexOf('merchant');
    expect(body.find((r) => r[merchant]?.includes('HYPERLINK'))?.[merchant]).toBe(`'=HYPERLINK("http://x")`);
  });

  it('filters like the ledger (agent, rail)', async () => {
    const res = await w.get('/exports/ledger.csv?month=2026-03&agent_id=research-bot&payment_rail=x402', 'aud@acme.test');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toContain('spendtrail-acme-ledger-2026-03-agent-research-bot.csv');
    const body = parseCsv(res.body).slice(1);
    expect(body).toHaveLength(1);
    expect(body[0]?.[LEDGER_COLUMNS.indexOf('amount')]).toBe('100.50');
  });

  it('refuses bad parameters with the error page: from after to, unknown rail, unknown parameter, month and from together', async () => {
    const backwards = await w.get('/exports/ledger.csv?from=2026-03-10&to=2026-03-01', 'fin@acme.test');
    expect(backwards.statusCode).toBe(400);
    refusedWith(backwards.body, 'VALIDATION_FAILED', 'to');
    const rail = await w.get('/exports/ledger.csv?payment_rail=carrier-pigeon', 'fin@acme.test');
    expect(rail.statusCode).toBe(400);
    refusedWith(rail.body, 'VALIDATION_FAILED', 'payment_rail');
    const unknown = await w.get('/exports/ledger.csv?colour=red', 'fin@acme.test');
    expect(unknown.statusCode).toBe(400);
    refusedWith(unknown.body, 'UNKNOWN_FIELD', 'colour');
    const both = await w.get('/exports/ledger.csv?month=2026-03&from=2026-03-01', 'fin@acme.test');
    expect(both.statusCode).toBe(400);
    refusedWith(both.body, 'VALIDATION_FAILED', 'from');
  });
});

describe('ledger XLSX', () => {
  const sheetsOf = (buf: Buffer): { files: Record<string, Uint8Array>; names: string[] } => {
    const files = unzipSync(new Uint8Array(buf));
    const workbook = Buffer.from(files['xl/workbook.xml'] ?? new Uint8Array()).toString('utf8');
    return { files, names: [...workbook.matchAll(/<sheet [^>]*name="([^"]+)"/g)].map((m) => m[1] ?? '') };
  };

  it('is the statement workbook: one sheet per agent of the organisation, or of one agent', async () => {
    const all = await w.get('/exports/ledger.xlsx?month=2026-03', 'aud@acme.test');
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-ledger-2026-03.xlsx"');
    const { files, names } = sheetsOf(all.rawPayload);
    expect(names).toEqual(['research-bot', 'support-bot']);
    expect(Object.keys(files)).toContain('xl/worksheets/sheet2.xml');
    const one = sheetsOf((await w.get('/exports/ledger.xlsx?month=2026-03&agent_id=research-bot', 'aud@acme.test')).rawPayload);
    expect(one.names).toEqual(['research-bot']);
  });

  it('needs a period and a known agent', async () => {
    const none = await w.get('/exports/ledger.xlsx', 'aud@acme.test');
    expect(none.statusCode).toBe(400);
    refusedWith(none.body, 'VALIDATION_FAILED', 'month');
    const nobody = await w.get('/exports/ledger.xlsx?month=2026-03&agent_id=ghost-bot', 'aud@acme.test');
    expect(nobody.statusCode).toBe(404);
    refusedWith(nobody.body, 'AGENT_NOT_FOUND', 'agent_id');
  });
});

describe('policy change log', () => {
  it('downloads the log as CSV (one row per changed field) and XLSX', async () => {
    const expected = changeLogRows(await listChanges(w.env.deps, w.org.admin));
    const csv = await w.get('/exports/policy-changes?format=csv', 'aud@acme.test');
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-policy-changes-all.csv"');
    const rows = parseCsv(csv.body);
    expect(rows.length - 1).toBe(expected.length);
    expect(rows.slice(1).map((r) => r[0])).toEqual(expected.map((r) => r.change_id));
    const xlsx = await w.get('/exports/policy-changes?format=xlsx&agent_id=support-bot', 'aud@acme.test');
    expect(xlsx.statusCode).toBe(200);
    expect(Object.keys(unzipSync(new Uint8Array(xlsx.rawPayload)))).toContain('xl/workbook.xml');
  });

  it('refuses an unknown format (400, field format)', async () => {
    const res = await w.get('/exports/policy-changes?format=pdf', 'aud@acme.test');
    expect(res.statusCode).toBe(400);
    refusedWith(res.body, 'VALIDATION_FAILED', 'format');
  });
});

describe('evidence bundle', () => {
  it('is a .zip that holds the bundle files and verifies offline against the pinned key', async () => {
    const res = await w.get('/exports/evidence.zip?from=2026-04-01&to=2026-04-03', 'aud@acme.test');
    expect(res.statusCode, res.body.slice(0, 400)).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(res.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-evidence-2026-04-01_2026-04-02.zip"');
    const files = new Map(Object.entries(unzipSync(new Uint8Array(res.rawPayload))).map(([k, v]) => [k, Buffer.from(v)]));
    for (const name of ['README.md', 'key.txt', 'checkpoints.ndjson', 'entries.ndjson', 'proofs.ndjson', 'MANIFEST.sha256']) expect([...files.keys()]).toContain(name);
    const entries = files.get('entries.ndjson')!.toString('utf8').trim().split('\n');
    expect(entries.length).toBeGreaterThan(MANY);
    const report = verifyBundle(files, { trustedKey: w.env.signer.verifierKey });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('needs a period', async () => {
    const res = await w.get('/exports/evidence.zip?from=2026-04-01', 'aud@acme.test');
    expect(res.statusCode).toBe(400);
    refusedWith(res.body, 'VALIDATION_FAILED', 'to');
  });
});

describe('accounting exports', () => {
  it('downloads one target as its own file, and every target as one .zip with a folder each', async () => {
    const one = await w.get('/exports/accounting?format=hledger&month=2026-03', 'fin@acme.test');
    expect(one.statusCode, one.body.slice(0, 400)).toBe(200);
    expect(one.headers['content-disposition']).toMatch(/^attachment; filename="spendtrail-acme-2026-03[^"]*\.journal"$/);
    expect(one.body).toContain('100.50');
    const all = await w.get('/exports/accounting?format=all&month=2026-03&agent_id=', 'fin@acme.test');
    expect(all.statusCode).toBe(200);
    expect(all.headers['content-disposition']).toBe('attachment; filename="spendtrail-acme-2026-03-all.zip"');
    const names = Object.keys(unzipSync(new Uint8Array(all.rawPayload)));
    for (const folder of ['iif/', 'xero/', 'netsuite/', 'hledger/']) expect(names.some((n) => n.startsWith(folder)), folder).toBe(true);
  });

  it('refuses an unknown format and a missing period with code and field', async () => {
    const bad = await w.get('/exports/accounting?format=sage&month=2026-03', 'fin@acme.test');
    expect(bad.statusCode).toBe(400);
    refusedWith(bad.body, 'VALIDATION_FAILED', 'format');
    const none = await w.get('/exports/accounting?format=iif', 'fin@acme.test');
    expect(none.statusCode).toBe(400);
    refusedWith(none.body, 'VALIDATION_FAILED', 'month');
  });
});
