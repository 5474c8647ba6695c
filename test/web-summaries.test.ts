import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { getSummary, listSummaries } from '../src/app/summaries.ts';
import { person, tx } from './support/fixtures.ts';
import type { WebOrg } from './support/web-people.ts';
import { openWebOrg, textOf } from './support/web-people.ts';

/**
 * Monthly summaries through the real server: generated from the page by finance, listed and
 * shown readably to everyone who reads summaries, downloaded as a real PDF, and signed off by
 * finance only (with a confirm), after which everyone sees who signed, when, and the hash.
 */

let w: WebOrg;
let summaryId = '';
beforeAll(async () => {
  w = await openWebOrg();
  const agent = person('ops@acme.test', 'agent');
  const outs = await recordTransactions(w.env.deps, agent, [
    tx({ amount: '21.00', merchant: 'AWS', timestamp: '2026-03-05T10:00:00Z' }),
    tx({ amount: '2600.00', merchant: 'AWS', timestamp: '2026-03-06T10:00:00Z', approver: 'controller@acme.test' }),
    tx({ agent_id: 'research-bot', amount: '100.50', merchant: 'OpenAI', payment_rail: 'x402', merchant_category: null, timestamp: '2026-03-07T10:00:00Z' }),
  ]);
  expect(outs.every((o) => o.ok)).toBe(true);
});
afterAll(async () => {
  await w?.close();
});

const pdftotext = (pdf: Buffer): string => {
  const dir = mkdtempSync(join(tmpdir(), 'web-summary-'));
  try {
    writeFileSync(join(dir, 's.pdf'), pdf);
    const r = spawnSync('pdftotext', ['-layout', join(dir, 's.pdf'), '-'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe('generate', () => {
  it('is offered to finance only; others are refused by the server too', async () => {
    expect((await w.get('/summaries', 'fin@acme.test')).body).toContain('<form method="post" action="/summaries"');
    expect((await w.get('/summaries', 'aud@acme.test')).body).not.toContain('<form method="post" action="/summaries"');
    const res = await w.post('/summaries', 'aud@acme.test', { month: '2026-03' });
    expect(res.statusCode).toBe(403);
    expect(await listSummaries(w.env.deps, w.org.admin)).toHaveLength(0);
  });

  it('refuses a bad month with the code and field', async () => {
    const res = await w.post('/summaries', 'fin@acme.test', { month: '2026-13' });
    expect(res.statusCode).toBe(400);
    expect(textOf(res.body)).toContain('VALIDATION_FAILED');
    expect(textOf(res.body)).toContain('(field month)');
  });

  it('generates March from the page and shows it', async () => {
    const res = await w.post('/summaries', 'fin@acme.test', { month: '2026-03', cluster: '' });
    expect(res.statusCode, res.body).toBe(303);
    const [s] = await listSummaries(w.env.deps, w.org.admin, { month: '2026-03' });
    expect(s).toBeDefined();
    summaryId = s!.document.summary_id;
    expect(res.headers.location).toBe(`/summaries/${summaryId}`);
  });
});

describe('list and view', () => {
  it('lists month, scope, version, status and sign-off state for every reader', async () => {
    const s = await getSummary(w.env.deps, w.org.admin, summaryId);
    for (const who of ['aud@acme.test', 'abe@acme.test', 'pam@acme.test', 'fin@acme.test']) {
      const res = await w.get('/summaries', who);
      expect(res.statusCode, who).toBe(200);
      expect(textOf(res.body)).toContain(`2026-03 all agents v1 ${s.document.status.replace('_', ' ')} ${s.document.total_spend} USD not signed off`);
    }
  });

  it('shows totals, spend by agent/account/rail, exceptions and the integrity section from the document', async () => {
    const s = await getSummary(w.env.deps, w.org.admin, summaryId);
    const d = s.document;
    expect(d.total_spend).toBe('2721.50');
    const res = await w.get(`/summaries/${summaryId}`, 'aud@acme.test');
    expect(res.statusCode).toBe(200);
    const text = textOf(res.body);
    expect(text).toContain(`Total spend ${d.total_spend} USD`);
    expect(text).toContain(`Transactions ${d.total_transactions}`);
    for (const a of d.spend_by_agent) expect(text).toContain(`${a.name} (${a.key}) ${a.cluster} ${a.amount}`);
    for (const r of d.spend_by_rail) expect(text).toContain(`${r.key} ${r.name} ${r.amount} ${r.transactions}`);
    for (const g of d.spend_by_gl_account) expect(text).toContain(`${g.key} ${g.name} ${g.amount}`);
    expect(text).toContain(`Policy violations ${d.compliance_flags.policy_violations}`);
    expect(d.compliance_flags.over_limit_transactions).toBe(1);
    const over = d.exceptions.find((e) => e.kind === 'violation');
    expect(over?.tx_id).toBeDefined();
    expect(res.body).toContain(`href="/ledger/${over!.tx_id}"`);
    expect(text).toContain(`Checkpoint tree size ${d.checkpoint.tree_size}`);
    expect(text).toContain('Verification passed');
    expect(text).toContain(`Summary hash ${s.summary_hash}`);
    // The month's policy changes come from the change log (none were proposed in March here:
    // the seeded policies were set on 2 April, the clock's day).
    expect(text).toContain('Policy changes proposed in the month');
    expect(text.slice(text.indexOf('Policy changes proposed in the month'))).toContain('No changes recorded.');
    // No sign-off form for an auditor.
    expect(res.body).not.toContain('/sign-off"');
    expect(text).toContain('Sign-off needs the finance role');
  });

  it("lists the month's policy changes from the change log (April holds the seeded ones)", async () => {
    const res = await w.post('/summaries', 'fin@acme.test', { month: '2026-04' });
    expect(res.statusCode, res.body).toBe(303);
    const page = textOf((await w.get(String(res.headers.location), 'aud@acme.test')).body);
    const section = page.slice(page.indexOf('Policy changes proposed in the month'));
    expect(section).toContain('support-bot');
    expect(section).toContain('research-bot');
    expect(section).toContain('Budget agreed with finance');
    expect(section).toContain('Monthly limit: no limit → 20000.00 USD (widens)');
  });

  it('shows finance a sign-off form that asks for confirmation', async () => {
    const res = await w.get(`/summaries/${summaryId}`, 'fin@acme.test');
    expect(res.body).toMatch(new RegExp(`<form method="post" action="/summaries/${summaryId}/sign-off" data-confirm="Sign off this summary\\?[^"]*">`));
  });

  it('answers an unknown summary with 404 and its code', async () => {
    const res = await w.get('/summaries/no-such-summary', 'aud@acme.test');
    expect(res.statusCode).toBe(404);
    expect(textOf(res.body)).toContain('SUMMARY_NOT_FOUND');
  });
});

describe('PDF', () => {
  it('downloads a real PDF (Letter and A4) whose text shows the status and totals', async () => {
    const s = await getSummary(w.env.deps, w.org.admin, summaryId);
    for (const paper of ['letter', 'a4']) {
      const res = await w.get(`/summaries/${summaryId}/pdf?paper=${paper}`, 'abe@acme.test');
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toBe('application/pdf');
      expect(res.headers['content-disposition']).toBe(`attachment; filename="spend-summary-acme-2026-03-all-v1-${paper}.pdf"`);
      expect(res.rawPayload.subarray(0, 5).toString('latin1')).toBe('%PDF-');
      const text = pdftotext(res.rawPayload);
      expect(s.document.status).toBe('NEEDS_REVIEW');
      // The PDF prints the status in words ("NEEDS REVIEW").
      expect(text).toContain(s.document.status.replace('_', ' '));
      expect(text.replace(/,/g, '')).toContain('2721.50');
    }
  });

  it('refuses an unknown paper size (400, field paper)', async () => {
    const res = await w.get(`/summaries/${summaryId}/pdf?paper=legal`, 'abe@acme.test');
    expect(res.statusCode).toBe(400);
    expect(textOf(res.body)).toContain('(field paper)');
  });
});

describe('sign-off', () => {
  it('is refused to non-finance people and to a form without the csrf token', async () => {
    for (const who of ['aud@acme.test', 'abe@acme.test', 'pam@acme.test']) {
      const res = await w.post(`/summaries/${summaryId}/sign-off`, who, {});
      expect(res.statusCode, who).toBe(403);
    }
    const noToken = await w.post(`/summaries/${summaryId}/sign-off`, 'fin@acme.test', { csrf: '' });
    expect(noToken.statusCode).toBe(403);
    expect((await getSummary(w.env.deps, w.org.admin, summaryId)).signed_off_by).toBeNull();
  });

  it('signs off as finance; afterwards everyone sees who, when and the hash, and a second sign-off is refused', async () => {
    const res = await w.post(`/summaries/${summaryId}/sign-off`, 'fin@acme.test', {});
    expect(res.statusCode, res.body).toBe(303);
    const s = await getSummary(w.env.deps, w.org.admin, summaryId);
    expect(s.signed_off_by).toBe('fin@acme.test');
    for (const who of ['aud@acme.test', 'abe@acme.test', 'fin@acme.test']) {
      const page = textOf((await w.get(`/summaries/${summaryId}`, who)).body);
      expect(page).toContain(`Signed off by fin@acme.test at ${s.signed_off_at}. Summary hash ${s.summary_hash}.`);
      const list = textOf((await w.get('/summaries', who)).body);
      expect(list).toContain(`signed by fin@acme.test at ${s.signed_off_at}`);
    }
    expect((await w.get(`/summaries/${summaryId}`, 'fin@acme.test')).body).not.toContain('/sign-off"');
    const again = await w.post(`/summaries/${summaryId}/sign-off`, 'fin@acme.test', {});
    expect(again.statusCode).toBe(409);
    expect(textOf(again.body)).toContain('SUMMARY_ALREADY_SIGNED');
    // The signed PDF says so.
    const pdf = await w.get(`/summaries/${summaryId}/pdf`, 'aud@acme.test');
    expect(pdftotext(pdf.rawPayload)).toContain('fin@acme.test');
  });
});
