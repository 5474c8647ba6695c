import { describe, expect, it } from 'vitest';
import { SpendtrailError } from '../../../domain/errors.ts';
import { stripe } from '../../../../test/rails-stripe-fixtures.ts';
import { verifyStripeSignature } from './signature.ts';

/**
 * Headers are made by stripe-node's own test-header helper, so these tests check the
 * verifier against what Stripe's SDK produces, not against a second copy of our HMAC.
 */
const SECRET = 'whsec_test_0123456789abcdefghijklmnopqrstuv';
const NOW = new Date('2026-03-12T10:00:00.000Z');
const T = NOW.getTime() / 1000;
const BODY = JSON.stringify({ id: 'evt_1', object: 'event', type: 'payment_intent.succeeded', data: { object: { id: 'pi_1', amount: 2100 } } }, null, 2);

const header = (over: { payload?: string; secret?: string; timestamp?: number; scheme?: string } = {}): string =>
  stripe.webhooks.generateTestHeaderString({ payload: over.payload ?? BODY, secret: over.secret ?? SECRET, timestamp: over.timestamp ?? T, ...(over.scheme === undefined ? {} : { scheme: over.scheme }) });

function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SpendtrailError) return e.code;
    throw e;
  }
  return 'accepted';
}
const verify = (h: string | string[] | undefined, body = BODY, now = NOW): string => codeOf(() => verifyStripeSignature(Buffer.from(body), h, SECRET, now));

describe('Stripe-Signature verification', () => {
  it('accepts a header Stripe signed over these exact bytes with this secret, as stripe-node itself does', () => {
    const h = header();
    expect(verify(h)).toBe('accepted');
    expect(verifyStripeSignature(Buffer.from(BODY), h, SECRET, NOW)).toEqual({ timestamp: T });
    expect(stripe.webhooks.signature?.verifyHeader(BODY, h, SECRET, 300, undefined, T)).toBe(true);
  });

  it('refuses a header signed with another secret (forged) as INVALID_SIGNATURE', () => {
    expect(verify(header({ secret: 'whsec_someone_else_entirely_0000' }))).toBe('INVALID_SIGNATURE');
  });

  it('refuses the same body re-serialised: the signature is over the raw bytes, not the JSON', () => {
    const h = header();
    const reserialised = JSON.stringify(JSON.parse(BODY) as unknown);
    expect(reserialised).not.toBe(BODY);
    expect(verify(h, reserialised)).toBe('INVALID_SIGNATURE');
    expect(verify(h, `${BODY} `)).toBe('INVALID_SIGNATURE');
  });

  it('refuses a genuine signature older or newer than 300 s as SIGNATURE_EXPIRED, and accepts one at 300 s', () => {
    expect(verify(header({ timestamp: T - 301 }))).toBe('SIGNATURE_EXPIRED');
    expect(verify(header({ timestamp: T + 301 }))).toBe('SIGNATURE_EXPIRED');
    expect(verify(header({ timestamp: T - 300 }))).toBe('accepted');
    expect(verify(header({ timestamp: T + 300 }))).toBe('accepted');
  });

  it('checks the signature before the time: a forged stale header is INVALID_SIGNATURE, not expired', () => {
    expect(verify(header({ timestamp: T - 3600, secret: 'whsec_someone_else_entirely_0000' }))).toBe('INVALID_SIGNATURE');
  });

  it('accepts when any one of several v1 signatures matches (a secret being rolled)', () => {
    const good = header();
    const goodV1 = /v1=([0-9a-f]{64})/.exec(good)?.[1];
    const badV1 = /v1=([0-9a-f]{64})/.exec(header({ secret: 'whsec_the_old_secret_00000000000' }))?.[1];
    expect(verify(`t=${T},v1=${badV1},v1=${goodV1}`)).toBe('accepted');
    expect(verify(`t=${T},v1=${goodV1},v1=${badV1},v0=${'0'.repeat(64)}`)).toBe('accepted');
    expect(verify(`t=${T},v1=${badV1},v1=${badV1}`)).toBe('INVALID_SIGNATURE');
  });

  it('ignores other schemes: a header with only a v0 signature is refused even when v0 carries the right HMAC', () => {
    const v0 = header({ scheme: 'v0' });
    expect(v0).toMatch(/^t=\d+,v0=[0-9a-f]{64}$/);
    expect(verify(v0)).toBe('INVALID_SIGNATURE');
  });

  it('refuses missing, duplicated and malformed headers as INVALID_SIGNATURE', () => {
    const v1 = /v1=([0-9a-f]{64})/.exec(header())?.[1] ?? '';
    for (const h of [
      undefined,
      '',
      [header(), header()],
      'garbage',
      `v1=${v1}`,
      `t=${T}`,
      `t=abc,v1=${v1}`,
      `t=${T},t=${T},v1=${v1}`,
      `t=${T},v1=${v1.slice(0, 63)}`,
      `t=${T},v1=${'zz'.repeat(32)}`,
      `t=${T},,v1=${v1}`,
      `t=${T},v1=${v1}`.padEnd(5000, ' '),
    ]) {
      expect(verify(h), JSON.stringify(h)).toBe('INVALID_SIGNATURE');
    }
  });
});
