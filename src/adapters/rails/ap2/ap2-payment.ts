import { z } from 'zod';
import type { RailCapture } from '../../../app/rail-ingest.ts';
import { identifier, instantText, mcc, parseInput, text } from '../../../app/schemas.ts';
import { parseTransactionInput } from '../../../app/transaction-input.ts';
import { canonicalize } from '../../../domain/canonical/jcs.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { sha256Hex } from '../../../domain/hash.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import { decimalFromJsonNumber, formatMinor, parseDecimal } from '../../../domain/money/decimal.ts';
import type { AssetValuation } from '../../../domain/money/valuation.ts';
import { parseInstant } from '../../../domain/time.ts';
import { parseJsonDocument } from '../../import/json-document.ts';
import { CART_MANDATE, INTENT_MANDATE, PAYMENT_MANDATE, PAYMENT_RECEIPT, cartMandate, intentMandate, paymentMandate, paymentReceipt } from './ap2-types.ts';

/**
 * POST /v1/rails/ap2/payments: the AP2 v0.1 objects of one purchase under their A2A DataPart
 * keys, and the ledger fields AP2 does not carry (which agent, why, which GL account).
 */
export const ap2PaymentRecord = z.strictObject({
  agent_id: identifier,
  merchant_category: mcc.nullish(),
  /** Defaults to the IntentMandate's natural-language description, the intent the user confirmed. */
  business_purpose: text(1000).nullish(),
  accounting_code: text(32).min(1).nullish(),
  approver: text(200).nullish(),
  authorization_id: z.string().uuid().nullish(),
  fx_rate: z.string().max(40).nullish(),
  fx_rate_source: text(200).nullish(),
  fx_rate_time: instantText.nullish(),
  [INTENT_MANDATE]: intentMandate.nullish(),
  [CART_MANDATE]: cartMandate,
  [PAYMENT_MANDATE]: paymentMandate,
  [PAYMENT_RECEIPT]: paymentReceipt,
});

const NATIVE = [INTENT_MANDATE, CART_MANDATE, PAYMENT_MANDATE, PAYMENT_RECEIPT];
const digest = (value: unknown): string => `sha256:${sha256Hex(canonicalize(value))}`;

/**
 * Turns a posted AP2 purchase into a rail capture, keyed by payment_mandate_id. The receipt
 * says what happened: Success is a payment to the cart's merchant for the receipt's amount;
 * Error and Failure are kept as a failed record. Each mandate's SHA-256 over its RFC 8785
 * encoding goes into the record's logged reason, and the user's signed authorization is
 * referenced by its hash as the payment's approval_ref, so an auditor can match the ledger
 * line to the exact mandates the user and the merchant signed.
 */
export function ap2Capture(payload: Buffer, valuation: AssetValuation): RailCapture {
  const body = parseRecord(parseJsonDocument(payload, 'the AP2 payment record'));
  const intent = body[INTENT_MANDATE] ?? null;
  const cart = body[CART_MANDATE];
  const mandate = body[PAYMENT_MANDATE];
  const receipt = body[PAYMENT_RECEIPT];
  const contents = mandate.payment_mandate_contents;
  const mandateId = contents.payment_mandate_id;
  if (receipt.payment_mandate_id !== mandateId) {
    throw new SpendtrailError('VALIDATION_FAILED', `the receipt is for mandate ${receipt.payment_mandate_id}, not ${mandateId}`, {
      field: `${PAYMENT_RECEIPT}.payment_mandate_id`,
    });
  }

  const hashes = [
    ...(intent === null ? [] : [`IntentMandate ${digest(intent)}`]),
    `CartMandate ${digest(cart)}`,
    `PaymentMandate ${digest(mandate)}`,
    `PaymentReceipt ${digest(receipt)}`,
  ].join(', ');
  const base = { rail: 'ap2' as const, source_id: mandateId, content_type: 'application/json', payload };
  const status = receipt.payment_status;
  // A failed attempt is kept under its own id (mandate and receipt payment_id): the mandate may
  // still be paid by a later attempt, whose record must not collide with this one.
  const failed = { ...base, source_id: `${mandateId}:failed:${receipt.payment_id}`, outcome: 'failed' as const, transactions: [] };
  if ('error_message' in status) return { ...failed, reason: `Error: ${status.error_message}; ${hashes}` };
  if ('failure_message' in status) return { ...failed, reason: `Failure: ${status.failure_message}; ${hashes}` };

  const amountField = `${PAYMENT_RECEIPT}.amount`;
  const currency = findCurrency(receipt.amount.currency);
  if (currency === undefined) {
    throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${receipt.amount.currency}`, { field: `${amountField}.currency` });
  }
  const amount = exactAmount(receipt.amount.value, currency.exponent, `${amountField}.value`);
  const total = contents.payment_details_total.amount;
  const totalField = `${PAYMENT_MANDATE}.payment_mandate_contents.payment_details_total.amount`;
  if (total.currency !== currency.code) {
    throw new SpendtrailError('CURRENCY_MISMATCH', `the receipt is in ${currency.code}, the mandate total in ${total.currency}`, { field: `${amountField}.currency` });
  }
  // The PaymentMandate total is what the user authorized; a receipt above it is money the user
  // never signed for, and is refused rather than booked as if it had been.
  if (amount > exactAmount(total.value, currency.exponent, `${totalField}.value`)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'the receipt amount exceeds the total the user authorized in the PaymentMandate', { field: `${amountField}.value` });
  }

  const timestamp = parseInstant(receipt.timestamp, `${PAYMENT_RECEIPT}.timestamp`);
  const fx = body.fx_rate == null ? valuation(currency.code, timestamp) : { fx_rate: body.fx_rate, fx_rate_source: body.fx_rate_source ?? null, fx_rate_time: body.fx_rate_time ?? null };
  const userAuthorization = mandate.user_authorization ?? null;
  const purpose = body.business_purpose ?? intent?.natural_language_description.slice(0, 1000) ?? null;
  const transaction = parseTransactionInput({
    external_id: mandateId,
    agent_id: body.agent_id,
    timestamp,
    amount: formatMinor(amount, currency.exponent),
    currency: currency.code,
    payment_rail: 'ap2',
    merchant: cart.contents.merchant_name,
    merchant_category: body.merchant_category ?? null,
    business_purpose: purpose === null || purpose.trim() === '' ? null : purpose,
    accounting_code: body.accounting_code ?? null,
    approver: body.approver ?? null,
    // The user's signature over the cart and payment mandates is the authorization of this spend.
    approval_ref: userAuthorization === null ? null : `ap2 user_authorization sha256:${sha256Hex(userAuthorization)}`,
    authorization_id: body.authorization_id ?? null,
    ...fx,
  });
  const confirmation = `merchant_confirmation_id ${status.merchant_confirmation_id}`;
  return { ...base, outcome: 'settled', reason: `Success: ${confirmation}; ${hashes}`, transactions: [transaction] };
}

/** An AP2 amount in minor units: a float only when it is exactly a decimal of the currency. */
function exactAmount(value: number | string, exponent: number, field: string): bigint {
  const textValue = typeof value === 'number' ? decimalFromJsonNumber(value, exponent, field) : value;
  return parseDecimal(textValue, exponent, { allowNegative: false, field });
}

function parseRecord(raw: unknown): z.output<typeof ap2PaymentRecord> {
  try {
    return parseInput(ap2PaymentRecord, raw);
  } catch (e) {
    // A mandate or receipt not in AP2's shape is a malformed rail record; a bad ledger field is the caller's input error.
    if (e instanceof SpendtrailError && NATIVE.some((k) => e.field === k || e.field?.startsWith(`${k}.`) === true)) {
      throw new SpendtrailError('MALFORMED_PAYLOAD', `not an AP2 v0.1 object: ${e.message}`, { field: e.field });
    }
    throw e;
  }
}
