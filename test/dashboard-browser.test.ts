/**
 * The dashboard in a real Chromium: sign in through the form, open the ledger, filter it by a
 * violation, open a transaction, and look at it at phone width. The browser enforces what the
 * server-side tests can only read in headers (the CSP, SameSite cookies), so a CSP violation in
 * the console fails the test.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Page } from 'playwright-core';
import { buildServer } from '../src/interfaces/http/server.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { openTestEnv } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seedOrg, tx } from './support/fixtures.ts';
import { createUserWithPassword } from './support/web.ts';
import type { TestBrowser } from './support/browser.ts';
import { browserAvailable, launchBrowser } from './support/browser.ts';

const haveBrowser = browserAvailable('the dashboard browser test (sign-in, ledger filter, transaction page, phone width)');

describe.skipIf(!haveBrowser)('dashboard in Chromium', () => {
  let env: TestEnv;
  let app: FastifyInstance;
  let base: string;
  let b: TestBrowser;
  let blockedId: string;
  const problems: string[] = [];

  beforeAll(async () => {
    env = await openTestEnv('pglite');
    const { admin } = await seedOrg(env.deps);
    env.clock.set('2026-03-20T12:00:00Z');
    const out = await recordTransactions(env.deps, admin, [
      tx({ merchant: 'AWS', amount: '21.00', timestamp: '2026-03-10T10:00:00Z' }),
      tx({ merchant: 'Lucky Casino', merchant_category: '7995', amount: '12.00', timestamp: '2026-03-16T10:00:00Z' }),
      tx({ merchant: '<img src=x onerror=alert(1)>', amount: '3.00', timestamp: '2026-03-17T10:00:00Z' }),
    ]);
    const blocked = out[1];
    if (blocked === undefined || !blocked.ok || blocked.result.status !== 'recorded') throw new Error('fixture not recorded');
    blockedId = blocked.result.transaction.tx_id;
    await createUserWithPassword(env.deps, admin, 'fiona@acme.test', ['finance']);
    app = await buildServer(env.deps, { verifier: env.signer.note });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
    b = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    await app?.close();
    await env?.close();
  });

  const watch = (page: Page): void => {
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(m.text());
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('dialog', (d) => {
      problems.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
  };

  it('signs in, filters the ledger by a violation, opens the transaction, and fits a phone', async () => {
    const ctx = await b.context({ width: 1280, height: 900 });
    const page = await ctx.newPage();
    watch(page);
    await page.goto(`${base}/ledger`);
    // Signed out: sent to the sign-in page, which will bring us back.
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Email').fill('fiona@acme.test');
    await page.getByLabel('Password', { exact: true }).fill('correct horse battery staple');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL(`${base}/ledger`);
    expect(await page.getByRole('heading', { name: 'Ledger', level: 1 }).count()).toBe(1);
    const cookies = await ctx.cookies();
    const session = cookies.find((c) => c.name === 'spendtrail_session');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    // The hostile merchant name is text in the table.
    expect(await page.getByText('<img src=x onerror=alert(1)>').count()).toBe(1);
    expect(await page.locator('tbody tr').count()).toBe(3);

    await page.getByLabel('Violation').selectOption('blocked_category');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/violation=blocked_category/);
    expect(await page.locator('tbody tr').count()).toBe(1);
    expect(await page.locator('tbody tr').innerText()).toContain('Lucky Casino');
    await b.screenshot(page, 'ledger-filtered-laptop');

    await page.locator('tbody tr a').first().click();
    await page.waitForURL(`${base}/ledger/${blockedId}`);
    expect(await page.getByRole('heading', { name: 'Inclusion proof' }).count()).toBe(1);
    expect(await page.locator('main').innerText()).toContain('blocked category');

    // Phone width: nothing wider than the screen (tables collapse into labelled rows).
    await page.setViewportSize({ width: 375, height: 740 });
    await page.goto(`${base}/ledger?violation=blocked_category`);
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'));
    expect(overflow).toBeLessThanOrEqual(0);
    const labelled = String(await page.evaluate(`getComputedStyle(document.querySelector('tbody td'), '::before').content`));
    expect(labelled).toBe('"Time"');
    const shot = await b.screenshot(page, 'ledger-phone');
    expect(statSync(shot).size).toBeGreaterThan(5000);
    await page.goto(`${base}/ledger/${blockedId}`);
    await b.screenshot(page, 'transaction-phone');
    await page.goto(`${base}/`);
    await b.screenshot(page, 'overview-phone');

    // No CSP violation, no script error, no alert from the hostile merchant.
    expect(problems).toEqual([]);
    await ctx.close();
  }, 60_000);
});
