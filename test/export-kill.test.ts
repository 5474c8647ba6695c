import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The exporter as it runs in production, a separate process, killed with SIGKILL in the middle
 * of its work (no handler runs, nothing is flushed), then started again: the directory ends with
 * every log entry in exactly one exported line, every object whole and matching its manifest.
 */
const BIN = join(import.meta.dirname, '../bin/spendtrail.js');
const home = mkdtempSync(join(tmpdir(), 'spendtrail-kill-'));
const out = join(home, 'audit');

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, '--home', home, ...args], { env: { ...process.env, DATABASE_URL: '' }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  // The exporter may be running: its temporary files come and go between readdir and stat.
  const isFile = (f: string): boolean => {
    try {
      return statSync(f).isFile();
    } catch {
      return false;
    }
  };
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => !f.split('/').some((p) => p.startsWith('.spendtrail-tmp-')))
    .map((f) => join(dir, f))
    .filter(isFile);
}
const manifests = (): string[] => filesUnder(out).filter((f) => f.includes('/manifests/') && !f.includes('.spendtrail-tmp-'));

const N = 1500;
const CHUNK = 15;

beforeAll(async () => {
  expect((await cli('init', '--org-id', 'acme')).code).toBe(0);
  expect((await cli('agents', 'set', 'bot1', '--name', 'Bot', '--owner', 'alice@acme.test', '--cluster', 'ops')).code).toBe(0);
  const lines = Array.from({ length: N }, (_, i) =>
    JSON.stringify({
      external_id: `ch_${i}`,
      agent_id: 'bot1',
      timestamp: `2026-03-${String(1 + (i % 28)).padStart(2, '0')}T10:00:00Z`,
      amount: `${(i % 90) + 1}.25`,
      currency: 'USD',
      payment_rail: 'stripe',
      merchant: 'AWS',
      merchant_category: '4816',
      business_purpose: 'inference',
    }),
  );
  writeFileSync(join(home, 'in.ndjson'), lines.join('\n'));
  // Small chunks: each is one signed append, so the export has about a hundred segments to write.
  const rec = await cli('record', join(home, 'in.ndjson'), '--chunk', String(CHUNK), '--no-progress');
  expect(rec.code, rec.stderr).toBe(0);
}, 240_000);
let exporter: ReturnType<typeof spawn> | undefined;
afterAll(() => {
  // A failed assertion must not leave the exporter writing into the directory being removed.
  if (exporter !== undefined && exporter.exitCode === null) exporter.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
});

describe('audit export killed with SIGKILL mid-run', () => {
  it('resumes after the kill and ends with every entry exactly once, every object whole', async () => {
    const child = spawn(process.execPath, [BIN, '--home', home, 'export', 'run', '--dir', out, '--max-entries', String(CHUNK), '--no-progress'], {
      env: { ...process.env, DATABASE_URL: '' },
      stdio: 'ignore',
    });
    exporter = child;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    // Kill it once a few segments are complete, while most are still to come.
    const deadline = Date.now() + 60_000;
    while (manifests().length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill('SIGKILL');
    const code = await exited;
    const atKill = manifests().length;
    expect(code, 'the exporter finished before it could be killed').toBeNull();
    expect(atKill).toBeGreaterThanOrEqual(5);
    expect(atKill).toBeLessThan(N / CHUNK);

    const statusBefore = JSON.parse((await cli('export', 'status', '--dir', out, '--json')).stdout) as { behind: number; exported_through: number };
    expect(statusBefore.behind).toBeGreaterThan(0);
    const rerun = await cli('export', 'run', '--dir', out, '--max-entries', String(CHUNK), '--no-progress');
    expect(rerun.code, rerun.stderr).toBe(0);
    const again = await cli('export', 'run', '--dir', out, '--max-entries', String(CHUNK), '--no-progress');
    expect(again.stdout).toMatch(/^0 entries in 0 segments/);

    // Every object a manifest lists is there with its hash; every entry is in exactly one line.
    const seqs: number[] = [];
    let listed = 0;
    for (const m of manifests()) {
      const manifest = JSON.parse(readFileSync(m, 'utf8')) as { objects: { key: string; sha256: string; entries: number }[]; first_seq: number; last_seq: number };
      for (const o of manifest.objects) {
        const body = readFileSync(join(out, o.key));
        expect(createHash('sha256').update(body).digest('hex'), o.key).toBe(o.sha256);
        const lines = body.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
        expect(lines).toHaveLength(o.entries);
        seqs.push(...lines.map((l) => l.seq));
        listed += 1;
      }
    }
    seqs.sort((a, b) => a - b);
    const size = seqs.length;
    expect(size).toBeGreaterThan(N);
    expect(seqs).toEqual(Array.from({ length: size }, (_, i) => i));
    // No exported object outside a manifest (a half-written segment left behind would be one).
    const objects = filesUnder(out).filter((f) => !f.includes('/manifests/') && !relative(out, f).split('/').some((p) => p.startsWith('.spendtrail-tmp-')));
    expect(objects).toHaveLength(listed);
    const status = JSON.parse((await cli('export', 'status', '--dir', out, '--json')).stdout) as { behind: number; exported_through: number };
    expect(status).toMatchObject({ behind: 0, exported_through: size });
  }, 300_000);
});
