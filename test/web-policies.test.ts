import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listChanges } from '../src/app/change-history.ts';
import { showPolicy } from '../src/app/ledger-queries.ts';
import { proposePolicyChange } from '../src/app/policy-changes.ts';
import { errorOf } from './support/fixtures.ts';
import type { WebOrg } from './support/web-people.ts';
import { openWebOrg, textOf } from './support/web-people.ts';

/**
 * The Policies pages through the real server and a signed-in session: what each person sees,
 * that the propose form validates as the API does (same codes and fields) and keeps what was
 * typed, that it needs the policy_admin role and a csrf token, and that a proposal through the
 * page becomes the same version or pending change the API would make.
 */

let w: WebOrg;
beforeAll(async () => {
  w = await openWebOrg();
});
afterAll(async () => {
  await w?.close();
});

const current = (agent: string) => showPolicy(w.env.deps, w.org.admin, agent);
const proposeFields = (over: Record<string, string | readonly string[]>, base: number): Record<string, string | readonly string[]> => ({
  base_version: String(base),
  per_transaction_limit: '2500.00',
  daily_limit: '5000.00',
  monthly_limit: '20000.00',
  approval_threshold: '2000.00',
  allowed_categories: '',
  allowed_categories_any: 'on',
  blocked_categories: '7995',
  allowed_merchants: '',
  allowed_merchants_any: 'on',
  blocked_merchants: '',
  allowed_rails_any: 'on',
  require_business_purpose: 'yes',
  valid_until: '',
  effective_from: '',
  justification: 'Seasonal load',
  approval_ticket: 'FIN-42',
  ...over,
});

describe('/policies', () => {
  it('lists every agent with its current policy: limits, categories, rails, threshold, validity and snapshot id', async () => {
    const res = await w.get('/policies', 'aud@acme.test');
    expect(res.statusCode).toBe(200);
    const text = textOf(res.body);
    for (const agent of ['support-bot', 'research-bot']) {
      const p = await current(agent);
      expect(res.body).toContain(p.policy_snapshot_id);
      expect(text).toContain(`${p.document.per_transaction_limit} USD`);
      expect(text).toContain(`${p.document.monthly_limit} USD`);
      expect(text).toContain(p.document.valid_from);
    }
    expect(text).toContain('2000.00 USD'); // support-bot's approval threshold
    expect(text).toContain('blocked: 7995');
    expect(text).toContain('stripe, x402'); // research-bot's rails, sorted as stored
  });

  it('redirects a signed-out visitor to sign in, and lets every person role read it', async () => {
    const out = await w.app.inject({ method: 'GET', url: '/policies/support-bot' });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/login?next=%2Fpolicies%2Fsupport-bot');
    for (const who of ['pam@acme.test', 'abe@acme.test', 'fin@acme.test', 'aud@acme.test', 'root@acme.test']) {
      expect((await w.get('/policies', who)).statusCode, who).toBe(200);
    }
  });

  it("shows an agent's document, version history and change history (who, old → new, justification, ticket, decision)", async () => {
    const res = await w.get('/policies/support-bot', 'aud@acme.test');
    expect(res.statusCode).toBe(200);
    const text = textOf(res.body);
    const p = await current('support-bot');
    expect(text).toContain(`Daily limit ${p.document.daily_limit} USD`);
    expect(text).toContain(`v${p.document.version}`);
    const [first] = await listChanges(w.env.deps, w.org.admin, { agent_id: 'support-bot' });
    expect(first).toBeDefined();
    expect(text).toContain(first!.proposed_by);
    expect(text).toContain('Daily limit: no limit → 5000.00 USD');
    expect(text).toContain(first!.justification);
    expect(text).toContain('FIN-1');
    expect(text).toContain(`${first!.decided_by} ${first!.decided_at}`);
    // An auditor does not get the propose form.
    expect(res.body).not.toContain('id="propose"');
    expect(text).toContain('Only people with the policy_admin role propose changes');
  });

  it('answers an unknown agent with the error page (404, code and field)', async () => {
    const res = await w.get('/policies/no-such-bot', 'aud@acme.test');
    expect(res.statusCode).toBe(404);
    expect(textOf(res.body)).toContain('AGENT_NOT_FOUND');
  });
});

describe('propose a change', () => {
  it('shows the form to a policy_admin, pre-filled with the policy in force and carrying the csrf token', async () => {
    const res = await w.get('/policies/support-bot', 'pam@acme.test');
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('id="propose"');
    expect(res.body).toMatch(/<input id="f-daily_limit" name="daily_limit" inputmode="decimal" value="5000.00">/);
    expect(res.body).toContain(`name="csrf" value="${w.as['pam@acme.test']!.csrf}"`);
    expect(res.body).toMatch(/<label for="f-justification">/);
  });

  it('refuses a form without the csrf token, and logs nothing', async () => {
    const before = (await listChanges(w.env.deps, w.org.admin)).length;
    const res = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ csrf: '', daily_limit: '4000.00' }, 1));
    expect(res.statusCode).toBe(403);
    expect((await listChanges(w.env.deps, w.org.admin)).length).toBe(before);
  });

  it('refuses people without policy_admin (403), whatever the form says', async () => {
    for (const who of ['fin@acme.test', 'abe@acme.test', 'aud@acme.test']) {
      const res = await w.post('/policies/support-bot/changes', who, proposeFields({ daily_limit: '4000.00' }, 1));
      expect(res.statusCode, who).toBe(403);
    }
    expect((await current('support-bot')).document.daily_limit).toBe('5000.00');
  });

  it('re-shows the form with status 400, the error beside its field and the values kept; same code and field as the API', async () => {
    const typed = 'Because <b>reasons</b>';
    const res = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ daily_limit: '12.345', justification: typed }, 1));
    expect(res.statusCode).toBe(400);
    const api = await errorOf(
      proposePolicyChange(w.env.deps, w.org.admin, { agent_id: 'support-bot', changes: { daily_limit: '12.345' }, justification: 'x', approval_ticket: 'FIN-1' }),
    );
    expect(api.field).toBe('changes.daily_limit');
    expect(res.body).toMatch(new RegExp(`<p class="field-error" id="err-daily_limit" role="alert"><strong>${api.code}</strong>`));
    expect(res.body).toContain('id="f-daily_limit" name="daily_limit" inputmode="decimal" value="12.345" aria-invalid="true" aria-describedby="err-daily_limit"');
    // What was typed is kept, as text.
    expect(res.body).toContain('Because &lt;b&gt;reasons&lt;/b&gt;</textarea>');
    expect((await current('support-bot')).document.daily_limit).toBe('5000.00');
  });

  it('needs a justification (JUSTIFICATION_REQUIRED beside it) and a valid ticket (INVALID_TICKET beside it)', async () => {
    const noWhy = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ daily_limit: '4000.00', justification: '  ' }, 1));
    expect(noWhy.statusCode).toBe(400);
    expect(noWhy.body).toMatch(/id="err-justification" role="alert"><strong>JUSTIFICATION_REQUIRED<\/strong>/);
    const badTicket = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ daily_limit: '4000.00', approval_ticket: 'see email' }, 1));
    expect(badTicket.statusCode).toBe(400);
    expect(badTicket.body).toMatch(/id="err-approval_ticket" role="alert"><strong>INVALID_TICKET<\/strong>/);
    const badMcc = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ blocked_categories: '7995, casino' }, 1));
    expect(badMcc.statusCode).toBe(400);
    expect(badMcc.body).toMatch(/id="err-blocked_categories" role="alert"><strong>POLICY_INVALID<\/strong>/);
  });

  it('applies a narrowing change at once: only the changed field moves, the page says so after the redirect', async () => {
    const res = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ daily_limit: '4000.00' }, 1));
    expect(res.statusCode, res.body).toBe(303);
    expect(res.headers.location).toBe('/policies/support-bot');
    const p = await current('support-bot');
    expect(p.document.version).toBe(2);
    expect(p.document.daily_limit).toBe('4000.00');
    expect(p.document.per_transaction_limit).toBe('2500.00');
    expect(p.document.blocked_categories).toEqual(['7995']);
    const [change] = (await listChanges(w.env.deps, w.org.admin, { agent_id: 'support-bot' })).slice(-1);
    expect(change?.proposed_by).toBe('pam@acme.test');
    expect(change?.fields.map((f) => f.field)).toEqual(['daily_limit']);
    expect(change?.approval_ticket).toBe('FIN-42');
    const flash = /spendtrail_flash=([^;]*)/.exec(String(res.headers['set-cookie']))?.[1];
    const page = await w.app.inject({ method: 'GET', url: '/policies/support-bot', headers: { cookie: `${w.as['pam@acme.test']!.cookie}; spendtrail_flash=${flash}` } });
    expect(textOf(page.body)).toContain('Change applied: version 2 is in force.');
    expect(textOf(page.body)).toContain('Daily limit: 5000.00 USD → 4000.00 USD (narrows)');
  });

  it('refuses a form opened on an older version (CHANGE_STALE) rather than revert the fields changed since', async () => {
    const res = await w.post('/policies/support-bot/changes', 'pam@acme.test', proposeFields({ daily_limit: '3000.00' }, 1));
    expect(res.statusCode).toBe(409);
    expect(textOf(res.body)).toContain('CHANGE_STALE');
    // The form is shown again on the current version.
    expect(res.body).toContain('name="base_version" value="2"');
    expect((await current('support-bot')).document.daily_limit).toBe('4000.00');
  });

  it('leaves a widening change pending for an approver, shown as pending in the history; text stays text', async () => {
    const res = await w.post(
      '/policies/support-bot/changes',
      'pam@acme.test',
      proposeFields({ daily_limit: '4000.00', monthly_limit: '30000.00', justification: '<script>alert(1)</script>' }, 2),
    );
    expect(res.statusCode, res.body).toBe(303);
    expect((await current('support-bot')).document.monthly_limit).toBe('20000.00');
    const pending = await listChanges(w.env.deps, w.org.admin, { agent_id: 'support-bot', status: 'pending' });
    expect(pending).toHaveLength(1);
    expect(pending[0]?.fields).toEqual([{ field: 'monthly_limit', old_value: '20000.00', new_value: '30000.00', direction: 'widens' }]);
    const page = await w.get('/policies/support-bot', 'aud@acme.test');
    expect(page.body).not.toContain('<script>alert(1)</script>');
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(textOf(page.body)).toContain('Monthly limit: 20000.00 USD → 30000.00 USD (widens)');
    expect(textOf(page.body)).toMatch(/pending/);
  });

  it('lifts a limit and a list when asked (blank limit = no limit, "any" = no allow-list)', async () => {
    const res = await w.post(
      '/policies/research-bot/changes',
      'pam@acme.test',
      proposeFields(
        { per_transaction_limit: '500.00', daily_limit: '1000.00', monthly_limit: '5000.00', approval_threshold: '', blocked_categories: '', allowed_rails: ['x402'], allowed_rails_any: '' },
        1,
      ),
    );
    expect(res.statusCode, res.body).toBe(303);
    const p = await current('research-bot');
    expect(p.document.allowed_rails).toEqual(['x402']);
    expect(p.document.approval_threshold).toBeNull();
  });
});
