import { listChanges } from '../../../app/change-history.ts';
import type { AppDeps } from '../../../app/deps.ts';
import { listLedger } from '../../../app/ledger-queries.ts';
import { approveChange, rejectChange } from '../../../app/policy-changes.ts';
import type { Principal } from '../../../app/principal.ts';
import { hasRole } from '../../../app/principal.ts';
import { changeDecisionInput, parseInput, spendDecisionInput, text } from '../../../app/schemas.ts';
import { decideSpend } from '../../../app/spend-approvals.ts';
import type { TransactionRecord } from '../../../domain/ledger/transaction.ts';
import { html } from '../html.ts';
import type { WebRoutes } from '../plugin.ts';
import { PEOPLE } from '../web-session.ts';
import { renderAuthorizationForm, renderChangeQueue, renderRecentDecisions, renderSpendQueue } from './approvals-view.ts';

/** How many undecided over-threshold payments the page lists; the ledger has the rest. */
const SPEND_SHOWN = 50;
/** Ledger pages read to find them: bounded, so a long history of decided ones cannot slow the page. */
const SPEND_PAGES = 5;
const RECENT = 20;

/**
 * Over-threshold payments recorded without an approver and not decided since: the ledger's
 * missing_approval rows, minus those a spend_approval entry already answers.
 */
async function spendAwaiting(deps: AppDeps, by: Principal): Promise<{ txs: TransactionRecord[]; more: boolean }> {
  const out: TransactionRecord[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < SPEND_PAGES; i++) {
    const page = await listLedger(deps, by, { violation: 'missing_approval', limit: 200, cursor });
    const candidates = page.transactions.filter((t) => t.approver === null && t.type === 'payment');
    const decided = new Set(
      (await deps.store.logEntriesOfKinds(by.org_id, ['spend_approval'], candidates.map((t) => t.tx_id))).map((e) => e.entity_id),
    );
    for (const t of candidates) if (!decided.has(t.tx_id)) out.push(t);
    if (out.length > SPEND_SHOWN) return { txs: out.slice(0, SPEND_SHOWN), more: true };
    if (page.next_cursor === null) return { txs: out, more: false };
    cursor = page.next_cursor;
  }
  return { txs: out, more: true };
}

const changeId = (raw: string | undefined): string => parseInput(text(64).min(1), raw, 'change_id');

export function approvalPages(r: WebRoutes): void {
  r.page('/approvals', PEOPLE, async (req) => {
    const by = req.session.principal;
    const all = await listChanges(r.deps, by);
    const pending = all.filter((c) => c.status === 'pending');
    const decided = all
      .filter((c) => c.decided_at !== null)
      .sort((a, b) => (a.decided_at! < b.decided_at! ? 1 : -1))
      .slice(0, RECENT);
    const owners = new Map((await r.deps.store.getAgents(by.org_id)).map((a) => [a.agent_id, a.owner]));
    const viewer = { principal: by.principal, isApprover: hasRole(by, 'approver') && by.agent_id === null, csrf: req.session.csrf };
    const spend = hasRole(by, 'approver', 'finance', 'auditor', 'policy_admin') ? await spendAwaiting(r.deps, by) : { txs: [], more: false };
    return {
      title: 'Approvals',
      body: html`<h2>Policy changes waiting for a decision (${pending.length})</h2>
${renderChangeQueue(pending, owners, viewer, r.deps.clock.now())}
<h2>Spend waiting for an approval (${spend.txs.length}${spend.more ? '+' : ''})</h2>
<p class="muted">Payments over their approval threshold recorded without an approver. The agent's owner and whoever recorded the payment do not approve it.</p>
${renderSpendQueue(spend.txs, owners, viewer, spend.more)}
${renderAuthorizationForm(viewer)}
<h2>Recently decided changes</h2>${renderRecentDecisions(decided)}`,
    };
  });

  r.action('/approvals/:change_id/approve', ['approver'], async (req, form) => {
    const { comment } = parseInput(changeDecisionInput, { comment: form.get('comment') ?? null });
    const res = await approveChange(r.deps, req.session.principal, changeId(req.params.change_id), comment);
    return { redirect: '/approvals', flash: `Change approved: ${res.change.agent_id} is on version ${res.change.version ?? '?'}.` };
  });

  // The proposer may withdraw their own change (a rejection by them); others need the approver role.
  r.action('/approvals/:change_id/reject', ['approver', 'policy_admin'], async (req, form) => {
    const { comment } = parseInput(changeDecisionInput, { comment: form.get('comment') ?? null });
    const res = await rejectChange(r.deps, req.session.principal, changeId(req.params.change_id), comment ?? '');
    return { redirect: '/approvals', flash: `Change to ${res.change.agent_id} rejected.` };
  });

  r.action('/approvals/spend', ['approver'], async (req, form) => {
    const input = parseInput(spendDecisionInput, {
      ...(form.get('tx_id') ? { tx_id: form.get('tx_id') } : {}),
      ...(form.get('authorization_id') ? { authorization_id: form.get('authorization_id') } : {}),
      decision: form.get('decision') ?? '',
      comment: form.get('comment') ?? null,
    });
    const res = await decideSpend(r.deps, req.session.principal, input);
    return { redirect: '/approvals', flash: `Spend ${res.decision}${res.tx_id === null ? '' : ` (transaction ${res.tx_id})`}.` };
  });
}
