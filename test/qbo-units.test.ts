import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchWithRetry, retryAfterMs } from '../src/adapters/qbo/http.ts';
import { DecimalLiteral, postingBody, writeJson } from '../src/adapters/qbo/payloads.ts';
import { aesGcmSecretBox, loadSecretKey } from '../src/adapters/qbo/secret-box.ts';
import { docNumberFor, purchaseShape, requestIdFor } from '../src/app/qbo-plan.ts';
import type { JournalEntry, JournalLine } from '../src/domain/journal/journal.ts';
import { formatMinor } from '../src/domain/money/decimal.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempHome = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'spendtrail-qbo-'));
  dirs.push(d);
  return d;
};

describe('sealed tokens', () => {
  const box = aesGcmSecretBox(randomBytes(32));

  it('open what was sealed for the same place, and nothing else', () => {
    const sealed = box.seal('RT1-refresh-token', 'qbo:acme:123:refresh_token');
    expect(sealed).not.toContain('RT1');
    expect(box.open(sealed, 'qbo:acme:123:refresh_token')).toBe('RT1-refresh-token');
    // Same plain text, fresh IV: two seals never look alike.
    expect(box.seal('RT1-refresh-token', 'qbo:acme:123:refresh_token')).not.toBe(sealed);
    expect(() => box.open(sealed, 'qbo:other:123:refresh_token')).toThrow(/altered, or belongs elsewhere/);
    const parts = sealed.split('.');
    parts[3] = Buffer.from(`x${Buffer.from(parts[3] ?? '', 'base64url').toString('latin1').slice(1)}`, 'latin1').toString('base64url');
    expect(() => box.open(parts.join('.'), 'qbo:acme:123:refresh_token')).toThrow(/altered/);
    expect(() => aesGcmSecretBox(randomBytes(32)).open(sealed, 'qbo:acme:123:refresh_token')).toThrow(/sealed under key [0-9a-f]{8}, and this key is [0-9a-f]{8}/);
  });

  it('take the key from SPENDTRAIL_SECRET_KEY, else from a key file made once with mode 0600', () => {
    const hex = randomBytes(32).toString('hex');
    expect(loadSecretKey({ SPENDTRAIL_SECRET_KEY: hex }, tempHome())).toMatchObject({ source: 'env', path: null });
    expect(loadSecretKey({ SPENDTRAIL_SECRET_KEY: Buffer.from(hex, 'hex').toString('base64') }, tempHome()).key.toString('hex')).toBe(hex);
    expect(() => loadSecretKey({ SPENDTRAIL_SECRET_KEY: 'too-short' }, tempHome())).toThrow(/32 bytes/);

    const home = tempHome();
    const first = loadSecretKey({}, home);
    expect(first.source).toBe('file');
    expect(statSync(join(home, 'secret.key')).mode & 0o777).toBe(0o600);
    expect(loadSecretKey({}, home).key.equals(first.key)).toBe(true);
    expect(readFileSync(join(home, 'secret.key'), 'utf8').trim()).toBe(first.key.toString('base64'));
    chmodSync(join(home, 'secret.key'), 0o644);
    expect(() => loadSecretKey({}, home)).toThrow(/readable by others/);
  });
});

describe('QuickBooks amounts and keys', () => {
  it('writes amounts as exact decimal literals, as no float could', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 17n }), (minor) => {
        const text = writeJson({ Amount: new DecimalLiteral(formatMinor(minor, 2)), Note: 'x' });
        expect(text).toBe(`{"Amount":${formatMinor(minor, 2)},"Note":"x"}`);
      }),
    );
    expect(writeJson({ Amount: new DecimalLiteral('90071992547409.93') })).toBe('{"Amount":90071992547409.93}');
    expect(() => new DecimalLiteral('1e3')).toThrow();
  });

  it('derives requestids within 50 characters, stable per entry and new after each refusal; DocNumbers within 21', () => {
    const a = requestIdFor('9130', 'ST-00000000-0000-7000-8000-000000000001', 0);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(requestIdFor('9130', 'ST-00000000-0000-7000-8000-000000000001', 0)).toBe(a);
    expect(requestIdFor('9130', 'ST-00000000-0000-7000-8000-000000000001', 1)).not.toBe(a);
    expect(requestIdFor('9131', 'ST-00000000-0000-7000-8000-000000000001', 0)).not.toBe(a);
    expect(docNumberFor('STR-2026-03-04-0123456789ab')).toMatch(/^ST[0-9a-f]{19}$/);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-03-01T00:00:00Z');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('Sun, 01 Mar 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
  });

  it('does not retry an error that is not a failed transport: a dying process stays dead', async () => {
    let calls = 0;
    const boom = new Error('killed');
    const fetchFn = (): Promise<Response> => {
      calls += 1;
      return Promise.reject(boom);
    };
    await expect(fetchWithRetry(fetchFn, 'http://127.0.0.1:9/x', {}, { attempts: 5, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 1000 }, 'test')).rejects.toBe(boom);
    expect(calls).toBe(1);
  });
});

const line = (no: number, code: string, role: JournalLine['role'], debit: bigint, credit: bigint): JournalLine => ({
  line_no: no,
  account_code: code,
  account_name: `Account ${code}`,
  account_type: role === 'funding' ? 'liability' : 'expense',
  role,
  gl_code: role === 'funding' ? null : code,
  debit_minor: debit,
  credit_minor: credit,
  memo: 'tx 1 policy none agent a',
  evidence: { kind: 'payment', tx_id: '1', refund_of: null, policy_snapshot_id: null, agent_id: 'a' },
  vendor: 'AWS',
  date: '2026-03-02',
  tx_ids: ['1'],
  policy_snapshot_ids: [],
  external_id: `ST-1/${no}`,
});

const entry = (lines: JournalLine[]): JournalEntry => ({
  external_id: 'ST-1',
  date: '2026-03-02',
  vendor: 'AWS',
  narration: 'ST-1 AWS - a payment',
  rollup: null,
  tx_ids: ['1'],
  policy_snapshot_ids: [],
  lines,
});

describe('Purchase or JournalEntry', () => {
  const types: Record<string, string> = { '2110': 'Credit Card', '1150': 'Bank', '1160': 'Other Current Asset' };
  const qbo = (code: string) => (types[code] === undefined ? undefined : { id: code, name: code, acct_num: code, account_type: types[code] ?? '', active: true });

  it('is a Purchase when one Bank or Credit Card account pays every expense line, a card credit for a card refund', () => {
    expect(purchaseShape(entry([line(1, '6400', 'expense', 2100n, 0n), line(2, '2110', 'funding', 0n, 2100n)]), qbo)).toEqual({ payment_type: 'CreditCard' });
    expect(purchaseShape(entry([line(1, '6400', 'expense', 500n, 0n), line(2, '1150', 'funding', 0n, 500n)]), qbo)).toEqual({ payment_type: 'Cash' });
    expect(purchaseShape(entry([line(1, '6400', 'expense', 0n, 500n), line(2, '2110', 'funding', 500n, 0n)]), qbo)).toEqual({ payment_type: 'CreditCard' });
  });

  it('is not a Purchase when paid from another kind of account, from two, or refunded to a bank', () => {
    expect(purchaseShape(entry([line(1, '6400', 'expense', 90n, 0n), line(2, '1160', 'funding', 0n, 90n)]), qbo)).toMatchObject({ reason: expect.stringContaining('Other Current Asset') as unknown });
    expect(purchaseShape(entry([line(1, '6400', 'expense', 90n, 0n), line(2, '1150', 'funding', 0n, 40n), line(3, '1160', 'funding', 0n, 50n)]), qbo)).toMatchObject({ reason: expect.stringContaining('2 funding') as unknown });
    expect(purchaseShape(entry([line(1, '6400', 'expense', 0n, 500n), line(2, '1150', 'funding', 500n, 0n)]), qbo)).toMatchObject({ reason: expect.stringContaining('refund to a bank') as unknown });
  });

  it('writes a card refund as a Purchase with Credit and positive amounts, and a journal with each line on its side', () => {
    const refund = entry([line(1, '6400', 'expense', 0n, 1240n), line(2, '2110', 'funding', 1240n, 0n)]);
    const ids = new Map([['6400', '57'], ['2110', '61']]);
    const p = JSON.parse(postingBody({ entity: 'Purchase', entry: refund, exponent: 2, doc_number: 'ST1', account_ids: ids, vendor_id: '202', payment_type: 'CreditCard' })) as Record<string, unknown>;
    expect(p).toMatchObject({ PaymentType: 'CreditCard', Credit: true, AccountRef: { value: '61' }, EntityRef: { value: '202', type: 'Vendor' }, Line: [{ Amount: 12.4, AccountBasedExpenseLineDetail: { AccountRef: { value: '57' } } }] });
    const j = JSON.parse(postingBody({ entity: 'JournalEntry', entry: refund, exponent: 2, doc_number: 'ST1', account_ids: ids, vendor_id: '202', payment_type: null })) as { Line: Record<string, unknown>[] };
    expect(j.Line.map((l) => [(l.JournalEntryLineDetail as { PostingType: string }).PostingType, l.Amount, (l.JournalEntryLineDetail as { Entity?: unknown }).Entity])).toEqual([
      ['Credit', 12.4, { Type: 'Vendor', EntityRef: { value: '202' } }],
      ['Debit', 12.4, undefined],
    ]);
  });
});

describe('the one-shot redirect listener', () => {
  it('takes only the redirect carrying its state, answers the browser, and stops listening', async () => {
    const { createServer } = await import('node:net');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { awaitRedirect, isLoopbackRedirect } = await import('../src/adapters/qbo/redirect-listener.ts');
    const uri = `http://localhost:${port}/qbo/callback`;
    expect(isLoopbackRedirect(uri)).toBe(true);
    expect(isLoopbackRedirect('https://app.example.com/qbo/callback')).toBe(false);
    let listening!: () => void;
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const got = awaitRedirect(uri, 'the-state', 10_000, listening);
    await ready;
    expect((await fetch(`http://127.0.0.1:${port}/qbo/callback?code=c1&state=forged&realmId=9130`)).status).toBe(400);
    const ok = await fetch(`http://127.0.0.1:${port}/qbo/callback?code=c1&state=the-state&realmId=9130`);
    expect([ok.status, await ok.text()]).toEqual([200, expect.stringContaining('connected to QuickBooks') as unknown]);
    await expect(got).resolves.toEqual({ code: 'c1', realm_id: '9130', state: 'the-state' });
    await expect(fetch(`http://127.0.0.1:${port}/qbo/callback`)).rejects.toThrow();
  });
});
