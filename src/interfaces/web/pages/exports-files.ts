import { PassThrough, Readable } from 'node:stream';
import { zipSync } from 'fflate';
import { exportAccounting } from '../../../app/accounting-export.ts';
import { ACCOUNTING_FORMATS } from '../../../app/accounting-export-schema.ts';
import type { AgentStatement, StatementRun } from '../../../app/agent-statements.ts';
import { openStatements } from '../../../app/agent-statements.ts';
import { changeLogRows, listChanges } from '../../../app/change-history.ts';
import type { AppDeps } from '../../../app/deps.ts';
import { buildEvidenceBundle } from '../../../app/evidence-bundle.ts';
import { listLedger } from '../../../app/ledger-queries.ts';
import type { LedgerQuery } from '../../../app/ledger-queries.ts';
import type { OrgRow } from '../../../app/ports/store.ts';
import type { Principal } from '../../../app/principal.ts';
import { requireRole } from '../../../app/principal.ts';
import { changeQuery, identifier, ledgerQuery, parseInput } from '../../../app/schemas.ts';
import type { NoteVerifier } from '../../../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import type { TransactionRecord } from '../../../domain/ledger/transaction.ts';
import { writeAccountingFiles } from '../../../adapters/accounting/index.ts';
import { changeLogCsvHeader, changeLogCsvRow } from '../../../adapters/reports/change-log-csv.ts';
import { writeChangeLogXlsx } from '../../../adapters/reports/change-log-xlsx.ts';
import { ledgerCsvHeader, ledgerCsvRow } from '../../../adapters/reports/ledger-csv.ts';
import { writeStatementXlsx } from '../../../adapters/reports/statement-xlsx.ts';
import type { Download } from '../plugin.ts';
import { onlyKnown, periodOfQuery } from './exports-period.ts';

const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const CSV = 'text/csv; charset=utf-8';
/** Fixed timestamp: the same files always zip to the same bytes (as the CLI and API zip them). */
const MTIME = new Date('2000-01-01T00:00:00Z');
/** Rows per ledger read while streaming the CSV: the whole ledger is never in memory. */
const LEDGER_PAGE = 1000;

export interface ExportContext {
  readonly deps: AppDeps;
  readonly by: Principal;
  readonly org: OrgRow;
  readonly query: Readonly<Record<string, string>>;
}

export function zipOf(files: readonly { name: string; bytes: Buffer }[]): Buffer {
  return Buffer.from(zipSync(Object.fromEntries(files.map((f) => [f.name, [new Uint8Array(f.bytes), { mtime: MTIME }]])), { level: 6 }));
}

/** Streams an xlsx writer's output as a download body; a failure cuts the transfer short. */
function streamed(write: (out: PassThrough) => Promise<void>): PassThrough {
  const out = new PassThrough();
  write(out).catch((e: unknown) => out.destroy(e instanceof Error ? e : new Error(String(e))));
  return out;
}

/**
 * The ledger as CSV for a period and filters, read page by page with the keyset cursor and
 * written as it is read. The first page is read before answering, so a refusal (role, bad
 * filter) is an error page, not a cut-off file.
 */
export async function ledgerCsv(c: ExportContext): Promise<Download> {
  onlyKnown(c.query, ['month', 'from', 'to', 'agent_id', 'cluster', 'accounting_code', 'payment_rail', 'violation']);
  const period = periodOfQuery(c.query, c.org.timezone, false);
  const { month: _m, from: _f, to: _t, ...filters } = c.query;
  const q: LedgerQuery = {
    ...parseInput(ledgerQuery, filters),
    ...(period === null ? {} : { from: period.start, to: period.end }),
    limit: LEDGER_PAGE,
  };
  const first = await listLedger(c.deps, c.by, q);
  const { deps, by } = c;
  async function* rows(): AsyncGenerator<string> {
    yield ledgerCsvHeader();
    let page: { transactions: TransactionRecord[]; next_cursor: string | null } = first;
    for (;;) {
      if (page.transactions.length > 0) yield page.transactions.map(ledgerCsvRow).join('');
      if (page.next_cursor === null) return;
      page = await listLedger(deps, by, { ...q, cursor: page.next_cursor });
    }
  }
  const scope = q.agent_id !== undefined ? `-agent-${q.agent_id}` : q.cluster !== undefined ? `-cluster-${q.cluster}` : '';
  return { filename: `spendtrail-${c.org.org_id}-ledger-${period?.key ?? 'all'}${scope}.csv`, contentType: CSV, body: Readable.from(rows()) };
}

/**
 * The ledger as an XLSX workbook: the agent statement writer, one sheet per agent, for one
 * agent, one cluster, or every agent of the organisation (each cluster's statements in turn).
 */
export async function ledgerXlsx(c: ExportContext): Promise<Download> {
  onlyKnown(c.query, ['month', 'from', 'to', 'agent_id', 'cluster']);
  const period = periodOfQuery(c.query, c.org.timezone, true);
  if (period === null) throw new SpendtrailError('VALIDATION_FAILED', 'give a period', { field: 'month' });
  const req = period.month !== null ? { month: period.month } : { from: period.start, to: period.end };
  const { agent_id: agent, cluster } = c.query;
  if (agent !== undefined && cluster !== undefined) throw new SpendtrailError('VALIDATION_FAILED', 'give an agent or a cluster, not both', { field: 'cluster' });
  let run: StatementRun;
  let scope: string;
  if (agent !== undefined || cluster !== undefined) {
    run = await openStatements(c.deps, c.by, {
      ...(agent === undefined ? {} : { agent_id: parseInput(identifier, agent, 'agent_id') }),
      ...(cluster === undefined ? {} : { cluster: parseInput(identifier, cluster, 'cluster') }),
      period: req,
    });
    scope = agent !== undefined ? `-agent-${agent}` : `-cluster-${cluster}`;
  } else {
    requireRole(c.by, 'finance', 'auditor');
    const clusters = [...new Set((await c.deps.store.getAgents(c.by.org_id)).map((a) => a.cluster))].sort();
    if (clusters.length === 0) throw new SpendtrailError('AGENT_NOT_FOUND', 'the organisation has no agents yet', { field: 'agent_id' });
    const runs = [];
    for (const cl of clusters) runs.push(await openStatements(c.deps, c.by, { cluster: cl, period: req }));
    const statements: AgentStatement[] = runs.flatMap((x) => x.statements).sort((a, b) => (a.header.agent.agent_id < b.header.agent.agent_id ? -1 : 1));
    const head = runs[0] as StatementRun;
    run = { ...head, cluster: null, statements };
    scope = '';
  }
  return {
    filename: `spendtrail-${c.org.org_id}-ledger-${period.key}${scope}.xlsx`,
    contentType: XLSX,
    body: streamed((out) => writeStatementXlsx(run, out)),
  };
}

/** The policy change log, one row per changed field, as CSV or XLSX (what /v1/policy-changes/export serves). */
export async function changeLog(c: ExportContext): Promise<Download> {
  onlyKnown(c.query, ['format', 'month', 'from', 'to', 'agent_id', 'status']);
  const { format, month: _m, from: _f, to: _t, ...filters } = c.query;
  if (format !== 'csv' && format !== 'xlsx') throw new SpendtrailError('VALIDATION_FAILED', 'format is csv or xlsx', { field: 'format' });
  const period = periodOfQuery(c.query, c.org.timezone, false);
  const q = parseInput(changeQuery, { ...filters, ...(period === null ? {} : { from: period.start, to: period.end }) });
  const rows = changeLogRows(await listChanges(c.deps, c.by, q));
  const filename = `spendtrail-${c.org.org_id}-policy-changes-${period?.key ?? 'all'}${q.agent_id === undefined ? '' : `-agent-${q.agent_id}`}.${format}`;
  if (format === 'csv') return { filename, contentType: CSV, body: changeLogCsvHeader() + rows.map(changeLogCsvRow).join('') };
  return { filename, contentType: XLSX, body: streamed((out) => writeChangeLogXlsx(rows, out)) };
}

/** The evidence bundle of a period as a .zip, built as `spendtrail evidence --out x.zip` builds it. */
export async function evidenceZip(c: ExportContext, verifier: NoteVerifier): Promise<Download> {
  onlyKnown(c.query, ['month', 'from', 'to']);
  const period = periodOfQuery(c.query, c.org.timezone, true);
  if (period === null) throw new SpendtrailError('VALIDATION_FAILED', 'give a period', { field: 'month' });
  const files = await buildEvidenceBundle(c.deps, c.by, { from: new Date(period.start), to: new Date(period.end) }, verifier);
  return {
    filename: `spendtrail-${c.org.org_id}-evidence-${period.key}.zip`,
    contentType: 'application/zip',
    body: zipOf([...files].map(([name, bytes]) => ({ name, bytes }))),
  };
}

/**
 * Accounting exports: one target's files, or every target's (each in its own folder) in one
 * .zip. A single file comes back as itself, as the API answers.
 */
export async function accounting(c: ExportContext): Promise<Download> {
  onlyKnown(c.query, ['format', 'month', 'from', 'to', 'agent_id', 'cluster']);
  const { format = '', ...rest } = c.query;
  const formats = format === 'all' ? [...ACCOUNTING_FORMATS] : [format];
  const out: { name: string; bytes: Buffer; media_type: string }[] = [];
  let base = '';
  for (const f of formats) {
    const r = await exportAccounting(c.deps, c.by, { ...rest, format: f }, writeAccountingFiles);
    base = r.context.base_name;
    for (const file of r.files) out.push({ ...file, name: format === 'all' ? `${f}/${file.name}` : file.name });
  }
  const [only] = out;
  if (out.length === 1 && only !== undefined) return { filename: only.name, contentType: only.media_type, body: only.bytes };
  return { filename: `${base}-${format}.zip`, contentType: 'application/zip', body: zipOf(out) };
}
