import { findCurrency } from '../domain/money/currency.ts';
import { formatMinor } from '../domain/money/decimal.ts';
import type { DutyFinding } from '../domain/policy/duties.ts';
import type { PolicyDocument } from '../domain/policy/policy.ts';
import type { Violation } from '../domain/policy/violation.ts';
import { describeChanges, summaryStatus } from '../domain/summary/rules.ts';
import type { AgentLine, SpendLine, SummaryDocument, SummaryException } from '../domain/summary/summary.ts';
import { MAX_LISTED_EXCEPTIONS } from '../domain/summary/summary.ts';
import type { ChangeView } from './policy-changes.ts';
import type { AccountRow, AgentRow, OrgRow, SpendGroup, ViolatingTransaction } from './ports/store.ts';

/** Everything a summary is computed from, read in one database snapshot. */
export interface SummaryInputs {
  readonly summary_id: string;
  readonly version: number;
  readonly org: OrgRow;
  readonly period: string;
  readonly start: string;
  readonly end: string;
  readonly cluster: string | null;
  readonly generated_at: string;
  readonly agents: readonly AgentRow[];
  readonly accounts: readonly AccountRow[];
  /** The version of each agent's policy in force at the end of the period. */
  readonly policies: ReadonlyMap<string, PolicyDocument>;
  readonly groups: readonly SpendGroup[];
  /** The largest violating transactions (a few more than are listed, for those approved later). */
  readonly violating: readonly ViolatingTransaction[];
  /** The period's transactions that an approver approved after the fact. */
  readonly approvedLaterTx: readonly ViolatingTransaction[];
  /** Transactions approved after the fact: tx_id → approver and the approval's log entry. */
  readonly approvedLater: ReadonlyMap<string, { by: string; seq: number }>;
  readonly changes: readonly ChangeView[];
  readonly findings: readonly DutyFinding[];
  readonly integrity: { readonly findings: readonly { readonly seq: number | null; readonly what: string }[] };
  readonly checkpoint: { readonly tree_size: number; readonly root: string };
  readonly previous: { readonly document: SummaryDocument; readonly summary_hash: string } | null;
}

const KIND_ORDER: Readonly<Record<SummaryException['kind'], number>> = {
  integrity_failure: 0,
  unapproved_policy_change: 1,
  segregation_of_duties: 2,
  missing_approval: 3,
  violation: 4,
};

const inPeriod = (at: string, start: string, end: string): boolean => at >= start && at < end;

/**
 * Builds the summary document. Pure: the same inputs give the same bytes, so a regenerated
 * summary that finds nothing new is recognised as the same one.
 */
export function buildSummary(i: SummaryInputs): SummaryDocument {
  const exp = findCurrency(i.org.reporting_currency)?.exponent ?? 2;
  const money = (m: bigint): string => formatMinor(m, exp);
  const scope = new Set(i.agents.map((a) => a.agent_id));
  const group = (by: SpendGroup['by']) => i.groups.filter((g) => g.by === by);
  const total = group('total')[0];
  const accountName = new Map(i.accounts.map((a) => [a.code, a.name]));

  const byDesc = <T extends { amount: string; key: string }>(xs: T[], minor: (x: T) => bigint): T[] =>
    xs.sort((a, b) => (minor(b) > minor(a) ? 1 : minor(b) < minor(a) ? -1 : a.key < b.key ? -1 : 1));
  const minorOf = new Map<string, bigint>();
  const line = (by: SpendGroup['by'], g: SpendGroup, name: (k: string) => string): SpendLine => {
    const key = g.key ?? 'uncoded';
    minorOf.set(`${by}:${key}`, g.net_minor);
    return { key, name: name(key), amount: money(g.net_minor), transactions: g.transactions };
  };
  const byAccount = byDesc(group('account').map((g) => line('account', g, (k) => accountName.get(k) ?? (k === 'uncoded' ? 'Uncoded' : k))), (x) => minorOf.get(`account:${x.key}`) ?? 0n);
  const byRail = byDesc(group('rail').map((g) => line('rail', g, (k) => k)), (x) => minorOf.get(`rail:${x.key}`) ?? 0n);
  const agentGroups = new Map(group('agent').map((g) => [g.key ?? '', g]));
  const byAgent: AgentLine[] = byDesc(
    i.agents.map((a) => {
      const g = agentGroups.get(a.agent_id);
      minorOf.set(`agent:${a.agent_id}`, g?.net_minor ?? 0n);
      return {
        key: a.agent_id,
        name: a.name,
        cluster: a.cluster,
        amount: money(g?.net_minor ?? 0n),
        transactions: g?.transactions ?? 0,
        violations: g?.violating ?? 0,
        monthly_limit: i.policies.get(a.agent_id)?.monthly_limit ?? null,
      };
    }),
    (x) => minorOf.get(`agent:${x.key}`) ?? 0n,
  );

  const exceptions: SummaryException[] = [];
  for (const f of i.integrity.findings) {
    exceptions.push({ kind: 'integrity_failure', agent_id: null, at: null, amount: null, tx_id: null, change_id: null, violations: [], entries: f.seq === null ? [] : [f.seq], detail: f.what });
  }
  // A widening change that took effect with nobody's approval (the organisation exempted it).
  const unapproved = i.changes.filter(
    (c) =>
      scope.has(c.agent_id) &&
      c.status === 'applied' &&
      c.decided_by === null &&
      c.fields.some((f) => f.direction === 'widens') &&
      inPeriod(c.proposed_at, i.start, i.end),
  );
  for (const c of unapproved) {
    exceptions.push({
      kind: 'unapproved_policy_change',
      agent_id: c.agent_id,
      at: c.proposed_at,
      amount: null,
      tx_id: null,
      change_id: c.change_id,
      violations: [],
      entries: c.entries,
      detail: `${c.proposed_by} widened ${c.fields.filter((f) => f.direction === 'widens').map((f) => f.field).join(', ')} without approval`,
    });
  }
  for (const f of i.findings) {
    exceptions.push({ kind: 'segregation_of_duties', agent_id: f.agent_id, at: f.at, amount: null, tx_id: null, change_id: f.change_id, violations: [], entries: f.entries, detail: f.message });
  }
  // Counts come from the grouped scan over every transaction; only the largest are listed.
  // A missing approval given after the fact is closed: it no longer counts nor shows.
  let violating = total?.violating ?? 0;
  let missing = total?.missing_approval ?? 0;
  for (const t of i.approvedLaterTx) {
    if (!t.violations.includes('missing_approval')) continue;
    missing -= 1;
    if (t.violations.length === 1) violating -= 1;
  }
  for (const t of i.violating) {
    const later = i.approvedLater.get(t.tx_id);
    const open: Violation[] = t.violations.filter((v) => !(v === 'missing_approval' && later !== undefined));
    if (open.length === 0) continue;
    exceptions.push({
      kind: open.length === 1 && open[0] === 'missing_approval' ? 'missing_approval' : 'violation',
      agent_id: t.agent_id,
      at: t.ts.toISOString(),
      amount: t.reporting_amount,
      tx_id: t.tx_id,
      change_id: null,
      violations: open,
      entries: [t.seq],
      detail: open.join(', '),
    });
  }
  const amounts = new Map(i.violating.map((t) => [t.tx_id, t.reporting_minor]));
  exceptions.sort((a, b) => {
    const k = KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
    if (k !== 0) return k;
    const am = a.tx_id === null ? 0n : (amounts.get(a.tx_id) ?? 0n);
    const bm = b.tx_id === null ? 0n : (amounts.get(b.tx_id) ?? 0n);
    if (am !== bm) return am > bm ? -1 : 1;
    return (a.entries[0] ?? 0) - (b.entries[0] ?? 0);
  });

  const flags = {
    policy_violations: violating,
    over_limit_transactions: total?.over_limit ?? 0,
    unauthorized_category_purchases: total?.blocked_category ?? 0,
    unapproved_policy_changes: unapproved.length,
    missing_approvals: missing,
    segregation_of_duties_findings: i.findings.length,
    integrity_failures: i.integrity.findings.length,
  };
  const exceptionsTotal = i.integrity.findings.length + unapproved.length + i.findings.length + violating;
  const { status, reasons } = summaryStatus(flags);
  const net = total?.net_minor ?? 0n;
  const doc: SummaryDocument = {
    summary_id: i.summary_id,
    version: i.version,
    org_id: i.org.org_id,
    org_name: i.org.name,
    period: i.period,
    period_start: i.start,
    period_end: i.end,
    timezone: i.org.timezone,
    cluster: i.cluster,
    generated_at: i.generated_at,
    currency: i.org.reporting_currency,
    agents_monitored: i.agents.length,
    total_spend: money(net),
    total_spend_usd: i.org.reporting_currency === 'USD' ? money(net) : null,
    total_refunds: money(-(total?.refunds_minor ?? 0n)),
    total_transactions: total?.transactions ?? 0,
    compliance_flags: flags,
    status,
    status_reasons: reasons,
    spend_by_gl_account: byAccount,
    spend_by_rail: byRail,
    spend_by_agent: byAgent,
    exceptions: exceptions.slice(0, MAX_LISTED_EXCEPTIONS),
    exceptions_total: exceptionsTotal,
    checkpoint: i.checkpoint,
    supersedes: i.previous === null ? null : { summary_id: i.previous.document.summary_id, version: i.previous.document.version, summary_hash: i.previous.summary_hash },
    changes_from_previous: [],
  };
  return i.previous === null ? doc : { ...doc, changes_from_previous: describeChanges(i.previous.document, doc) };
}
