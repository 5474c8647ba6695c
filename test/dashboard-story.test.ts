/**
 * The dashboard's whole story in a real Chromium, as three people would live it:
 * finance finds a violating payment; a policy admin proposes a widening change and cannot
 * approve it himself (the page hides the button and the server refuses a forged post);
 * another approver approves it; finance generates the month's summary, signs it off, and
 * downloads the ledger. Screenshots of each step land in test-artifacts/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { BrowserContext, Page } from 'playwright-core';
import { buildServer } from '../src/interfaces/http/server.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { listChanges } from '../src/app/change-history.ts';
import { showPolicy } from '../src/app/ledger-queries.ts';
import { listSummaries } from '../src/app/summaries.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';
import { createUserWithPassword } from './support/web.ts';
import type { TestBrowser } from './support/browser.ts';
import { browserAvailable, launchBrowser } from './support/browser.ts';

const haveBrowser = browserAvailable('the dashboard end-to-end story (propose, refused self-approval, approve, sign-off, download)');
const PASSWORD = 'correct horse battery staple';

describe.skipIf(!haveBrowser)('the finance and audit story in Chromium', () => {
  let env: TestEnv;
  let org: Seeded;
  let app: FastifyInstance;
  let base: string;
  let b: TestBrowser;
  let casinoId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    env = await openTestEnv('pglite');
    env.clock.set('2026-04-02T09:00:00Z');
    org = await seedOrg(env.deps);
    const out = await recordTransactions(env.deps, org.admin, [
      tx({ merchant: 'AWS', amount: '21.00', timestamp: '2026-03-10T10:00:00Z' }),
      tx({ merchant: 'Lucky Casino', merchant_category: '7995', amount: '12.00', timestamp: '2026-03-16T10:00:00Z' }),
      tx({ merchant: 'OpenAI', amount: '40.00', timestamp: '2026-03-18T10:00:00Z' }),
    ]);
    const casino = out[1];
    if (casino === undefined || !casino.ok || casino.result.status !== 'recorded') throw new Error('fixture not recorded');
    casinoId = casino.result.transaction.tx_id;
    await createUserWithPassword(env.deps, org.admin, 'fin@acme.test', ['finance'], PASSWORD);
    await createUserWithPassword(env.deps, org.admin, 'pat@acme.test', ['policy_admin', 'approver'], PASSWORD);
    await createUserWithPassword(env.deps, org.admin, 'abe@acme.test', ['approver'], PASSWORD);
    app = await buildServer(env.deps, { verifier: env.signer.note });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    b = await launchBrowser();
  }, 90_000);
  afterAll(async () => {
    await b?.close();
    await app?.close();
    await env?.close();
  });

  /** A person's own browser context (own cookies), signed in through the form. */
  async function personAt(email: string, path: string): Promise<{ ctx: BrowserContext; page: Page }> {
    const ctx = await b.context({ width: 1280, height: 900 });
    const page = await ctx.newPage();
    page.on('console', (m) => {
      // The forged approval below is answered 403 on purpose; Chromium logs that load as an error.
      if (m.type() === 'error' && !/status of 403/.test(m.text())) problems.push(`${email}: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`${email}: ${e.message}`));
    // Sign-off asks for confirmation (data-confirm): the person confirms.
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${base}${path}`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}${path}`);
    return { ctx, page };
  }

  it('finds a violation, refuses self-approval, approves as another person, signs off and downloads', async () => {
    // 1. Finance finds the payment that broke the policy.
    const fin = await personAt('fin@acme.test', '/ledger');
    await fin.page.getByLabel('Violation').selectOption('blocked_category');
    await fin.page.getByRole('button', { name: 'Filter' }).click();
    await fin.page.waitForURL(/violation=blocked_category/);
    expect(await fin.page.locator('tbody tr').count()).toBe(1);
    await fin.page.locator('tbody tr a').first().click();
    await fin.page.waitForURL(`${base}/ledger/${casinoId}`);
    const txText = await fin.page.locator('main').innerText();
    expect(txText).toContain('Lucky Casino');
    expect(txText).toContain('blocked category');
    await b.screenshot(fin.page, 'story-1-violation');

    // 2. The policy admin proposes a wider monthly limit for the agent that spent it.
    const before = await showPolicy(env.deps, org.admin, 'support-bot');
    const pat = await personAt('pat@acme.test', '/policies/support-bot');
    await pat.page.locator('#f-monthly_limit').fill('25000.00');
    await pat.page.locator('#f-justification').fill('Support volume doubles in April; finance agreed in the budget review.');
    await pat.page.locator('#f-approval_ticket').fill('FIN-123');
    await pat.page.getByRole('button', { name: 'Propose change' }).click();
    await pat.page.waitForURL(/\/policies\/support-bot|\/approvals/);
    const pending = await listChanges(env.deps, org.admin, { status: 'pending' });
    expect(pending).toHaveLength(1);
    const changeId = pending[0]!.change_id;
    expect(pending[0]!.proposed_by).toBe('pat@acme.test');

    // 3. He cannot approve it: no button on the page, and a forged post is refused by the server.
    await pat.page.goto(`${base}/approvals`);
    const queue = pat.page.locator('main');
    expect(await queue.innerText()).toContain('another approver must decide');
    expect(await pat.page.getByRole('button', { name: 'Approve', exact: true }).count()).toBe(0);
    await b.screenshot(pat.page, 'story-2-own-change-no-approve');
    // The post a hand-made form would send: the page's own csrf token, the server's own route.
    const forged = await pat.page.evaluate<{ status: number; body: string }>(`(async () => {
      const csrf = document.querySelector('input[name=csrf]').value;
      const res = await fetch('/approvals/' + encodeURIComponent(${JSON.stringify(changeId)}) + '/approve', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, comment: 'looks fine to me' }).toString(),
        redirect: 'manual',
      });
      return { status: res.status, body: await res.text() };
    })()`);
    expect(forged.status).toBe(403);
    expect(forged.body).toContain('SEGREGATION_OF_DUTIES');
    expect((await listChanges(env.deps, org.admin, { status: 'pending' })).map((c) => c.change_id)).toEqual([changeId]);

    // 4. Another approver approves it; the new limit is in force.
    const abe = await personAt('abe@acme.test', '/approvals');
    await abe.page.getByLabel('Comment (optional)').first().fill('Matches the April budget.');
    await abe.page.getByRole('button', { name: 'Approve', exact: true }).first().click();
    await abe.page.waitForURL(/\/approvals|\/policies/);
    await b.screenshot(abe.page, 'story-3-approved');
    const after = await showPolicy(env.deps, org.admin, 'support-bot');
    expect(after.policy_snapshot_id).not.toBe(before.policy_snapshot_id);
    expect(after.document.monthly_limit).toBe('25000.00');
    const decided = (await listChanges(env.deps, org.admin, {})).find((c) => c.change_id === changeId);
    expect(decided?.status).toBe('applied');

    // 5. Finance generates March's summary and signs it off; everyone sees it signed.
    await fin.page.goto(`${base}/summaries`);
    await fin.page.locator('#g-month').fill('2026-03');
    await fin.page.getByRole('button', { name: 'Generate' }).click();
    await fin.page.waitForURL(/\/summaries\/[^/]+$/);
    expect(await fin.page.locator('main').innerText()).toMatch(/NEEDS.REVIEW/);
    await fin.page.getByRole('button', { name: 'Sign off' }).click();
    await fin.page.waitForURL(/\/summaries\/[^/]+$/);
    expect(await fin.page.locator('main').innerText()).toContain('Signed off by fin@acme.test');
    await b.screenshot(fin.page, 'story-4-signed-off');
    const [summary] = await listSummaries(env.deps, org.admin, { month: '2026-03' });
    expect(summary?.signed_off_by).toBe('fin@acme.test');
    await abe.page.goto(`${base}/summaries/${encodeURIComponent(summary!.document.summary_id)}`);
    expect(await abe.page.locator('main').innerText()).toContain('Signed off by fin@acme.test');

    // 6. Finance downloads the ledger as CSV: a real file with the violating payment in it.
    await fin.page.goto(`${base}/exports`);
    const [download] = await Promise.all([
      fin.page.waitForEvent('download'),
      fin.page.getByRole('button', { name: 'Download CSV' }).first().click(),
    ]);
    const path = await download.path();
    const csv = readFileSync(path, 'utf8');
    const lines = csv.trim().split(/\r?\n/);
    expect(lines.length).toBe(4);
    expect(csv).toContain(casinoId);
    expect(csv).toContain('Lucky Casino');
    await b.screenshot(fin.page, 'story-5-exports');

    expect(problems).toEqual([]);
    for (const p of [fin, pat, abe]) await p.ctx.close();
  }, 180_000);
});
