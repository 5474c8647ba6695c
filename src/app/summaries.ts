import type { NoteVerifier } from '../domain/checkpoint/note-key.ts';
import { canonicalize } from '../domain/canonical/jcs.ts';
import { SpendtrailError } from '../domain/errors.ts';
import { dutyFindings } from '../domain/policy/duties.ts';
import type { PolicyDocument } from '../domain/policy/policy.ts';
import { contentKey, summaryHash } from '../domain/summary/rules.ts';
import type { SignedSummary, SummaryDocument } from '../domain/summary/summary.ts';
import { MAX_LISTED_EXCEPTIONS } from '../domain/summary/summary.ts';
import { dayAfterMonth } from '../domain/summary/rollup.ts';
import { instantFromDate, instantMs, localMonth, monthBounds } from '../domain/time.ts';
import { appendToLog } from './append.ts';
import type { SpendApprovalBody } from './change-entries.ts';
import { openEntry } from './change-entries.ts';
import { changesFromLog } from './change-history.ts';
import type { AppDeps } from './deps.ts';
import { dutyFactsFromLog } from './duty-findings.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { StoreReads, StoreTx, SummaryRow } from './ports/store.ts';
import { buildSummary } from './summary-builder.ts';
import { queueSummaryDeliveries } from './summary-deliveries.ts';
import { verifyLog } from './verify.ts';

export interface SummaryRequest {
  /** "YYYY-MM" in the organisation's time zone. */
  readonly month: string;
  /** A cluster, or null/undefined for every agent. */
  readonly cluster?: string | null | undefined;
}

export interface SummaryBody {
  readonly summary_id: string;
  readonly period: string;
  readonly scope: string;
  readonly version: number;
  readonly summary_hash: string;
  readonly status: string;
  readonly total_spend: string;
  readonly total_transactions: number;
  readonly compliance_flags: SummaryDocument['compliance_flags'];
  readonly checkpoint: SummaryDocument['checkpoint'];
}

export interface SignOffBody {
  readonly summary_id: string;
  readonly summary_hash: string;
  readonly period: string;
  readonly scope: string;
  readonly version: number;
}

const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;
const scopeOf = (cluster: string | null): string => cluster ?? '*';

/**
 * Generates the compliance summary of a month for a cluster (or every agent). Figures are read
 * in one snapshot at a signed checkpoint, integrity is verified first, and the result is a new
 * version only when something changed since the last one: a signed version never changes.
 * Scheduled runs create a month's first version only, so several schedulers make one summary.
 */
export async function generateSummary(
  deps: AppDeps,
  by: Principal,
  req: SummaryRequest,
  opts: {
    verifier: NoteVerifier;
    scheduled?: boolean;
    /** The result of an integrity check just run over the same log, to reuse instead of running one. */
    integrity?: { readonly findings: readonly { readonly seq: number | null; readonly what: string }[] };
  },
): Promise<{ summary: SignedSummary; created: boolean }> {
  requireRole(by, 'finance');
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'an agent key does not make summaries', { field: 'agent_id' });
  if (!MONTH.test(req.month)) throw new SpendtrailError('VALIDATION_FAILED', 'month is YYYY-MM, e.g. 2026-03', { field: 'month' });
  const cluster = req.cluster == null || req.cluster === '' ? null : req.cluster;
  const org = await deps.store.getOrg(by.org_id);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
  const now = deps.clock.now();
  const { start, end } = monthBounds(req.month, org.timezone);
  if (instantMs(start) > now.getTime()) {
    throw new SpendtrailError('VALIDATION_FAILED', `${req.month} has not begun in ${org.timezone}`, { field: 'month' });
  }
  const scope = scopeOf(cluster);
  if (opts.scheduled === true) {
    const existing = await latestSummary(deps.store, by.org_id, req.month, scope);
    if (existing !== null) return { summary: existing, created: false };
  }

  // Incremental: the entries up to the last verified checkpoint were proved by an earlier verify.
  const integrity = opts.integrity ?? (await verifyLog(deps, by, opts.verifier, { incremental: true }));
  const inputs = await deps.store.readSnapshot(async (s) => {
    const agents = (await s.getAgents(by.org_id)).filter((a) => cluster === null || a.cluster === cluster);
    if (agents.length === 0 && cluster !== null) {
      throw new SpendtrailError('CLUSTER_NOT_FOUND', `no agent is in cluster ${cluster}`, { field: 'cluster' });
    }
    const ids = cluster === null ? null : agents.map((a) => a.agent_id);
    const scopeSet = new Set(agents.map((a) => a.agent_id));
    const from = new Date(start);
    const to = new Date(end);
    const policies = new Map<string, PolicyDocument>();
    for (const v of await s.getPolicyVersions(by.org_id)) {
      if (!scopeSet.has(v.agent_id) || v.valid_from >= to) continue;
      const doc = JSON.parse(v.document) as PolicyDocument;
      const have = policies.get(v.agent_id);
      if (have === undefined || have.version < doc.version) policies.set(v.agent_id, doc);
    }
    const approvedLater = new Map<string, { by: string; seq: number }>();
    for (const e of await s.logEntriesOfKinds(by.org_id, ['spend_approval'])) {
      const o = openEntry<SpendApprovalBody>(e);
      if (o.body.tx_id !== null && o.body.decision === 'approved') approvedLater.set(o.body.tx_id, { by: o.recorded_by, seq: e.seq });
    }
    const changes = await changesFromLog(s, by.org_id);
    const facts = await dutyFactsFromLog(s, by.org_id, changes);
    const cp = await s.latestCheckpoint(by.org_id);
    return {
      agents,
      accounts: await s.getAccounts(by.org_id),
      policies,
      groups: await s.rollupGroups(by.org_id, `${req.month}-01`, dayAfterMonth(req.month), ids),
      violating: await s.violatingTransactions(by.org_id, from, to, ids, MAX_LISTED_EXCEPTIONS + approvedLater.size),
      approvedLaterTx: (await s.findTransactionsById(by.org_id, [...approvedLater.keys()]))
        .filter((t) => scopeSet.has(t.record.agent_id) && t.record.timestamp >= start && t.record.timestamp < end)
        .map((t) => ({ tx_id: t.record.tx_id, seq: t.record.seq, agent_id: t.record.agent_id, ts: new Date(t.record.timestamp), reporting_amount: t.record.reporting_amount, reporting_minor: t.reporting_minor, violations: t.record.violations })),
      approvedLater,
      changes,
      findings: dutyFindings(facts).filter((f) => scopeSet.has(f.agent_id) && f.at >= start && f.at < end),
      checkpoint: { tree_size: cp?.tree_size ?? 0, root: cp?.root.toString('base64') ?? '' },
    };
  });

  const { result } = await appendToLog(deps, by.org_id, async ({ tx, sealer, now: at }) => {
    const previous = await latestSummary(tx, by.org_id, req.month, scope);
    if (opts.scheduled === true && previous !== null) return { summary: previous, created: false };
    const doc = buildSummary({
      ...inputs,
      summary_id: deps.ids.uuid(),
      version: (previous?.document.version ?? 0) + 1,
      org,
      period: req.month,
      start,
      end,
      cluster,
      generated_at: instantFromDate(at),
      integrity: { findings: integrity.findings },
      previous: previous === null ? null : { document: previous.document, summary_hash: previous.summary_hash },
    });
    if (previous !== null && contentKey(previous.document) === contentKey(doc)) return { summary: previous, created: false };
    const hash = summaryHash(doc);
    const body: SummaryBody = {
      summary_id: doc.summary_id,
      period: doc.period,
      scope,
      version: doc.version,
      summary_hash: hash,
      status: doc.status,
      total_spend: doc.total_spend,
      total_transactions: doc.total_transactions,
      compliance_flags: doc.compliance_flags,
      checkpoint: doc.checkpoint,
    };
    const e = sealer.addEntry('summary', doc.summary_id, instantFromDate(at), by.principal, body);
    const row: SummaryRow = { summary_id: doc.summary_id, org_id: by.org_id, period: doc.period, scope, version: doc.version, summary_hash: hash, document: canonicalize(doc), seq: e.seq, created_at: at };
    await tx.insertSummary(row);
    if (opts.scheduled === true) await queueSummaryDeliveries(deps, tx, doc);
    return { summary: { document: doc, summary_hash: hash, signed_off_by: null, signed_off_at: null }, created: true };
  });
  return result;
}

/** The latest version of a month's summary for a scope, with its sign-off. */
async function latestSummary(s: StoreReads | StoreTx, orgId: string, period: string, scope: string): Promise<SignedSummary | null> {
  const rows = await s.getSummaries(orgId, { period, scope });
  const last = rows[rows.length - 1];
  return last === undefined ? null : withSignOff(s, last);
}

async function withSignOff(s: StoreReads, row: SummaryRow): Promise<SignedSummary> {
  const [sign] = await s.logEntriesOfKinds(row.org_id, ['summary_signoff'], [row.summary_id]);
  const o = sign === undefined ? null : openEntry<SignOffBody>(sign);
  return {
    document: JSON.parse(row.document) as SummaryDocument,
    summary_hash: row.summary_hash,
    signed_off_by: o?.recorded_by ?? null,
    signed_off_at: o?.recorded_at ?? null,
  };
}

const READERS = ['finance', 'auditor', 'approver', 'policy_admin'] as const;

export async function getSummary(deps: AppDeps, by: Principal, summaryId: string): Promise<SignedSummary> {
  requireRole(by, ...READERS);
  const [row] = await deps.store.getSummaries(by.org_id, { summary_id: summaryId });
  if (row === undefined) throw new SpendtrailError('SUMMARY_NOT_FOUND', `no summary ${summaryId}`, { field: 'summary_id' });
  return withSignOff(deps.store, row);
}

export async function listSummaries(deps: AppDeps, by: Principal, q: { month?: string | undefined } = {}): Promise<SignedSummary[]> {
  requireRole(by, ...READERS);
  const rows = await deps.store.getSummaries(by.org_id, q.month === undefined ? {} : { period: q.month });
  return Promise.all(rows.map((r) => withSignOff(deps.store, r)));
}

/**
 * A person with the finance role signs off a summary: who, when and the hash of exactly what
 * they signed go into the log. Once, and only the latest version of its month and scope.
 */
export async function signOffSummary(deps: AppDeps, by: Principal, summaryId: string): Promise<SignedSummary> {
  requireRole(by, 'finance');
  if (by.agent_id !== null) throw new SpendtrailError('FORBIDDEN', 'an agent key does not sign off summaries', { field: 'agent_id' });
  const { result } = await appendToLog(deps, by.org_id, async ({ tx, sealer, now }) => {
    const [row] = await tx.getSummaries(by.org_id, { summary_id: summaryId });
    if (row === undefined) throw new SpendtrailError('SUMMARY_NOT_FOUND', `no summary ${summaryId}`, { field: 'summary_id' });
    if ((await tx.logEntriesOfKinds(by.org_id, ['summary_signoff'], [summaryId])).length > 0) {
      throw new SpendtrailError('SUMMARY_ALREADY_SIGNED', `summary ${summaryId} is already signed off`, { field: 'summary_id' });
    }
    const versions = await tx.getSummaries(by.org_id, { period: row.period, scope: row.scope });
    const latest = versions[versions.length - 1];
    if (latest !== undefined && latest.version !== row.version) {
      throw new SpendtrailError('SUMMARY_SUPERSEDED', `version ${latest.version} replaces this one: sign off ${latest.summary_id}`, { field: 'summary_id' });
    }
    const body: SignOffBody = { summary_id: row.summary_id, summary_hash: row.summary_hash, period: row.period, scope: row.scope, version: row.version };
    sealer.addEntry('summary_signoff', row.summary_id, instantFromDate(now), by.principal, body);
    return { document: JSON.parse(row.document) as SummaryDocument, summary_hash: row.summary_hash, signed_off_by: by.principal, signed_off_at: instantFromDate(now) };
  });
  return result;
}

/** The month before the one an instant falls in, in a time zone. */
export function monthBefore(now: Date, timeZone: string): string {
  const [y, m] = localMonth(instantFromDate(now), timeZone).split('-').map(Number) as [number, number];
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** The JSON shape printed and served: the document with its hash and sign-off state. */
export const summaryJson = (s: SignedSummary): Record<string, unknown> => ({
  ...s.document,
  summary_hash: s.summary_hash,
  signed_off_by: s.signed_off_by,
  signed_off_at: s.signed_off_at,
});
