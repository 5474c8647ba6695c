import { listChanges } from '../../../app/change-history.ts';
import { hasRole } from '../../../app/principal.ts';
import { listSummaries } from '../../../app/summaries.ts';
import type { VerifyReport } from '../../../app/verify.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import { formatMinor, parseDecimal } from '../../../domain/money/decimal.ts';
import type { PolicyDocument } from '../../../domain/policy/policy.ts';
import { VIOLATIONS } from '../../../domain/policy/violation.ts';
import { dayAfterMonth } from '../../../domain/summary/rollup.ts';
import { instantFromDate, localDay, localMonth, monthBounds } from '../../../domain/time.ts';
import { budgetBar, columnsOverTime, horizontalBars } from '../charts.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import type { WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';

/**
 * The last verify result per organisation, in this server's memory: nothing stores verify runs,
 * so the overview shows the last one run from here ("Verify now") since the server started.
 */
const lastVerify = new WeakMap<object, Map<string, { at: Date; by: string; report: VerifyReport }>>();
const verifyMemo = (store: object): Map<string, { at: Date; by: string; report: VerifyReport }> => {
  let m = lastVerify.get(store);
  if (m === undefined) {
    m = new Map();
    lastVerify.set(store, m);
  }
  return m;
};

interface AgentSpend {
  readonly agent_id: string;
  readonly cluster: string;
  readonly spent: bigint;
  readonly budget: bigint | null;
}

/** "2026-03" moved by n months. */
export function shiftMonth(month: string, n: number): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** Days of a month up to today (or the whole month when it is over). */
function daysSoFar(month: string, today: string): string[] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const last = new Date(Date.UTC(y, m, 0)).getUTCDate();
  const out: string[] = [];
  for (let d = 1; d <= last; d++) {
    const day = `${month}-${String(d).padStart(2, '0')}`;
    if (day > today) break;
    out.push(day);
  }
  return out;
}

export function overviewPages(r: WebRoutes): void {
  const { deps } = r;

  r.page('/', PEOPLE, async (req) => {
    const by = req.session.principal;
    const org = await deps.store.getOrg(by.org_id);
    if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${by.org_id}`);
    const exp = findCurrency(org.reporting_currency)?.exponent ?? 2;
    const cur = org.reporting_currency;
    const money = (minor: bigint): string => `${formatMinor(minor, exp)} ${cur}`;
    const now = instantFromDate(deps.clock.now());
    const current = localMonth(now, org.timezone);
    // Another month can be looked at (the demo's data is last month's); the default is this one.
    const asked = req.query.month;
    const month = asked !== undefined && /^\d{4}-(0[1-9]|1[0-2])$/.test(asked) && asked <= current ? asked : current;
    const today = localDay(now, org.timezone);
    const { start, end } = monthBounds(month, org.timezone);

    // Month-to-date spend comes from the same running totals authorize checks limits against;
    // the breakdowns are one aggregate over the month's rows. Nothing reads rows out one by one.
    const agents = await deps.store.getAgents(by.org_id);
    const days = daysSoFar(month, today);
    const keys = agents.flatMap((a) => [{ agent_id: a.agent_id, period: `M${month}` }, ...days.map((d) => ({ agent_id: a.agent_id, period: `D${d}` }))]);
    const [rollups, versions, groups, violations, pending, summaries, checkpoint] = await Promise.all([
      deps.store.getRollups(by.org_id, keys),
      deps.store.getPolicyVersions(by.org_id),
      deps.store.rollupGroups(by.org_id, `${month}-01`, dayAfterMonth(month), null),
      deps.store.violationCounts(by.org_id, new Date(start), new Date(end)),
      listChanges(deps, by, { status: 'pending' }),
      listSummaries(deps, by),
      deps.store.latestCheckpoint(by.org_id),
    ]);
    const latestPolicy = new Map<string, PolicyDocument>();
    for (const v of versions) latestPolicy.set(v.agent_id, JSON.parse(v.document) as PolicyDocument);
    const spend: AgentSpend[] = agents.map((a) => {
      const limit = latestPolicy.get(a.agent_id)?.monthly_limit ?? null;
      return {
        agent_id: a.agent_id,
        cluster: a.cluster,
        spent: rollups.get(`${a.agent_id}\u0000M${month}`) ?? 0n,
        budget: limit === null ? null : parseDecimal(limit, exp, { allowNegative: false, field: 'monthly_limit' }),
      };
    });
    const clusters = new Map<string, { spent: bigint; budget: bigint; unlimited: number; agents: number }>();
    for (const s of spend) {
      const c = clusters.get(s.cluster) ?? { spent: 0n, budget: 0n, unlimited: 0, agents: 0 };
      c.spent += s.spent;
      c.agents += 1;
      if (s.budget === null) c.unlimited += 1;
      else c.budget += s.budget;
      clusters.set(s.cluster, c);
    }
    const daily = days.map((d) => ({
      label: d.slice(5),
      minor: agents.reduce((sum, a) => sum + (rollups.get(`${a.agent_id}\u0000D${d}`) ?? 0n), 0n),
    }));
    const total = groups.find((g) => g.by === 'total');
    const byAccount = groups.filter((g) => g.by === 'account').sort((a, b) => (b.net_minor > a.net_minor ? 1 : b.net_minor < a.net_minor ? -1 : 0));
    const byRail = groups.filter((g) => g.by === 'rail').sort((a, b) => (b.net_minor > a.net_minor ? 1 : b.net_minor < a.net_minor ? -1 : 0));
    const period = { from: start, to: end };
    const latest = [...summaries].sort((a, b) => (a.document.period + a.document.generated_at < b.document.period + b.document.generated_at ? 1 : -1))[0];
    const verified = verifyMemo(deps.store).get(by.org_id);
    const canVerify = hasRole(by, 'auditor') && r.options.verify !== undefined;

    const body = html`
<p class="muted">${org.name} · ${month}${month === current ? ' (this month)' : ''} · ${org.timezone} · amounts in ${cur}</p>
<nav class="pager" aria-label="Months"><a href="${href('/', { month: shiftMonth(month, -1) })}">← ${shiftMonth(month, -1)}</a>${month === current ? '' : html`<a href="${href('/', { month: shiftMonth(month, 1) })}">${shiftMonth(month, 1)} →</a> <a href="/">This month</a>`}</nav>
<div class="cards">
  <div class="card"><div>Spend in ${month}</div><div class="figure">${money(total?.net_minor ?? 0n)}</div><div class="muted">${total?.transactions ?? 0} transactions</div></div>
  <div class="card"><div>Violating transactions</div><div class="figure">${total?.violating ?? 0}</div><div><a href="#violations">by kind, below</a></div></div>
  <div class="card"><div>Pending approvals</div><div class="figure">${pending.length}</div><div><a href="/approvals">policy changes waiting</a></div></div>
  <div class="card"><div>Latest checkpoint</div><div class="figure">${checkpoint === undefined ? 'none' : checkpoint.tree_size}</div><div class="muted">${checkpoint === undefined ? 'nothing signed yet' : html`entries, signed ${checkpoint.created_at.toISOString()}`}</div></div>
</div>

<h2>Spend vs budget by cluster</h2>
<div class="table-wrap"><table class="responsive">
<thead><tr><th scope="col">Cluster</th><th scope="col">Agents</th><th scope="col">This month vs monthly limits</th></tr></thead>
<tbody>${[...clusters.entries()].sort(([a], [b]) => a.localeCompare(b)).map(
      ([name, c], i) => html`<tr><td data-label="Cluster"><a href="${href('/ledger', { cluster: name, ...period })}">${name}</a></td><td data-label="Agents">${c.agents}</td>
<td data-label="Spend">${budgetBar(`cl${i}`, name, c.spent, c.agents === c.unlimited ? null : c.budget, money(c.spent), c.agents === c.unlimited ? null : money(c.budget))}${c.unlimited > 0 && c.unlimited < c.agents ? html` <span class="muted">(${c.unlimited} agent(s) without a monthly limit)</span>` : ''}</td></tr>`,
    )}</tbody></table></div>

<h2>Spend vs budget by agent</h2>
<div class="table-wrap"><table class="responsive">
<thead><tr><th scope="col">Agent</th><th scope="col">Cluster</th><th scope="col">This month vs monthly limit</th></tr></thead>
<tbody>${spend.map(
      (s, i) => html`<tr><td data-label="Agent"><a href="${href('/ledger', { agent_id: s.agent_id, ...period })}">${s.agent_id}</a></td><td data-label="Cluster">${s.cluster}</td>
<td data-label="Spend">${budgetBar(`ag${i}`, s.agent_id, s.spent, s.budget, money(s.spent), s.budget === null ? null : money(s.budget))}</td></tr>`,
    )}</tbody></table></div>

<h2 id="violations">Violations in ${month}</h2>
${violations.size === 0
      ? html`<p>No violations recorded in ${month}.</p>`
      : html`<ul>${VIOLATIONS.filter((v) => violations.has(v)).map(
          (v) => html`<li><a href="${href('/ledger', { violation: v, ...period })}">${v.replace(/_/g, ' ')}</a>: ${violations.get(v)} transaction(s)</li>`,
        )}</ul>`}

<h2>Pending approvals</h2>
${pending.length === 0
      ? html`<p>No policy change is waiting for approval.</p>`
      : html`<ul>${pending.slice(0, 10).map((c) => html`<li><a href="${href('/approvals')}">${c.agent_id}</a>: proposed by ${c.proposed_by} at ${c.proposed_at}</li>`)}</ul>`}

<h2>Latest monthly summary</h2>
${latest === undefined
      ? html`<p>No summary generated yet.</p>`
      : html`<p><a href="${`/summaries/${encodeURIComponent(latest.document.summary_id)}`}">${latest.document.period} ${latest.document.cluster ?? 'all agents'} (version ${latest.document.version})</a>:
  status <span class="badge ${latest.document.status === 'COMPLIANT' ? 'ok' : 'warn'}">${latest.document.status}</span>,
  ${latest.signed_off_by === null ? html`<span class="badge warn">not signed off</span>` : html`<span class="badge ok">signed off</span> by ${latest.signed_off_by} at ${latest.signed_off_at}`}</p>`}

<h2>Integrity</h2>
<dl class="facts">
  <dt>Latest checkpoint</dt><dd>${checkpoint === undefined ? 'none yet' : html`size ${checkpoint.tree_size}, signed ${checkpoint.created_at.toISOString()}`}</dd>
  <dt>Last verify</dt><dd>${verifyLine(verified)}</dd>
</dl>
<p class="muted">Verify results are kept in this server's memory only (not stored): the line above shows the last run started from this dashboard since the server started.</p>
${canVerify
      ? html`<form method="post" action="/verify"><input type="hidden" name="csrf" value="${req.session.csrf}"><button type="submit">Verify now</button></form>`
      : ''}

<h2>Charts</h2>
${columnsOverTime({
      id: 'daily',
      title: `Spend per day, ${month}`,
      description: `Net spend per day in ${month} in ${cur}, from the ledger's running totals.`,
      labelHeading: 'Day',
      bars: daily.map((d) => ({ label: d.label, minor: d.minor, display: money(d.minor) })),
    })}
${horizontalBars({
      id: 'gl',
      title: `Spend by GL account, ${month}`,
      description: `Net spend per general-ledger account code in ${cur}.`,
      labelHeading: 'GL account',
      bars: byAccount.map((g) => ({ label: g.key ?? 'uncoded', minor: g.net_minor, display: money(g.net_minor), href: g.key === null ? undefined : href('/ledger', { accounting_code: g.key, ...period }) })),
    })}
${horizontalBars({
      id: 'rail',
      title: `Spend by payment rail, ${month}`,
      description: `Net spend per payment rail in ${cur}.`,
      labelHeading: 'Rail',
      bars: byRail.map((g) => ({ label: g.key ?? 'none', minor: g.net_minor, display: money(g.net_minor), href: g.key === null ? undefined : href('/ledger', { payment_rail: g.key, ...period }) })),
    })}`;
    return { title: 'Overview', body };
  });

  r.action('/verify', ['auditor'], async (req) => {
    const run = r.options.verify;
    if (run === undefined) throw new SpendtrailError('FORBIDDEN', 'verify is not available on this server');
    const report = await run(req.session.principal);
    verifyMemo(deps.store).set(req.session.principal.org_id, { at: deps.clock.now(), by: req.session.principal.principal, report });
    return {
      redirect: '/',
      flash: report.ok ? `Verify passed: ${report.entries_checked} entries, tree size ${report.tree_size}.` : `Verify FAILED: ${report.findings.length} finding(s).`,
    };
  });
}

function verifyLine(v: { at: Date; by: string; report: VerifyReport } | undefined): Html {
  if (v === undefined) return html`not run from this dashboard since the server started`;
  const r = v.report;
  return html`${r.ok ? html`<span class="badge ok">passed</span>` : html`<span class="badge bad">FAILED</span>`} at ${v.at.toISOString()} by ${v.by}:
  ${r.entries_checked} entries, ${r.checkpoints_checked} checkpoints, tree size ${r.tree_size}${r.ok ? '' : html`; first finding: ${r.findings[0]?.what ?? ''}`}`;
}
