import { randomUUID } from 'node:crypto';

/**
 * One AP2 v0.1 purchase as its Python types serialise it (pydantic `model_dump(mode="json")`
 * of ap2.types IntentMandate, CartMandate, PaymentMandate, PaymentReceipt): amounts are
 * floats, optional fields null, payment_status the bare Success/Error/Failure object.
 */
export function ap2Purchase(o: { value?: number; total?: number; currency?: string; status?: Record<string, unknown>; mandateId?: string; intent?: boolean } = {}): Record<string, unknown> {
  const value = o.value ?? 42.5;
  const currency = o.currency ?? 'USD';
  const cartId = `cart_${randomUUID()}`;
  const mandateId = o.mandateId ?? `pm_${randomUUID()}`;
  const total = { label: 'Total', amount: { currency, value: o.total ?? value }, pending: null, refund_period: 30 };
  const intent = {
    user_cart_confirmation_required: false,
    natural_language_description: 'GPU hours for the nightly evaluation run, up to 50 USD',
    merchants: ['Acme Compute'],
    skus: null,
    requires_refundability: false,
    intent_expiry: '2026-03-13T10:00:00Z',
    risk_payload: null,
  };
  const cart = {
    contents: {
      id: cartId,
      user_cart_confirmation_required: false,
      payment_request: {
        method_data: [{ supported_methods: 'CARD', data: { network: ['mastercard'] } }],
        details: {
          id: `order_${cartId}`,
          display_items: [{ label: '5 GPU hours', amount: { currency, value }, pending: null, refund_period: 30 }],
          shipping_options: null,
          modifiers: null,
          total,
        },
        options: null,
        shipping_address: null,
      },
      cart_expiry: '2026-03-12T10:15:00Z',
      merchant_name: 'Acme Compute',
    },
    merchant_authorization: 'eyJhbGciOiJFUzI1NiIsImtpZCI6Im1lcmNoYW50LTEifQ.eyJjYXJ0X2hhc2giOiIuLi4ifQ.c2lnbmF0dXJl',
    risk_payload: null,
  };
  const payment = {
    payment_mandate_contents: {
      payment_mandate_id: mandateId,
      payment_details_id: `order_${cartId}`,
      payment_details_total: total,
      payment_response: { request_id: `order_${cartId}`, method_name: 'CARD', details: { token: 'tok_1' }, shipping_address: null, shipping_option: null, payer_name: null, payer_email: null, payer_phone: null },
      merchant_agent: 'acme-compute-merchant-agent',
      timestamp: '2026-03-12T09:59:30.123456+00:00',
      risk_payload: null,
    },
    user_authorization: 'eyJhbGciOiJFUzI1NksiLCJ0eXAiOiJ2YytzZC1qd3QifQ.eyJ2Y3QiOiJtYW5kYXRlIn0.c2ln~eyJ0eXAiOiJrYitqd3QifQ.eyJ0cmFuc2FjdGlvbl9kYXRhIjpbXX0.a2I',
  };
  const receipt = {
    payment_mandate_id: mandateId,
    timestamp: '2026-03-12T10:00:05.250000+00:00',
    payment_id: `pay_${randomUUID().slice(0, 8)}`,
    amount: { currency, value },
    payment_status: o.status ?? { merchant_confirmation_id: 'mc_778', psp_confirmation_id: 'psp_991', network_confirmation_id: null },
    payment_method_details: null,
  };
  return {
    agent_id: 'support-bot',
    ...(o.intent === false ? {} : { 'ap2.mandates.IntentMandate': intent }),
    'ap2.mandates.CartMandate': cart,
    'ap2.mandates.PaymentMandate': payment,
    'ap2.PaymentReceipt': receipt,
  };
}

export const part = (p: Record<string, unknown>, key: string): Record<string, unknown> => p[key] as Record<string, unknown>;
