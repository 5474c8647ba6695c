import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildJournal, rollupId } from '../src/domain/journal/build-journal.ts';
import type { Journal, JournalEntry } from '../src/domain/journal/journal.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import { formatMinor } from '../src/domain/money/decimal.ts';
import type { Instant } from '../src/domain/time.ts';
import type { AccountingSettings } from '../src/app/accounting-export-schema.ts';
import { POLICY_A, POLICY_B, micro, record, settingsFor, thrown } from './accounting-records.ts';

const build = (transactions: readonly TransactionRecord[], s: AccountingSettings = {}, timezone = 'UTC', scope = 'org'): Journal =>
  buildJournal({ transactions, currency: 'USD', timezone, scope, settings: settingsFor(s) });

const at = (iso: string): Instant => iso as Instant;

/** Net debit per account code over a journal (debits minus credits). */
function balances(j: Journal): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const e of j.entries) for (const l of e.lines) m.set(l.account_code, (m.get(l.account_code) ?? 0n) + l.debit_minor - l.credit_minor);
  return m;
}

const cents = (amount: string): bigint => {
  const [i = '0', f = ''] = amount.replace('-', '').split('.');
  const v = BigInt(i) * 100n + BigInt(f.padEnd(2, '0'));
  return amount.startsWith('-') ? -v : v;
};

function expectBalanced(e: JournalEntry): void {
  const d = e.lines.reduce((s, l) => s + l.debit_minor, 0n);
  const c = e.lines.reduce((s, l) => s + l.credit_minor, 0n);
  expect(d, e.external_id).toBe(c);
  for (const l of e.lines) expect((l.debit_minor === 0n) !== (l.credit_minor === 0n), l.external_id).toBe(true);
}

describe('journal core', () => {
  it("debits the transaction's GL account and credits its rail's funding account", () => {
    const t = record({ amount: '2100.00', reporting_amount: '2100.00' });
    const j = build([t]);
    expect(j.entries).toHaveLength(1);
    const [e] = j.entries;
    expect(e?.external_id).toBe(`ST-${t.tx_id}`);
    expect(e?.lines.map((l) => [l.account_code, l.account_name, l.debit_minor, l.credit_minor])).toEqual([
      ['6400', 'Cloud infrastructure', 210000n, 0n],
      ['2110', 'Agent card clearing', 0n, 210000n],
    ]);
    expect(e?.lines.every((l) => l.tx_ids[0] === t.tx_id && l.policy_snapshot_ids[0] === POLICY_A)).toBe(true);
    expect(e?.lines[0]?.memo).toBe(`tx ${t.tx_id} policy ${POLICY_A} agent support-bot`);
  });

  it('credits the wallet of each rail: USDC for x402, Lightning for l402, clearing for card rails', () => {
    const j = build(
      [
        micro('5.00', '5.00'),
        record({ payment_rail: 'l402', currency: 'SAT', amount: '20000.000', reporting_amount: '12.00', fx_rate: '0.0006', merchant: 'Lightning API' }),
        record({ payment_rail: 'card' }),
        record({ payment_rail: 'ap2' }),
      ],
      { rollup: false },
    );
    expect(j.entries.map((e) => e.lines[1]?.account_name)).toEqual(['USDC wallet', 'Lightning wallet', 'Agent card clearing', 'Agent payments clearing']);
  });

  it('reverses both lines for a refund and names the original in the memo', () => {
    const pay = record({ amount: '312.40', reporting_amount: '312.40', merchant: 'OpenAI', accounting_code: '6420' });
    const refund = record({ type: 'refund', refund_of: pay.tx_id, amount: '-12.40', reporting_amount: '-12.40', merchant: 'OpenAI', accounting_code: '6420', timestamp: at('2026-03-13T10:00:00.000Z') });
    const j = build([pay, refund]);
    const r = j.entries[1];
    expect(r?.lines.map((l) => [l.account_code, l.debit_minor, l.credit_minor])).toEqual([
      ['6420', 0n, 1240n],
      ['2110', 1240n, 0n],
    ]);
    expect(r?.lines[0]?.memo).toBe(`refund ${refund.tx_id} of ${pay.tx_id} policy ${POLICY_A} agent support-bot`);
    expect(balances(j).get('6420')).toBe(30000n);
  });

  it('refuses uncoded transactions with their count, naming the setting that would take them', () => {
    const txs = [record(), record({ accounting_code: null, accounting_code_source: null }), record({ accounting_code: null, accounting_code_source: null })];
    const e = thrown(() => build(txs));
    expect(e).toMatchObject({ code: 'UNCODED_TRANSACTIONS', details: { uncoded: 2 } });
    expect(e.message).toMatch(/^2 transactions have no GL code.*suspense/);
  });

  it('posts uncoded transactions to the suspense account when so set, and counts them', () => {
    const uncoded = record({ accounting_code: null, accounting_code_source: null, amount: '40.00', reporting_amount: '40.00' });
    const j = build([record(), uncoded], { uncoded: 'suspense' });
    expect(j.report).toMatchObject({ uncoded: 1, posted_to_suspense: 1, entries: 2 });
    const e = j.entries[1];
    expect(e?.lines[0]).toMatchObject({ account_code: '1999', account_name: 'Agent spend suspense', role: 'suspense', debit_minor: 4000n, gl_code: null });
  });

  it('refuses a GL code with no account in the mapping, naming the code', () => {
    const txs = [record({ accounting_code: '6420' }), record({ accounting_code: '6400' }), record({ accounting_code: '6400' })];
    const explicit: AccountingSettings = { account_mapping: 'explicit', accounts: { '6420': { code: '429', name: 'Software' } } };
    expect(() => build(txs, explicit)).toThrow(expect.objectContaining({ code: 'ACCOUNT_NOT_MAPPED', details: { accounts: ['6400'] } }));
    expect(() => build(txs, explicit)).toThrow(/6400 has no account.*2 transactions/);
    // The same mapping with the chart as the base maps 6420 to Xero's 429 and keeps 6400 from the chart.
    const j = build(txs, { accounts: { '6420': { code: '429' } } });
    expect(j.entries.map((e) => e.lines[0]?.account_code)).toEqual(['429', '6400', '6400']);
    expect(j.entries[0]?.lines[0]?.account_name).toBe('API services');
  });

  it('rolls thousands of sub-cent payments into one line per local day × vendor × GL account, with a drill-down to each transaction', () => {
    const txs: TransactionRecord[] = [];
    const days = ['2026-03-10', '2026-03-11', '2026-03-12'];
    const vendors = ['OpenRouter', 'Exa Search'];
    const codes = ['6420', '6400'];
    let expected = 0n;
    let i = 0;
    for (const day of days) {
      for (let k = 0; k < 1000; k++) {
        i += 1;
        // 0.004–0.009 USDC: each rounds to 0.00 or 0.01 USD in the ledger; the journal posts the ledger's figures.
        const thousandths = 4 + (i % 6);
        const reporting = thousandths > 5 ? '0.01' : '0.00';
        expected += cents(reporting);
        const rail = k % 10 === 0 ? 'l402' : 'x402';
        txs.push(
          micro(`0.00${thousandths}000`, reporting, {
            timestamp: at(`${day}T${String(Math.floor(k / 60) % 24).padStart(2, '0')}:${String(k % 60).padStart(2, '0')}:00.000Z`),
            merchant: vendors[k % 2] ?? '',
            accounting_code: codes[Math.floor(k / 2) % 2] ?? '',
            payment_rail: rail,
            ...(rail === 'l402' ? { currency: 'SAT', amount: `${thousandths}.000`, fx_rate: '0.001' } : {}),
          }),
        );
      }
    }
    const j = build(txs);
    expect(j.report).toMatchObject({ transactions: 3000, rolled_up: 3000, posted_individually: 0 });
    expect(j.rollups).toHaveLength(days.length * vendors.length * codes.length);
    // One expense line per roll-up: day × vendor × account.
    const expenseLines = j.entries.flatMap((e) => e.lines.filter((l) => l.role === 'expense').map((l) => `${l.date}|${l.vendor}|${l.gl_code}`));
    expect(new Set(expenseLines).size).toBe(expenseLines.length);
    expect(expenseLines.length).toBe(j.report.rollups);
    // Every transaction is in exactly one drill-down, and each roll-up id is the hash of its tx ids.
    const seen = j.rollups.flatMap((r) => r.transactions.map((t) => t.tx_id));
    expect(new Set(seen).size).toBe(3000);
    for (const r of j.rollups) {
      expect(r.rollup_id).toBe(rollupId(r.transactions.map((t) => t.tx_id)));
      expect(r.reporting_minor).toBe(r.transactions.reduce((s, t) => s + cents(t.reporting_amount), 0n));
    }
    // The roll-up reference in every memo resolves to a drill-down.
    for (const e of j.entries) {
      expectBalanced(e);
      for (const l of e.lines) expect(l.memo).toMatch(new RegExp(`^rollup ${e.rollup?.rollup_id ?? 'missing'} \\d+ tx policy ${POLICY_B}`));
      expect(j.rollups.find((r) => r.rollup_id === e.rollup?.rollup_id)?.external_id).toBe(e.external_id);
    }
    // A mixed-rail roll-up credits each wallet with its own rail's share.
    const mixed = j.entries.find((e) => e.lines.some((l) => l.account_name === 'Lightning wallet'));
    expect(mixed?.lines.map((l) => l.account_name)).toEqual(expect.arrayContaining(['USDC wallet', 'Lightning wallet']));
    const total = [...balances(j).entries()].filter(([code]) => code.startsWith('6')).reduce((s, [, v]) => s + v, 0n);
    expect(total).toBe(expected);
    expect(j.report.debit_minor).toBe(j.report.credit_minor);
    // The exact original amounts travel with the roll-up, so the rounding is visible.
    expect(j.rollups[0]?.original_totals.map((t) => t.currency)).toEqual(['SAT', 'USDC']);
  });

  it('rolls up only below the threshold and only on roll-up rails', () => {
    const small = micro('0.99', '0.99');
    const atThreshold = micro('1.00', '1.00');
    const smallCard = record({ amount: '0.50', reporting_amount: '0.50', payment_rail: 'stripe' });
    const j = build([small, atThreshold, smallCard]);
    expect(j.report).toMatchObject({ rolled_up: 1, rollups: 1, posted_individually: 2 });
    const raised = build([small, atThreshold, smallCard], { rollup: { below: '5.00', rails: ['x402', 'stripe'] } });
    expect(raised.report).toMatchObject({ rolled_up: 3, posted_individually: 0 });
    expect(build([small, atThreshold], { rollup: false }).report).toMatchObject({ rolled_up: 0, posted_individually: 2 });
  });

  it("dates entries and roll-ups on the organisation's calendar day", () => {
    // 03:30 UTC on 11 March is still 10 March in New York.
    const late = micro('0.10', '0.10', { timestamp: at('2026-03-11T03:30:00.000Z') });
    const next = micro('0.20', '0.20', { timestamp: at('2026-03-11T05:30:00.000Z') });
    const ny = build([late, next], {}, 'America/New_York');
    expect(ny.entries.map((e) => e.date)).toEqual(['2026-03-10', '2026-03-11']);
    expect(build([late, next]).entries.map((e) => e.date)).toEqual(['2026-03-11']);
  });

  it("keeps a roll-up's external id when a late transaction joins it, while its content id changes", () => {
    const a = micro('0.10', '0.10');
    const b = micro('0.20', '0.20');
    const before = build([a]).entries[0];
    const after = build([a, b]).entries[0];
    expect(after?.external_id).toBe(before?.external_id);
    expect(after?.rollup?.rollup_id).not.toBe(before?.rollup?.rollup_id);
    // Another scope never claims the same entry.
    expect(build([a], {}, 'UTC', 'agent:research-bot').entries[0]?.external_id).not.toBe(before?.external_id);
  });

  it('posts nothing for a roll-up that nets to zero and counts its transactions', () => {
    const pay = micro('0.50', '0.50');
    const refund = micro('-0.50', '-0.50', { type: 'refund', refund_of: pay.tx_id });
    const other = record();
    const j = build([pay, refund, other]);
    expect(j.entries).toHaveLength(1);
    expect(j.report).toMatchObject({ zero_value: 2, rolled_up: 2, rollups: 0 });
    expect(j.rollups[0]?.posted).toBe(false);
  });

  it('refuses a transaction reported in another currency', () => {
    expect(() => build([record({ reporting_currency: 'EUR' })])).toThrow(expect.objectContaining({ code: 'CURRENCY_MISMATCH' }));
  });

  it('balances every entry and posts exactly the ledger totals per account, for any mix of payments and refunds', () => {
    const tx = fc.record({
      cents: fc.integer({ min: -50_000, max: 200_000 }).filter((c) => c !== 0),
      rail: fc.constantFrom('stripe', 'x402', 'l402', 'card', 'ap2'),
      code: fc.constantFrom('6400', '6420', null),
      merchant: fc.constantFrom('AWS', 'aws ', 'OpenAI', 'Exa'),
      minute: fc.integer({ min: 0, max: 3 * 24 * 60 }),
    });
    fc.assert(
      fc.property(fc.array(tx, { minLength: 1, maxLength: 60 }), (items) => {
        const sorted = [...items].sort((a, b) => a.minute - b.minute);
        const txs = sorted.map((x) =>
          record({
            amount: formatMinor(BigInt(x.cents), 2),
            reporting_amount: formatMinor(BigInt(x.cents), 2),
            type: x.cents < 0 ? 'refund' : 'payment',
            payment_rail: x.rail as TransactionRecord['payment_rail'],
            accounting_code: x.code,
            merchant: x.merchant,
            timestamp: new Date(Date.UTC(2026, 2, 10) + x.minute * 60_000).toISOString() as Instant,
          }),
        );
        const j = build(txs, { uncoded: 'suspense' });
        for (const e of j.entries) expectBalanced(e);
        const want = new Map<string, bigint>();
        for (const t of txs) {
          const code = t.accounting_code ?? '1999';
          want.set(code, (want.get(code) ?? 0n) + cents(t.reporting_amount));
        }
        const got = balances(j);
        for (const [code, v] of want) expect(got.get(code) ?? 0n, code).toBe(v);
        expect(j.report.transactions).toBe(txs.length);
        expect(j.report.posted_individually + j.report.rolled_up).toBe(txs.length);
      }),
      { numRuns: 200 },
    );
  });

  it('gives the same journal for the same ledger', () => {
    const txs = [record(), micro('0.10', '0.10'), micro('0.20', '0.20')];
    expect(build(txs)).toEqual(build(txs));
  });
});

describe('journal evidence', () => {
  it('lists the distinct policy snapshots a roll-up rests on', () => {
    const j = build([micro('0.10', '0.10'), micro('0.20', '0.20', { policy_snapshot_id: POLICY_A })]);
    expect(j.entries[0]?.policy_snapshot_ids).toEqual([POLICY_A, POLICY_B]);
    expect(j.entries[0]?.lines[0]?.memo).toContain(`policy ${POLICY_A} policy ${POLICY_B}`);
  });
});
