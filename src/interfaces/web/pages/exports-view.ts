import type { ExportStatus } from '../../../app/audit-export.ts';
import { ACCOUNTING_FORMATS } from '../../../app/accounting-export-schema.ts';
import { VIOLATIONS } from '../../../domain/policy/violation.ts';
import { RAILS } from '../../../domain/rails.ts';
import { html } from '../html.ts';
import type { Html } from '../html.ts';

/** A labelled input; ids are prefixed per form so two forms never share one. */
const input = (form: string, name: string, label: string, hint = '', value = ''): Html =>
  html`<label for="${form}-${name}">${label}${hint === '' ? '' : html` <span class="muted">${hint}</span>`}<input id="${form}-${name}" name="${name}" value="${value}"></label>`;

const select = (form: string, name: string, label: string, options: readonly string[], blank: string | null): Html =>
  html`<label for="${form}-${name}">${label}<select id="${form}-${name}" name="${name}">${blank === null ? '' : html`<option value="">${blank}</option>`}${options.map((o) => html`<option value="${o}">${o}</option>`)}</select></label>`;

const period = (form: string, month: string): Html =>
  html`${input(form, 'month', 'Month', '(YYYY-MM)', month)}<span class="muted">or</span>${input(form, 'from', 'From', '(day or instant)')}${input(form, 'to', 'To', '(exclusive)')}`;

export function renderExportStatus(status: ExportStatus | null): Html {
  if (status === null) {
    return html`<p>This server does not export the log to an audit store (no export destination is configured), so there is no export status to show.</p>`;
  }
  const healthy = status.last_error === null && status.behind === 0;
  return html`<dl class="facts"><dt>Destination</dt><dd>${status.sink}</dd>
<dt>State</dt><dd>${healthy ? html`<span class="badge ok">up to date</span>` : status.last_error !== null ? html`<span class="badge bad">failing</span>` : html`<span class="badge warn">behind</span>`}</dd>
<dt>Log size (last checkpoint)</dt><dd>${status.tree_size}</dd><dt>Exported through</dt><dd>${status.exported_through}</dd>
<dt>Entries behind</dt><dd>${status.behind}</dd><dt>Objects written</dt><dd>${status.objects_written}</dd>
<dt>Last object</dt><dd>${status.last_object ?? '—'}</dd><dt>Failed attempts</dt><dd>${status.failed_attempts}</dd>
<dt>Last error</dt><dd>${status.last_error ?? 'none'}</dd><dt>Updated</dt><dd>${status.updated_at ?? 'never'}</dd></dl>`;
}

/** Every download as a GET form: a bookmarkable URL, and no state changes (so no csrf token). */
export function renderExports(p: { month: string; status: ExportStatus | null; timezone: string }): Html {
  return html`<p class="muted">Periods are cut in the organisation's time zone (${p.timezone}); "to" is exclusive. Blank filters mean all.</p>
<h2>Ledger (CSV)</h2>
<form method="get" action="/exports/ledger.csv" class="filters">${period('lc', p.month)}
${input('lc', 'agent_id', 'Agent')}${input('lc', 'cluster', 'Cluster')}${input('lc', 'accounting_code', 'GL code')}
${select('lc', 'payment_rail', 'Rail', RAILS, 'any')}${select('lc', 'violation', 'Violation', VIOLATIONS, 'any')}
<button type="submit" class="primary">Download CSV</button></form>
<h2>Ledger (XLSX)</h2>
<p class="muted">The agent statement workbook: one sheet per agent with its policy in force, its lines and totals.</p>
<form method="get" action="/exports/ledger.xlsx" class="filters">${period('lx', p.month)}${input('lx', 'agent_id', 'Agent', '(blank = all)')}${input('lx', 'cluster', 'Cluster', '(blank = all)')}
<button type="submit" class="primary">Download XLSX</button></form>
<h2>Policy change log</h2>
<form method="get" action="/exports/policy-changes" class="filters">${select('pc', 'format', 'Format', ['csv', 'xlsx'], null)}${period('pc', '')}
${input('pc', 'agent_id', 'Agent')}${select('pc', 'status', 'Status', ['pending', 'applied', 'rejected', 'superseded'], 'any')}
<button type="submit" class="primary">Download</button></form>
<h2>Evidence bundle</h2>
<p class="muted">Every log entry of the period with its proofs, policies, summaries and checkpoints, for an auditor to check offline with <code>spendtrail verify-bundle</code>.</p>
<form method="get" action="/exports/evidence.zip" class="filters">${period('ev', p.month)}<button type="submit" class="primary">Download .zip</button></form>
<h2>Accounting exports</h2>
<form method="get" action="/exports/accounting" class="filters">${select('ac', 'format', 'Format', [...ACCOUNTING_FORMATS, 'all'], null)}${period('ac', p.month)}
${input('ac', 'agent_id', 'Agent')}${input('ac', 'cluster', 'Cluster')}
<button type="submit" class="primary">Download</button></form>
<h2>Audit export status</h2>
${renderExportStatus(p.status)}`;
}
