import canonicalizeRef from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amount, instant, nullable, rail, record, text, txType } from '../../../test/support/transaction-arbitraries.ts';
import type { Instant } from '../time.ts';
import type { TransactionInput, TransactionRecord } from './transaction.ts';
import { encodeTransaction, encodeTransactionInput } from './transaction.ts';


const input: fc.Arbitrary<TransactionInput> = fc.record({
  external_id: text,
  agent_id: text,
  timestamp: instant,
  type: txType,
  refund_of: nullable(text),
  amount,
  currency: text,
  payment_rail: rail,
  merchant: text,
  merchant_category: nullable(text),
  business_purpose: nullable(text),
  accounting_code: nullable(text),
  approver: nullable(text),
  approval_ref: nullable(text),
  authorization_id: nullable(text),
  reporting_amount: nullable(amount),
  fx_rate: nullable(text),
  fx_rate_source: nullable(text),
  fx_rate_time: nullable(instant),
});

const EXAMPLE_INPUT: TransactionInput = {
  external_id: 'e',
  agent_id: 'a',
  timestamp: '2026-03-12T10:00:00.000Z' as Instant,
  type: 'payment',
  refund_of: null,
  amount: '1.00',
  currency: 'USD',
  payment_rail: 'card',
  merchant: 'm',
  merchant_category: null,
  business_purpose: null,
  accounting_code: null,
  approver: null,
  approval_ref: null,
  authorization_id: null,
  reporting_amount: null,
  fx_rate: null,
  fx_rate_source: null,
  fx_rate_time: null,
};

describe('encodeTransaction', () => {
  it('writes exactly the RFC 8785 bytes of any transaction record', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(encodeTransaction(r)).toBe(canonicalizeRef(r));
      }),
      { numRuns: 500 },
    );
  });

  it('loses no field: the encoding parses back to the record', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(JSON.parse(encodeTransaction(r))).toEqual(r);
      }),
    );
  });

  it('escapes a lone surrogate as JSON.stringify does, never passing it through raw', () => {
    const r: TransactionRecord = { ...fc.sample(record, { seed: 7, numRuns: 1 })[0]!, merchant: 'a\ud800b', external_id: '\udc00' };
    const bytes = encodeTransaction(r);
    expect(bytes).toContain('"merchant":"a\\ud800b"');
    expect(bytes).toContain('"external_id":"\\udc00"');
    expect(JSON.parse(bytes)).toEqual(r);
  });

  it('writes a known record byte for byte', () => {
    const r: TransactionRecord = {
      kind: 'transaction',
      seq: 42,
      org_id: 'org_1',
      tx_id: 'tx_1',
      recorded_at: '2026-03-12T10:00:01.000Z' as Instant,
      recorded_by: 'key_1',
      external_id: 'ch_"1"',
      agent_id: 'agent_1',
      timestamp: '2026-03-12T10:00:00.000Z' as Instant,
      type: 'payment',
      refund_of: null,
      amount: '12.50',
      currency: 'USD',
      reporting_amount: '12.50',
      reporting_currency: 'USD',
      fx_rate: null,
      fx_rate_source: null,
      fx_rate_time: null,
      payment_rail: 'x402',
      merchant: 'Café\u2028😀',
      merchant_category: '5734',
      business_purpose: 'line\nbreak',
      accounting_code: '6000',
      accounting_code_source: 'mcc_rule',
      approver: null,
      approval_ref: null,
      authorization_id: null,
      policy_snapshot_id: null,
      violations: ['no_policy', 'uncoded'],
      spend_before_daily: '0.00',
      spend_before_monthly: '100.00',
      input_hash: 'ab',
    };
    expect(encodeTransaction(r)).toBe(
      '{"accounting_code":"6000","accounting_code_source":"mcc_rule","agent_id":"agent_1","amount":"12.50",' +
        '"approval_ref":null,"approver":null,"authorization_id":null,"business_purpose":"line\\nbreak","currency":"USD",' +
        '"external_id":"ch_\\"1\\"","fx_rate":null,"fx_rate_source":null,"fx_rate_time":null,"input_hash":"ab",' +
        '"kind":"transaction","merchant":"Café\u2028😀","merchant_category":"5734","org_id":"org_1","payment_rail":"x402",' +
        '"policy_snapshot_id":null,"recorded_at":"2026-03-12T10:00:01.000Z","recorded_by":"key_1","refund_of":null,' +
        '"reporting_amount":"12.50","reporting_currency":"USD","seq":42,"spend_before_daily":"0.00",' +
        '"spend_before_monthly":"100.00","timestamp":"2026-03-12T10:00:00.000Z","tx_id":"tx_1","type":"payment",' +
        '"violations":["no_policy","uncoded"]}',
    );
  });
});

describe('encodeTransactionInput', () => {
  it('writes exactly the RFC 8785 bytes of any normalised input', () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(encodeTransactionInput(i)).toBe(canonicalizeRef(i));
      }),
      { numRuns: 500 },
    );
  });

  it('loses no field: the encoding parses back to the input', () => {
    fc.assert(
      fc.property(input, (i) => {
        expect(JSON.parse(encodeTransactionInput(i))).toEqual(i);
      }),
    );
  });

  it('gives different bytes to inputs that differ in any one field', () => {
    fc.assert(
      fc.property(input, input, fc.constantFrom(...(Object.keys(EXAMPLE_INPUT) as (keyof TransactionInput)[])), (a, b, key) => {
        fc.pre(a[key] !== b[key]);
        const changed: TransactionInput = { ...a, [key]: b[key] };
        expect(encodeTransactionInput(changed)).not.toBe(encodeTransactionInput(a));
      }),
    );
  });
});
