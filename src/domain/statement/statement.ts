import type { TransactionRecord, TransactionType } from '../ledger/transaction.ts';
import type { PolicyDocument } from '../policy/policy.ts';
import { policyInForce } from '../policy/policy.ts';
import type { Violation } from '../policy/violation.ts';
import type { Rail } from '../rails.ts';
import type { Instant } from '../time.ts';
import { instantFromDate, instantMs } from '../time.ts';
import type { StatementPeriod } from './period.ts';
import { localDateTime } from './period.ts';

/**
 * The agent spend statement: the corporate-card statement of one agent for one period. It opens
 * with who the agent is and which policy versions were in force, lists every transaction of the
 * period in date order, and closes with totals. The model is pure; the lines are produced one
 * at a time (see StatementTotaller) so a statement of any length is never held in memory.
 */
export interface StatementOrg {
  readonly org_id: string;
  readonly name: string;
  readonly reporting_currency: string;
  readonly timezone: string;
}

export interface StatementAgent {
  readonly agent_id: string;
  readonly name: string;
  readonly owner: string;
  readonly cluster: string;
}

/** A policy version for the part of the period it was in force. */
export interface PolicyInForce {
  readonly version: number;
  readonly snapshot_id: string;
  /** When it was in force within the period: [from, until). */
  readonly from: Instant;
  readonly until: Instant;
  readonly currency: string;
  readonly per_transaction_limit: string | null;
  readonly daily_limit: string | null;
  readonly monthly_limit: string | null;
  readonly approval_threshold: string | null;
  /** The version's own expiry; payments after it were flagged `policy_expired`. */
  readonly valid_until: Instant | null;
}

/** The opening context of a statement. */
export interface StatementHeader {
  readonly org: StatementOrg;
  readonly agent: StatementAgent;
  readonly period: StatementPeriod;
  /** In the order they took effect; empty when no policy was in force at any time of the period. */
  readonly policies: readonly PolicyInForce[];
  readonly generated_at: Instant;
  /**
   * The log size the statement was read at: entries recorded later are left out, so a statement
   * is one consistent view however long it takes to stream and whatever is recorded meanwhile.
   */
  readonly as_of_tree_size: number;
}

/** The payment a refund or reversal gives money back for (its fields null if it could not be read). */
export interface RefundLink {
  readonly tx_id: string;
  readonly timestamp: Instant | null;
  readonly local_time: string | null;
  readonly merchant: string | null;
  readonly amount: string | null;
  readonly currency: string;
  /** Whether the payment is itself a line of this statement. */
  readonly in_period: boolean;
}

export interface StatementLine {
  readonly tx_id: string;
  readonly seq: number;
  readonly timestamp: Instant;
  /** Wall-clock time in the organisation's time zone, "YYYY-MM-DD HH:MM:SS". */
  readonly local_time: string;
  readonly type: TransactionType;
  readonly payment_rail: Rail;
  readonly merchant: string;
  readonly merchant_category: string | null;
  /** Null: the transaction is uncoded. */
  readonly gl_account: string | null;
  readonly gl_account_name: string | null;
  readonly business_purpose: string | null;
  readonly approver: string | null;
  /** The approver gave the approval after the payment (its `missing_approval` is closed). */
  readonly approved_after_the_fact: boolean;
  /** Exact decimal in the original currency; negative for refunds and reversals. */
  readonly amount: string;
  readonly currency: string;
  readonly reporting_amount: string;
  readonly reporting_currency: string;
  readonly violations: readonly Violation[];
  readonly refund_of: RefundLink | null;
  readonly policy_snapshot_id: string | null;
}

/** What a line needs besides its transaction: names, the refunded payment, a later approval. */
export interface LineContext {
  readonly period: StatementPeriod;
  readonly accountName: (code: string) => string | null;
  /** The original of a refund or reversal, when the transaction is one. */
  readonly original?: TransactionRecord | undefined;
  /** Who approved the payment after the fact, when someone did. */
  readonly approvedLaterBy?: string | undefined;
}

export function statementLine(t: TransactionRecord, ctx: LineContext): StatementLine {
  const tz = ctx.period.timezone;
  const o = ctx.original;
  const laterApprover = t.approver === null && ctx.approvedLaterBy !== undefined ? ctx.approvedLaterBy : null;
  return {
    tx_id: t.tx_id,
    seq: t.seq,
    timestamp: t.timestamp,
    local_time: localDateTime(t.timestamp, tz),
    type: t.type,
    payment_rail: t.payment_rail,
    merchant: t.merchant,
    merchant_category: t.merchant_category,
    gl_account: t.accounting_code,
    gl_account_name: t.accounting_code === null ? null : ctx.accountName(t.accounting_code),
    business_purpose: t.business_purpose,
    approver: t.approver ?? laterApprover,
    approved_after_the_fact: laterApprover !== null,
    amount: t.amount,
    currency: t.currency,
    reporting_amount: t.reporting_amount,
    reporting_currency: t.reporting_currency,
    violations: t.violations,
    refund_of:
      t.refund_of === null
        ? null
        : {
            tx_id: t.refund_of,
            timestamp: o?.timestamp ?? null,
            local_time: o === undefined ? null : localDateTime(o.timestamp, tz),
            merchant: o?.merchant ?? null,
            amount: o?.amount ?? null,
            currency: o?.currency ?? t.currency,
            in_period: o !== undefined && o.timestamp >= ctx.period.start && o.timestamp < ctx.period.end,
          },
    policy_snapshot_id: t.policy_snapshot_id,
  };
}

export interface PolicyVersionInput {
  readonly document: PolicyDocument;
  readonly snapshot_id: string;
}

/**
 * The versions in force during the period, each with the part of the period it covered. In
 * force means what evaluation uses: the highest version whose validity has begun (so a version
 * recorded later but effective earlier takes over from its start).
 */
export function policiesInForce(versions: readonly PolicyVersionInput[], period: StatementPeriod): PolicyInForce[] {
  const compiled = versions.map((v) => ({ v, document: v.document, validFromMs: instantMs(v.document.valid_from) }));
  const startMs = instantMs(period.start);
  const endMs = instantMs(period.end);
  const points = [...new Set([startMs, ...compiled.map((c) => c.validFromMs).filter((t) => t > startMs && t < endMs)])].sort((a, b) => a - b);
  const out: { v: PolicyVersionInput; from: number; until: number }[] = [];
  points.forEach((at, i) => {
    const until = points[i + 1] ?? endMs;
    const p = policyInForce(compiled, at);
    if (p === null) return;
    const last = out[out.length - 1];
    if (last !== undefined && last.v.document.version === p.document.version && last.until === at) out[out.length - 1] = { ...last, until };
    else out.push({ v: p.v, from: at, until });
  });
  return out.map(({ v, from, until }) => ({
    version: v.document.version,
    snapshot_id: v.snapshot_id,
    from: instantFromDate(new Date(from)),
    until: instantFromDate(new Date(until)),
    currency: v.document.currency,
    per_transaction_limit: v.document.per_transaction_limit,
    daily_limit: v.document.daily_limit,
    monthly_limit: v.document.monthly_limit,
    approval_threshold: v.document.approval_threshold,
    valid_until: v.document.valid_until,
  }));
}

/** "version 2 (sha256:…), in force 2026-03-01 00:00:00 to 2026-04-01 00:00:00; limits: …" for one line of text. */
export function describePolicy(p: PolicyInForce, timeZone: string): string {
  const limit = (x: string | null): string => (x === null ? 'none' : `${x} ${p.currency}`);
  const expiry = p.valid_until === null ? '' : `; expires ${localDateTime(p.valid_until, timeZone)}`;
  return (
    `version ${p.version} (${p.snapshot_id}), in force ${localDateTime(p.from, timeZone)} to ${localDateTime(p.until, timeZone)}; ` +
    `limits per transaction ${limit(p.per_transaction_limit)}, daily ${limit(p.daily_limit)}, monthly ${limit(p.monthly_limit)}; ` +
    `approval above ${limit(p.approval_threshold)}${expiry}`
  );
}

/** What every format says for a period without transactions (a statement, not an error). */
export const NO_TRANSACTIONS = 'No transactions in this period.';

/** A month's budget in words: what remains, or by how much it went over, and whether the period covers all of it. */
export function monthlyNote(limit: string | null, remaining: string | null, partial: boolean): string {
  const part = partial ? ' (the period covers part of this month only)' : '';
  if (limit === null || remaining === null) return `no monthly limit${part}`;
  return remaining.startsWith('-') ? `over the monthly limit by ${remaining.slice(1)}${part}` : `${remaining} remaining${part}`;
}
