import { z } from 'zod';
import type { RailCapture } from '../../../app/rail-ingest.ts';
import { parseTransactionInput } from '../../../app/transaction-input.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { sha256 } from '../../../domain/hash.ts';
import type { TransactionInput } from '../../../domain/ledger/transaction.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import { formatMinor } from '../../../domain/money/decimal.ts';
import { parseJsonDocument } from '../../import/json-document.ts';
import type { ValuationRule } from '../../../domain/money/valuation.ts';
import { valuationFields } from '../../../domain/money/valuation.ts';
import type { Instant } from '../../../domain/time.ts';
import { instantFromDate } from '../../../domain/time.ts';

/**
 * Stripe events as ledger records, without I/O: what the ledger already knows (the payment a
 * refund returns, the hold a card authorization made) comes in as `StripeFacts`, read by the
 * caller beforehand. Every verified event becomes exactly one rail record keyed by its event
 * id, so a replayed event is a duplicate; what cannot be booked is kept as a `noted` record
 * with the reason, never dropped.
 *
 * Booked: `payment_intent.succeeded`, `charge.refunded`, `issuing_transaction.created`.
 * Noted by design: `issuing_authorization.created` (no money has moved yet), and every other
 * event type. Noted when the event cannot be booked: no agent named, an amount or currency the
 * ledger cannot represent, no valuation rule for a foreign currency, a refund with nothing to
 * link to, a card refund reversal, and whatever the ledger itself refuses (see webhook.ts).
 */

export const STRIPE_CONTENT_TYPE = 'application/json';

const metadata = z.record(z.string(), z.string()).nullish();
const stripeId = z.string().min(1).max(255);
const expandable = z.union([stripeId, z.looseObject({ id: stripeId })]);
const integer = z.number().int().refine(Number.isSafeInteger, { message: 'beyond the exact integer range' });
const cardholder = z.looseObject({ id: stripeId, metadata });
const card = z.looseObject({ id: stripeId, metadata, cardholder: z.union([stripeId, cardholder]).nullish() });
const merchantData = z.looseObject({
  category: z.string().nullish(),
  category_code: z.string().nullish(),
  name: z.string().nullish(),
  network_id: z.string().nullish(),
});

/** The envelope of every Stripe snapshot event (stripe-node `EventBase`). */
export const stripeEventSchema = z.looseObject({
  id: stripeId,
  object: z.literal('event'),
  type: z.string().min(1).max(200),
  created: integer.nonnegative(),
  api_version: z.string().max(64).nullish(),
  livemode: z.boolean().optional(),
  data: z.looseObject({ object: z.record(z.string(), z.unknown()) }),
});
export type StripeEvent = z.infer<typeof stripeEventSchema>;

const paymentIntentSchema = z.looseObject({
  id: stripeId,
  object: z.literal('payment_intent'),
  amount_received: integer.nonnegative(),
  currency: z.string(),
  metadata,
  description: z.string().nullish(),
  statement_descriptor: z.string().nullish(),
});

const refundSchema = z.looseObject({
  id: stripeId,
  object: z.literal('refund'),
  amount: integer.nonnegative(),
  currency: z.string(),
  created: integer.nonnegative(),
  status: z.string().nullish(),
});

const chargeSchema = z.looseObject({
  id: stripeId,
  object: z.literal('charge'),
  amount: integer.nonnegative(),
  amount_refunded: integer.nonnegative(),
  currency: z.string(),
  payment_intent: expandable.nullish(),
  metadata,
  // Not included by default since API version 2022-11-15; present when the endpoint's version has it.
  refunds: z.looseObject({ data: z.array(refundSchema) }).nullish(),
});

const issuingAuthorizationSchema = z.looseObject({
  id: stripeId,
  object: z.literal('issuing.authorization'),
  amount: integer,
  currency: z.string(),
  approved: z.boolean(),
  status: z.string(),
  card: z.union([stripeId, card]),
  cardholder: z.union([stripeId, cardholder]).nullish(),
  merchant_data: merchantData,
  metadata,
  pending_request: z.looseObject({ amount: integer, currency: z.string() }).nullish(),
});

const issuingTransactionSchema = z.looseObject({
  id: stripeId,
  object: z.literal('issuing.transaction'),
  type: z.string(),
  amount: integer,
  currency: z.string(),
  authorization: expandable.nullish(),
  card: z.union([stripeId, card]),
  cardholder: z.union([stripeId, cardholder]).nullish(),
  merchant_data: merchantData,
  metadata,
  created: integer.nonnegative(),
});

/** The raw body as a Stripe event envelope, or MALFORMED_PAYLOAD (it cannot even be keyed). */
export function parseStripeEvent(raw: Buffer): StripeEvent {
  // Strict UTF-8: bytes decoded with replacement characters would make the stored body and what was read from it differ.
  const json = parseJsonDocument(raw, 'the body');
  const r = stripeEventSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new SpendtrailError('MALFORMED_PAYLOAD', `not a Stripe event: ${issue?.message ?? 'unexpected shape'}`, {
      field: issue === undefined || issue.path.length === 0 ? undefined : issue.path.join('.'),
    });
  }
  return r.data;
}

function objectOf<T>(schema: z.ZodType<T>, event: StripeEvent): T {
  const r = schema.safeParse(event.data.object);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new SpendtrailError('MALFORMED_PAYLOAD', `${event.type} object: ${issue?.message ?? 'unexpected shape'}`, {
    field: `data.object${issue === undefined || issue.path.length === 0 ? '' : `.${issue.path.join('.')}`}`,
  });
}

// --- amounts

/**
 * Stripe's minor unit where it differs from ISO 4217 (docs.stripe.com/currencies): MGA is
 * zero-decimal at Stripe; ISK and UGX are whole units but sent "with two decimals" for
 * backwards compatibility (500 = 5 ISK) and must be divisible by 100. Every other currency,
 * including the zero-decimal (JPY, KRW, …) and three-decimal (BHD, JOD, KWD, OMR, TND) ones,
 * uses its ISO exponent, which the currency table holds.
 */
const STRIPE_EXPONENT: Readonly<Record<string, number>> = { MGA: 0, ISK: 2, UGX: 2 };

export interface StripeMoney {
  readonly currency: string;
  /** Minor units at the ISO exponent (what the ledger stores). */
  readonly minor: bigint;
  /** The exact decimal string, e.g. "12.50", "1500", "1.230". */
  readonly decimal: string;
}

/** An integer Stripe amount in a lowercase Stripe currency as an exact ledger amount. */
export function fromStripeAmount(amount: number, stripeCurrency: string, field = 'amount'): StripeMoney {
  const code = stripeCurrency.toUpperCase();
  const currency = findCurrency(code);
  if (currency === undefined || currency.kind !== 'fiat') {
    throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${stripeCurrency}`, { field: 'currency' });
  }
  if (!Number.isSafeInteger(amount)) throw new SpendtrailError('INVALID_AMOUNT', `${amount} is not an integer amount`, { field });
  const shift = currency.exponent - (STRIPE_EXPONENT[code] ?? currency.exponent);
  let minor = BigInt(amount);
  if (shift >= 0) {
    minor *= 10n ** BigInt(shift);
  } else {
    const unit = 10n ** BigInt(-shift);
    if (minor % unit !== 0n) {
      throw new SpendtrailError('AMOUNT_NOT_EXACT', `${amount} is not a whole number of ${code} (Stripe sends ${code} with ${-shift} extra digits)`, { field });
    }
    minor /= unit;
  }
  return { currency: code, minor, decimal: formatMinor(minor, currency.exponent) };
}

// --- what the ledger knows

/** A payment already in the ledger on the Stripe rail, as refunds need it. */
export interface LedgerPayment {
  readonly tx_id: string;
  readonly agent_id: string;
  readonly currency: string;
  readonly merchant: string;
  readonly merchant_category: string | null;
  readonly business_purpose: string | null;
  /** What has been refunded against it so far, in its currency's minor units (positive). */
  readonly refunded_minor: bigint;
}

/** The Spendtrail authorization made when Stripe asked about a card authorization in real time. */
export interface SpendtrailHold {
  readonly authorization_id: string;
  readonly agent_id: string;
  readonly decision: 'allow' | 'deny' | 'needs_approval';
  readonly status: string;
  /** In the reporting currency's minor units. */
  readonly amount_minor: bigint;
}

export interface StripeFacts {
  readonly reportingCurrency: string;
  /** Needed only when an event is in another currency than the reporting one. */
  readonly valuationRules: readonly ValuationRule[];
  /** Ledger payments on the Stripe rail by external id (a PaymentIntent id, an Issuing authorization id). */
  readonly payments: ReadonlyMap<string, LedgerPayment>;
  /** Spendtrail holds by the Stripe Issuing authorization id they answered. */
  readonly holds: ReadonlyMap<string, SpendtrailHold>;
}

export interface FactsWanted {
  readonly currencies: readonly string[];
  readonly paymentExternalIds: readonly string[];
  readonly stripeAuthorizations: readonly string[];
}

const idOf = (x: string | { id: string } | null | undefined): string | null => (x === null || x === undefined ? null : typeof x === 'string' ? x : x.id);

/** What `mapStripeEvent` will look up for this event; a malformed object wants nothing. */
export function factsWanted(event: StripeEvent): FactsWanted {
  const none: FactsWanted = { currencies: [], paymentExternalIds: [], stripeAuthorizations: [] };
  const o = event.data.object;
  const currency = typeof o.currency === 'string' ? [o.currency.toUpperCase()] : [];
  switch (event.type) {
    case 'payment_intent.succeeded':
      return { ...none, currencies: currency };
    case 'charge.refunded': {
      const c = chargeSchema.safeParse(o);
      const pi = c.success ? idOf(c.data.payment_intent) : null;
      return { ...none, currencies: currency, paymentExternalIds: pi === null ? [] : [pi] };
    }
    case 'issuing_authorization.created':
      return { ...none, stripeAuthorizations: typeof o.id === 'string' ? [o.id] : [] };
    case 'issuing_transaction.created': {
      const t = issuingTransactionSchema.safeParse(o);
      const auth = t.success ? idOf(t.data.authorization) : null;
      return { currencies: currency, paymentExternalIds: auth === null ? [] : [auth], stripeAuthorizations: auth === null ? [] : [auth] };
    }
    default:
      return none;
  }
}

/**
 * The id of the Spendtrail authorization that answers a Stripe Issuing authorization: derived
 * from the organisation and the Stripe id (SHA-256, laid out as an RFC 9562 version 8 UUID), so
 * the capture that follows finds it, and the agent it was for, without any extra index, and a
 * second request for the same Stripe authorization finds the first answer.
 */
export function spendtrailAuthorizationId(orgId: string, stripeAuthorizationId: string): string {
  const b = Buffer.from(sha256(`spendtrail/stripe-issuing-authorization\u0000${orgId}\u0000${stripeAuthorizationId}`).subarray(0, 16));
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x80;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// --- mapping

export interface StripeMapping {
  readonly capture: RailCapture;
  /**
   * Set when the event refunds a payment the ledger does not hold yet. Stripe does not deliver
   * events in order, so for a while the caller answers with an error and lets Stripe retry.
   */
  readonly waitingFor: string | null;
  /**
   * For a card capture booked under its authorization id: the same capture under
   * `<authorization>:<transaction>`, used when that authorization was captured before
   * (multi-capture), so the second capture neither collides with nor is lost behind the first.
   */
  readonly alternate: RailCapture | null;
  /** A Spendtrail hold to give back before booking: Stripe declined it, or the capture cannot settle it. */
  readonly release: string | null;
}

type Meta = Readonly<Record<string, string>> | null | undefined;

/** The first non-empty value of `key` along an attribution chain (the object, its card, its cardholder). */
function fromMetadata(key: string, chain: readonly Meta[]): string | null {
  for (const m of chain) {
    const v = m?.[key]?.trim();
    if (v !== undefined && v !== '') return v;
  }
  return null;
}

/** The metadata an Issuing object can carry about its owner: its own, its card's, its cardholder's (when expanded in the payload). */
function issuingChain(o: {
  metadata?: Meta;
  card: string | { metadata?: Meta; cardholder?: string | { metadata?: Meta } | null };
  cardholder?: string | { metadata?: Meta } | null;
}): Meta[] {
  const c = typeof o.card === 'string' ? null : o.card;
  const ofCard = c === null || typeof c.cardholder !== 'object' || c.cardholder === null ? null : c.cardholder.metadata;
  const holder = typeof o.cardholder === 'object' && o.cardholder !== null ? o.cardholder.metadata : null;
  return [o.metadata, c?.metadata, ofCard, holder];
}

const MCC = /^[0-9]{4}$/;
const iso = (unixSeconds: number): Instant => instantFromDate(new Date(unixSeconds * 1000));

/** The exchange-rate fields for a foreign-currency amount: the organisation's valuation rule, or FX_RATE_REQUIRED (noted). */
const fxFor = (money: StripeMoney, facts: StripeFacts, at: Instant) => valuationFields(facts.valuationRules, money.currency, facts.reportingCurrency, at);

function capture(event: StripeEvent, payload: Buffer, outcome: RailCapture['outcome'], reason: string | null, transactions: readonly TransactionInput[] = []): RailCapture {
  return { rail: 'stripe', source_id: event.id, content_type: STRIPE_CONTENT_TYPE, payload, outcome, reason, transactions };
}

const noted = (event: StripeEvent, payload: Buffer, reason: string, extra: Partial<Omit<StripeMapping, 'capture'>> = {}): StripeMapping => ({
  capture: capture(event, payload, 'noted', reason),
  waitingFor: null,
  alternate: null,
  release: null,
  ...extra,
});

const booked = (event: StripeEvent, payload: Buffer, txs: readonly TransactionInput[], extra: Partial<Omit<StripeMapping, 'capture'>> = {}): StripeMapping =>
  txs.length === 0
    ? noted(event, payload, 'nothing to book: no refund in this event is new', extra)
    : { capture: capture(event, payload, 'settled', null, txs), waitingFor: null, alternate: null, release: null, ...extra };

/** Why an error stopped an event from being booked, as a noted record's reason. */
export const reasonOf = (e: SpendtrailError): string => `${e.code}${e.field === undefined ? '' : ` at ${e.field}`}: ${e.message}`;

const unattributed = (what: string): string =>
  `unattributed: ${what} names no agent (metadata.agent_id on the object, or on its card or cardholder when the payload carries them)`;

/**
 * One verified Stripe event as one rail record. Never throws for the content of a signed
 * event: an object that does not have the expected shape, or that the ledger cannot book, is
 * kept as `noted` with the reason.
 */
export function mapStripeEvent(event: StripeEvent, payload: Buffer, facts: StripeFacts): StripeMapping {
  try {
    switch (event.type) {
      case 'payment_intent.succeeded':
        return paymentIntentSucceeded(event, payload, facts);
      case 'charge.refunded':
        return chargeRefunded(event, payload, facts);
      case 'issuing_authorization.created':
        return authorizationCreated(event, payload, facts);
      case 'issuing_transaction.created':
        return issuingTransactionCreated(event, payload, facts);
      case 'issuing_authorization.request':
        // Answered synchronously by the authorization path; only ever recorded as evidence.
        return noted(event, payload, 'real-time authorization request (answered by the authorization path)');
      default:
        return noted(event, payload, `unsupported_event: ${event.type} is kept as evidence only; the ledger books payment_intent.succeeded, charge.refunded and issuing_transaction.created`);
    }
  } catch (e) {
    if (e instanceof SpendtrailError) return noted(event, payload, reasonOf(e));
    throw e;
  }
}

function paymentIntentSucceeded(event: StripeEvent, payload: Buffer, facts: StripeFacts): StripeMapping {
  const pi = objectOf(paymentIntentSchema, event);
  const agent = fromMetadata('agent_id', [pi.metadata]);
  if (agent === null) return noted(event, payload, unattributed(`payment_intent ${pi.id}`));
  const money = fromStripeAmount(pi.amount_received, pi.currency, 'data.object.amount_received');
  if (money.minor === 0n) return noted(event, payload, `nothing collected: payment_intent ${pi.id} succeeded with amount_received 0`);
  // The moment of success is the event's, not the PaymentIntent's creation.
  const at = iso(event.created);
  const category = fromMetadata('merchant_category', [pi.metadata]);
  const tx = parseTransactionInput({
    external_id: pi.id,
    agent_id: agent,
    timestamp: at,
    amount: money.decimal,
    currency: money.currency,
    payment_rail: 'stripe',
    merchant: fromMetadata('merchant', [pi.metadata]) ?? nonBlank(pi.statement_descriptor) ?? nonBlank(pi.description) ?? 'unknown merchant',
    merchant_category: category !== null && MCC.test(category) ? category : null,
    business_purpose: fromMetadata('business_purpose', [pi.metadata]),
    ...fxFor(money, facts, at),
  });
  return booked(event, payload, [tx]);
}

const nonBlank = (s: string | null | undefined): string | null => (s === null || s === undefined || s.trim() === '' ? null : s.trim());

/** A negative ledger entry returning part of `original`, in its currency. */
function refundInput(original: LedgerPayment, refundOf: string, externalId: string, money: StripeMoney, at: Instant, facts: StripeFacts, merchant?: { name: string; category: string | null }): TransactionInput {
  return parseTransactionInput({
    external_id: externalId,
    // A refund belongs to the agent of the payment it returns, whatever the refund's metadata says.
    agent_id: original.agent_id,
    timestamp: at,
    type: 'refund',
    refund_of: refundOf,
    amount: `-${money.decimal}`,
    currency: money.currency,
    payment_rail: 'stripe',
    merchant: merchant?.name ?? original.merchant,
    merchant_category: merchant === undefined ? original.merchant_category : merchant.category,
    business_purpose: original.business_purpose,
    ...fxFor(money, facts, at),
  });
}

function chargeRefunded(event: StripeEvent, payload: Buffer, facts: StripeFacts): StripeMapping {
  const ch = objectOf(chargeSchema, event);
  const pi = idOf(ch.payment_intent);
  if (pi === null) {
    return noted(event, payload, `unlinked refund: charge ${ch.id} has no PaymentIntent, and only PaymentIntents are booked, so there is no payment to link it to`);
  }
  const original = facts.payments.get(pi);
  if (original === undefined) {
    return noted(event, payload, `REFUND_TARGET_NOT_FOUND at refund_of: payment ${pi} of charge ${ch.id} is not in the ledger`, { waitingFor: pi });
  }
  if (ch.refunds !== null && ch.refunds !== undefined) {
    // Each refund under its own id: the list repeats earlier refunds, which come back as duplicates.
    const txs = ch.refunds.data
      .filter((r) => r.status !== 'failed' && r.status !== 'canceled' && r.amount > 0)
      .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1))
      .map((r) => refundInput(original, pi, r.id, fromStripeAmount(r.amount, r.currency, `data.object.refunds.${r.id}.amount`), iso(r.created), facts));
    return booked(event, payload, txs);
  }
  // Without the list, amount_refunded is the running total: book what the ledger does not have
  // yet, keyed by that total. Replays and late, out-of-order events then add nothing.
  const total = fromStripeAmount(ch.amount_refunded, ch.currency, 'data.object.amount_refunded');
  const delta = total.minor - original.refunded_minor;
  if (delta <= 0n) return noted(event, payload, `nothing to book: the ledger already holds refunds of ${total.decimal} ${total.currency} against ${pi}`);
  const exponent = findCurrency(total.currency)?.exponent ?? 0;
  const money: StripeMoney = { currency: total.currency, minor: delta, decimal: formatMinor(delta, exponent) };
  return booked(event, payload, [refundInput(original, pi, `${ch.id}:refunded:${ch.amount_refunded}`, money, iso(event.created), facts)]);
}

function authorizationCreated(event: StripeEvent, payload: Buffer, facts: StripeFacts): StripeMapping {
  const a = objectOf(issuingAuthorizationSchema, event);
  const hold = facts.holds.get(a.id);
  let amount = `${a.amount} ${a.currency}`;
  try {
    const m = fromStripeAmount(a.amount, a.currency);
    amount = `${m.decimal} ${m.currency}`;
  } catch {
    // The reason is descriptive only; the raw payload holds the exact figure.
  }
  const merchant = nonBlank(a.merchant_data.name) ?? a.merchant_data.network_id ?? 'unknown merchant';
  const answered = hold === undefined ? '' : `; Spendtrail authorization ${hold.authorization_id} answered ${hold.decision}`;
  // Stripe (its own controls, or our timeout) declined what Spendtrail allowed: the hold must not keep budget.
  const release = !a.approved && hold !== undefined && hold.status === 'held' ? hold.authorization_id : null;
  return noted(
    event,
    payload,
    `evidence only: issuing authorization ${a.id} ${a.approved ? 'approved' : 'declined'} for ${amount} at ${merchant}; money moves with issuing_transaction.created${answered}`,
    { release },
  );
}

function issuingTransactionCreated(event: StripeEvent, payload: Buffer, facts: StripeFacts): StripeMapping {
  const t = objectOf(issuingTransactionSchema, event);
  const authId = idOf(t.authorization);
  const hold = authId === null ? undefined : facts.holds.get(authId);
  const merchant = nonBlank(t.merchant_data.name) ?? nonBlank(t.merchant_data.network_id) ?? 'unknown merchant';
  const category = t.merchant_data.category_code !== null && t.merchant_data.category_code !== undefined && MCC.test(t.merchant_data.category_code) ? t.merchant_data.category_code : null;
  const at = iso(t.created);
  const chain = issuingChain(t);
  if (t.type === 'capture') {
    // Stripe's sign is the balance's: a capture takes money out, so it is negative.
    if (t.amount >= 0) return noted(event, payload, `unexpected sign: issuing capture ${t.id} of ${t.amount} does not take money out of the balance`);
    const agent = fromMetadata('agent_id', chain) ?? hold?.agent_id ?? null;
    if (agent === null) return noted(event, payload, unattributed(`issuing transaction ${t.id}`));
    const money = fromStripeAmount(-t.amount, t.currency, 'data.object.amount');
    const settles =
      hold !== undefined &&
      hold.agent_id === agent &&
      hold.decision === 'allow' &&
      hold.status === 'held' &&
      money.currency === facts.reportingCurrency &&
      money.minor <= hold.amount_minor;
    const base = {
      agent_id: agent,
      timestamp: at,
      amount: money.decimal,
      currency: money.currency,
      payment_rail: 'stripe',
      merchant,
      merchant_category: category,
      business_purpose: fromMetadata('business_purpose', chain),
      ...fxFor(money, facts, at),
    };
    // Booked under the authorization's id when there is one: that is what Stripe links a later refund to.
    const tx = parseTransactionInput({ ...base, external_id: authId ?? t.id, authorization_id: settles ? hold.authorization_id : null });
    const alternate = authId === null ? null : capture(event, payload, 'settled', null, [parseTransactionInput({ ...base, external_id: `${authId}:${t.id}` })]);
    return {
      capture: capture(event, payload, 'settled', null, [tx]),
      waitingFor: null,
      alternate,
      // A capture larger than what was held (tips, over-capture) cannot settle the hold; it is given back instead of counting twice.
      release: !settles && hold !== undefined && hold.status === 'held' ? hold.authorization_id : null,
    };
  }
  if (t.type === 'refund') {
    if (t.amount <= 0) {
      return noted(event, payload, `refund reversal: issuing refund ${t.id} of ${t.amount} takes money back out; not booked automatically, record it by hand if it stands`);
    }
    if (authId === null) {
      return noted(event, payload, `unlinked refund: Stripe could not link issuing refund ${t.id} to an authorization, so there is no capture to link it to`);
    }
    const original = facts.payments.get(authId);
    if (original === undefined) {
      return noted(event, payload, `REFUND_TARGET_NOT_FOUND at refund_of: no capture of authorization ${authId} is in the ledger`, { waitingFor: authId });
    }
    const money = fromStripeAmount(t.amount, t.currency, 'data.object.amount');
    return booked(event, payload, [refundInput(original, authId, t.id, money, at, facts, { name: merchant, category })]);
  }
  return noted(event, payload, `unsupported issuing transaction type ${t.type}: kept as evidence only`);
}

// --- real-time authorization

/** What Spendtrail is asked when Stripe sends `issuing_authorization.request`. */
export interface AuthorizationAsk {
  readonly stripe_authorization_id: string;
  readonly agent_id: string;
  readonly amount: string;
  readonly currency: string;
  readonly merchant: string;
  readonly merchant_category: string | null;
  readonly business_purpose: string | null;
}

/** The question in an authorization request, or why it cannot be asked (which declines it). */
export function authorizationAskOf(event: StripeEvent): { readonly ask: AuthorizationAsk } | { readonly decline: string; readonly stripe_authorization_id: string | null } {
  const id = typeof event.data.object.id === 'string' ? event.data.object.id : null;
  try {
    const a = objectOf(issuingAuthorizationSchema, event);
    const pending = a.pending_request;
    if (pending === null || pending === undefined) return { decline: `authorization ${a.id} carries no pending_request`, stripe_authorization_id: a.id };
    const agent = fromMetadata('agent_id', issuingChain(a));
    if (agent === null) return { decline: unattributed(`issuing authorization ${a.id}`), stripe_authorization_id: a.id };
    const money = fromStripeAmount(pending.amount, pending.currency, 'data.object.pending_request.amount');
    const mcc = a.merchant_data.category_code;
    return {
      ask: {
        stripe_authorization_id: a.id,
        agent_id: agent,
        amount: money.decimal,
        currency: money.currency,
        merchant: nonBlank(a.merchant_data.name) ?? nonBlank(a.merchant_data.network_id) ?? 'unknown merchant',
        merchant_category: mcc !== null && mcc !== undefined && MCC.test(mcc) ? mcc : null,
        business_purpose: fromMetadata('business_purpose', issuingChain(a)),
      },
    };
  } catch (e) {
    if (e instanceof SpendtrailError) return { decline: reasonOf(e), stripe_authorization_id: id };
    throw e;
  }
}
