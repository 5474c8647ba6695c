import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
let home: string;

function cli(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'spendtrail-user-cli-'));
  expect((await cli(['init', '--org-id', 'acme'])).code).toBe(0);
}, 120_000);
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('spendtrail user', () => {
  it('adds a user with a generated password printed once, lists and disables them; verify stays clean', async () => {
    const add = await cli(['user', 'add', '--email', 'Fiona@Acme.test', '--roles', 'finance,approver']);
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/^user u_\S+ fiona@acme\.test \(approver, finance\)\npassword \(shown once\): [A-Za-z0-9_-]{24}\n$/);
    const withStdin = await cli(['user', 'add', '--email', 'abe@acme.test', '--roles', 'auditor', '--password-stdin'], 'a password from stdin\n');
    expect(withStdin.stdout).not.toMatch(/password/);
    const list = await cli(['user', 'list', '--json']);
    const users = JSON.parse(list.stdout) as { email: string; roles: string[]; disabled_at: string | null }[];
    expect(users.map((u) => [u.email, u.roles.join(','), u.disabled_at])).toEqual([
      ['abe@acme.test', 'auditor', null],
      ['fiona@acme.test', 'approver,finance', null],
    ]);
    expect((await cli(['user', 'disable', 'fiona@acme.test'])).stdout).toBe('disabled fiona@acme.test\n');
    expect((await cli(['user', 'list'])).stdout).toMatch(/fiona@acme\.test\s+approver,finance\s+disabled/);
    expect((await cli(['verify'])).stdout).toMatch(/^OK:/);
  }, 120_000);

  it('refuses a short password and an agent role, naming the field', async () => {
    const short = await cli(['user', 'add', '--email', 'x@acme.test', '--roles', 'finance', '--password-stdin'], 'short\n');
    expect(short.code).toBe(1);
    expect(short.stderr).toMatch(/^error VALIDATION_FAILED at password: /);
    const agent = await cli(['user', 'add', '--email', 'y@acme.test', '--roles', 'agent']);
    expect(agent.stderr).toMatch(/^error VALIDATION_FAILED at roles\[0\]: /);
  }, 60_000);
});
