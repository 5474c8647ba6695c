import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromium } from 'playwright-core';

/**
 * A real Chromium for dashboard tests: the Debian `chromium` package, driven by playwright-core
 * (no browser download). Headless, no sandbox (tests run as root in containers), nothing that
 * talks to the network on its own, and a fresh profile every launch.
 *
 * Without chromium the tests say loudly what went untested and skip; under CI=true they fail.
 */
export const CHROMIUM = process.env.SPENDTRAIL_CHROMIUM ?? '/usr/bin/chromium';

export const ARTIFACTS = join(process.cwd(), 'test-artifacts');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];

/** Whether a browser is there; when not: fail under CI, else warn naming `what` and return false. */
export function browserAvailable(what: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  const line = `Chromium not found at ${CHROMIUM}: ${what} went UNTESTED (apt-get install chromium, or set SPENDTRAIL_CHROMIUM)`;
  if (process.env.CI === 'true') throw new Error(line);
  console.warn(`\n!!! SKIPPED: ${line}\n`);
  return false;
}

export interface TestBrowser {
  readonly browser: Browser;
  /** A new isolated context (own cookies) with the given viewport. */
  context(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  /** Saves a full-page screenshot to test-artifacts/<name>.png and returns the path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  // playwright-core gives every launch its own new temporary profile (--user-data-dir) and
  // removes it on close; it refuses the flag in `args`, so the fresh profile is its.
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  return {
    browser,
    context: (viewport = { width: 1280, height: 900 }) => browser.newContext({ viewport, locale: 'en-US' }),
    async screenshot(page, name) {
      const path = join(ARTIFACTS, `${name.replace(/[^A-Za-z0-9._-]/g, '_')}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
    async close() {
      await browser.close();
    },
  };
}
