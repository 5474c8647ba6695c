import { z } from 'zod';
import type { RailCapture } from '../../../app/rail-ingest.ts';
import { currencyCode, identifier, instantText, mcc, moneyString, parseInput, text } from '../../../app/schemas.ts';
import { parseTransactionInput } from '../../../app/transaction-input.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import type { AssetValuation } from '../../../domain/money/valuation.ts';
import { parseInstant } from '../../../domain/time.ts';
import { parseJsonDocument } from '../../import/json-document.ts';

/**
 * Mastercard Agent Pay for Machines (AP4M) has no published data format. Until it does, this is
 * Spendtrail's own record for an AP4M payment (docs/rails/ap4m.md): the ledger fields, typed,
 * and whatever the network or the agent's SDK returned in `raw`, kept verbatim in the stored
 * payload. `format` names this placeholder so a later, real format can be told apart.
 */
export const AP4M_FORMAT = 'spendtrail.ap4m.v0';

export const ap4mRecord = z.strictObject({
  format: z.literal(AP4M_FORMAT).optional(),
  record_id: text(200).min(1),
  agent_id: identifier,
  amount: moneyString,
  currency: currencyCode,
  merchant: text(200).refine((s) => s.trim() !== '', { message: 'merchant is empty' }),
  merchant_category: mcc.nullish(),
  timestamp: instantText,
  status: z.enum(['settled', 'failed', 'pending']),
  failure_reason: text(1000).nullish(),
  business_purpose: text(1000).nullish(),
  accounting_code: text(32).min(1).nullish(),
  approver: text(200).nullish(),
  approval_ref: text(200).nullish(),
  authorization_id: z.string().uuid().nullish(),
  fx_rate: z.string().max(40).nullish(),
  fx_rate_source: text(200).nullish(),
  fx_rate_time: instantText.nullish(),
  /** The network's own record, opaque to Spendtrail. */
  raw: z.record(z.string(), z.unknown()),
});

/**
 * Turns a posted AP4M record into a rail capture keyed by record_id: settled is a payment,
 * failed a failed record, pending is refused until it settles.
 */
export function ap4mCapture(payload: Buffer, valuation: AssetValuation): RailCapture {
  const r = parseInput(ap4mRecord, parseJsonDocument(payload, 'the AP4M record'));
  const base = { rail: 'ap4m' as const, source_id: r.record_id, content_type: 'application/json', payload };
  if (r.status === 'pending') {
    throw new SpendtrailError('PAYMENT_NOT_SETTLED', `AP4M record ${r.record_id} is pending: record it once it has settled or failed`, { field: 'status' });
  }
  const timestamp = parseInstant(r.timestamp, 'timestamp');
  if (r.status === 'failed') {
    return { ...base, outcome: 'failed', reason: `failed: ${r.failure_reason ?? 'no failure_reason given'}`, transactions: [] };
  }
  if (r.failure_reason != null) throw new SpendtrailError('VALIDATION_FAILED', 'a settled record has no failure_reason', { field: 'failure_reason' });
  // Checked before valuation: "XYZ" is no currency at all, not one that lacks a rate (FX_RATE_REQUIRED).
  if (findCurrency(r.currency) === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${r.currency}`, { field: 'currency' });
  const fx = r.fx_rate == null ? valuation(r.currency, timestamp) : { fx_rate: r.fx_rate, fx_rate_source: r.fx_rate_source ?? null, fx_rate_time: r.fx_rate_time ?? null };
  const transaction = parseTransactionInput({
    external_id: r.record_id,
    agent_id: r.agent_id,
    timestamp,
    amount: r.amount,
    currency: r.currency,
    payment_rail: 'ap4m',
    merchant: r.merchant,
    merchant_category: r.merchant_category ?? null,
    business_purpose: r.business_purpose ?? null,
    accounting_code: r.accounting_code ?? null,
    approver: r.approver ?? null,
    approval_ref: r.approval_ref ?? null,
    authorization_id: r.authorization_id ?? null,
    ...fx,
  });
  return { ...base, outcome: 'settled', reason: null, transactions: [transaction] };
}
