import { Readable } from 'node:stream';
import { listLedger } from '../../../app/ledger-queries.ts';
import type { LedgerQuery } from '../../../app/ledger-queries.ts';
import { ledgerQuery, parseInput } from '../../../app/schemas.ts';
import { ledgerCsvHeader, ledgerCsvRow } from '../../../adapters/reports/ledger-csv.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import type { TransactionRecord } from '../../../domain/ledger/transaction.ts';
import { VIOLATIONS } from '../../../domain/policy/violation.ts';
import { RAILS } from '../../../domain/rails.ts';
import { startOfLocalDay } from '../../../domain/time.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import type { WebRequest, WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';

const PAGE_SIZE = 50;
/** The filter fields the page and its links carry. */
const FILTERS = ['agent_id', 'cluster', 'from', 'to', 'accounting_code', 'payment_rail', 'violation', 'order'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

const DAY = /^\d{4}-\d{2}-\d{2}$/;

function nextDay(day: string): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + 1);
  return d.toISOString().slice(0, 10);
}

/** The query string's filters (blank fields dropped). */
export function filtersOf(q: Readonly<Record<string, string>>): Filters {
  const f: Filters = {};
  for (const k of FILTERS) {
    const v = q[k]?.trim();
    if (v !== undefined && v !== '') f[k] = v;
  }
  return f;
}

/**
 * The page's filters as the use case's LedgerQuery. Dates are days in the organisation's time
 * zone ("to" includes its day); a full timestamp is taken as it is. Validated by the same schema
 * as the API's query, so bad input is the same error with the same field.
 */
export function ledgerQueryOf(f: Filters, timezone: string, cursor?: string, limit = PAGE_SIZE): LedgerQuery {
  const from = f.from === undefined ? undefined : DAY.test(f.from) ? startOfLocalDay(f.from, timezone) : f.from;
  const to = f.to === undefined ? undefined : DAY.test(f.to) ? startOfLocalDay(nextDay(f.to), timezone) : f.to;
  const raw: Record<string, string | number> = { limit };
  for (const [k, v] of Object.entries({ ...f, from, to, cursor })) if (v !== undefined) raw[k] = v;
  return parseInput(ledgerQuery, raw);
}

async function timezoneOf(r: WebRoutes, req: WebRequest): Promise<string> {
  const org = await r.deps.store.getOrg(req.session.principal.org_id);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${req.session.principal.org_id}`);
  return org.timezone;
}

export const violationBadges = (vs: readonly string[]): Html =>
  vs.length === 0 ? html`<span class="badge ok">none</span>` : html`${vs.map((v) => html`<span class="badge bad">${v.replace(/_/g, ' ')}</span> `)}`;

function rowOf(t: TransactionRecord): Html {
  return html`<tr>
<td data-label="Time"><a href="${`/ledger/${encodeURIComponent(t.tx_id)}`}">${t.timestamp}</a></td>
<td data-label="Agent">${t.agent_id}</td>
<td data-label="Merchant">${t.merchant}</td>
<td data-label="Amount" class="num">${t.amount} ${t.currency}</td>
<td data-label="Reporting" class="num">${t.reporting_amount} ${t.reporting_currency}</td>
<td data-label="GL">${t.accounting_code ?? html`<span class="badge warn">uncoded</span>`}</td>
<td data-label="Rail">${t.payment_rail}</td>
<td data-label="Violations">${violationBadges(t.violations)}</td>
</tr>`;
}

function select(name: string, label: string, options: readonly string[], value: string | undefined, any = 'any'): Html {
  return html`<label for="f-${name}">${label}<select id="f-${name}" name="${name}"><option value="">${any}</option>${options.map(
    (o) => html`<option value="${o}"${o === value ? html` selected` : ''}>${o}</option>`,
  )}</select></label>`;
}

export function ledgerPages(r: WebRoutes): void {
  r.page('/ledger', PEOPLE, async (req) => {
    const f = filtersOf(req.query);
    const tz = await timezoneOf(r, req);
    const cursor = req.query.cursor?.trim() || undefined;
    const page = await listLedger(r.deps, req.session.principal, ledgerQueryOf(f, tz, cursor));
    const agents = await r.deps.store.getAgents(req.session.principal.org_id);
    const clusters = [...new Set(agents.map((a) => a.cluster))].sort();
    const body = html`
<form method="get" action="/ledger" class="filters" role="search" aria-label="Filter the ledger">
  ${select('agent_id', 'Agent', agents.map((a) => a.agent_id), f.agent_id)}
  ${select('cluster', 'Cluster', clusters, f.cluster)}
  <label for="f-from">From (day, ${tz})<input id="f-from" name="from" type="date" value="${f.from ?? ''}"></label>
  <label for="f-to">To (day, inclusive)<input id="f-to" name="to" type="date" value="${f.to ?? ''}"></label>
  <label for="f-gl">GL code<input id="f-gl" name="accounting_code" value="${f.accounting_code ?? ''}" size="8"></label>
  ${select('payment_rail', 'Rail', RAILS, f.payment_rail)}
  ${select('violation', 'Violation', VIOLATIONS, f.violation)}
  <label for="f-order">Order<select id="f-order" name="order"><option value="asc"${f.order === 'desc' ? '' : html` selected`}>oldest first</option><option value="desc"${f.order === 'desc' ? html` selected` : ''}>newest first</option></select></label>
  <button type="submit" class="primary">Filter</button>
  <a href="/ledger">Clear</a>
</form>
<p><a href="${href('/ledger.csv', f)}" download>Download CSV of this filter</a> <span class="muted">(every matching row, not just this page)</span></p>
${page.transactions.length === 0
      ? html`<p>No transactions match.</p>`
      : html`<div class="table-wrap"><table class="responsive"><caption class="muted">${page.transactions.length} transaction(s) on this page</caption>
<thead><tr><th scope="col">Time</th><th scope="col">Agent</th><th scope="col">Merchant</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Reporting</th><th scope="col">GL</th><th scope="col">Rail</th><th scope="col">Violations</th></tr></thead>
<tbody>${page.transactions.map(rowOf)}</tbody></table></div>`}
<nav class="pager" aria-label="Pages">
  ${cursor === undefined ? '' : html`<a href="${href('/ledger', f)}">First page</a>`}
  ${page.next_cursor === null ? html`<span class="muted">Last page</span>` : html`<a href="${href('/ledger', { ...f, cursor: page.next_cursor })}" rel="next">Next page</a>`}
</nav>`;
    return { title: 'Ledger', body };
  });

  // Every matching row, streamed page by page along the same keyset: constant memory at any size.
  r.download('/ledger.csv', PEOPLE, async (req) => {
    const f = filtersOf(req.query);
    const tz = await timezoneOf(r, req);
    const by = req.session.principal;
    // Validate before the download starts: a bad filter is an error page, not a broken file.
    const first = await listLedger(r.deps, by, ledgerQueryOf(f, tz, undefined, 1000));
    async function* lines(): AsyncGenerator<string> {
      yield ledgerCsvHeader();
      let page = first;
      for (;;) {
        yield page.transactions.map(ledgerCsvRow).join('');
        if (page.next_cursor === null) return;
        page = await listLedger(r.deps, by, ledgerQueryOf(f, tz, page.next_cursor, 1000));
      }
    }
    return { filename: `ledger-${by.org_id}.csv`, contentType: 'text/csv; charset=utf-8', body: Readable.from(lines()) };
  });
}
