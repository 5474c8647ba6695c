import { z } from 'zod';
import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import type { PolicyDocument } from '../domain/policy/policy.ts';
import type { PeriodRequest, StatementPeriod } from '../domain/statement/period.ts';
import { resolvePeriod } from '../domain/statement/period.ts';
import type { PolicyVersionInput, StatementHeader, StatementLine, StatementOrg } from '../domain/statement/statement.ts';
import { policiesInForce, statementLine } from '../domain/statement/statement.ts';
import type { StatementTotals } from '../domain/statement/totals.ts';
import { StatementTotaller } from '../domain/statement/totals.ts';
import type { Instant } from '../domain/time.ts';
import { instantFromDate, instantMs } from '../domain/time.ts';
import type { SpendApprovalBody } from './change-entries.ts';
import { openEntry } from './change-entries.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireActsFor, requireRole } from './principal.ts';
import type { AgentRow, StoreReads } from './ports/store.ts';

export const STATEMENT_FORMATS = ['csv', 'xlsx', 'pdf'] as const;
export type StatementFormat = (typeof STATEMENT_FORMATS)[number];

/**
 * The period and format of a statement as a client gives them (HTTP query, CLI flags): a
 * calendar month, or from/to (a local day "2026-03-05" or an instant with a zone; `to` exclusive).
 */
export const statementQuery = z
  .strictObject({
    month: z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, e.g. 2026-03').optional(),
    from: z.string().min(1).max(40).optional(),
    to: z.string().min(1).max(40).optional(),
    format: z.enum(STATEMENT_FORMATS).default('csv'),
    paper: z.enum(['letter', 'a4']).optional(),
  })
  .superRefine((q, ctx) => {
    if (q.month !== undefined && (q.from !== undefined || q.to !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give a month or from/to, not both', path: ['from'] });
    } else if (q.month === undefined && (q.from === undefined || q.to === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give a month (YYYY-MM) or both from and to', path: [q.from === undefined ? 'month' : 'to'] });
    }
  });
export type StatementQuery = z.output<typeof statementQuery>;

export const periodOf = (q: StatementQuery): PeriodRequest =>
  q.month !== undefined ? { month: q.month } : { from: q.from ?? '', to: q.to ?? '' };

export interface StatementRequest {
  /** Exactly one of agent_id and cluster. */
  readonly agent_id?: string | undefined;
  readonly cluster?: string | undefined;
  readonly period: PeriodRequest;
}

/** One agent's statement: the opening context at once, the lines as they are read, then the totals. */
export interface AgentStatement {
  readonly header: StatementHeader;
  /** The period's transactions in date order, read page by page; a statement is read once. */
  lines(): AsyncGenerator<StatementLine>;
  /** Known once every line has been read. */
  totals(): StatementTotals;
}

export interface StatementRun {
  readonly org: StatementOrg;
  readonly period: StatementPeriod;
  /** The cluster asked for, or null for one agent's statement. */
  readonly cluster: string | null;
  readonly generated_at: Instant;
  readonly as_of_tree_size: number;
  /** One per agent, by agent id. */
  readonly statements: readonly AgentStatement[];
}

/** Rows per store read: enough to amortise a round trip, small enough that a page is cheap to hold. */
const PAGE = 500;

/**
 * Who may read statements: finance and auditors (and admins) any agent's or cluster's; an agent
 * key its own agent's only. Checked before anything is looked up, so a refused caller learns
 * nothing about which agents exist.
 */
function authorizeRead(by: Principal, req: StatementRequest): void {
  if (by.agent_id !== null && !by.roles.includes('admin')) {
    requireRole(by, 'agent');
    if (req.agent_id === undefined) {
      throw new SpendtrailError('FORBIDDEN', "an agent key reads its own agent's statement, not a cluster's", { field: 'cluster' });
    }
    requireActsFor(by, req.agent_id);
    return;
  }
  requireRole(by, 'finance', 'auditor');
}

/**
 * Opens the statements of one agent or of every agent of a cluster for a period. Everything
 * bounded (agents, policy versions, accounts) is read here, and every refusal (role, unknown
 * agent or cluster, bad period) happens here, before a caller starts writing a file or a
 * response; the transactions are read later, page by page, as each statement's lines are read.
 */
export async function openStatements(deps: AppDeps, by: Principal, req: StatementRequest): Promise<StatementRun> {
  if ((req.agent_id === undefined) === (req.cluster === undefined)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'give exactly one of agent and cluster', { field: 'agent_id' });
  }
  authorizeRead(by, req);
  const store = deps.store;
  const row = await store.getOrg(by.org_id);
  if (row === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
  const org: StatementOrg = { org_id: row.org_id, name: row.name, reporting_currency: row.reporting_currency, timezone: row.timezone };
  const period = resolvePeriod(req.period, org.timezone);
  const now = deps.clock.now();
  if (instantMs(period.start) > now.getTime()) {
    throw new SpendtrailError('VALIDATION_FAILED', `the period has not begun (it starts ${period.first_day} in ${org.timezone})`, {
      field: 'month' in req.period ? 'month' : 'from',
    });
  }
  const agents = await agentsOf(store, org.org_id, req);
  // The statement is read as of this log size: later entries are left out wherever they fall.
  const asOf = (await store.getTreeHead(org.org_id))?.size ?? 0;
  const versions = (await store.getPolicyVersions(org.org_id, agents.map((a) => a.agent_id))).filter((v) => v.seq < asOf);
  const accountNames = new Map((await store.getAccounts(org.org_id)).map((a) => [a.code, a.name]));
  const generatedAt = instantFromDate(now);
  const statements = agents.map((a) => {
    const own: PolicyVersionInput[] = versions
      .filter((v) => v.agent_id === a.agent_id)
      .map((v) => ({ document: JSON.parse(v.document) as PolicyDocument, snapshot_id: v.snapshot_id }));
    const header: StatementHeader = {
      org,
      agent: { agent_id: a.agent_id, name: a.name, owner: a.owner, cluster: a.cluster },
      period,
      policies: policiesInForce(own, period),
      generated_at: generatedAt,
      as_of_tree_size: asOf,
    };
    return new StoredAgentStatement(store, header, own, accountNames);
  });
  return { org, period, cluster: req.cluster ?? null, generated_at: generatedAt, as_of_tree_size: asOf, statements };
}

async function agentsOf(store: StoreReads, orgId: string, req: StatementRequest): Promise<AgentRow[]> {
  if (req.agent_id !== undefined) {
    const found = await store.getAgents(orgId, [req.agent_id]);
    if (found.length === 0) throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${req.agent_id}`, { field: 'agent_id' });
    return found;
  }
  const inCluster = (await store.getAgents(orgId)).filter((a) => a.cluster === req.cluster);
  if (inCluster.length === 0) throw new SpendtrailError('CLUSTER_NOT_FOUND', `no agent is in cluster ${req.cluster}`, { field: 'cluster' });
  return inCluster.sort((a, b) => (a.agent_id < b.agent_id ? -1 : a.agent_id > b.agent_id ? 1 : 0));
}

class StoredAgentStatement implements AgentStatement {
  private readonly totaller: StatementTotaller;
  private started = false;
  private done = false;

  constructor(
    private readonly store: StoreReads,
    readonly header: StatementHeader,
    versions: readonly PolicyVersionInput[],
    private readonly accountNames: ReadonlyMap<string, string>,
  ) {
    this.totaller = new StatementTotaller(header.org.reporting_currency, header.period, versions);
  }

  async *lines(): AsyncGenerator<StatementLine> {
    if (this.started) throw new Error('a statement is read once: its totals accumulate as its lines are read');
    this.started = true;
    const { org, agent, period, as_of_tree_size: asOf } = this.header;
    let after: { ts: Date; seq: number } | undefined;
    for (;;) {
      const page = await this.store.listTransactions({
        org_id: org.org_id,
        agent_id: agent.agent_id,
        from: new Date(period.start),
        to: new Date(period.end),
        after,
        limit: PAGE,
      });
      const txs = page.map((r) => r.record).filter((t) => t.seq < asOf);
      const originals = await this.originalsOf(txs);
      const approvedLater = await this.approvedAfterTheFact(txs);
      for (const t of txs) {
        const line = statementLine(t, {
          period,
          accountName: (code) => this.accountNames.get(code) ?? null,
          original: t.refund_of === null ? undefined : originals.get(t.refund_of),
          approvedLaterBy: approvedLater.get(t.tx_id),
        });
        this.totaller.add(line);
        yield line;
      }
      const last = page[page.length - 1];
      if (page.length < PAGE || last === undefined) break;
      // The cursor follows the unfiltered page, so rows left out as too new never stall it.
      after = { ts: new Date(last.record.timestamp), seq: last.record.seq };
    }
    this.done = true;
  }

  totals(): StatementTotals {
    if (!this.done) throw new Error('the totals of a statement are known once every line has been read');
    return this.totaller.totals();
  }

  /** The payments this page's refunds give money back for (they may lie before the period). */
  private async originalsOf(txs: readonly TransactionRecord[]): Promise<Map<string, TransactionRecord>> {
    const ids = [...new Set(txs.flatMap((t) => (t.refund_of === null ? [] : [t.refund_of])))];
    if (ids.length === 0) return new Map();
    const found = await this.store.findTransactionsById(this.header.org.org_id, ids);
    return new Map(found.map((s) => [s.record.tx_id, s.record]));
  }

  /** Over-threshold payments an approver approved after the fact (before the statement's log size). */
  private async approvedAfterTheFact(txs: readonly TransactionRecord[]): Promise<Map<string, string>> {
    const ids = txs.filter((t) => t.approver === null && t.violations.includes('missing_approval')).map((t) => t.tx_id);
    if (ids.length === 0) return new Map();
    const entries = await this.store.logEntriesOfKinds(this.header.org.org_id, ['spend_approval'], ids);
    const out = new Map<string, string>();
    for (const e of entries) {
      if (e.seq >= this.header.as_of_tree_size) continue;
      const o = openEntry<SpendApprovalBody>(e);
      if (o.body.tx_id !== null && o.body.decision === 'approved') out.set(o.body.tx_id, o.recorded_by);
    }
    return out;
  }
}

/** The download's file name: `statement-<agent>-<period>.<ext>` or `statement-cluster-<cluster>-<period>.<ext>`. */
export function statementFileName(run: StatementRun, format: StatementFormat): string {
  const who = run.cluster === null ? (run.statements[0]?.header.agent.agent_id ?? 'agent') : `cluster-${run.cluster}`;
  return `statement-${who}-${run.period.key}.${format}`;
}
