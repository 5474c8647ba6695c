import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { writeAccountingFiles } from '../src/adapters/accounting/index.ts';
import { IIF_HEADER, writeIif } from '../src/adapters/accounting/iif.ts';
import { NETSUITE_COLUMNS, writeNetsuiteCsv } from '../src/adapters/accounting/netsuite-csv.ts';
import { XERO_HEADER, writeXeroCsv } from '../src/adapters/accounting/xero-csv.ts';
import { writeHledger } from '../src/adapters/accounting/hledger.ts';
import type { AccountingSettings } from '../src/app/accounting-export-schema.ts';
import { journalSettings } from '../src/app/accounting-export.ts';
import { buildJournal } from '../src/domain/journal/build-journal.ts';
import type { Journal } from '../src/domain/journal/journal.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import { parseDecimal } from '../src/domain/money/decimal.ts';
import type { Instant } from '../src/domain/time.ts';
import { CHART, POLICY_A, context, micro, record, settingsFor, thrown } from './accounting-records.ts';

const build = (txs: readonly TransactionRecord[], s: AccountingSettings = {}): Journal =>
  buildJournal({ transactions: txs, currency: 'USD', timezone: 'UTC', scope: 'org', settings: settingsFor(s) });

const cents = (s: string): bigint => parseDecimal(s, 2, { allowNegative: true, field: 'amount' });

/** A month of card payments on distinct days: two lines each. */
const payments = (count: number): TransactionRecord[] =>
  Array.from({ length: count }, (_, i) =>
    record({
      amount: `${i + 1}.25`,
      reporting_amount: `${i + 1}.25`,
      timestamp: new Date(Date.UTC(2026, 2, 1, 0, i)).toISOString() as Instant,
      accounting_code: i % 3 === 0 ? '6420' : '6400',
    }),
  );

describe('Xero manual-journal CSV', () => {
  it("writes Xero's template columns with debits positive, credits negative and dates as dd/mm/yyyy", () => {
    const t = record({ amount: '2100.00', reporting_amount: '2100.00', timestamp: '2026-03-02T15:00:00.000Z' as Instant });
    const [file, ...rest] = writeXeroCsv(build([t]), context({ xero: { tax_rate: 'No VAT' } }));
    expect(rest).toHaveLength(0);
    const text = file?.bytes.toString('utf8') ?? '';
    expect(text.split('\r\n')).toEqual([
      XERO_HEADER,
      `ST-${t.tx_id} AWS - support-bot payment,02/03/2026,tx ${t.tx_id} policy ${POLICY_A} agent support-bot,6400,No VAT,2100.00`,
      `ST-${t.tx_id} AWS - support-bot payment,02/03/2026,tx ${t.tx_id} policy ${POLICY_A} agent support-bot,2110,No VAT,-2100.00`,
      '',
    ]);
  });

  it('splits more than 300 lines into several files without splitting a journal, each file balanced', () => {
    // 151 two-line journals and a three-line roll-up (USDC and Lightning wallets): 305 lines.
    const txs = [
      ...payments(151),
      micro('0.40', '0.40', { timestamp: '2026-03-31T10:00:00.000Z' as Instant }),
      micro('0.30', '0.30', { timestamp: '2026-03-31T11:00:00.000Z' as Instant, payment_rail: 'l402', currency: 'SAT', amount: '500.000', fx_rate: '0.0006' }),
    ];
    const journal = build(txs);
    const files = writeXeroCsv(journal, context());
    expect(files.map((f) => f.name)).toEqual(['spendtrail-acme-2026-03-part1-of-2.csv', 'spendtrail-acme-2026-03-part2-of-2.csv']);
    const seen = new Map<string, string>();
    let lines = 0;
    for (const f of files) {
      const rows = parse<Record<string, string>>(f.bytes.toString('utf8'), { columns: true });
      expect(rows.length).toBeLessThanOrEqual(300);
      lines += rows.length;
      const sums = new Map<string, bigint>();
      for (const r of rows) {
        const key = `${r['*Narration']}|${r['*Date']}`;
        // A journal's lines live in one file only.
        expect(seen.get(key) ?? f.name).toBe(f.name);
        seen.set(key, f.name);
        sums.set(key, (sums.get(key) ?? 0n) + cents(r['*Amount'] ?? ''));
      }
      for (const [k, s] of sums) expect(s, k).toBe(0n);
    }
    expect(lines).toBe(305);
    expect(seen.size).toBe(journal.entries.length);
    // A smaller limit makes more files, never a split journal.
    expect(writeXeroCsv(journal, context({ xero: { max_lines: 3 } }))).toHaveLength(journal.entries.length);
    expect(() => writeXeroCsv(journal, context({ xero: { max_lines: 2 } }))).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
  });

  it('refuses an account code longer than Xero takes, naming it', () => {
    const j = build([record()], { accounts: { '6400': { code: 'CLOUD-INFRA-01' } } });
    const e = thrown(() => writeXeroCsv(j, context()));
    expect(e.code).toBe('ACCOUNT_NOT_MAPPED');
    expect(e.message).toContain('CLOUD-INFRA-01');
  });
});

describe('QuickBooks Desktop IIF', () => {
  it('writes balanced TRNS/SPL/ENDTRNS blocks of GENERAL JOURNAL with MM/DD/YYYY dates and CRLF line ends', () => {
    const t = record({ amount: '312.40', reporting_amount: '312.40', merchant: 'OpenAI', accounting_code: '6420', timestamp: '2026-03-03T14:00:00.000Z' as Instant });
    const [file] = writeIif(build([t]), context());
    const text = file?.bytes.toString('latin1') ?? '';
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '').includes('\n')).toBe(false);
    expect(text.split('\r\n')).toEqual([
      ...IIF_HEADER,
      `TRNS\t\tGENERAL JOURNAL\t03/03/2026\tAPI services\tOpenAI\t\t312.40\t\ttx ${t.tx_id} policy ${POLICY_A} agent support-bot`,
      `SPL\t\tGENERAL JOURNAL\t03/03/2026\tAgent card clearing\tOpenAI\t\t-312.40\t\ttx ${t.tx_id} policy ${POLICY_A} agent support-bot`,
      'ENDTRNS',
      '',
    ]);
  });

  it('writes Windows-1252 text, keeps fields on their line and leaves no quote to open a quoted value', () => {
    const t = record({ merchant: 'Café "Data"\tInc. 東京 and a very long vendor name beyond forty-one characters' });
    const [file] = writeIif(build([t]), context());
    const bytes = file?.bytes ?? Buffer.alloc(0);
    const name = bytes.toString('latin1').split('\r\n')[3]?.split('\t')[5];
    expect(name).toBe("Café 'Data' Inc. ?? and a very long vendo");
    expect(name?.length).toBeLessThanOrEqual(41);
    expect(bytes.includes(Buffer.from([0xe9]))).toBe(true);
    expect(bytes.includes(Buffer.from('é', 'utf8'))).toBe(false);
  });

  it('refuses an account name QuickBooks would not read back exactly', () => {
    const j = build([record()], { accounts: { '6400': { name: 'Cloud 東京' } } });
    const e = thrown(() => writeIif(j, context()));
    expect(e.code).toBe('ACCOUNT_NOT_MAPPED');
    expect(e.message).toContain('account 6400');
  });
});

describe('NetSuite journal CSV', () => {
  it('writes one External ID per journal with debits and credits in their own columns', () => {
    const t = record({ amount: '75.50', reporting_amount: '75.50', merchant: 'Café "Data", Inc.', timestamp: '2026-03-10T12:00:00.000Z' as Instant });
    const [file] = writeNetsuiteCsv(build([t]), context({ netsuite: { subsidiary: 'Acme US' } }));
    const rows = parse<Record<string, string>>(file?.bytes.toString('utf8') ?? '', { columns: true });
    expect(Object.keys(rows[0] ?? {})).toEqual([...NETSUITE_COLUMNS]);
    expect(rows).toEqual([
      { 'External ID': `ST-${t.tx_id}`, Date: '03/10/2026', Subsidiary: 'Acme US', Currency: 'USD', Account: '6400 Cloud infrastructure', Debit: '75.50', Credit: '', Memo: `tx ${t.tx_id} policy ${POLICY_A} agent support-bot`, Name: 'Café "Data", Inc.' },
      { 'External ID': `ST-${t.tx_id}`, Date: '03/10/2026', Subsidiary: 'Acme US', Currency: 'USD', Account: '2110 Agent card clearing', Debit: '', Credit: '75.50', Memo: `tx ${t.tx_id} policy ${POLICY_A} agent support-bot`, Name: 'Café "Data", Inc.' },
    ]);
    const byName = writeNetsuiteCsv(build([t]), context({ netsuite: { account: 'name', date_format: 'YYYY-MM-DD' } }))[0]?.bytes.toString('utf8') ?? '';
    expect(byName).toContain('2026-03-10,,USD,Cloud infrastructure,75.50,');
  });

  it("refuses an amount wider than NetSuite's ten integer digits", () => {
    const t = record({ amount: '12345678901.00', reporting_amount: '12345678901.00' });
    expect(() => writeNetsuiteCsv(build([t]), context())).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT' }));
  });
});

describe('currencies a target cannot take', () => {
  const kwd = (): Journal =>
    buildJournal({
      transactions: [record({ amount: '10.125', reporting_amount: '10.125', currency: 'KWD', reporting_currency: 'KWD' })],
      currency: 'KWD',
      timezone: 'UTC',
      scope: 'org',
      settings: journalSettings({}, CHART, { reporting_currency: 'KWD' }),
    });

  it('refuses a three-decimal currency for IIF, Xero and NetSuite but writes it for hledger', () => {
    for (const write of [writeIif, writeXeroCsv, writeNetsuiteCsv]) {
      const e = thrown(() => write(kwd(), context()));
      expect(e.code).toBe('UNSUPPORTED_CURRENCY');
      expect(e.message).toContain('KWD has 3');
    }
    expect(writeHledger(kwd(), context())[0]?.bytes.toString('utf8')).toContain('10.125 KWD');
  });

  it('refuses a journal in another currency than the books it is for', () => {
    const e = thrown(() => writeXeroCsv(build([record()]), context({ home_currency: 'EUR' })));
    expect(e.code).toBe('UNSUPPORTED_CURRENCY');
    expect(e.message).toContain('books are in EUR');
  });
});

describe('roll-up drill-down', () => {
  it('is written beside the journal with one row per rolled-up transaction', () => {
    const a = micro('0.250000', '0.25');
    const b = micro('0.004000', '0.00');
    const files = writeAccountingFiles('netsuite', build([record(), a, b]), context());
    expect(files.map((f) => [f.name, f.role])).toEqual([
      ['spendtrail-acme-2026-03.csv', 'journal'],
      ['spendtrail-acme-2026-03-rollups.csv', 'drilldown'],
    ]);
    const rows = parse<Record<string, string>>(files[1]?.bytes.toString('utf8') ?? '', { columns: true });
    expect(rows.map((r) => r.tx_id)).toEqual([a.tx_id, b.tx_id]);
    expect(rows[0]).toMatchObject({ rollup_reporting_total: '0.25', rollup_original_totals: '0.254000 USDC', posted: 'true', policy_snapshot_id: a.policy_snapshot_id });
    expect(files[0]?.bytes.toString('utf8')).toContain(rows[0]?.rollup_id);
  });
});
