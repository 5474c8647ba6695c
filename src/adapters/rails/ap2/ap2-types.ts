import { z } from 'zod';

/**
 * AP2 v0.1 objects as the protocol's Python types serialise them to JSON
 * (google-agentic-commerce/AP2 src/ap2/types/mandate.py, payment_request.py,
 * payment_receipt.py). The protocol's own objects are loose: a field a newer version adds
 * is kept in the stored payload, not refused; the fields the ledger reads are checked.
 */

/** W3C PaymentCurrencyAmount: AP2 v0.1 sends `value` as a float (a decimal string is taken too). */
export const paymentCurrencyAmount = z.looseObject({
  currency: z.string().min(3).max(8),
  value: z.union([z.number(), z.string().max(64)]),
});

export const paymentItem = z.looseObject({
  label: z.string().max(1000),
  amount: paymentCurrencyAmount,
  pending: z.boolean().nullish(),
  refund_period: z.number().int().nullish(),
});

export const intentMandate = z.looseObject({
  user_cart_confirmation_required: z.boolean().optional(),
  natural_language_description: z.string().max(10_000),
  merchants: z.array(z.string()).nullish(),
  skus: z.array(z.string()).nullish(),
  requires_refundability: z.boolean().nullish(),
  intent_expiry: z.string().max(64),
});

export const cartMandate = z.looseObject({
  contents: z.looseObject({
    id: z.string().min(1).max(300),
    user_cart_confirmation_required: z.boolean(),
    payment_request: z.looseObject({
      method_data: z.array(z.unknown()),
      details: z.looseObject({ id: z.string().max(300), display_items: z.array(paymentItem), total: paymentItem }),
    }),
    cart_expiry: z.string().max(64),
    merchant_name: z.string().min(1).max(200),
  }),
  /** Merchant-signed JWT over the cart contents (kept, not verified here). */
  merchant_authorization: z.string().nullish(),
});

export const paymentMandate = z.looseObject({
  payment_mandate_contents: z.looseObject({
    payment_mandate_id: z.string().min(1).max(200),
    payment_details_id: z.string().max(300),
    payment_details_total: paymentItem,
    payment_response: z.looseObject({ request_id: z.string().max(300), method_name: z.string().max(300) }),
    merchant_agent: z.string().max(300),
    timestamp: z.string().max(64),
  }),
  /** User-signed verifiable presentation (e.g. an SD-JWT-VC) over the cart and payment mandates. */
  user_authorization: z.string().nullish(),
});

/**
 * PaymentReceipt.payment_status is a pydantic union `Success | Error | Failure` serialised
 * without a tag: which one it is shows in its fields. Strict objects, so that a status with
 * both a confirmation id and an error message is refused instead of read as either.
 */
export const receiptSuccess = z.strictObject({
  merchant_confirmation_id: z.string().max(300),
  psp_confirmation_id: z.string().max(300).nullish(),
  network_confirmation_id: z.string().max(300).nullish(),
});
export const receiptError = z.strictObject({ error_message: z.string().max(2000) });
export const receiptFailure = z.strictObject({ failure_message: z.string().max(2000) });

export const paymentReceipt = z.looseObject({
  payment_mandate_id: z.string().min(1).max(200),
  timestamp: z.string().max(64),
  payment_id: z.string().min(1).max(90),
  amount: paymentCurrencyAmount,
  payment_status: z.union([receiptSuccess, receiptError, receiptFailure]),
  payment_method_details: z.record(z.string(), z.unknown()).nullish(),
});

/** The A2A DataPart keys AP2 v0.1 puts these objects under. */
export const INTENT_MANDATE = 'ap2.mandates.IntentMandate';
export const CART_MANDATE = 'ap2.mandates.CartMandate';
export const PAYMENT_MANDATE = 'ap2.mandates.PaymentMandate';
export const PAYMENT_RECEIPT = 'ap2.PaymentReceipt';
