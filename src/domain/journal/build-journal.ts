import { SpendtrailError } from '../errors.ts';
import { sha256Hex } from '../hash.ts';
import type { TransactionRecord } from '../ledger/transaction.ts';
import { findCurrency } from '../money/currency.ts';
import { parseDecimal, formatMinor } from '../money/decimal.ts';
import { merchantKey } from '../policy/policy.ts';
import type { Instant } from '../time.ts';
import { localDay } from '../time.ts';
import type { Evidence } from './evidence.ts';
import { DEFAULT_MEMO_LIMIT, fitEvidence } from './evidence.ts';
import type { AccountRef, Journal, JournalEntry, JournalLine, JournalSettings, LineRole, RollupDrilldown } from './journal.ts';

export interface JournalInput {
  /** The period's transactions in ledger order (timestamp, then seq). */
  readonly transactions: readonly TransactionRecord[];
  /** The reporting currency every transaction carries. */
  readonly currency: string;
  /** The organisation's time zone: entries are dated on its calendar days. */
  readonly timezone: string;
  /**
   * What the export covers ("org", "agent:<id>", "cluster:<name>"). Part of a roll-up's
   * external id, so exports of different scopes never claim each other's entries.
   */
  readonly scope: string;
  readonly settings: JournalSettings;
}

/** How many tx ids an error message lists before it only counts. */
const LISTED_IN_ERRORS = 10;

interface Posting {
  readonly tx: TransactionRecord;
  readonly order: number;
  readonly minor: bigint;
  readonly date: string;
  readonly expense: AccountRef;
  readonly role: LineRole;
}

interface Group {
  readonly key: string;
  readonly postings: Posting[];
}

/**
 * Builds balanced journal entries from a period's transactions: each payment debits its GL
 * account and credits its rail's funding account; a refund does the reverse. Small payments on
 * roll-up rails are summed into one entry per local day × vendor × GL account, whose id is a
 * hash of the transactions it holds. Pure: the same input always gives the same journal.
 *
 * Errors: UNCODED_TRANSACTIONS (uncoded transactions and `uncoded: refuse`), ACCOUNT_NOT_MAPPED
 * (a GL code with no target account), CURRENCY_MISMATCH (a transaction in another reporting
 * currency), UNKNOWN_CURRENCY.
 */
export function buildJournal(input: JournalInput): Journal {
  const { settings, timezone } = input;
  const currency = findCurrency(input.currency);
  if (currency === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown reporting currency ${input.currency}`);
  const exponent = currency.exponent;
  checkCodes(input);

  const dayOf = dayCache(timezone);
  const singles: Posting[] = [];
  const groups = new Map<string, Group>();
  let uncoded = 0;
  input.transactions.forEach((tx, order) => {
    if (tx.reporting_currency !== currency.code) {
      throw new SpendtrailError('CURRENCY_MISMATCH', `transaction ${tx.tx_id} is reported in ${tx.reporting_currency}, the journal in ${currency.code}`, {
        details: { tx_id: tx.tx_id },
      });
    }
    const minor = parseDecimal(tx.reporting_amount, exponent, { allowNegative: true, field: 'reporting_amount' });
    const code = tx.accounting_code;
    if (code === null) uncoded += 1;
    // checkCodes has refused every code without an account, so the lookup cannot miss.
    const expense = code === null ? settings.suspense : (settings.accounts.get(code) as AccountRef);
    const p: Posting = { tx, order, minor, date: dayOf(tx.timestamp), expense, role: code === null ? 'suspense' : 'expense' };
    const rule = settings.rollup;
    const abs = minor < 0n ? -minor : minor;
    if (rule !== null && rule.rails.includes(tx.payment_rail) && abs < rule.below_minor) {
      const key = `${p.date}\u0000${merchantKey(tx.merchant)}\u0000${code ?? ''}`;
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { key, postings: [] }));
      g.postings.push(p);
    } else {
      singles.push(p);
    }
  });

  const placed: { order: number; entry: JournalEntry }[] = [];
  let zeroValue = 0;
  for (const p of singles) {
    if (p.minor === 0n) {
      zeroValue += 1;
      continue;
    }
    placed.push({ order: p.order, entry: singleEntry(p, settings) });
  }
  const rollups: RollupDrilldown[] = [];
  let rolledUp = 0;
  for (const g of groups.values()) {
    rolledUp += g.postings.length;
    const r = rollupEntry(g, input.scope, settings);
    rollups.push(r.drilldown);
    if (r.entry === null) zeroValue += g.postings.length;
    else placed.push({ order: g.postings[0]?.order ?? 0, entry: r.entry });
  }
  placed.sort((a, b) => a.order - b.order);
  rollups.sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : a.external_id < b.external_id ? -1 : 1));
  const entries = placed.map((x) => x.entry);

  let debit = 0n;
  let credit = 0n;
  let lines = 0;
  for (const e of entries) {
    let d = 0n;
    let c = 0n;
    for (const l of e.lines) {
      d += l.debit_minor;
      c += l.credit_minor;
    }
    // Balanced by construction; checked so a future change cannot emit a journal a ledger refuses.
    if (d !== c || e.lines.length < 2) throw new SpendtrailError('INTERNAL', `journal entry ${e.external_id} does not balance`);
    debit += d;
    credit += c;
    lines += e.lines.length;
  }
  const rolledPosted = rollups.filter((r) => r.posted).length;
  return {
    currency: currency.code,
    exponent,
    timezone,
    entries,
    rollups,
    report: {
      transactions: input.transactions.length,
      entries: entries.length,
      lines,
      posted_individually: entries.length - rolledPosted,
      rolled_up: rolledUp,
      rollups: rolledPosted,
      uncoded,
      posted_to_suspense: settings.uncoded === 'suspense' ? uncoded : 0,
      zero_value: zeroValue,
      debit_minor: debit,
      credit_minor: credit,
    },
  };
}

/**
 * localDay is an Intl call, half the cost of a large export. Every UTC offset in use is a whole
 * number of quarter hours, so local midnight falls on a quarter-hour boundary and the day can be
 * cached per quarter hour.
 */
function dayCache(timeZone: string): (at: Instant) => string {
  const days = new Map<number, string>();
  return (at) => {
    const k = Math.floor(Date.parse(at) / 900_000);
    let d = days.get(k);
    if (d === undefined) days.set(k, (d = localDay(at, timeZone)));
    return d;
  };
}

/** Refuses before building: uncoded transactions when so set, then every GL code without an account, named. */
function checkCodes(input: JournalInput): void {
  const uncoded: string[] = [];
  const missing = new Map<string, number>();
  for (const tx of input.transactions) {
    if (tx.accounting_code === null) uncoded.push(tx.tx_id);
    else if (!input.settings.accounts.has(tx.accounting_code)) missing.set(tx.accounting_code, (missing.get(tx.accounting_code) ?? 0) + 1);
  }
  if (uncoded.length > 0 && input.settings.uncoded === 'refuse') {
    const listed = uncoded.slice(0, LISTED_IN_ERRORS).join(', ');
    throw new SpendtrailError(
      'UNCODED_TRANSACTIONS',
      `${uncoded.length} transaction${uncoded.length === 1 ? ' has' : 's have'} no GL code (${listed}${uncoded.length > LISTED_IN_ERRORS ? ', …' : ''}): code them, or export with uncoded set to suspense`,
      { details: { uncoded: uncoded.length, tx_ids: uncoded.slice(0, LISTED_IN_ERRORS) } },
    );
  }
  if (missing.size > 0) {
    const codes = [...missing.keys()].sort();
    throw new SpendtrailError(
      'ACCOUNT_NOT_MAPPED',
      `GL account${codes.length === 1 ? '' : 's'} ${codes.join(', ')} ${codes.length === 1 ? 'has' : 'have'} no account in the export's mapping (${codes.map((c) => `${c}: ${missing.get(c)} transactions`).join('; ')})`,
      { field: 'settings.accounts', details: { accounts: codes } },
    );
  }
}

function line(
  entryId: string,
  no: number,
  account: AccountRef,
  role: LineRole,
  glCode: string | null,
  signed: bigint,
  evidence: Evidence,
  base: { vendor: string; date: string; tx_ids: readonly string[]; policy_snapshot_ids: readonly string[] },
): JournalLine {
  return {
    line_no: no,
    account_code: account.code,
    account_name: account.name,
    account_type: account.type,
    role,
    gl_code: glCode,
    debit_minor: signed > 0n ? signed : 0n,
    credit_minor: signed < 0n ? -signed : 0n,
    memo: fitEvidence(evidence, DEFAULT_MEMO_LIMIT),
    evidence,
    vendor: base.vendor,
    date: base.date,
    tx_ids: base.tx_ids,
    policy_snapshot_ids: base.policy_snapshot_ids,
    external_id: `${entryId}/${no}`,
  };
}

function singleEntry(p: Posting, settings: JournalSettings): JournalEntry {
  const { tx } = p;
  const id = `ST-${tx.tx_id}`;
  const vendor = tx.merchant.trim();
  const refund = tx.type !== 'payment';
  const evidence: Evidence = {
    kind: refund ? 'refund' : 'payment',
    tx_id: tx.tx_id,
    refund_of: tx.refund_of,
    policy_snapshot_id: tx.policy_snapshot_id,
    agent_id: tx.agent_id,
  };
  const base = { vendor, date: p.date, tx_ids: [tx.tx_id], policy_snapshot_ids: tx.policy_snapshot_id === null ? [] : [tx.policy_snapshot_id] };
  // A payment (positive) debits the expense and credits the funding account; a refund (negative) reverses both.
  const lines = [
    line(id, 1, p.expense, p.role, tx.accounting_code, p.minor, evidence, base),
    line(id, 2, settings.funding[tx.payment_rail], 'funding', null, -p.minor, evidence, base),
  ];
  return {
    external_id: id,
    date: p.date,
    vendor,
    narration: `${id} ${vendor} - ${tx.agent_id} ${refund ? `${tx.type} of ${tx.refund_of ?? 'unknown'}` : 'payment'}`,
    rollup: null,
    tx_ids: base.tx_ids,
    policy_snapshot_ids: base.policy_snapshot_ids,
    lines,
  };
}

const distinctSorted = (xs: readonly (string | null)[]): string[] => [...new Set(xs.filter((x): x is string => x !== null))].sort();

/** A content address for a set of transactions: anyone holding the drill-down can recompute it. */
export const rollupId = (txIds: readonly string[]): string => `ru_${sha256Hex([...txIds].sort().join('\n')).slice(0, 32)}`;

function rollupEntry(g: Group, scope: string, settings: JournalSettings): { entry: JournalEntry | null; drilldown: RollupDrilldown } {
  const first = g.postings[0] as Posting;
  const glCode = first.tx.accounting_code;
  const vendor = first.tx.merchant.trim();
  const txIds = g.postings.map((p) => p.tx.tx_id);
  const policies = distinctSorted(g.postings.map((p) => p.tx.policy_snapshot_id));
  const ruId = rollupId(txIds);
  // Keyed on what the roll-up is, not what it holds: a late transaction changes the roll-up id
  // but not the entry it lands in, so re-importing updates that entry instead of adding a second.
  const id = `STR-${first.date}-${sha256Hex(`${scope}\n${merchantKey(first.tx.merchant)}\n${glCode ?? ''}`).slice(0, 12)}`;

  let net = 0n;
  const byFunding = new Map<string, { account: AccountRef; net: bigint; postings: Posting[] }>();
  for (const p of g.postings) {
    net += p.minor;
    const account = settings.funding[p.tx.payment_rail];
    let f = byFunding.get(account.code);
    if (f === undefined) byFunding.set(account.code, (f = { account, net: 0n, postings: [] }));
    f.net += p.minor;
    f.postings.push(p);
  }
  const drilldown: RollupDrilldown = {
    rollup_id: ruId,
    external_id: id,
    date: first.date,
    vendor,
    gl_code: glCode,
    account_code: first.expense.code,
    reporting_minor: net,
    original_totals: originalTotals(g.postings),
    posted: net !== 0n,
    transactions: g.postings.map((p) => p.tx),
  };
  if (net === 0n) return { entry: null, drilldown };

  const lines: JournalLine[] = [];
  const base = { vendor, date: first.date, tx_ids: txIds, policy_snapshot_ids: policies };
  lines.push(line(id, 1, first.expense, first.role, glCode, net, { kind: 'rollup', rollup_id: ruId, tx_ids: txIds, policy_snapshot_ids: policies }, base));
  for (const f of byFunding.values()) {
    if (f.net === 0n) continue;
    const ids = f.postings.map((p) => p.tx.tx_id);
    const pol = distinctSorted(f.postings.map((p) => p.tx.policy_snapshot_id));
    lines.push(line(id, lines.length + 1, f.account, 'funding', null, -f.net, { kind: 'rollup', rollup_id: ruId, tx_ids: ids, policy_snapshot_ids: pol }, { ...base, tx_ids: ids, policy_snapshot_ids: pol }));
  }
  return {
    entry: {
      external_id: id,
      date: first.date,
      vendor,
      narration: `${id} ${vendor} - ${g.postings.length} micro-payment${g.postings.length === 1 ? '' : 's'} (${ruId})`,
      rollup: { rollup_id: ruId, transactions: g.postings.length },
      tx_ids: txIds,
      policy_snapshot_ids: policies,
      lines,
    },
    drilldown,
  };
}

function originalTotals(postings: readonly Posting[]): { currency: string; amount: string }[] {
  const sums = new Map<string, bigint>();
  for (const { tx } of postings) {
    const exp = findCurrency(tx.currency)?.exponent;
    if (exp === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `transaction ${tx.tx_id} is in unknown currency ${tx.currency}`);
    sums.set(tx.currency, (sums.get(tx.currency) ?? 0n) + parseDecimal(tx.amount, exp, { allowNegative: true, field: 'amount' }));
  }
  return [...sums.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([c, minor]) => ({ currency: c, amount: formatMinor(minor, findCurrency(c)?.exponent ?? 0) }));
}
