import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, describe, expect, it } from 'vitest';
import { hledgerAccount, writeHledger } from '../src/adapters/accounting/hledger.ts';
import { journalSettings } from '../src/app/accounting-export.ts';
import type { AccountRow } from '../src/app/ports/store.ts';
import { buildJournal } from '../src/domain/journal/build-journal.ts';
import type { Journal } from '../src/domain/journal/journal.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import { parseDecimal } from '../src/domain/money/decimal.ts';
import type { Instant } from '../src/domain/time.ts';
import { hledgerAvailable } from './accounting-ledger.ts';
import { context, micro, record } from './accounting-records.ts';

const dir = mkdtempSync(join(tmpdir(), 'spendtrail-hledger-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function hledger(journal: Buffer, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const file = join(dir, `j${Math.random().toString(36).slice(2)}.journal`);
  writeFileSync(file, journal);
  const r = spawnSync('hledger', ['-f', file, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Per hledger account, from `hledger balance` as CSV, in minor units of the journal's currency. */
function balances(journal: Journal, file: Buffer): Map<string, bigint> {
  const r = hledger(file, 'balance', '--flat', '--no-total', '--layout=bare', '-O', 'csv');
  expect(r.status, r.stderr).toBe(0);
  return new Map(
    parse<Record<string, string>>(r.stdout, { columns: true }).map((row) => [
      row.account ?? '',
      parseDecimal(row.balance ?? '', journal.exponent, { allowNegative: true, field: 'balance' }),
    ]),
  );
}

const expected = (journal: Journal): Map<string, bigint> => {
  const m = new Map<string, bigint>();
  for (const e of journal.entries) for (const l of e.lines) m.set(hledgerAccount(l), (m.get(hledgerAccount(l)) ?? 0n) + l.debit_minor - l.credit_minor);
  return m;
};

describe('hledger journal checked by hledger', () => {
  it('keeps awkward account and vendor names inside hledger syntax', (ctx) => {
    if (!hledgerAvailable()) return ctx.skip();
    const chart: AccountRow[] = [
      { org_id: 'acme', code: '6400', name: 'Travel: flights;  hotels', active: true, seq: 1 },
      { org_id: 'acme', code: '6420', name: '(Meals) [team]', active: true, seq: 2 },
    ];
    const txs: TransactionRecord[] = [
      record({ merchant: 'A|B; C', amount: '12.34', reporting_amount: '12.34' }),
      record({ merchant: 'Zürich Café', accounting_code: '6420', timestamp: '2026-03-13T10:00:00.000Z' as Instant }),
      micro('0.500000', '0.50', { timestamp: '2026-03-14T10:00:00.000Z' as Instant }),
    ];
    const journal = buildJournal({ transactions: txs, currency: 'USD', timezone: 'UTC', scope: 'org', settings: journalSettings({ accounts: { '6420': { name: 'API; services' } } }, chart, { reporting_currency: 'USD' }) });
    const [file] = writeHledger(journal, context());
    const bytes = file?.bytes ?? Buffer.alloc(0);
    const check = hledger(bytes, 'check', '--strict', 'ordereddates');
    expect(check.status, check.stderr).toBe(0);
    expect(balances(journal, bytes)).toEqual(expected(journal));
    expect([...balances(journal, bytes).keys()]).toContain('Expenses:6400 Travel- flights, hotels');
  });

  it('posts a three-decimal currency to the fils', (ctx) => {
    if (!hledgerAvailable()) return ctx.skip();
    const kwd = (amount: string): TransactionRecord => record({ amount, reporting_amount: amount, currency: 'KWD', reporting_currency: 'KWD' });
    const journal = buildJournal({
      transactions: [kwd('10.125'), kwd('0.001'), kwd('7.333')],
      currency: 'KWD',
      timezone: 'UTC',
      scope: 'org',
      settings: journalSettings({ rollup: false }, [{ org_id: 'acme', code: '6400', name: 'Cloud', active: true, seq: 1 }], { reporting_currency: 'KWD' }),
    });
    const bytes = writeHledger(journal, context())[0]?.bytes ?? Buffer.alloc(0);
    expect(hledger(bytes, 'check', '--strict').status).toBe(0);
    expect(balances(journal, bytes).get('Expenses:6400 Cloud')).toBe(17459n);
  });

  it('is refused by hledger when an account is not declared, so the strict check has teeth', (ctx) => {
    if (!hledgerAvailable()) return ctx.skip();
    const journal = buildJournal({ transactions: [record()], currency: 'USD', timezone: 'UTC', scope: 'org', settings: journalSettings({}, [{ org_id: 'acme', code: '6400', name: 'Cloud', active: true, seq: 1 }], { reporting_currency: 'USD' }) });
    const text = (writeHledger(journal, context())[0]?.bytes ?? Buffer.alloc(0)).toString('utf8');
    const undeclared = Buffer.from(text.replace(/^account Expenses:6400 Cloud\n/m, ''), 'utf8');
    expect(hledger(Buffer.from(text), 'check', '--strict').status).toBe(0);
    expect(hledger(undeclared, 'check', '--strict').status).not.toBe(0);
  });
});
