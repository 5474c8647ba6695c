import { z } from 'zod';
import type { RailCapture } from '../../../app/rail-ingest.ts';
import { identifier, instantText, mcc, parseInput, text } from '../../../app/schemas.ts';
import { parseTransactionInput } from '../../../app/transaction-input.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { sha256Hex } from '../../../domain/hash.ts';
import type { TransactionInput } from '../../../domain/ledger/transaction.ts';
import { formatMinor } from '../../../domain/money/decimal.ts';
import type { AssetValuation } from '../../../domain/money/valuation.ts';
import { parseInstant } from '../../../domain/time.ts';
import { parseJsonDocument } from '../../import/json-document.ts';
import type { Bolt11Invoice } from './bolt11.ts';
import { decodeBolt11 } from './bolt11.ts';
import { parseAuthorization, parseChallenge } from './headers.ts';
import { l402Identifier } from './macaroon.ts';

const hex32 = z.string().regex(/^[0-9a-fA-F]{64}$/, '32 bytes in hex');
/** LND's JSON renders int64 as a decimal string; a safe integer number is taken as well. */
const uint64 = z.union([
  z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'an unsigned integer'),
  z.number().int().nonnegative().refine(Number.isSafeInteger, 'an integer below 2^53 (or send it as a string)'),
]);
// lnrpc Payment.PaymentStatus, by name or by number (lightningnetwork/lnd lnrpc/lightning.proto).
const STATUSES = ['UNKNOWN', 'IN_FLIGHT', 'SUCCEEDED', 'FAILED', 'INITIATED'] as const;
const status = z.union([z.enum(STATUSES), z.number().int().min(0).max(4)]);

/** The LND `lnrpc.Payment` fields the ledger reads; the others (htlcs, payment_index, …) are kept in the payload. */
export const lndPayment = z.looseObject({
  payment_hash: hex32,
  value_msat: uint64,
  fee_msat: uint64.optional(),
  status,
  creation_time_ns: uint64,
  payment_request: z.string().max(8192).optional(),
  payment_preimage: z.string().max(128).optional(),
  failure_reason: z.string().max(200).optional(),
});

/** POST /v1/rails/l402/payments: an LND payment with the L402 headers it answered, and the ledger fields only the agent knows. */
export const l402PaymentRecord = z.strictObject({
  agent_id: identifier,
  merchant: text(200).refine((s) => s.trim() !== '', { message: 'merchant is empty' }),
  merchant_category: mcc.nullish(),
  business_purpose: text(1000).nullish(),
  accounting_code: text(32).min(1).nullish(),
  /** GL account of the routing-fee line; without it the fee is coded by the rules (merchant "Lightning routing fees"). */
  fee_accounting_code: text(32).min(1).nullish(),
  approver: text(200).nullish(),
  approval_ref: text(200).nullish(),
  authorization_id: z.string().uuid().nullish(),
  fx_rate: z.string().max(40).nullish(),
  fx_rate_source: text(200).nullish(),
  fx_rate_time: instantText.nullish(),
  /** The `WWW-Authenticate` header of the 402 answer, as received. */
  challenge: z.string().max(16_384).nullish(),
  /** The `Authorization` header the agent sent after paying, as sent. */
  authorization: z.string().max(16_384).nullish(),
  payment: lndPayment,
});

/** The merchant name of routing-fee lines: a merchant GL rule on it sends fees to a fees account. */
export const ROUTING_FEE_MERCHANT = 'Lightning routing fees';

/**
 * Turns a posted L402 payment record into a rail capture. The payment hash is the natural id.
 * A SUCCEEDED payment is a payment line in SAT (millisatoshi exact) plus, when a fee was paid,
 * a routing-fee line of its own (`<hash>:fee`); FAILED is kept as a failed record with no
 * transaction; IN_FLIGHT and INITIATED are refused until they settle. Every link between the
 * parts is checked: the preimage opens the payment hash, the invoice and the macaroon commit
 * to that same hash, the amount paid covers the invoice.
 */
export function l402Capture(payload: Buffer, valuation: AssetValuation): RailCapture {
  const body = parseRecord(parseJsonDocument(payload, 'the L402 payment record'));
  const p = body.payment;
  const hash = p.payment_hash.toLowerCase();
  const state = typeof p.status === 'number' ? STATUSES[p.status] : p.status;
  const valueMsat = BigInt(p.value_msat);
  const feeMsat = BigInt(p.fee_msat ?? 0);
  const createdNs = BigInt(p.creation_time_ns);
  const createdMs = createdNs / 1_000_000n;
  if (createdNs === 0n || createdMs > 253_402_300_799_999n) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'creation_time_ns is not a time in nanoseconds since 1970', { field: 'payment.creation_time_ns' });
  }
  const timestamp = parseInstant(new Date(Number(createdMs)).toISOString(), 'payment.creation_time_ns');

  const invoice = p.payment_request === undefined || p.payment_request === '' ? null : decodeBolt11(p.payment_request, 'payment.payment_request');
  if (invoice !== null && invoice.payment_hash !== hash) {
    throw new SpendtrailError('VALIDATION_FAILED', `the invoice pays hash ${invoice.payment_hash}, not the payment's ${hash}`, { field: 'payment.payment_request' });
  }
  checkHeaders(body.challenge ?? null, body.authorization ?? null, hash, invoice);

  if (state === 'IN_FLIGHT' || state === 'INITIATED' || state === 'UNKNOWN') {
    throw new SpendtrailError('PAYMENT_NOT_SETTLED', `payment ${hash} is ${state}: record it once it has SUCCEEDED or FAILED`, { field: 'payment.status' });
  }
  const base = { rail: 'l402' as const, source_id: hash, content_type: 'application/json', payload };
  if (state === 'FAILED') {
    // LND lets a failed payment hash be paid again, and the retry may succeed: the failed
    // attempt is kept under its own id (hash and creation time), so the payment hash stays
    // free for the payment that settles.
    const reason = `FAILED: ${p.failure_reason ?? 'no failure_reason given'}`;
    return { ...base, source_id: `${hash}:failed:${createdNs}`, outcome: 'failed', reason, transactions: [] };
  }

  const preimage = p.payment_preimage ?? '';
  if (!/^[0-9a-fA-F]{64}$/.test(preimage)) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'a SUCCEEDED payment carries its 32-byte preimage in hex', { field: 'payment.payment_preimage' });
  }
  if (sha256Hex(Buffer.from(preimage, 'hex')) !== hash) {
    throw new SpendtrailError('PREIMAGE_MISMATCH', `sha256(payment_preimage) is not the payment hash ${hash}`, { field: 'payment.payment_preimage' });
  }
  if (valueMsat === 0n) throw new SpendtrailError('INVALID_AMOUNT', 'a settled payment of 0 msat', { field: 'payment.value_msat' });
  if (invoice?.amount_msat != null && valueMsat < invoice.amount_msat) {
    throw new SpendtrailError('VALIDATION_FAILED', `${valueMsat} msat paid, the invoice asks ${invoice.amount_msat}`, { field: 'payment.value_msat' });
  }

  const fx = body.fx_rate == null ? valuation('SAT', timestamp) : { fx_rate: body.fx_rate, fx_rate_source: body.fx_rate_source ?? null, fx_rate_time: body.fx_rate_time ?? null };
  const line = (over: Record<string, unknown>): TransactionInput =>
    parseTransactionInput({
      agent_id: body.agent_id,
      timestamp,
      currency: 'SAT',
      payment_rail: 'l402',
      approver: body.approver ?? null,
      approval_ref: body.approval_ref ?? null,
      ...fx,
      ...over,
    });
  const transactions = [
    line({
      external_id: hash,
      amount: formatMinor(valueMsat, 3),
      merchant: body.merchant,
      merchant_category: body.merchant_category ?? null,
      business_purpose: body.business_purpose ?? null,
      accounting_code: body.accounting_code ?? null,
      authorization_id: body.authorization_id ?? null,
    }),
  ];
  // The routing fee is money spent too, but not with the merchant: its own line, so it can be
  // coded to a fees account and counted against the agent's budget like any other spend.
  if (feeMsat > 0n) {
    transactions.push(
      line({
        external_id: `${hash}:fee`,
        amount: formatMinor(feeMsat, 3),
        merchant: ROUTING_FEE_MERCHANT,
        merchant_category: null,
        business_purpose: `Routing fee of Lightning payment ${hash}${body.business_purpose == null ? '' : ` (${body.business_purpose})`}`.slice(0, 1000),
        accounting_code: body.fee_accounting_code ?? null,
      }),
    );
  }
  return { ...base, outcome: 'settled', reason: null, transactions };
}

function parseRecord(raw: unknown): z.output<typeof l402PaymentRecord> {
  try {
    return parseInput(l402PaymentRecord, raw);
  } catch (e) {
    // A payment that is not in LND's shape is a malformed rail record; a bad ledger field is the caller's input error.
    if (e instanceof SpendtrailError && e.field?.startsWith('payment.') === true) {
      throw new SpendtrailError('MALFORMED_PAYLOAD', `not an LND payment: ${e.message}`, { field: e.field });
    }
    throw e;
  }
}

/**
 * The headers, when the agent sends them, must be about this payment: the challenge's macaroon
 * and invoice commit to its hash, and the credentials' preimage opens the macaroon's hash.
 */
function checkHeaders(challenge: string | null, authorization: string | null, hash: string, invoice: Bolt11Invoice | null): void {
  if (challenge !== null) {
    const c = parseChallenge(challenge, 'challenge');
    const id = l402Identifier(c.macaroon.identifier, 'challenge');
    const inv = decodeBolt11(c.invoice, 'challenge');
    if (inv.payment_hash !== id.payment_hash) {
      throw new SpendtrailError('VALIDATION_FAILED', 'the challenge invoice and macaroon name different payment hashes', { field: 'challenge' });
    }
    if (id.payment_hash !== hash) {
      throw new SpendtrailError('PREIMAGE_MISMATCH', `the challenge is for payment hash ${id.payment_hash}, this payment is ${hash}`, { field: 'challenge' });
    }
    if (invoice !== null && inv.invoice !== invoice.invoice) {
      throw new SpendtrailError('VALIDATION_FAILED', 'the challenge invoice is not the invoice the payment paid', { field: 'challenge' });
    }
  }
  if (authorization !== null) {
    const a = parseAuthorization(authorization, 'authorization');
    const first = a.macaroons[0];
    if (first === undefined) throw new SpendtrailError('MALFORMED_PAYLOAD', 'no macaroon in the credentials', { field: 'authorization' });
    const id = l402Identifier(first.identifier, 'authorization');
    if (sha256Hex(Buffer.from(a.preimage, 'hex')) !== id.payment_hash) {
      throw new SpendtrailError('PREIMAGE_MISMATCH', `sha256(preimage) is not the macaroon's payment hash ${id.payment_hash}`, { field: 'authorization' });
    }
    if (id.payment_hash !== hash) {
      throw new SpendtrailError('PREIMAGE_MISMATCH', `the credentials are for payment hash ${id.payment_hash}, this payment is ${hash}`, { field: 'authorization' });
    }
  }
}
