import { canonicalize } from '../canonical/jcs.ts';
import { snapshotId } from '../hash.ts';
import type { ComplianceFlags, SummaryDocument, SummaryStatus } from './summary.ts';

/** What each flag counts, in the singular and the plural: reasons read "1 over-limit transaction". */
const FLAG_WORDS: Readonly<Record<keyof ComplianceFlags, readonly [string, string]>> = {
  policy_violations: ['transaction with a policy violation', 'transactions with a policy violation'],
  over_limit_transactions: ['over-limit transaction', 'over-limit transactions'],
  unauthorized_category_purchases: ['purchase in an unauthorized category', 'purchases in an unauthorized category'],
  unapproved_policy_changes: ['policy change applied without approval', 'policy changes applied without approval'],
  missing_approvals: ['over-threshold payment without approval', 'over-threshold payments without approval'],
  segregation_of_duties_findings: ['segregation-of-duties finding', 'segregation-of-duties findings'],
  integrity_failures: ['integrity check failure', 'integrity check failures'],
};

export const FLAG_LABELS: Readonly<Record<keyof ComplianceFlags, string>> = {
  policy_violations: 'Policy violations',
  over_limit_transactions: 'Over-limit transactions',
  unauthorized_category_purchases: 'Unauthorized category purchases',
  unapproved_policy_changes: 'Unapproved policy changes',
  missing_approvals: 'Missing approvals',
  segregation_of_duties_findings: 'Segregation-of-duties findings',
  integrity_failures: 'Integrity failures',
};

/**
 * COMPLIANT only when every flag is zero. The minimum rule (no over-limit transaction, no
 * unapproved policy change) is part of that; any other violation, finding or integrity failure
 * also needs a person to look, so it too gives NEEDS_REVIEW. The reasons say which, in words.
 */
export function summaryStatus(flags: ComplianceFlags): { status: SummaryStatus; reasons: string[] } {
  const reasons: string[] = [];
  for (const k of Object.keys(FLAG_WORDS) as (keyof ComplianceFlags)[]) {
    const n = flags[k];
    if (n > 0) reasons.push(`${n} ${FLAG_WORDS[k][n === 1 ? 0 : 1]}`);
  }
  return reasons.length === 0
    ? { status: 'COMPLIANT', reasons: ['no violations, no unapproved changes, no findings, integrity verified'] }
    : { status: 'NEEDS_REVIEW', reasons };
}

/** The hash a sign-off commits to: the whole document, canonically encoded. */
export const summaryHash = (doc: SummaryDocument): string => snapshotId(canonicalize(doc));

/**
 * What the figures say, without what differs on every run (identity, version, time, the
 * checkpoint it was read at): two runs with the same content are the same summary.
 */
export function contentKey(doc: SummaryDocument): string {
  const { summary_id: _id, version: _v, generated_at: _g, checkpoint: _c, supersedes: _s, changes_from_previous: _p, ...content } = doc;
  return canonicalize(content);
}

/** Plain-language lines saying how a new version differs from the one it replaces. */
export function describeChanges(prev: SummaryDocument, next: SummaryDocument): string[] {
  const out: string[] = [];
  if (prev.total_transactions !== next.total_transactions) out.push(`transactions ${prev.total_transactions} -> ${next.total_transactions}`);
  if (prev.total_spend !== next.total_spend) out.push(`total spend ${prev.total_spend} -> ${next.total_spend} ${next.currency}`);
  if (prev.total_refunds !== next.total_refunds) out.push(`refunds ${prev.total_refunds} -> ${next.total_refunds} ${next.currency}`);
  for (const k of Object.keys(FLAG_LABELS) as (keyof ComplianceFlags)[]) {
    if (prev.compliance_flags[k] !== next.compliance_flags[k]) out.push(`${FLAG_LABELS[k]} ${prev.compliance_flags[k]} -> ${next.compliance_flags[k]}`);
  }
  if (prev.status !== next.status) out.push(`status ${prev.status} -> ${next.status}`);
  if (prev.agents_monitored !== next.agents_monitored) out.push(`agents monitored ${prev.agents_monitored} -> ${next.agents_monitored}`);
  if (prev.exceptions_total !== next.exceptions_total) out.push(`exceptions ${prev.exceptions_total} -> ${next.exceptions_total}`);
  if (out.length === 0) out.push('figures unchanged; details (names, breakdowns) differ');
  return out;
}

/** "2026-03" → "March 2026". */
export function monthLabel(period: string): string {
  const [y, m] = period.split('-').map(Number) as [number, number];
  const names = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
  return `${names[m - 1] ?? period} ${y}`;
}
