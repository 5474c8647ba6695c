import { createHmac, timingSafeEqual } from 'node:crypto';
import { SpendtrailError } from '../../../domain/errors.ts';

/** Stripe's own default (stripe-node `DEFAULT_TOLERANCE`): a signed body older or newer than this is refused. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

/** Only `v1` is an HMAC-SHA256 with the endpoint secret; `v0` and any future scheme are ignored. */
const SCHEME = 'v1';
const TIMESTAMP = /^[0-9]{1,12}$/;
const HEX_SHA256 = /^[0-9a-f]{64}$/i;
/** A real header is ~100 bytes per signature; anything this long is not one, and is not worth parsing. */
const MAX_HEADER = 4096;

export interface VerifiedStripeSignature {
  /** The `t=` of the header: when Stripe signed the body (Unix seconds). */
  readonly timestamp: number;
}

const invalid = (message: string): SpendtrailError => new SpendtrailError('INVALID_SIGNATURE', message, { field: 'stripe-signature' });

/**
 * Checks a `Stripe-Signature` header (`t=<unix>,v1=<hex>[,v1=<hex>…][,v0=…]`) against the raw
 * body bytes as received: the expected value is HMAC-SHA256 of `${t}.${body}` keyed with the
 * endpoint secret. Any one matching `v1` is enough (Stripe sends one per active secret while a
 * secret is being rolled), compared in constant time. The signature is checked before the
 * time, so a forged header is INVALID_SIGNATURE whatever its `t`; a genuine one outside the
 * tolerance, in the past or the future, is SIGNATURE_EXPIRED: a replay of a captured body
 * must not be accepted later, and a clock far ahead is as suspect as one far behind.
 */
export function verifyStripeSignature(
  rawBody: Buffer,
  header: string | readonly string[] | undefined,
  secret: string,
  now: Date,
  toleranceSeconds: number = STRIPE_SIGNATURE_TOLERANCE_SECONDS,
): VerifiedStripeSignature {
  if (header === undefined || header === '') throw invalid('no Stripe-Signature header');
  // Two headers would mean two senders' opinions; Stripe sends exactly one.
  if (typeof header !== 'string') throw invalid('more than one Stripe-Signature header');
  if (header.length > MAX_HEADER) throw invalid('the Stripe-Signature header is too long to be one');
  let timestamp: number | null = null;
  const candidates: Buffer[] = [];
  for (const item of header.split(',')) {
    const at = item.indexOf('=');
    if (at <= 0) throw invalid('the Stripe-Signature header is not a list of key=value pairs');
    const key = item.slice(0, at).trim();
    const value = item.slice(at + 1).trim();
    if (key === 't') {
      if (!TIMESTAMP.test(value) || timestamp !== null) throw invalid('the Stripe-Signature header needs exactly one numeric t=');
      timestamp = Number(value);
    } else if (key === SCHEME && HEX_SHA256.test(value)) {
      candidates.push(Buffer.from(value, 'hex'));
    }
  }
  if (timestamp === null) throw invalid('the Stripe-Signature header has no t=');
  if (candidates.length === 0) throw invalid('the Stripe-Signature header has no v1 signature');
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  // Every candidate is compared (no early exit), so the time taken does not depend on which matched.
  let matched = false;
  for (const c of candidates) matched = timingSafeEqual(c, expected) || matched;
  if (!matched) throw invalid('no v1 signature matches the body and this endpoint secret');
  const skew = Math.abs(now.getTime() / 1000 - timestamp);
  if (skew > toleranceSeconds) {
    throw new SpendtrailError('SIGNATURE_EXPIRED', `the signature is ${Math.round(skew)} s away from this server's clock (tolerance ${toleranceSeconds} s)`, {
      field: 'stripe-signature',
    });
  }
  return { timestamp };
}
