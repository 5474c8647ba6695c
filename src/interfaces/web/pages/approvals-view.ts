import type { ChangeView } from '../../../app/policy-changes.ts';
import type { TransactionRecord } from '../../../domain/ledger/transaction.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import { renderFieldChanges } from './policy-view.ts';
import { ageOf, samePerson, statusBadge } from './policy-values.ts';

export interface Viewer {
  readonly principal: string;
  readonly isApprover: boolean;
  readonly csrf: string;
}

/** Why a person may not decide something, in words; null when they may. */
export function decideBlock(viewer: Viewer, proposer: string, owner: string | null, what: 'change' | 'spend'): string | null {
  if (!viewer.isApprover) return 'only people with the approver role decide';
  if (samePerson(proposer, viewer.principal)) {
    return what === 'change' ? 'you proposed this; another approver must decide' : 'you asked for this spend; another approver must decide';
  }
  if (owner !== null && samePerson(owner, viewer.principal)) return 'you own this agent; another approver must decide';
  return null;
}

const csrfField = (v: Viewer): Html => html`<input type="hidden" name="csrf" value="${v.csrf}">`;

function changeForms(c: ChangeView, viewer: Viewer, owner: string | null): Html {
  const id = encodeURIComponent(c.change_id);
  const blocked = decideBlock(viewer, c.proposed_by, owner, 'change');
  const withdraw = samePerson(c.proposed_by, viewer.principal)
    ? html`<form method="post" action="${href(`/approvals/${id}/reject`)}" class="stack" data-confirm="Withdraw this proposal?">${csrfField(viewer)}
<label for="w-${c.change_id}">Why withdraw (required)</label><textarea id="w-${c.change_id}" name="comment" required></textarea>
<div><button type="submit" class="danger">Withdraw</button></div></form>`
    : '';
  if (blocked !== null) return html`<p class="muted notice" role="note">${blocked[0]?.toUpperCase()}${blocked.slice(1)}.</p>${withdraw}`;
  return html`<form method="post" action="${href(`/approvals/${id}/approve`)}" class="stack">${csrfField(viewer)}
<label for="a-${c.change_id}">Comment (optional)</label><textarea id="a-${c.change_id}" name="comment"></textarea>
<div><button type="submit" class="primary">Approve</button></div></form>
<form method="post" action="${href(`/approvals/${id}/reject`)}" class="stack" data-confirm="Reject this change?">${csrfField(viewer)}
<label for="r-${c.change_id}">Why reject (required)</label><textarea id="r-${c.change_id}" name="comment" required></textarea>
<div><button type="submit" class="danger">Reject</button></div></form>`;
}

/** The queue of pending policy changes, oldest first, each with what it changes and who asks. */
export function renderChangeQueue(pending: readonly ChangeView[], owners: ReadonlyMap<string, string>, viewer: Viewer, now: Date): Html {
  if (pending.length === 0) return html`<p class="muted">No policy change is waiting for a decision.</p>`;
  return html`${pending.map(
    (c) => html`<section class="card" aria-labelledby="c-${c.change_id}">
<h3 id="c-${c.change_id}"><a href="${href(`/policies/${encodeURIComponent(c.agent_id)}`)}">${c.agent_id}</a> ${statusBadge(c.status)}</h3>
${renderFieldChanges(c.fields, c.currency)}
<dl class="facts"><dt>Proposed by</dt><dd>${c.proposed_by}</dd><dt>Proposed at</dt><dd>${c.proposed_at} <span class="muted">(waiting ${ageOf(c.proposed_at, now)})</span></dd>
<dt>Justification</dt><dd>${c.justification}</dd><dt>Ticket</dt><dd>${c.approval_ticket ?? html`<span class="badge warn">no ticket</span>`}</dd>
<dt>Effective from</dt><dd>${c.effective_from ?? 'when approved'}</dd><dt>Change id</dt><dd><code>${c.change_id}</code></dd></dl>
${changeForms(c, viewer, owners.get(c.agent_id) ?? null)}</section>`,
  )}`;
}

/** Payments over their approval threshold that no approver has decided on yet. */
export function renderSpendQueue(txs: readonly TransactionRecord[], owners: ReadonlyMap<string, string>, viewer: Viewer, more: boolean): Html {
  if (txs.length === 0) return html`<p class="muted">No payment is waiting for an approval.</p>`;
  return html`<table class="responsive"><thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col">Merchant</th><th scope="col" class="num">Amount</th><th scope="col">Purpose</th><th scope="col">Recorded by</th><th scope="col">Decision</th></tr></thead>
<tbody>${txs.map((t) => {
    const blocked = decideBlock(viewer, t.recorded_by, owners.get(t.agent_id) ?? null, 'spend');
    const form = (decision: 'approve' | 'reject'): Html => html`<form method="post" action="/approvals/spend" class="stack"${decision === 'reject' ? html` data-confirm="Reject this payment?"` : ''}>${csrfField(viewer)}
<input type="hidden" name="tx_id" value="${t.tx_id}"><input type="hidden" name="decision" value="${decision}">
<label for="s${decision}-${t.tx_id}">${decision === 'approve' ? 'Comment (optional)' : 'Why reject (required)'}</label>
<input id="s${decision}-${t.tx_id}" name="comment"${decision === 'reject' ? html` required` : ''}>
<div><button type="submit" class="${decision === 'approve' ? 'primary' : 'danger'}">${decision === 'approve' ? 'Approve' : 'Reject'}</button></div></form>`;
    return html`<tr><td data-label="When">${t.timestamp}</td><td data-label="Agent">${t.agent_id}</td><td data-label="Merchant">${t.merchant}</td>
<td data-label="Amount" class="num">${t.amount} ${t.currency}</td><td data-label="Purpose">${t.business_purpose ?? '—'}</td><td data-label="Recorded by">${t.recorded_by}</td>
<td data-label="Decision">${blocked === null ? html`${form('approve')}${form('reject')}` : html`<span class="muted">${blocked}</span>`}</td></tr>`;
  })}</tbody></table>${more ? html`<p class="muted">More are waiting: see the <a href="${href('/ledger', { violation: 'missing_approval' })}">ledger</a>.</p>` : ''}`;
}

/** Changes decided lately, newest first. */
export function renderRecentDecisions(decided: readonly ChangeView[]): Html {
  if (decided.length === 0) return html`<p class="muted">Nothing decided yet.</p>`;
  return html`<table class="responsive"><thead><tr><th scope="col">Decided at</th><th scope="col">Agent</th><th scope="col">Change</th><th scope="col">Proposed by</th><th scope="col">Decision</th><th scope="col">Decided by</th><th scope="col">Comment</th></tr></thead>
<tbody>${decided.map(
    (c) => html`<tr><td data-label="Decided at">${c.decided_at}</td><td data-label="Agent">${c.agent_id}</td><td data-label="Change">${renderFieldChanges(c.fields, c.currency)}</td>
<td data-label="Proposed by">${c.proposed_by}</td><td data-label="Decision">${statusBadge(c.status)}</td><td data-label="Decided by">${c.decided_by}</td><td data-label="Comment">${c.decision_comment ?? '—'}</td></tr>`,
  )}</tbody></table>`;
}

/**
 * An authorization waiting for an approver is answered by id (the agent's caller holds it from
 * its needs_approval answer and passes it on); the server applies the same separation rules.
 */
export function renderAuthorizationForm(viewer: Viewer): Html {
  if (!viewer.isApprover) return html``;
  return html`<h3>Decide an authorization by its id</h3>
<form method="post" action="/approvals/spend" class="filters">${csrfField(viewer)}
<label for="auth-id">Authorization id<input id="auth-id" name="authorization_id" required></label>
<label for="auth-decision">Decision<select id="auth-decision" name="decision"><option value="approve">approve</option><option value="reject">reject</option></select></label>
<label for="auth-comment">Comment <span class="muted">(required to reject)</span><input id="auth-comment" name="comment"></label>
<button type="submit">Decide</button></form>`;
}
