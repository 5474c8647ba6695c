import type { SignedSummary, SpendLine, SummaryDocument, SummaryException } from '../../../domain/summary/summary.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import { statusBadge } from './policy-values.ts';

/** Exceptions listed per section on the page; the PDF and JSON carry the same list, the ledger all of them. */
const SHOWN = 200;

const scopeText = (d: SummaryDocument): string => (d.cluster === null ? 'all agents' : `cluster ${d.cluster}`);

export function signedText(s: SignedSummary): Html {
  return s.signed_off_by === null
    ? html`<span class="badge warn">not signed off</span>`
    : html`<span class="badge ok">signed</span> by ${s.signed_off_by} at ${s.signed_off_at}`;
}

/** Every summary (every version), newest month first. */
export function renderSummaryList(list: readonly SignedSummary[]): Html {
  if (list.length === 0) return html`<p class="muted">No summaries yet.</p>`;
  const sorted = [...list].sort((a, b) =>
    a.document.period !== b.document.period ? (a.document.period < b.document.period ? 1 : -1) : b.document.version - a.document.version,
  );
  return html`<table class="responsive"><thead><tr><th scope="col">Month</th><th scope="col">Scope</th><th scope="col">Version</th><th scope="col">Status</th><th scope="col" class="num">Total spend</th><th scope="col">Sign-off</th><th scope="col">Generated</th></tr></thead>
<tbody>${sorted.map(
    (s) => html`<tr><td data-label="Month"><a href="${href(`/summaries/${encodeURIComponent(s.document.summary_id)}`)}">${s.document.period}</a></td>
<td data-label="Scope">${scopeText(s.document)}</td><td data-label="Version">v${s.document.version}</td><td data-label="Status">${statusBadge(s.document.status)}</td>
<td data-label="Total spend" class="num">${s.document.total_spend} ${s.document.currency}</td><td data-label="Sign-off">${signedText(s)}</td><td data-label="Generated">${s.document.generated_at}</td></tr>`,
  )}</tbody></table>`;
}

function lines(title: string, keyLabel: string, rows: readonly SpendLine[], currency: string): Html {
  return html`<h2>${title}</h2>${
    rows.length === 0
      ? html`<p class="muted">No spend.</p>`
      : html`<table class="responsive"><thead><tr><th scope="col">${keyLabel}</th><th scope="col">Name</th><th scope="col" class="num">Amount (${currency})</th><th scope="col" class="num">Transactions</th></tr></thead>
<tbody>${rows.map((l) => html`<tr><td data-label="${keyLabel}">${l.key}</td><td data-label="Name">${l.name}</td><td data-label="Amount" class="num">${l.amount}</td><td data-label="Transactions" class="num">${l.transactions}</td></tr>`)}</tbody></table>`
  }`;
}

function exceptions(title: string, list: readonly SummaryException[], empty: string): Html {
  if (list.length === 0) return html`<h2>${title}</h2><p class="muted">${empty}</p>`;
  return html`<h2>${title} (${list.length})</h2><table class="responsive"><thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col" class="num">Amount</th><th scope="col">What</th><th scope="col">Refers to</th><th scope="col">Log entries</th></tr></thead>
<tbody>${list.slice(0, SHOWN).map(
    (e) => html`<tr><td data-label="When">${e.at ?? '—'}</td><td data-label="Agent">${e.agent_id ?? '—'}</td><td data-label="Amount" class="num">${e.amount ?? '—'}</td>
<td data-label="What">${e.detail}${e.violations.length > 0 ? html`<br><span class="muted">${e.violations.join(', ')}</span>` : ''}</td>
<td data-label="Refers to">${e.tx_id !== null ? html`<a href="${href(`/ledger/${encodeURIComponent(e.tx_id)}`)}">transaction</a>` : e.change_id !== null ? html`change <code>${e.change_id}</code>` : '—'}</td>
<td data-label="Log entries">${e.entries.join(', ')}</td></tr>`,
  )}</tbody></table>${list.length > SHOWN ? html`<p class="muted">${list.length - SHOWN} more in the PDF and JSON.</p>` : ''}`;
}

/** One summary, readable: status and why, totals, spend by agent/account/rail, exceptions by kind, integrity. */
export function renderSummary(s: SignedSummary, opts: { csrf: string; maySignOff: boolean; latestVersion: number }): Html {
  const d = s.document;
  const f = d.compliance_flags;
  const id = encodeURIComponent(d.summary_id);
  const of = (k: SummaryException['kind']): SummaryException[] => d.exceptions.filter((e) => e.kind === k);
  const signOff =
    s.signed_off_by !== null
      ? html`<p class="flash" role="status">Signed off by ${s.signed_off_by} at ${s.signed_off_at}. Summary hash <code>${s.summary_hash}</code>.</p>`
      : d.version !== opts.latestVersion
        ? html`<p class="muted">Version ${opts.latestVersion} replaces this one: sign off the latest version.</p>`
        : opts.maySignOff
          ? html`<form method="post" action="${href(`/summaries/${id}/sign-off`)}" data-confirm="Sign off this summary? Your name, the time and its hash go into the log.">
<input type="hidden" name="csrf" value="${opts.csrf}"><button type="submit" class="primary">Sign off</button></form>`
          : html`<p class="muted">Not signed off yet. Sign-off needs the finance role.</p>`;
  return html`<p><a href="/summaries">← All summaries</a></p>
<dl class="facts"><dt>Organisation</dt><dd>${d.org_name}</dd><dt>Month</dt><dd>${d.period} <span class="muted">(${d.period_start} → ${d.period_end}, ${d.timezone})</span></dd>
<dt>Scope</dt><dd>${scopeText(d)}</dd><dt>Version</dt><dd>v${d.version}${d.supersedes === null ? '' : html` <span class="muted">(replaces v${d.supersedes.version})</span>`}</dd>
<dt>Status</dt><dd>${statusBadge(d.status)}</dd><dt>Sign-off</dt><dd>${signedText(s)}</dd>
<dt>Summary hash</dt><dd><code>${s.summary_hash}</code></dd><dt>Generated</dt><dd>${d.generated_at}</dd></dl>
${d.status_reasons.length > 0 ? html`<ul>${d.status_reasons.map((x) => html`<li>${x}</li>`)}</ul>` : ''}
${signOff}
<p>Download PDF: <a href="${href(`/summaries/${id}/pdf`, { paper: 'letter' })}">Letter</a> · <a href="${href(`/summaries/${id}/pdf`, { paper: 'a4' })}">A4</a></p>
<h2>Totals</h2>
<div class="cards">
<div class="card"><div class="muted">Total spend</div><div class="figure">${d.total_spend} ${d.currency}</div></div>
<div class="card"><div class="muted">Refunds</div><div class="figure">${d.total_refunds} ${d.currency}</div></div>
<div class="card"><div class="muted">Transactions</div><div class="figure">${d.total_transactions}</div></div>
<div class="card"><div class="muted">Agents monitored</div><div class="figure">${d.agents_monitored}</div></div></div>
<h2>Compliance flags</h2>
<dl class="facts"><dt>Policy violations</dt><dd>${f.policy_violations}</dd><dt>Over-limit transactions</dt><dd>${f.over_limit_transactions}</dd>
<dt>Unauthorised category purchases</dt><dd>${f.unauthorized_category_purchases}</dd><dt>Unapproved policy changes</dt><dd>${f.unapproved_policy_changes}</dd>
<dt>Missing approvals</dt><dd>${f.missing_approvals}</dd><dt>Segregation-of-duties findings</dt><dd>${f.segregation_of_duties_findings}</dd>
<dt>Integrity failures</dt><dd>${f.integrity_failures}</dd></dl>
<h2>Spend by agent</h2>${
    d.spend_by_agent.length === 0
      ? html`<p class="muted">No spend.</p>`
      : html`<table class="responsive"><thead><tr><th scope="col">Agent</th><th scope="col">Cluster</th><th scope="col" class="num">Amount (${d.currency})</th><th scope="col" class="num">Monthly limit</th><th scope="col" class="num">Transactions</th><th scope="col" class="num">Violations</th></tr></thead>
<tbody>${d.spend_by_agent.map((a) => html`<tr><td data-label="Agent">${a.name} (${a.key})</td><td data-label="Cluster">${a.cluster}</td><td data-label="Amount" class="num">${a.amount}</td><td data-label="Monthly limit" class="num">${a.monthly_limit ?? 'no limit'}</td><td data-label="Transactions" class="num">${a.transactions}</td><td data-label="Violations" class="num">${a.violations}</td></tr>`)}</tbody></table>`
  }
${lines('Spend by GL account', 'Account', d.spend_by_gl_account, d.currency)}
${lines('Spend by rail', 'Rail', d.spend_by_rail, d.currency)}
${exceptions('Transaction exceptions', [...of('violation'), ...of('missing_approval')], 'No transaction exceptions.')}
${exceptions('Policy changes without a second approval', of('unapproved_policy_change'), 'Every widening policy change had a second approval.')}
${exceptions('Segregation-of-duties findings', of('segregation_of_duties'), 'No segregation-of-duties findings.')}
<h2>Integrity</h2>
<dl class="facts"><dt>Checkpoint tree size</dt><dd>${d.checkpoint.tree_size}</dd><dt>Checkpoint root</dt><dd><code>${d.checkpoint.root}</code></dd>
<dt>Verification</dt><dd>${f.integrity_failures === 0 ? html`<span class="badge ok">passed</span> every hash and proof checked when the summary was made` : html`<span class="badge bad">failed</span> ${f.integrity_failures} finding(s)`}</dd></dl>
${of('integrity_failure').length > 0 ? exceptions('Integrity findings', of('integrity_failure'), '') : ''}
${d.exceptions_total > d.exceptions.length ? html`<p class="muted">${d.exceptions_total} exceptions in all; ${d.exceptions.length} listed.</p>` : ''}
${d.changes_from_previous.length > 0 ? html`<h2>Changes from the previous version</h2><ul>${d.changes_from_previous.map((x) => html`<li>${x}</li>`)}</ul>` : ''}`;
}

/** The generate form: a month (and optionally a cluster); finance and admins only. */
export function renderGenerateForm(csrf: string, defaultMonth: string): Html {
  return html`<h2>Generate a summary</h2><form method="post" action="/summaries" class="filters">
<input type="hidden" name="csrf" value="${csrf}">
<label for="g-month">Month <input id="g-month" name="month" value="${defaultMonth}" placeholder="YYYY-MM" required></label>
<label for="g-cluster">Cluster <span class="muted">(blank = all agents)</span><input id="g-cluster" name="cluster"></label>
<button type="submit" class="primary">Generate</button></form>
<p class="muted">A new version is made only when something changed since the last one; signed versions never change.</p>`;
}
