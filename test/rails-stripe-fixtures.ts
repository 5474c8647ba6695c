import Stripe from 'stripe';

/**
 * Stripe objects and events as Stripe sends them, typed with stripe-node's own definitions
 * (every required field present, so a shape the SDK does not describe fails to compile), and
 * signed with stripe-node's test-header helper. Ids and amounts are the test's; everything
 * else is what a test-mode account would send.
 */

// The client is only used for its webhook helpers; the key is a placeholder and never sent anywhere.
export const stripe = new Stripe('sk_test_placeholder_for_webhook_helpers');
export const API_VERSION = '2026-10-28.endive';

let seq = 0;
/** A fresh Stripe-looking id with the given prefix. */
export const sid = (prefix: string): string => `${prefix}_${(++seq).toString(36).padStart(6, '0')}${Math.random().toString(36).slice(2, 12)}`;
const unix = (at: Date): number => Math.floor(at.getTime() / 1000);

export function paymentIntent(over: Omit<Partial<Stripe.PaymentIntent>, 'created'> & { amount: number; currency: string; created: Date }): Stripe.PaymentIntent {
  const { created, ...rest } = over;
  return {
    id: sid('pi'),
    object: 'payment_intent',
    allowed_payment_method_types: null,
    amount_capturable: 0,
    amount_details: { tip: {} },
    amount_received: over.amount,
    application: null,
    application_fee_amount: null,
    automatic_payment_methods: { allow_redirects: 'never', enabled: true },
    canceled_at: null,
    cancellation_reason: null,
    capture_method: 'automatic',
    client_secret: null,
    confirmation_method: 'automatic',
    customer: null,
    customer_account: null,
    description: null,
    excluded_payment_method_types: null,
    last_payment_error: null,
    latest_charge: sid('ch'),
    livemode: false,
    managed_payments: null,
    metadata: {},
    next_action: null,
    on_behalf_of: null,
    payment_method: sid('pm'),
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ['card'],
    payment_record: null,
    processing: null,
    receipt_email: null,
    review: null,
    setup_future_usage: null,
    shipping: null,
    source: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
    ...rest,
    created: unix(created),
  };
}

export function refund(over: Omit<Partial<Stripe.Refund>, 'created'> & { amount: number; currency: string; created: Date; payment_intent: string; charge: string }): Stripe.Refund {
  const { created, ...rest } = over;
  return {
    id: sid('re'),
    object: 'refund',
    balance_transaction: sid('txn'),
    customer: null,
    customer_account: null,
    metadata: {},
    payment_method: sid('pm'),
    reason: 'requested_by_customer',
    receipt_number: null,
    source_transfer_reversal: null,
    status: 'succeeded',
    transfer_reversal: null,
    ...rest,
    created: unix(created),
  };
}

/** The charge of a PaymentIntent after refunds; `refunds` is left out when the endpoint's API version does not include it. */
export function charge(pi: Stripe.PaymentIntent, refunds: Stripe.Refund[] | null, over: Partial<Stripe.Charge> = {}): Stripe.Charge {
  const refunded = (refunds ?? []).filter((r) => r.status === 'succeeded' || r.status === 'pending').reduce((s, r) => s + r.amount, 0);
  return {
    id: typeof pi.latest_charge === 'string' ? pi.latest_charge : sid('ch'),
    object: 'charge',
    amount: pi.amount_received,
    amount_captured: pi.amount_received,
    amount_refunded: refunded,
    application: null,
    application_fee: null,
    application_fee_amount: null,
    balance_transaction: sid('txn'),
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    calculated_statement_descriptor: 'SPENDTRAIL TEST',
    captured: true,
    created: pi.created,
    currency: pi.currency,
    customer: null,
    description: null,
    disputed: false,
    failure_balance_transaction: null,
    failure_code: null,
    failure_message: null,
    fraud_details: null,
    livemode: false,
    // Stripe does not copy a PaymentIntent's metadata onto its charge; refunds are attributed through the ledger.
    metadata: {},
    on_behalf_of: null,
    outcome: null,
    paid: true,
    payment_intent: pi.id,
    payment_method: typeof pi.payment_method === 'string' ? pi.payment_method : null,
    payment_method_details: null,
    receipt_email: null,
    receipt_number: null,
    receipt_url: null,
    refunded: refunded === pi.amount_received,
    review: null,
    shipping: null,
    source: null,
    source_transfer: null,
    statement_descriptor: null,
    statement_descriptor_suffix: null,
    status: 'succeeded',
    transfer_data: null,
    transfer_group: null,
    ...(refunds === null ? {} : { refunds: { object: 'list', data: refunds, has_more: false, url: `/v1/charges/${pi.latest_charge as string}/refunds` } }),
    ...over,
  };
}

export function cardholder(metadata: Stripe.Metadata = {}): Stripe.Issuing.Cardholder {
  return {
    id: sid('ich'),
    object: 'issuing.cardholder',
    billing: { address: { city: 'San Francisco', country: 'US', line1: '1 Market St', line2: null, postal_code: '94105', state: 'CA' } },
    company: null,
    created: 1767225600,
    email: 'agents@acme.test',
    individual: null,
    livemode: false,
    metadata,
    name: 'Acme Agents',
    phone_number: null,
    preferred_locales: null,
    requirements: { disabled_reason: null, past_due: [] },
    spending_controls: null,
    status: 'active',
    type: 'company',
  };
}

export function issuingCard(metadata: Stripe.Metadata = {}, holder: Stripe.Issuing.Cardholder = cardholder()): Stripe.Issuing.Card {
  return {
    id: sid('ic'),
    object: 'issuing.card',
    brand: 'Visa',
    cancellation_reason: null,
    cardholder: holder,
    created: 1767225600,
    currency: 'usd',
    exp_month: 12,
    exp_year: 2030,
    last4: '4242',
    latest_fraud_warning: null,
    lifecycle_controls: null,
    livemode: false,
    metadata,
    personalization_design: null,
    replaced_by: null,
    replacement_for: null,
    replacement_reason: null,
    second_line: null,
    shipping: null,
    spending_controls: { allowed_card_presences: null, blocked_card_presences: null, allowed_categories: null, allowed_merchant_countries: null, blocked_categories: null, blocked_merchant_countries: null, spending_limits: null, spending_limits_currency: null },
    status: 'active',
    type: 'virtual',
    wallets: null,
  };
}

export const merchant = (name: string | null, mcc: string, category = 'computer_software_stores'): Stripe.Issuing.Authorization.MerchantData => ({
  category,
  category_code: mcc,
  city: 'San Francisco',
  country: 'US',
  name,
  network_id: '1234567890',
  postal_code: '94107',
  state: 'CA',
  tax_id: null,
  terminal_id: null,
  url: null,
});

/** An Issuing authorization; with `pending` it is the object of an `issuing_authorization.request`. */
export function authorization(o: { card: Stripe.Issuing.Card; amount: number; currency: string; merchant: Stripe.Issuing.Authorization.MerchantData; created: Date; pending: boolean; approved?: boolean; metadata?: Stripe.Metadata }): Stripe.Issuing.Authorization {
  return {
    id: sid('iauth'),
    object: 'issuing.authorization',
    amount: o.pending ? 0 : o.amount,
    amount_details: { atm_fee: null, cashback_amount: null },
    approved: o.approved ?? !o.pending,
    authorization_method: 'online',
    balance_transactions: [],
    card: o.card,
    card_presence: 'not_present',
    cardholder: typeof o.card.cardholder === 'string' ? o.card.cardholder : o.card.cardholder.id,
    created: unix(o.created),
    currency: o.currency,
    fleet: null,
    fuel: null,
    livemode: false,
    merchant_amount: o.pending ? 0 : o.amount,
    merchant_currency: o.currency,
    merchant_data: o.merchant,
    metadata: o.metadata ?? {},
    network_data: null,
    pending_request: o.pending
      ? { amount: o.amount, amount_details: { atm_fee: null, cashback_amount: null }, currency: o.currency, is_amount_controllable: false, merchant_amount: o.amount, merchant_currency: o.currency, network_risk_score: null }
      : null,
    request_history: [],
    status: o.pending ? 'pending' : o.approved === false ? 'closed' : 'pending',
    transactions: [],
    verification_data: {
      address_line1_check: 'not_provided',
      address_postal_code_check: 'not_provided',
      authentication_exemption: null,
      cvc_check: 'match',
      expiry_check: 'match',
      postal_code: null,
      three_d_secure: null,
    },
    verified_by_fraud_challenge: null,
    wallet: null,
  };
}

/** An Issuing transaction in Stripe's sign convention: a capture takes money out (negative), a refund brings it back (positive). */
export function issuingTransaction(o: { type: 'capture' | 'refund'; amount: number; currency: string; authorization: string | null; card: string; merchant: Stripe.Issuing.Authorization.MerchantData; created: Date; metadata?: Stripe.Metadata }): Stripe.Issuing.Transaction {
  return {
    id: sid('ipi'),
    object: 'issuing.transaction',
    amount: o.amount,
    amount_details: { atm_fee: null, cashback_amount: null },
    authorization: o.authorization,
    balance_transaction: sid('txn'),
    card: o.card,
    cardholder: null,
    created: unix(o.created),
    currency: o.currency,
    dispute: null,
    livemode: false,
    merchant_amount: o.amount,
    merchant_currency: o.currency,
    merchant_data: o.merchant,
    metadata: o.metadata ?? {},
    network_data: { authorization_code: 'S498162', processing_date: '2026-03-12', transaction_id: '123456789012345' },
    type: o.type,
    wallet: null,
  };
}

type Events = {
  'payment_intent.succeeded': Stripe.PaymentIntentSucceededEvent;
  'payment_intent.created': Stripe.PaymentIntentCreatedEvent;
  'charge.refunded': Stripe.ChargeRefundedEvent;
  'issuing_authorization.request': Stripe.IssuingAuthorizationRequestEvent;
  'issuing_authorization.created': Stripe.IssuingAuthorizationCreatedEvent;
  'issuing_transaction.created': Stripe.IssuingTransactionCreatedEvent;
};

/** A snapshot event around an object, as a webhook endpoint receives it. */
export function event<K extends keyof Events>(type: K, object: Events[K]['data']['object'], created: Date, over: Partial<Stripe.EventBase> = {}): Events[K] {
  return {
    id: sid('evt'),
    object: 'event',
    api_version: API_VERSION,
    created: unix(created),
    data: { object },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
    ...over,
  } as Events[K];
}

/** The Stripe-Signature header stripe-node makes for these bytes, signed at `at`. */
export const signatureFor = (body: string, secret: string, at: Date): string => stripe.webhooks.generateTestHeaderString({ payload: body, secret, timestamp: unix(at) });

/** The body exactly as Stripe sends it (pretty-printed JSON) and its Stripe-Signature header. */
export function signed(e: object, secret: string, at: Date): { body: string; header: string } {
  const body = JSON.stringify(e, null, 2);
  return { body, header: signatureFor(body, secret, at) };
}
