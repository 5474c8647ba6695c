import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { parseDecimal } from '../domain/money/decimal.ts';
import type { AccountRef, Journal, JournalSettings } from '../domain/journal/journal.ts';
import { DEFAULT_FUNDING, DEFAULT_ROLLUP_RAILS, DEFAULT_SUSPENSE } from '../domain/journal/journal.ts';
import { buildJournal } from '../domain/journal/build-journal.ts';
import { RAILS } from '../domain/rails.ts';
import type { Rail } from '../domain/rails.ts';
import type { Instant } from '../domain/time.ts';
import { localDay, monthBounds, parseInstant, startOfLocalDay } from '../domain/time.ts';
import type { AccountingExportRequest, AccountingFormat, AccountingSettings } from './accounting-export-schema.ts';
import { accountingExportRequest } from './accounting-export-schema.ts';
import type { AppDeps } from './deps.ts';
import type { AccountRow, OrgRow, StoreReads } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import { parseInput } from './schemas.ts';

/** One file an export produces: a journal (maybe one of several parts) or the roll-up drill-down. */
export interface ExportFile {
  readonly name: string;
  readonly media_type: string;
  readonly role: 'journal' | 'drilldown';
  readonly bytes: Buffer;
}

/** What a writer needs besides the journal: names, the period for headers, the target's settings. */
export interface WriteContext {
  /** File name stem, e.g. `spendtrail-acme-2026-03`; writers add their extension and part numbers. */
  readonly base_name: string;
  readonly org_id: string;
  readonly org_name: string;
  readonly period: { readonly from: Instant; readonly to: Instant; readonly label: string };
  readonly scope: string;
  readonly settings: AccountingSettings;
}

/** Writes a journal in a target's format (an adapter, injected by the interface). */
export type JournalWriter = (format: AccountingFormat, journal: Journal, ctx: WriteContext) => ExportFile[];

export interface PreparedJournal {
  readonly journal: Journal;
  readonly context: WriteContext;
}

export interface AccountingExport extends PreparedJournal {
  readonly format: AccountingFormat;
  readonly files: readonly ExportFile[];
}

/** Transactions read per page: keyset pages keep each query short on a month of millions. */
const PAGE = 5000;

/**
 * The period's transactions as balanced journal entries, ready for any writer (and for a
 * QuickBooks Online poster). Finance and auditors export; agent keys do not.
 *
 * Errors: FORBIDDEN, VALIDATION_FAILED (period), AGENT_NOT_FOUND, CLUSTER_NOT_FOUND,
 * NOTHING_TO_EXPORT, and those of buildJournal (UNCODED_TRANSACTIONS, ACCOUNT_NOT_MAPPED, …).
 */
export async function prepareJournal(deps: AppDeps, by: Principal, raw: unknown): Promise<PreparedJournal> {
  requireRole(by, 'finance', 'auditor');
  const req = parseInput(accountingExportRequest, raw);
  const settings = req.settings ?? {};
  // One snapshot: the chart of accounts and the transactions are read as of the same moment.
  const read = await deps.store.readSnapshot(async (r) => {
    const org = await r.getOrg(by.org_id);
    if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
    const period = periodOf(req, org.timezone);
    await checkScope(r, org.org_id, req);
    const transactions = await readPeriod(r, org.org_id, period, req);
    return { org, period, chart: await r.getAccounts(org.org_id), transactions };
  });
  const { org, period, chart, transactions } = read;
  const scope = req.agent_id !== undefined ? `agent:${req.agent_id}` : req.cluster !== undefined ? `cluster:${req.cluster}` : 'org';
  const context: WriteContext = {
    base_name: `spendtrail-${org.org_id}-${period.label}${req.agent_id !== undefined ? `-agent-${req.agent_id}` : req.cluster !== undefined ? `-cluster-${req.cluster}` : ''}`,
    org_id: org.org_id,
    org_name: org.name,
    period,
    scope,
    settings,
  };
  if (transactions.length === 0) {
    throw new SpendtrailError('NOTHING_TO_EXPORT', `no transactions ${describeScope(req)} from ${period.from} to ${period.to}: nothing to export`);
  }
  const journal = buildJournal({
    transactions,
    currency: org.reporting_currency,
    timezone: org.timezone,
    scope,
    settings: journalSettings(settings, chart, org),
  });
  if (journal.entries.length === 0) {
    throw new SpendtrailError(
      'NOTHING_TO_EXPORT',
      `the ${transactions.length} transactions ${describeScope(req)} from ${period.from} to ${period.to} are worth 0.00 ${journal.currency} in total: nothing to post`,
    );
  }
  return { journal, context };
}

/** prepareJournal, then the target's files. */
export async function exportAccounting(deps: AppDeps, by: Principal, raw: unknown, write: JournalWriter): Promise<AccountingExport> {
  const req = parseInput(accountingExportRequest, raw);
  const prepared = await prepareJournal(deps, by, req);
  return { ...prepared, format: req.format, files: write(req.format, prepared.journal, prepared.context) };
}

const describeScope = (req: AccountingExportRequest): string =>
  req.agent_id !== undefined ? `of agent ${req.agent_id}` : req.cluster !== undefined ? `of cluster ${req.cluster}` : 'in the organisation';

const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

/** A day bound is local midnight in the organisation's zone, like a month; `to` is exclusive either way. */
function bound(text: string, timeZone: string, field: string): Instant {
  if (DAY.test(text)) {
    parseInstant(`${text}T00:00:00Z`, field);
    return startOfLocalDay(text, timeZone);
  }
  return parseInstant(text, field);
}

function periodOf(req: AccountingExportRequest, timeZone: string): { from: Instant; to: Instant; label: string } {
  if (req.month !== undefined) {
    const { start, end } = monthBounds(req.month, timeZone);
    return { from: start, to: end, label: req.month };
  }
  const from = bound(req.from ?? '', timeZone, 'from');
  const to = bound(req.to ?? '', timeZone, 'to');
  if (from >= to) throw new SpendtrailError('VALIDATION_FAILED', 'the period is empty: `to` (exclusive) must come after `from`', { field: 'to' });
  return { from, to, label: `${localDay(from, timeZone)}_${localDay(to, timeZone)}` };
}

async function checkScope(r: StoreReads, orgId: string, req: AccountingExportRequest): Promise<void> {
  if (req.agent_id !== undefined && (await r.getAgents(orgId, [req.agent_id])).length === 0) {
    throw new SpendtrailError('AGENT_NOT_FOUND', `no agent ${req.agent_id}`, { field: 'agent_id' });
  }
  if (req.cluster !== undefined && !(await r.getAgents(orgId)).some((a) => a.cluster === req.cluster)) {
    throw new SpendtrailError('CLUSTER_NOT_FOUND', `no agent in cluster ${req.cluster}`, { field: 'cluster' });
  }
}

async function readPeriod(r: StoreReads, orgId: string, period: { from: Instant; to: Instant }, req: AccountingExportRequest): Promise<TransactionRecord[]> {
  const out: TransactionRecord[] = [];
  let after: { ts: Date; seq: number } | undefined;
  for (;;) {
    const page = await r.listTransactions({
      org_id: orgId,
      agent_id: req.agent_id,
      cluster: req.cluster,
      from: new Date(period.from),
      to: new Date(period.to),
      after,
      limit: PAGE,
    });
    for (const t of page) out.push(t.record);
    const last = page[page.length - 1];
    if (page.length < PAGE || last === undefined) return out;
    after = { ts: new Date(last.record.timestamp), seq: last.record.seq };
  }
}

/** Export settings with their defaults, as the journal core takes them. */
export function journalSettings(s: AccountingSettings, chart: readonly AccountRow[], org: Pick<OrgRow, 'reporting_currency'>): JournalSettings {
  const exponent = findCurrency(org.reporting_currency)?.exponent;
  if (exponent === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown reporting currency ${org.reporting_currency}`);
  const funding = Object.fromEntries(
    RAILS.map((rail): [Rail, AccountRef] => {
      const given = s.funding_accounts?.[rail];
      return [rail, given === undefined ? DEFAULT_FUNDING[rail] : { code: given.code, name: given.name, type: given.type ?? DEFAULT_FUNDING[rail].type }];
    }),
  ) as Record<Rail, AccountRef>;
  const suspense = s.suspense_account === undefined ? DEFAULT_SUSPENSE : { ...s.suspense_account, type: s.suspense_account.type ?? DEFAULT_SUSPENSE.type };
  const rollup =
    s.rollup === false
      ? null
      : {
          rails: s.rollup?.rails ?? DEFAULT_ROLLUP_RAILS,
          below_minor:
            s.rollup?.below === undefined
              ? 10n ** BigInt(exponent)
              : parseDecimal(s.rollup.below, exponent, { allowNegative: false, field: 'settings.rollup.below' }),
        };
  const names = new Map(chart.map((a) => [a.code, a.name]));
  const accounts = new Map<string, AccountRef>();
  // chart: every account of the chart, by its own code and name unless the mapping says otherwise.
  if ((s.account_mapping ?? 'chart') === 'chart') for (const a of chart) accounts.set(a.code, { code: a.code, name: a.name, type: 'expense' });
  for (const [code, m] of Object.entries(s.accounts ?? {})) {
    const name = m.name ?? names.get(code);
    if (name !== undefined) accounts.set(code, { code: m.code ?? code, name, type: 'expense' });
  }
  return { funding, uncoded: s.uncoded ?? 'refuse', suspense, rollup, accounts };
}
