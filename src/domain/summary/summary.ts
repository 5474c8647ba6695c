import type { Violation } from '../policy/violation.ts';

/**
 * The monthly compliance summary exactly as `summary --format json` prints it and as its hash
 * covers (sign-off is a separate log entry, so signing never changes the document). Amounts are
 * exact decimal strings in the reporting currency.
 */
export interface ComplianceFlags {
  /** Transactions with at least one violation of any kind. */
  readonly policy_violations: number;
  /** Transactions over a per-transaction, daily or monthly limit. */
  readonly over_limit_transactions: number;
  /** Transactions in a blocked or not-allowed merchant category. */
  readonly unauthorized_category_purchases: number;
  /** Policy changes applied in the period that widened spending without a second person's approval. */
  readonly unapproved_policy_changes: number;
  /** Over-threshold payments with no approver and no approval after the fact. */
  readonly missing_approvals: number;
  readonly segregation_of_duties_findings: number;
  /** Findings of the integrity check (verify) run when the summary was made. */
  readonly integrity_failures: number;
}

export type SummaryStatus = 'COMPLIANT' | 'NEEDS_REVIEW';

/** How many exceptions a summary lists; the rest are counted. A summary stays small whatever the month holds. */
export const MAX_LISTED_EXCEPTIONS = 1000;

export type ExceptionKind =
  | 'violation'
  | 'unapproved_policy_change'
  | 'missing_approval'
  | 'segregation_of_duties'
  | 'integrity_failure';

export interface SummaryException {
  readonly kind: ExceptionKind;
  readonly agent_id: string | null;
  /** ISO 8601 UTC: when it happened. */
  readonly at: string | null;
  /** Decimal string in the reporting currency, when the exception is about money. */
  readonly amount: string | null;
  readonly tx_id: string | null;
  readonly change_id: string | null;
  readonly violations: readonly Violation[];
  /** Log sequence numbers the exception rests on. */
  readonly entries: readonly number[];
  readonly detail: string;
}

export interface SpendLine {
  readonly key: string;
  /** Display name (account name, agent name); equals key when there is none. */
  readonly name: string;
  readonly amount: string;
  readonly transactions: number;
}

export interface AgentLine extends SpendLine {
  readonly cluster: string;
  readonly violations: number;
  readonly monthly_limit: string | null;
}

export interface SummaryDocument {
  readonly summary_id: string;
  readonly version: number;
  readonly org_id: string;
  readonly org_name: string;
  /** "2026-03". */
  readonly period: string;
  readonly period_start: string;
  readonly period_end: string;
  readonly timezone: string;
  /** null = every agent of the organisation. */
  readonly cluster: string | null;
  readonly generated_at: string;
  readonly currency: string;
  readonly agents_monitored: number;
  /** Gross spend minus refunds in the period, in `currency` (named for the common case). */
  readonly total_spend: string;
  /** The same figure when the reporting currency is USD; null otherwise. */
  readonly total_spend_usd: string | null;
  readonly total_refunds: string;
  readonly total_transactions: number;
  readonly compliance_flags: ComplianceFlags;
  readonly status: SummaryStatus;
  /** Why the status is what it is, one line per reason, in plain words. */
  readonly status_reasons: readonly string[];
  readonly spend_by_gl_account: readonly SpendLine[];
  readonly spend_by_rail: readonly SpendLine[];
  readonly spend_by_agent: readonly AgentLine[];
  /**
   * The exceptions a reviewer should see first (integrity, unapproved changes, duty findings, then
   * transactions by amount), at most MAX_LISTED_EXCEPTIONS; every one is counted in
   * `exceptions_total`, and the ledger lists them all (`?violation=`).
   */
  readonly exceptions: readonly SummaryException[];
  readonly exceptions_total: number;
  /** The signed checkpoint the figures were computed at. */
  readonly checkpoint: { readonly tree_size: number; readonly root: string };
  /** The version this one replaces, and what changed since it. */
  readonly supersedes: { readonly summary_id: string; readonly version: number; readonly summary_hash: string } | null;
  readonly changes_from_previous: readonly string[];
}

/** A document with its sign-off state, as shown and rendered. */
export interface SignedSummary {
  readonly document: SummaryDocument;
  readonly summary_hash: string;
  readonly signed_off_by: string | null;
  readonly signed_off_at: string | null;
}
