import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpendApprovalBody } from '../src/app/change-entries.ts';
import { openEntry } from '../src/app/change-entries.ts';
import { getChange, listChanges } from '../src/app/change-history.ts';
import { showPolicy } from '../src/app/ledger-queries.ts';
import { proposePolicyChange } from '../src/app/policy-changes.ts';
import type { Principal } from '../src/app/principal.ts';
import { authorize } from '../src/app/authorize.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { person, tx } from './support/fixtures.ts';
import type { WebOrg } from './support/web-people.ts';
import { openWebOrg, textOf } from './support/web-people.ts';

/**
 * The approvals queue through the real server: pending changes with what they change, who asks
 * and why; approve and reject forms only for approvers who may decide; the proposer and the
 * agent's owner see why they may not, and the server refuses them anyway (an error page, never
 * a 500); over-threshold spend waits here too.
 */

let w: WebOrg;
beforeAll(async () => {
  w = await openWebOrg();
});
afterAll(async () => {
  await w?.close();
});

/** A widening change proposed as someone: it waits for an approver. */
async function pendingChange(by: Principal, agent: string, monthly: string): Promise<string> {
  const r = await proposePolicyChange(w.env.deps, by, {
    agent_id: agent,
    changes: { monthly_limit: monthly },
    justification: `More budget for ${agent}`,
    approval_ticket: 'FIN-7',
  });
  expect(r.version).toBeNull();
  return r.change.change_id;
}

/** The section of the queue about one change. */
const cardOf = (body: string, changeId: string): string => {
  const start = body.indexOf(`aria-labelledby="c-${changeId}"`);
  expect(start).toBeGreaterThan(0);
  return body.slice(start, body.indexOf('</section>', start));
};

describe('/approvals: policy changes', () => {
  let research: string;
  let own: string;

  beforeAll(async () => {
    // Proposed three hours before the people look at the queue (their sessions stay fresh).
    w.env.clock.set('2026-04-02T06:00:00Z');
    research = await pendingChange(person('pam@acme.test', 'policy_admin'), 'research-bot', '9000.00');
    w.env.clock.set('2026-04-02T09:00:00Z');
  });

  it('lists a pending change with what it changes, proposer, justification, ticket and age', async () => {
    const res = await w.get('/approvals', 'aud@acme.test');
    expect(res.statusCode).toBe(200);
    const card = textOf(cardOf(res.body, research));
    const c = await getChange(w.env.deps, w.org.admin, research);
    expect(card).toContain('Monthly limit: 5000.00 USD → 9000.00 USD (widens)');
    expect(card).toContain(`Proposed by ${c.proposed_by}`);
    expect(card).toContain(c.justification);
    expect(card).toContain('FIN-7');
    expect(card).toContain('(waiting 3 h)');
    // An auditor reads the queue but gets no buttons.
    expect(cardOf(res.body, research)).not.toContain('/approve"');
    expect(card).toContain('Only people with the approver role decide.');
  });

  it('gives an approver Approve and Reject forms with the csrf token; the proposer sees why not', async () => {
    const abe = await w.get('/approvals', 'abe@acme.test');
    const card = cardOf(abe.body, research);
    expect(card).toContain(`action="/approvals/${research}/approve"`);
    expect(card).toContain(`action="/approvals/${research}/reject"`);
    expect(card).toContain(`name="csrf" value="${w.as['abe@acme.test']!.csrf}"`);
    expect(card).toMatch(/data-confirm="Reject this change\?"/);

    own = await pendingChange(person('pat@acme.test', 'policy_admin', 'approver'), 'research-bot', '9500.00');
    const pat = await w.get('/approvals', 'pat@acme.test');
    const mine = cardOf(pat.body, own);
    expect(mine).not.toContain('/approve"');
    expect(textOf(mine)).toContain('You proposed this; another approver must decide.');
  });

  it('refuses self-approval through the page: SEGREGATION_OF_DUTIES on the error page (403), the change still pending', async () => {
    const res = await w.post(`/approvals/${own}/approve`, 'pat@acme.test', { comment: 'mine, fine' });
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(textOf(res.body)).toContain('SEGREGATION_OF_DUTIES');
    expect((await getChange(w.env.deps, w.org.admin, own)).status).toBe('pending');
  });

  it("hides the buttons from the agent's owner and refuses their approval", async () => {
    const change = await pendingChange(person('pam@acme.test', 'policy_admin'), 'support-bot', '25000.00');
    const page = await w.get('/approvals', 'alice@acme.test');
    expect(textOf(cardOf(page.body, change))).toContain('You own this agent; another approver must decide.');
    const res = await w.post(`/approvals/${change}/approve`, 'alice@acme.test', {});
    expect(res.statusCode).toBe(403);
    expect(textOf(res.body)).toContain('SEGREGATION_OF_DUTIES');
    expect((await getChange(w.env.deps, w.org.admin, change)).status).toBe('pending');
  });

  it('refuses a decision without the csrf token, and people without the approver role', async () => {
    const noToken = await w.post(`/approvals/${research}/approve`, 'abe@acme.test', { csrf: 'forged' });
    expect(noToken.statusCode).toBe(403);
    for (const who of ['aud@acme.test', 'fin@acme.test']) {
      expect((await w.post(`/approvals/${research}/approve`, who, {})).statusCode, who).toBe(403);
    }
    expect((await getChange(w.env.deps, w.org.admin, research)).status).toBe('pending');
  });

  it('needs a comment to reject (400, field comment)', async () => {
    const res = await w.post(`/approvals/${research}/reject`, 'abe@acme.test', { comment: '  ' });
    expect(res.statusCode).toBe(400);
    expect(textOf(res.body)).toContain('VALIDATION_FAILED');
    expect(textOf(res.body)).toContain('(field comment)');
  });

  it('approves through the page: the version applies and the change moves to recently decided with the comment', async () => {
    const res = await w.post(`/approvals/${research}/approve`, 'abe@acme.test', { comment: 'Q2 plan, agreed' });
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/approvals');
    expect((await showPolicy(w.env.deps, w.org.admin, 'research-bot')).document.monthly_limit).toBe('9000.00');
    const c = await getChange(w.env.deps, w.org.admin, research);
    expect([c.status, c.decided_by, c.decision_comment]).toEqual(['applied', 'abe@acme.test', 'Q2 plan, agreed']);
    const page = await w.get('/approvals', 'aud@acme.test');
    const recent = textOf(page.body.slice(page.body.indexOf('Recently decided changes')));
    expect(recent).toContain(`${c.decided_at} research-bot Monthly limit: 5000.00 USD → 9000.00 USD (widens) pam@acme.test applied abe@acme.test Q2 plan, agreed`);
    expect(page.body).not.toContain(`aria-labelledby="c-${research}"`);
  });

  it('rejects through the page with the comment; a second decision is refused (409)', async () => {
    const res = await w.post(`/approvals/${own}/reject`, 'abe@acme.test', { comment: 'Not this quarter' });
    expect(res.statusCode).toBe(303);
    const c = await getChange(w.env.deps, w.org.admin, own);
    expect([c.status, c.decision_comment]).toEqual(['rejected', 'Not this quarter']);
    const again = await w.post(`/approvals/${own}/approve`, 'abe@acme.test', {});
    expect(again.statusCode).toBe(409);
    expect(textOf(again.body)).toContain('CHANGE_NOT_PENDING');
  });
});

describe('/approvals: spend', () => {
  it('lists an over-threshold payment without an approver; owner sees why not; an approver approves it', async () => {
    const [out] = await recordTransactions(w.env.deps, person('ops@acme.test', 'agent'), [
      tx({ amount: '2100.00', merchant: '<script>alert(1)</script>', timestamp: '2026-03-20T10:00:00Z' }),
    ]);
    expect(out?.ok).toBe(true);
    const txId = out?.ok === true ? out.result.transaction.tx_id : '';
    expect(out?.ok === true ? out.result.transaction.violations : []).toContain('missing_approval');
    const abe = await w.get('/approvals', 'abe@acme.test');
    expect(abe.body).toContain(`name="tx_id" value="${txId}"`);
    expect(abe.body).not.toContain('<script>alert(1)</script>');
    expect(abe.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(textOf(abe.body)).toContain('2100.00 USD');
    const alice = await w.get('/approvals', 'alice@acme.test');
    expect(alice.body).not.toContain(`name="tx_id" value="${txId}"`);
    expect(textOf(alice.body)).toContain('you own this agent; another approver must decide');
    // The owner is refused by the server too.
    const refused = await w.post('/approvals/spend', 'alice@acme.test', { tx_id: txId, decision: 'approve', comment: '' });
    expect(refused.statusCode).toBe(403);
    expect(textOf(refused.body)).toContain('SEGREGATION_OF_DUTIES');
    const noWhy = await w.post('/approvals/spend', 'abe@acme.test', { tx_id: txId, decision: 'reject', comment: '' });
    expect(noWhy.statusCode).toBe(400);
    const ok = await w.post('/approvals/spend', 'abe@acme.test', { tx_id: txId, decision: 'approve', comment: 'known vendor' });
    expect(ok.statusCode, ok.body).toBe(303);
    const [entry] = await w.env.deps.store.logEntriesOfKinds('acme', ['spend_approval'], [txId]);
    expect(entry).toBeDefined();
    const opened = openEntry<SpendApprovalBody>(entry!);
    expect([opened.recorded_by, opened.body.decision, opened.body.comment]).toEqual(['abe@acme.test', 'approved', 'known vendor']);
    const after = await w.get('/approvals', 'abe@acme.test');
    expect(after.body).not.toContain(`name="tx_id" value="${txId}"`);
  });

  it('decides an authorization waiting for approval by its id; a second decision is refused (409)', async () => {
    const asker = person('ops@acme.test', 'agent');
    const a = await authorize(w.env.deps, asker, {
      agent_id: 'support-bot', amount: '2200.00', currency: 'USD', merchant: 'AWS', merchant_category: '4816', payment_rail: 'stripe', business_purpose: 'GPU burst',
    });
    expect(a.decision).toBe('needs_approval');
    const page = await w.get('/approvals', 'abe@acme.test');
    expect(page.body).toContain('<label for="auth-id">Authorization id<input id="auth-id" name="authorization_id" required></label>');
    expect((await w.get('/approvals', 'aud@acme.test')).body).not.toContain('name="authorization_id"');
    const ok = await w.post('/approvals/spend', 'abe@acme.test', { authorization_id: a.authorization_id, decision: 'approve', comment: '' });
    expect(ok.statusCode, ok.body).toBe(303);
    expect((await w.env.deps.store.getAuthorization('acme', a.authorization_id))?.status).toBe('held');
    const again = await w.post('/approvals/spend', 'abe@acme.test', { authorization_id: a.authorization_id, decision: 'approve', comment: '' });
    expect(again.statusCode).toBe(409);
    expect(textOf(again.body)).toContain('APPROVAL_NOT_PENDING');
  });

  it('shows the queue only as the changes the log holds (pending count matches listChanges)', async () => {
    const pending = (await listChanges(w.env.deps, w.org.admin, { status: 'pending' })).length;
    const page = await w.get('/approvals', 'fin@acme.test');
    expect(textOf(page.body)).toContain(`Policy changes waiting for a decision (${pending})`);
    expect(pending).toBeGreaterThan(0);
  });
});
