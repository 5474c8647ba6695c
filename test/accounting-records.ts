import { SpendtrailError } from '../src/domain/errors.ts';
import type { AccountingSettings } from '../src/app/accounting-export-schema.ts';
import type { WriteContext } from '../src/app/accounting-export.ts';
import { journalSettings } from '../src/app/accounting-export.ts';
import type { AccountRow } from '../src/app/ports/store.ts';
import type { JournalSettings } from '../src/domain/journal/journal.ts';
import type { TransactionRecord } from '../src/domain/ledger/transaction.ts';
import type { Instant } from '../src/domain/time.ts';

/** Ledger records built in memory for the journal core and the writers (no database). */

export const POLICY_A = `sha256:${'a'.repeat(64)}`;
export const POLICY_B = `sha256:${'b'.repeat(64)}`;

export const CHART: readonly AccountRow[] = [
  { org_id: 'acme', code: '6400', name: 'Cloud infrastructure', active: true, seq: 1 },
  { org_id: 'acme', code: '6420', name: 'API services', active: true, seq: 2 },
  { org_id: 'acme', code: '6999', name: 'Uncategorised agent spend', active: true, seq: 3 },
];

let n = 0;

/** A time-ordered id like the ledger's UUIDv7, so records made later sort later. */
export const txId = (i: number): string => `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;

export function record(over: Partial<TransactionRecord> = {}): TransactionRecord {
  n += 1;
  return {
    kind: 'transaction',
    seq: n,
    org_id: 'acme',
    tx_id: txId(n),
    recorded_at: '2026-04-01T00:00:00.000Z' as Instant,
    recorded_by: 'test',
    external_id: `ext_${n}`,
    agent_id: 'support-bot',
    timestamp: '2026-03-12T10:00:00.000Z' as Instant,
    type: 'payment',
    refund_of: null,
    amount: '21.00',
    currency: 'USD',
    reporting_amount: '21.00',
    reporting_currency: 'USD',
    fx_rate: null,
    fx_rate_source: null,
    fx_rate_time: null,
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: null,
    accounting_code: '6400',
    accounting_code_source: 'mcc_rule',
    approver: null,
    approval_ref: null,
    authorization_id: null,
    policy_snapshot_id: POLICY_A,
    violations: [],
    spend_before_daily: '0.00',
    spend_before_monthly: '0.00',
    input_hash: '0'.repeat(64),
    ...over,
  };
}

/** An x402 payment in USDC valued at par, its reporting amount rounded to cents as the ledger does. */
export function micro(amount: string, reporting: string, over: Partial<TransactionRecord> = {}): TransactionRecord {
  return record({
    payment_rail: 'x402',
    currency: 'USDC',
    amount,
    reporting_amount: reporting,
    fx_rate: '1',
    fx_rate_source: 'peg: 1 USDC = 1 USD (default rule)',
    fx_rate_time: '2026-03-12T10:00:00.000Z' as Instant,
    merchant: 'OpenRouter',
    merchant_category: null,
    accounting_code: '6420',
    accounting_code_source: 'transaction',
    agent_id: 'research-bot',
    policy_snapshot_id: POLICY_B,
    ...over,
  });
}

export const settingsFor = (s: AccountingSettings = {}): JournalSettings => journalSettings(s, CHART, { reporting_currency: 'USD' });

export const context = (settings: AccountingSettings = {}, base = 'spendtrail-acme-2026-03'): WriteContext => ({
  base_name: base,
  org_id: 'acme',
  org_name: 'Acme Corp',
  period: { from: '2026-03-01T00:00:00.000Z' as Instant, to: '2026-04-01T00:00:00.000Z' as Instant, label: '2026-03' },
  scope: 'org',
  settings,
});

/** The SpendtrailError a call throws; fails the test when it returns or throws something else. */
export function thrown(fn: () => unknown): { code: string; message: string; field: string | undefined; details: unknown } {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpendtrailError) return { code: e.code, message: e.message, field: e.field, details: e.details };
    throw e;
  }
  throw new Error('expected the call to throw');
}
