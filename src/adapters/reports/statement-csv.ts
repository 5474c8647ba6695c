import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { AgentStatement, StatementRun } from '../../app/agent-statements.ts';
import { localDateTime } from '../../domain/statement/period.ts';
import type { StatementHeader, StatementLine } from '../../domain/statement/statement.ts';
import { NO_TRANSACTIONS, describePolicy, monthlyNote } from '../../domain/statement/statement.ts';
import type { StatementTotals } from '../../domain/statement/totals.ts';
import { combineTotals } from '../../domain/statement/totals.ts';
import { DECIMAL, LIST_SEPARATOR } from './change-log-csv.ts';
import { csvCell } from './ledger-csv.ts';

/**
 * The statement as one rectangular CSV table (RFC 4180, CRLF), so any CSV reader takes it in
 * one go. `record_type` says what a row is; the agent and period columns are repeated on every
 * row so a filtered or concatenated file still says whose statement each row belongs to.
 *
 *   policy            a policy version in force during the period (policy_version, policy_snapshot_id, label)
 *   transaction       one ledger transaction
 *   no_transactions   the period has none (label says so)
 *   total_payments, total_refunds, total_net      reporting_amount and count
 *   total_gl_account  per GL account (gl_account empty: uncoded)
 *   budget_monthly    per calendar month: reporting_amount spent, limit, label
 *   budget_daily_peak, budget_daily_over          the highest day, and each day over its limit
 *   cluster_total_payments, cluster_total_refunds, cluster_total_net   for a cluster, at the end
 */
export const STATEMENT_COLUMNS = [
  'record_type', 'agent_id', 'agent_name', 'owner', 'cluster', 'timezone', 'period_start', 'period_end',
  'date', 'timestamp', 'tx_id', 'type', 'payment_rail', 'merchant', 'merchant_category', 'gl_account', 'gl_account_name',
  'business_purpose', 'approver', 'approved_after_the_fact', 'amount', 'currency', 'reporting_amount', 'reporting_currency',
  'violations', 'refund_of', 'refund_of_date', 'policy_version', 'policy_snapshot_id', 'label', 'count', 'limit',
] as const;

export type StatementColumn = (typeof STATEMENT_COLUMNS)[number];
type Row = Partial<Record<StatementColumn, string | number | boolean | null>>;

/** Columns that hold product-made decimals; a value there that is not a plain decimal is defused like any text. */
const MONEY: ReadonlySet<StatementColumn> = new Set(['amount', 'reporting_amount', 'limit']);

function cell(c: StatementColumn, v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v !== 'string') return String(v);
  // A negative amount would otherwise be defused into the text "'-20.00".
  if (MONEY.has(c) && DECIMAL.test(v)) return v;
  return csvCell(v);
}

const row = (r: Row): string => `${STATEMENT_COLUMNS.map((c) => cell(c, r[c])).join(',')}\r\n`;

/** The columns every row of an agent's statement repeats. */
function context(h: StatementHeader): Row {
  return {
    agent_id: h.agent.agent_id,
    agent_name: h.agent.name,
    owner: h.agent.owner,
    cluster: h.agent.cluster,
    timezone: h.period.timezone,
    period_start: h.period.start,
    period_end: h.period.end,
    reporting_currency: h.org.reporting_currency,
  };
}

function lineRow(ctx: Row, l: StatementLine): Row {
  return {
    ...ctx,
    record_type: 'transaction',
    date: l.local_time,
    timestamp: l.timestamp,
    tx_id: l.tx_id,
    type: l.type,
    payment_rail: l.payment_rail,
    merchant: l.merchant,
    merchant_category: l.merchant_category,
    gl_account: l.gl_account,
    gl_account_name: l.gl_account_name,
    business_purpose: l.business_purpose,
    approver: l.approver,
    approved_after_the_fact: l.approved_after_the_fact,
    amount: l.amount,
    currency: l.currency,
    reporting_amount: l.reporting_amount,
    reporting_currency: l.reporting_currency,
    violations: l.violations.join(LIST_SEPARATOR),
    refund_of: l.refund_of?.tx_id ?? null,
    refund_of_date: l.refund_of?.local_time ?? null,
    policy_snapshot_id: l.policy_snapshot_id,
  };
}

function totalRows(ctx: Row, t: StatementTotals): Row[] {
  const rows: Row[] = [
    { ...ctx, record_type: 'total_payments', label: 'Payments', count: t.payments.count, reporting_amount: t.payments.amount },
    { ...ctx, record_type: 'total_refunds', label: 'Refunds and reversals', count: t.refunds.count, reporting_amount: t.refunds.amount },
    { ...ctx, record_type: 'total_net', label: 'Net (payments + refunds)', count: t.net.count, reporting_amount: t.net.amount },
  ];
  for (const g of t.by_gl_account) {
    rows.push({
      ...ctx,
      record_type: 'total_gl_account',
      gl_account: g.gl_account,
      gl_account_name: g.gl_account === null ? 'Uncoded' : g.name,
      label: g.gl_account === null ? 'Uncoded' : `GL ${g.gl_account}`,
      count: g.count,
      reporting_amount: g.amount,
    });
  }
  for (const m of t.budget.monthly) {
    rows.push({
      ...ctx,
      record_type: 'budget_monthly',
      date: m.month,
      reporting_amount: m.used,
      limit: m.limit,
      policy_version: m.policy_version,
      label: monthlyNote(m.limit, m.remaining, m.partial),
    });
  }
  const d = t.budget.daily;
  if (d.peak !== null) {
    rows.push({
      ...ctx, record_type: 'budget_daily_peak', date: d.peak.day, reporting_amount: d.peak.used, limit: d.peak.limit,
      policy_version: d.peak.policy_version, label: `highest daily spend of ${d.days_with_spend} day(s) with spend`,
    });
  }
  for (const o of d.over_limit) {
    rows.push({
      ...ctx, record_type: 'budget_daily_over', date: o.day, reporting_amount: o.used, limit: o.limit,
      policy_version: o.policy_version, label: 'over the daily limit',
    });
  }
  return rows;
}

async function* agentChunks(s: AgentStatement): AsyncGenerator<string> {
  const h = s.header;
  const ctx = context(h);
  for (const p of h.policies) {
    yield row({ ...ctx, record_type: 'policy', date: localDateTime(p.from, h.period.timezone), policy_version: p.version, policy_snapshot_id: p.snapshot_id, label: describePolicy(p, h.period.timezone) });
  }
  let batch = '';
  let n = 0;
  for await (const l of s.lines()) {
    batch += row(lineRow(ctx, l));
    n += 1;
    // Chunks of ~100 rows: few enough writes, small enough to keep memory flat.
    if (n % 100 === 0) {
      yield batch;
      batch = '';
    }
  }
  if (batch !== '') yield batch;
  if (n === 0) yield row({ ...ctx, record_type: 'no_transactions', label: NO_TRANSACTIONS });
  yield totalRows(ctx, s.totals()).map(row).join('');
}

/** The statement as CSV text, chunk by chunk. */
export async function* statementCsvChunks(run: StatementRun): AsyncGenerator<string> {
  yield `${STATEMENT_COLUMNS.join(',')}\r\n`;
  for (const s of run.statements) yield* agentChunks(s);
  if (run.cluster !== null) {
    const c = combineTotals(run.statements.map((s) => s.totals()), run.org.reporting_currency);
    const ctx: Row = { cluster: run.cluster, timezone: run.period.timezone, period_start: run.period.start, period_end: run.period.end, reporting_currency: run.org.reporting_currency };
    yield [
      row({ ...ctx, record_type: 'cluster_total_payments', label: `Payments, ${run.statements.length} agents`, count: c.payments.count, reporting_amount: c.payments.amount }),
      row({ ...ctx, record_type: 'cluster_total_refunds', label: `Refunds and reversals, ${run.statements.length} agents`, count: c.refunds.count, reporting_amount: c.refunds.amount }),
      row({ ...ctx, record_type: 'cluster_total_net', label: `Net, ${run.statements.length} agents`, count: c.net.count, reporting_amount: c.net.amount }),
    ].join('');
  }
}

/** Writes the CSV statement to `out` and ends it; rejects (and destroys `out`) if reading or writing fails. */
export async function writeStatementCsv(run: StatementRun, out: NodeJS.WritableStream): Promise<void> {
  await pipeline(Readable.from(statementCsvChunks(run)), out);
}
