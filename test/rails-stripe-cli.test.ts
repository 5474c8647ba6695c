import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** `spendtrail rails endpoint …` run as an operator would, against an embedded database in a temporary home. */
const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
const SECRET = 'whsec_cli_test_secret_0123456789abcdef';
let home: string;

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-rails-cli-'));
  expect((await cli('init', '--org-id', 'acme')).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('spendtrail rails endpoint', () => {
  it('adds a Stripe endpoint, prints the path to give Stripe, revokes it, and lists it without the secret', async () => {
    const added = await cli('rails', 'endpoint', 'add', '--rail', 'stripe', '--secret', SECRET, '--label', 'Stripe test mode');
    expect(added.code, added.stderr).toBe(0);
    const id = /rail endpoint (rep_[0-9a-f]{32}) \(stripe\) added/.exec(added.stdout)?.[1];
    expect(id, added.stdout).toBeDefined();
    expect(added.stdout).toContain(`/v1/rails/stripe/${id ?? ''}`);
    const revoked = await cli('rails', 'endpoint', 'revoke', id ?? '');
    expect(revoked.stdout).toMatch(/revoked at \d{4}-/);
    const listed = await cli('rails', 'endpoint', 'list', '--json');
    expect(JSON.parse(listed.stdout)).toEqual([
      expect.objectContaining({ endpoint_id: id, rail: 'stripe', label: 'Stripe test mode', revoked_at: expect.stringMatching(/^\d{4}-/) as unknown, path: `/v1/rails/stripe/${id ?? ''}` }),
    ]);
    expect(added.stdout + revoked.stdout + listed.stdout).not.toContain(SECRET);
  }, 120_000);

  it('refuses an unknown rail and an unknown endpoint with their codes and a non-zero exit', async () => {
    const rail = await cli('rails', 'endpoint', 'add', '--rail', 'paypal', '--secret', SECRET);
    expect([rail.code, rail.stderr]).toEqual([1, expect.stringContaining('VALIDATION_FAILED at rail') as unknown]);
    const missing = await cli('rails', 'endpoint', 'revoke', 'rep_missing');
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining('ENDPOINT_NOT_FOUND') as unknown]);
  }, 120_000);
});
