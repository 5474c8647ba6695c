import os from 'node:os';
import { describe, expect, it } from 'vitest';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import type { Instant } from '../domain/time.ts';
import { inThreadLeafHasher, startLeafHasher, verifyWorkerSetting } from './verify-leaves.ts';

const base: TransactionRecord = {
  kind: 'transaction',
  seq: 0,
  org_id: 'acme',
  tx_id: '0190a4c2-0000-7000-8000-000000000000',
  recorded_at: '2026-03-01T10:00:00.000Z' as Instant,
  recorded_by: 'operator',
  external_id: 'ext-0',
  agent_id: 'devops-bot',
  timestamp: '2026-03-01T09:59:00.000Z' as Instant,
  type: 'payment',
  refund_of: null,
  amount: '12.50',
  currency: 'EUR',
  reporting_amount: '13.75',
  reporting_currency: 'USD',
  fx_rate: '1.1',
  fx_rate_source: 'ecb',
  fx_rate_time: '2026-03-01T00:00:00.000Z' as Instant,
  payment_rail: 'card',
  merchant: 'AWS',
  merchant_category: '4816',
  business_purpose: null,
  accounting_code: '6400',
  accounting_code_source: 'rule',
  approver: null,
  approval_ref: null,
  authorization_id: null,
  policy_snapshot_id: 'sha256:00',
  violations: ['over_daily_budget'],
  spend_before_daily: '0.00',
  spend_before_monthly: '0.00',
  input_hash: 'ab'.repeat(32),
} as unknown as TransactionRecord;

// Text that stresses the byte-level framing: U+0000 and other controls (escaped by the encoder),
// quotes and backslashes, multi-byte UTF-8, astral characters and a lone surrogate.
const MERCHANTS = ['AWS', 'Café "Zürich" \\ 東京', 'nul\u0000inside', 'tab\tnew\nline\u001f', '😀 emoji', 'lone \ud800 surrogate', ''];

function records(n: number): TransactionRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    ...base,
    seq: i,
    external_id: `ext-${i}`,
    merchant: MERCHANTS[i % MERCHANTS.length] as string,
    business_purpose: i % 3 === 0 ? null : 'x'.repeat(i % 700),
    violations: i % 2 === 0 ? [] : base.violations,
  }));
}

const expected = (rs: readonly TransactionRecord[]): Buffer => Buffer.concat(rs.map((r) => leafHash(encodeTransaction(r))));

describe('verify leaf hashers', () => {
  it('hash on worker threads exactly what leafHash gives over the canonical encoding', async () => {
    const rs = records(2_345);
    const hasher = startLeafHasher(3);
    try {
      expect(hasher.threads).toBe(3);
      // Several pages in flight at once, as verify pipelines them.
      const [a, b, c] = await Promise.all([hasher.hash(rs), hasher.hash(rs.slice(7, 1_507)), hasher.hash(rs.slice(0, 3))]);
      expect(a.equals(expected(rs))).toBe(true);
      expect(b.equals(expected(rs.slice(7, 1_507)))).toBe(true);
      expect(c.equals(expected(rs.slice(0, 3)))).toBe(true);
      expect((await hasher.hash([])).length).toBe(0);
      // Still on the threads: nothing fell back to hashing here.
      expect(hasher.threads).toBe(3);
    } finally {
      await hasher.close();
    }
  });

  it('hashes in-thread the same bytes', async () => {
    const rs = records(50);
    expect((await inThreadLeafHasher().hash(rs)).equals(expected(rs))).toBe(true);
  });

  it('falls back to hashing in-thread when a worker dies or cannot start', async () => {
    const rs = records(1_200);
    for (const source of [
      "require('node:worker_threads').parentPort.on('message', () => process.exit(3));",
      'this is not a program',
      // A worker answering with an error instead of hashes.
      "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (j) => parentPort.postMessage({ id: j.id, hashes: null, error: 'no' }));",
    ]) {
      const hasher = startLeafHasher(2, source);
      try {
        expect((await hasher.hash(rs)).equals(expected(rs))).toBe(true);
        expect((await hasher.hash(rs.slice(100))).equals(expected(rs.slice(100)))).toBe(true);
        expect(hasher.threads).toBe(0);
      } finally {
        await hasher.close();
      }
    }
  });

  it('reads SPENDTRAIL_VERIFY_WORKERS, refusing what is not a small whole number', () => {
    // By default threads only where there is a core to spare beside the database's.
    const cores = os.availableParallelism();
    expect(verifyWorkerSetting({})).toEqual({ count: cores <= 2 ? 0 : Math.min(4, cores - 1), explicit: false });
    expect(verifyWorkerSetting({ SPENDTRAIL_VERIFY_WORKERS: '0' })).toEqual({ count: 0, explicit: true });
    expect(verifyWorkerSetting({ SPENDTRAIL_VERIFY_WORKERS: ' 3 ' })).toEqual({ count: 3, explicit: true });
    for (const bad of ['-1', 'four', '1.5', '65', '100']) {
      expect(() => verifyWorkerSetting({ SPENDTRAIL_VERIFY_WORKERS: bad })).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });
});
