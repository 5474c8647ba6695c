import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAccountingFiles } from '../src/adapters/accounting/index.ts';
import type { AccountingSettings } from '../src/app/accounting-export-schema.ts';
import type { AccountingExport } from '../src/app/accounting-export.ts';
import { exportAccounting, prepareJournal } from '../src/app/accounting-export.ts';
import type { AppDeps } from '../src/app/deps.ts';
import type { Principal } from '../src/app/principal.ts';
import { parseDecimal } from '../src/domain/money/decimal.ts';
import { monthBounds } from '../src/domain/time.ts';
import { ENGINES, openTestEnv, postgresAvailable } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { errorOf } from './support/fixtures.ts';
import { expectGolden, hledgerAvailable, seedAccountingLedger } from './accounting-ledger.ts';

const finance: Principal = { org_id: 'acme', principal: 'fiona@acme.test', roles: ['finance'], agent_id: null, key_id: null };
const SETTINGS: AccountingSettings = { uncoded: 'suspense', netsuite: { subsidiary: 'Acme Corp (US)' } };
const cents = (s: string): bigint => parseDecimal(s.trim(), 2, { allowNegative: true, field: 'amount' });
const NAMES: Record<string, string> = {
  '6400': 'Cloud infrastructure',
  '6420': 'API services',
  '6450': 'Research data & tools',
  '1999': 'Agent spend suspense',
  '2110': 'Agent card clearing',
  '1150': 'USDC wallet',
  '1160': 'Lightning wallet',
};
const FUNDING: Record<string, string> = { stripe: '2110', x402: '1150', l402: '1160' };

const add = (m: Map<string, bigint>, k: string, v: bigint): void => {
  m.set(k, (m.get(k) ?? 0n) + v);
};

describe.each(ENGINES)('accounting export on %s', (engine) => {
  let env: TestEnv | undefined;
  let deps: AppDeps;
  let skipped = false;
  /** Per account code, debit positive: what the ledger itself says, read through the summary's grouped scan. */
  const ledger = new Map<string, bigint>();

  beforeAll(async () => {
    if (engine === 'postgres' && !(await postgresAvailable())) {
      skipped = true;
      return;
    }
    env = await openTestEnv(engine);
    ({ deps } = await seedAccountingLedger(env));
    const { start, end } = monthBounds('2026-03', 'America/New_York');
    for (const g of await env.store.spendGroups('acme', new Date(start), new Date(end), null)) {
      if (g.by === 'account') add(ledger, g.key ?? '1999', g.net_minor);
      if (g.by === 'rail') add(ledger, FUNDING[g.key ?? ''] ?? `rail ${g.key}`, -g.net_minor);
    }
  });
  afterAll(async () => {
    await env?.close();
  });

  const march = (format: 'iif' | 'xero' | 'netsuite' | 'hledger', over: Record<string, unknown> = {}): Promise<AccountingExport> =>
    exportAccounting(deps, finance, { format, month: '2026-03', settings: SETTINGS, ...over }, writeAccountingFiles);

  const expectLedgerTotals = (got: Map<string, bigint>): void => {
    expect(Object.fromEntries([...got].filter(([, v]) => v !== 0n).sort())).toEqual(Object.fromEntries([...ledger].filter(([, v]) => v !== 0n).sort()));
  };

  it('counts the month in the organisation time zone: roll-ups, suspense and what lies outside', async (ctx) => {
    if (skipped) return ctx.skip();
    const { journal } = await prepareJournal(deps, finance, { format: 'xero', month: '2026-03', settings: SETTINGS });
    expect(journal.report).toMatchObject({ transactions: 12, rolled_up: 5, rollups: 2, posted_individually: 7, uncoded: 1, posted_to_suspense: 1, zero_value: 0 });
    expect(journal.report.debit_minor).toBe(journal.report.credit_minor);
    // The 02:30 UTC micro-payment belongs to 4 March in New York, with the three before it.
    expect(journal.rollups.map((r) => [r.date, r.vendor, r.transactions.length])).toEqual([
      ['2026-03-04', 'OpenRouter', 4],
      ['2026-03-06', 'Lightning Labs API', 1],
    ]);
    expect(journal.entries.at(-1)?.date).toBe('2026-03-31');
  });

  it('writes IIF, Xero and NetSuite equal to their golden files, every journal balanced and each account at the ledger total', async (ctx) => {
    if (skipped) return ctx.skip();
    const iif = await march('iif');
    expectGolden('march-2026.iif', iif.files[0]?.bytes ?? Buffer.alloc(0));
    expectGolden('march-2026-rollups.csv', iif.files[1]?.bytes ?? Buffer.alloc(0));
    const iifTotals = new Map<string, bigint>();
    let block = 0n;
    let blocks = 0;
    for (const row of (iif.files[0]?.bytes.toString('latin1') ?? '').split('\r\n')) {
      const cells = row.split('\t');
      if (cells[0] === 'TRNS' || cells[0] === 'SPL') {
        const code = Object.keys(NAMES).find((c) => NAMES[c] === cells[4]) ?? `unknown ${cells[4]}`;
        add(iifTotals, code, cents(cells[7] ?? ''));
        block += cents(cells[7] ?? '');
      } else if (cells[0] === 'ENDTRNS') {
        expect(block, `IIF block ${blocks}`).toBe(0n);
        blocks += 1;
      }
    }
    expect(blocks).toBe(9);
    expectLedgerTotals(iifTotals);

    const xero = await march('xero');
    expect(xero.files.map((f) => f.name)).toEqual(['spendtrail-acme-2026-03.csv', 'spendtrail-acme-2026-03-rollups.csv']);
    expectGolden('march-2026-xero.csv', xero.files[0]?.bytes ?? Buffer.alloc(0));
    const xeroTotals = new Map<string, bigint>();
    const journals = new Map<string, bigint>();
    for (const r of parse<Record<string, string>>(xero.files[0]?.bytes.toString('utf8') ?? '', { columns: true })) {
      add(xeroTotals, r['*AccountCode'] ?? '', cents(r['*Amount'] ?? ''));
      add(journals, `${r['*Narration']}|${r['*Date']}`, cents(r['*Amount'] ?? ''));
    }
    expect(journals.size).toBe(9);
    for (const [k, v] of journals) expect(v, k).toBe(0n);
    expectLedgerTotals(xeroTotals);

    const ns = await march('netsuite');
    expectGolden('march-2026-netsuite.csv', ns.files[0]?.bytes ?? Buffer.alloc(0));
    const nsTotals = new Map<string, bigint>();
    const entries = new Map<string, bigint>();
    for (const r of parse<Record<string, string>>(ns.files[0]?.bytes.toString('utf8') ?? '', { columns: true })) {
      const net = (r.Debit === '' ? 0n : cents(r.Debit ?? '')) - (r.Credit === '' ? 0n : cents(r.Credit ?? ''));
      add(nsTotals, (r.Account ?? '').split(' ')[0] ?? '', net);
      add(entries, r['External ID'] ?? '', net);
      expect(r.Subsidiary).toBe('Acme Corp (US)');
    }
    expect(entries.size).toBe(9);
    for (const [k, v] of entries) expect(v, k).toBe(0n);
    expectLedgerTotals(nsTotals);
  });

  it('writes an hledger journal that `hledger check --strict` accepts, each account at the ledger total to the cent', async (ctx) => {
    if (skipped) return ctx.skip();
    const hl = await march('hledger');
    expectGolden('march-2026.journal', hl.files[0]?.bytes ?? Buffer.alloc(0));
    if (!hledgerAvailable()) return ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'spendtrail-hledger-'));
    try {
      const file = join(dir, 'march.journal');
      writeFileSync(file, hl.files[0]?.bytes ?? Buffer.alloc(0));
      // Strict: every account and the commodity declared; ordereddates: entries in date order.
      execFileSync('hledger', ['-f', file, 'check', '--strict', 'ordereddates'], { stdio: 'pipe' });
      const csv = execFileSync('hledger', ['-f', file, 'balance', '--flat', '--no-total', '--layout=bare', '-O', 'csv'], { encoding: 'utf8' });
      const totals = new Map<string, bigint>();
      for (const r of parse<Record<string, string>>(csv, { columns: true })) {
        expect(r.commodity).toBe('USD');
        add(totals, /^[A-Za-z]+:(\S+) /.exec(r.account ?? '')?.[1] ?? `unparsed ${r.account}`, cents(r.balance ?? ''));
      }
      expectLedgerTotals(totals);
      // The evidence is queryable: the roll-up's tag finds its entry.
      const ru = hl.journal.rollups[0]?.rollup_id ?? '';
      const reg = execFileSync('hledger', ['-f', file, 'register', `tag:rollup=${ru}`, '-O', 'csv'], { encoding: 'utf8' });
      expect(parse<Record<string, string>>(reg, { columns: true })).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses the month while a transaction has no GL code, saying how many', async (ctx) => {
    if (skipped) return ctx.skip();
    const e = exportAccounting(deps, finance, { format: 'xero', month: '2026-03' }, writeAccountingFiles);
    await expect(e).rejects.toMatchObject({ code: 'UNCODED_TRANSACTIONS', details: { uncoded: 1 } });
    await expect(exportAccounting(deps, finance, { format: 'xero', month: '2026-03' }, writeAccountingFiles)).rejects.toThrow(/^1 transaction has no GL code/);
  });

  it('refuses an account missing from an explicit mapping, naming it', async (ctx) => {
    if (skipped) return ctx.skip();
    const settings: AccountingSettings = { ...SETTINGS, account_mapping: 'explicit', accounts: { '6400': { code: '400' }, '6420': { code: '429' } } };
    await expect(march('xero', { settings })).rejects.toMatchObject({ code: 'ACCOUNT_NOT_MAPPED', details: { accounts: ['6450'] } });
  });

  it('exports one agent or one cluster, each under its own roll-up ids', async (ctx) => {
    if (skipped) return ctx.skip();
    const agent = await march('netsuite', { agent_id: 'research-bot' });
    expect(agent.journal.report.transactions).toBe(6);
    expect(agent.files[0]?.name).toBe('spendtrail-acme-2026-03-agent-research-bot.csv');
    const cluster = await march('netsuite', { cluster: 'research' });
    expect(cluster.journal.report.transactions).toBe(6);
    expect(cluster.journal.entries.map((e) => e.external_id)).not.toEqual(agent.journal.entries.map((e) => e.external_id));
    const support = await march('netsuite', { cluster: 'support' });
    expect(support.journal.report).toMatchObject({ transactions: 6, rolled_up: 0 });
  });

  it('takes a period as days in the organisation time zone, `to` exclusive', async (ctx) => {
    if (skipped) return ctx.skip();
    const { journal } = await prepareJournal(deps, finance, { format: 'iif', from: '2026-03-04', to: '2026-03-05', settings: SETTINGS });
    expect(journal.report).toMatchObject({ transactions: 4, rollups: 1 });
  });

  it('answers NOTHING_TO_EXPORT for a period without transactions', async (ctx) => {
    if (skipped) return ctx.skip();
    await expect(march('iif', { month: '2026-05' })).rejects.toMatchObject({ code: 'NOTHING_TO_EXPORT' });
  });

  it('refuses unknown scopes, bad periods and callers without a finance or auditor role', async (ctx) => {
    if (skipped) return ctx.skip();
    expect((await errorOf(march('iif', { cluster: 'nobody' }))).code).toBe('CLUSTER_NOT_FOUND');
    expect((await errorOf(march('iif', { agent_id: 'ghost' }))).code).toBe('AGENT_NOT_FOUND');
    expect(await errorOf(march('iif', { month: undefined, from: '2026-03-05', to: '2026-03-01' }))).toEqual({ code: 'VALIDATION_FAILED', field: 'to' });
    expect(await errorOf(march('iif', { agent_id: 'research-bot', cluster: 'research' }))).toEqual({ code: 'VALIDATION_FAILED', field: 'cluster' });
    expect((await errorOf(march('iif', { settings: { rollup: { below: '1.005' } } }))).code).toBe('INVALID_AMOUNT');
    const agentKey: Principal = { org_id: 'acme', principal: 'agent:research-bot', roles: ['agent'], agent_id: 'research-bot', key_id: null };
    await expect(exportAccounting(deps, agentKey, { format: 'iif', month: '2026-03' }, writeAccountingFiles)).rejects.toMatchObject({ code: 'FORBIDDEN' });
    const auditor: Principal = { ...finance, principal: 'audrey@acme.test', roles: ['auditor'] };
    expect((await exportAccounting(deps, auditor, { format: 'iif', month: '2026-03', settings: SETTINGS }, writeAccountingFiles)).journal.report.entries).toBe(9);
  });
});
