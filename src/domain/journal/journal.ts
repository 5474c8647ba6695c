import type { TransactionRecord } from '../ledger/transaction.ts';
import type { Rail } from '../rails.ts';
import type { Evidence } from './evidence.ts';

/**
 * A period of ledger transactions as double-entry journal entries in the reporting currency:
 * what every accounting target (IIF, Xero, NetSuite, hledger, a QuickBooks Online poster)
 * writes out in its own syntax. Amounts are bigint minor units; every entry balances.
 */

/** Where an account sits in the books: decides its sign convention and, for hledger, its root. */
export type AccountType = 'asset' | 'liability' | 'expense';

/** What a line does: books the spend, pays for it from a rail's funding account, or parks uncoded spend. */
export type LineRole = 'expense' | 'funding' | 'suspense';

export interface AccountRef {
  /** The account's code in the target's chart (Xero AccountCode, NetSuite number). */
  readonly code: string;
  /** The account's name in the target's chart (IIF ACCNT, NetSuite name). */
  readonly name: string;
  readonly type: AccountType;
}

export interface RollupRule {
  /** Rails whose small payments are rolled up. */
  readonly rails: readonly Rail[];
  /** A transaction is rolled up when |reporting amount| is below this (minor units). */
  readonly below_minor: bigint;
}

export interface JournalSettings {
  /** The account each rail's money comes out of (credited for a payment, debited for a refund). */
  readonly funding: Readonly<Record<Rail, AccountRef>>;
  /** Transactions without a GL code: refuse the export, or post them to the suspense account. */
  readonly uncoded: 'refuse' | 'suspense';
  readonly suspense: AccountRef;
  /** null: every transaction is its own entry. */
  readonly rollup: RollupRule | null;
  /** Ledger GL code → the target's expense account. A code used in the period and absent here is refused. */
  readonly accounts: ReadonlyMap<string, AccountRef>;
}

export interface JournalLine {
  /** 1-based position in its entry. */
  readonly line_no: number;
  readonly account_code: string;
  readonly account_name: string;
  readonly account_type: AccountType;
  readonly role: LineRole;
  /** The ledger's GL code behind an expense line; null for funding and suspense lines. */
  readonly gl_code: string | null;
  /** Exactly one of debit and credit is non-zero. */
  readonly debit_minor: bigint;
  readonly credit_minor: bigint;
  /** The evidence fitted to DEFAULT_MEMO_LIMIT; a writer with another limit refits `evidence`. */
  readonly memo: string;
  readonly evidence: Evidence;
  readonly vendor: string;
  /** The organisation's local calendar day, YYYY-MM-DD. */
  readonly date: string;
  readonly tx_ids: readonly string[];
  readonly policy_snapshot_ids: readonly string[];
  /** `<entry external_id>/<line_no>`: stable across re-exports of the same period. */
  readonly external_id: string;
}

export interface JournalEntry {
  /**
   * Stable across re-exports, so an import keyed on it (NetSuite External ID, a QuickBooks
   * Online requestid) never posts the same spend twice: `ST-<tx_id>` for one transaction,
   * `STR-<day>-<hash of scope, vendor and GL code>` for a roll-up.
   */
  readonly external_id: string;
  readonly date: string;
  readonly vendor: string;
  /** One line of text naming the entry; starts with the external id so it stays unique when cut. */
  readonly narration: string;
  /** Set for a roll-up: its content-addressed id and how many transactions it holds. */
  readonly rollup: { readonly rollup_id: string; readonly transactions: number } | null;
  readonly tx_ids: readonly string[];
  readonly policy_snapshot_ids: readonly string[];
  readonly lines: readonly JournalLine[];
}

/** The drill-down of one roll-up: every transaction it holds, for the sidecar file. */
export interface RollupDrilldown {
  readonly rollup_id: string;
  readonly external_id: string;
  readonly date: string;
  readonly vendor: string;
  readonly gl_code: string | null;
  readonly account_code: string;
  /** Net of the transactions' reporting amounts: what the entry posts. */
  readonly reporting_minor: bigint;
  /** Exact sums in each original currency, so rounding of sub-cent payments is visible. */
  readonly original_totals: readonly { readonly currency: string; readonly amount: string }[];
  /** False when the roll-up nets to zero in the reporting currency and so has no entry. */
  readonly posted: boolean;
  readonly transactions: readonly TransactionRecord[];
}

export interface JournalReport {
  readonly transactions: number;
  readonly entries: number;
  readonly lines: number;
  readonly posted_individually: number;
  /** Transactions inside roll-ups (posted or not). */
  readonly rolled_up: number;
  /** Roll-ups posted as entries. */
  readonly rollups: number;
  /** Transactions without a GL code. */
  readonly uncoded: number;
  readonly posted_to_suspense: number;
  /** Transactions worth 0 in the reporting currency (alone, or in a roll-up that nets to 0): nothing to post. */
  readonly zero_value: number;
  readonly debit_minor: bigint;
  readonly credit_minor: bigint;
}

export interface Journal {
  readonly currency: string;
  readonly exponent: number;
  readonly timezone: string;
  readonly entries: readonly JournalEntry[];
  readonly rollups: readonly RollupDrilldown[];
  readonly report: JournalReport;
}

const card: AccountRef = { code: '2110', name: 'Agent card clearing', type: 'liability' };
const clearing: AccountRef = { code: '2120', name: 'Agent payments clearing', type: 'liability' };

/**
 * Defaults a finance team can start from: card-like rails settle through a clearing account
 * (the card statement later clears it), stablecoin and Lightning payments leave wallets the
 * company holds. Every one is a setting.
 */
export const DEFAULT_FUNDING: Readonly<Record<Rail, AccountRef>> = {
  stripe: card,
  card,
  ap4m: card,
  ap2: clearing,
  other: clearing,
  x402: { code: '1150', name: 'USDC wallet', type: 'asset' },
  l402: { code: '1160', name: 'Lightning wallet', type: 'asset' },
};

export const DEFAULT_SUSPENSE: AccountRef = { code: '1999', name: 'Agent spend suspense', type: 'asset' };

/** Micro-payment rails; the threshold (one major unit) is applied in the reporting currency. */
export const DEFAULT_ROLLUP_RAILS: readonly Rail[] = ['x402', 'l402'];
