import type { AgentRow } from '../../../app/ports/store.ts';
import type { ChangeView } from '../../../app/policy-changes.ts';
import type { FieldChange } from '../../../domain/policy/change.ts';
import { FIELD_NAMES, termsOf } from '../../../domain/policy/change.ts';
import type { PolicyDocument } from '../../../domain/policy/policy.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import { fieldLabel, fieldText, statusBadge } from './policy-values.ts';

export interface AgentPolicy {
  readonly agent: AgentRow;
  readonly policy: { readonly document: PolicyDocument; readonly policy_snapshot_id: string } | null;
}

const validity = (d: PolicyDocument): string => `${d.valid_from} → ${d.valid_until ?? 'open-ended'}`;

/** Every agent with the terms of its current policy; an agent without one says so. */
export function renderPolicyList(rows: readonly AgentPolicy[]): Html {
  if (rows.length === 0) return html`<p class="muted">No agents yet.</p>`;
  return html`<table class="responsive"><caption class="muted">Current policy of every agent</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">Cluster</th><th scope="col">Owner</th><th scope="col">Version</th>
<th scope="col" class="num">Per transaction</th><th scope="col" class="num">Daily</th><th scope="col" class="num">Monthly</th>
<th scope="col" class="num">Approval threshold</th><th scope="col">Categories</th><th scope="col">Rails</th><th scope="col">Valid</th><th scope="col">Snapshot</th></tr></thead>
<tbody>${rows.map(({ agent, policy }) => {
    const d = policy?.document;
    const c = d?.currency ?? '';
    return html`<tr>
<td data-label="Agent"><a href="${href(`/policies/${encodeURIComponent(agent.agent_id)}`)}">${agent.agent_id}</a><br><span class="muted">${agent.name}</span></td>
<td data-label="Cluster">${agent.cluster}</td><td data-label="Owner">${agent.owner}</td>
${d === undefined
  ? html`<td data-label="Policy" colspan="9"><span class="badge bad">no policy</span> this agent can spend nothing until one is set</td>`
  : html`<td data-label="Version">v${d.version}</td>
<td data-label="Per transaction" class="num">${fieldText('per_transaction_limit', d.per_transaction_limit, c)}</td>
<td data-label="Daily" class="num">${fieldText('daily_limit', d.daily_limit, c)}</td>
<td data-label="Monthly" class="num">${fieldText('monthly_limit', d.monthly_limit, c)}</td>
<td data-label="Approval threshold" class="num">${fieldText('approval_threshold', d.approval_threshold, c)}</td>
<td data-label="Categories">allowed: ${fieldText('allowed_categories', d.allowed_categories, c)}<br>blocked: ${fieldText('blocked_categories', d.blocked_categories, c)}</td>
<td data-label="Rails">${fieldText('allowed_rails', d.allowed_rails, c)}</td>
<td data-label="Valid">${validity(d)}</td>
<td data-label="Snapshot"><code>${policy?.policy_snapshot_id}</code></td>`}
</tr>`;
  })}</tbody></table>`;
}

/** The full text of one policy version, term by term. */
export function renderPolicyDocument(d: PolicyDocument, snapshotId: string): Html {
  const terms = termsOf(d) as Record<string, unknown>;
  return html`<dl class="facts">
<dt>Version</dt><dd>v${d.version}</dd>
<dt>Currency</dt><dd>${d.currency}</dd>
${FIELD_NAMES.map((f) => html`<dt>${fieldLabel(f)}</dt><dd>${fieldText(f, terms[f] as never, d.currency)}</dd>`)}
<dt>Valid from</dt><dd>${d.valid_from}</dd>
<dt>Snapshot id</dt><dd><code>${snapshotId}</code></dd>
</dl>`;
}

/** Every version of an agent's policy, newest first, with the log entry that holds it. */
export function renderVersionHistory(versions: readonly { document: PolicyDocument; policy_snapshot_id: string; seq: number }[]): Html {
  if (versions.length === 0) return html`<p class="muted">No versions yet.</p>`;
  const newest = [...versions].sort((a, b) => b.document.version - a.document.version);
  return html`<div class="table-wrap"><table><thead><tr><th scope="col">Version</th><th scope="col">Valid from</th><th scope="col">Valid until</th><th scope="col" class="num">Monthly limit</th><th scope="col">Snapshot id</th><th scope="col" class="num">Log entry</th></tr></thead>
<tbody>${newest.map(
    (v) => html`<tr><td>v${v.document.version}</td><td>${v.document.valid_from}</td><td>${v.document.valid_until ?? 'open-ended'}</td>
<td class="num">${fieldText('monthly_limit', v.document.monthly_limit, v.document.currency)}</td><td><code>${v.policy_snapshot_id}</code></td><td class="num">${v.seq}</td></tr>`,
  )}</tbody></table></div>`;
}

/** "Daily limit: 5000.00 USD → 8000.00 USD (widens)", one line per field. */
export function renderFieldChanges(fields: readonly FieldChange[], currency: string): Html {
  return html`<ul class="changes">${fields.map(
    (f) => html`<li><strong>${fieldLabel(f.field)}</strong>: ${fieldText(f.field, f.old_value, currency)} → ${fieldText(f.field, f.new_value, currency)} <span class="muted">(${f.direction})</span></li>`,
  )}</ul>`;
}

/** The change log of one agent (or of all), newest first: who, when, what, why, and the decision. */
export function renderChangeHistory(changes: readonly ChangeView[], opts: { showAgent?: boolean } = {}): Html {
  if (changes.length === 0) return html`<p class="muted">No changes recorded.</p>`;
  const newest = [...changes].reverse();
  return html`<table class="responsive"><thead><tr>${opts.showAgent === true ? html`<th scope="col">Agent</th>` : ''}<th scope="col">When</th><th scope="col">Proposed by</th><th scope="col">Change</th>
<th scope="col">Justification</th><th scope="col">Ticket</th><th scope="col">Status</th><th scope="col">Decided</th></tr></thead>
<tbody>${newest.map(
    (c) => html`<tr>${opts.showAgent === true ? html`<td data-label="Agent">${c.agent_id}</td>` : ''}
<td data-label="When">${c.proposed_at}</td><td data-label="Proposed by">${c.proposed_by}</td>
<td data-label="Change">${renderFieldChanges(c.fields, c.currency)}</td>
<td data-label="Justification">${c.justification}</td>
<td data-label="Ticket">${c.approval_ticket ?? html`<span class="badge warn">no ticket</span>`}</td>
<td data-label="Status">${statusBadge(c.status)}${c.requires_approval ? '' : html`<br><span class="muted">applied at once (narrows)</span>`}</td>
<td data-label="Decided">${c.decided_by === null ? html`<span class="muted">—</span>` : html`${c.decided_by}<br><span class="muted">${c.decided_at}</span>${c.decision_comment === null ? '' : html`<br>“${c.decision_comment}”`}`}</td></tr>`,
  )}</tbody></table>`;
}
