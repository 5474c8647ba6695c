import { describe, expect, it } from 'vitest';
import { SpendtrailError } from '../errors.ts';
import { DEFAULT_VALUATION_RULES, parseValuationRules, valuationFields } from './valuation.ts';

const at = '2026-03-01T00:00:00.000Z' as Parameters<typeof valuationFields>[3];
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'none';
  } catch (e) {
    return e instanceof SpendtrailError ? `${e.code}@${e.field ?? ''}` : 'other';
  }
};

describe('valuation rules', () => {
  it('values USDC at par in USD by default and records the rule as the rate source', () => {
    expect(valuationFields(DEFAULT_VALUATION_RULES, 'USDC', 'USD', at)).toEqual({ fx_rate: '1', fx_rate_source: 'peg: 1 USDC = 1 USD (default rule)', fx_rate_time: at });
  });

  it('needs no rate for an amount already in the reporting currency', () => {
    expect(valuationFields([], 'EUR', 'EUR', at)).toEqual({ fx_rate: null, fx_rate_source: null, fx_rate_time: null });
  });

  it('names the missing rule instead of guessing a rate', () => {
    expect(codeOf(() => valuationFields(DEFAULT_VALUATION_RULES, 'USDC', 'EUR', at))).toBe('FX_RATE_REQUIRED@currency');
    expect(codeOf(() => valuationFields(DEFAULT_VALUATION_RULES, 'SAT', 'USD', at))).toBe('FX_RATE_REQUIRED@currency');
  });

  it('normalises rules and refuses unknown assets, bad rates, blank sources and duplicates with the offending field', () => {
    expect(parseValuationRules([{ asset: 'sat', quote: 'usd', rate: '0.00090000', source: 'treasury rate 2026-03' }])).toEqual([
      { asset: 'SAT', quote: 'USD', rate: '0.0009', source: 'treasury rate 2026-03' },
    ]);
    expect(codeOf(() => parseValuationRules([{ asset: 'DOGE', quote: 'USD', rate: '1', source: 's' }]))).toBe('UNKNOWN_CURRENCY@rules[0].asset');
    expect(codeOf(() => parseValuationRules([{ asset: 'USDC', quote: 'USD', rate: '-1', source: 's' }]))).toBe('INVALID_AMOUNT@rules[0].rate');
    expect(codeOf(() => parseValuationRules([{ asset: 'USDC', quote: 'USD', rate: '1', source: ' ' }]))).toBe('VALIDATION_FAILED@rules[0].source');
    const twice = { asset: 'USDC', quote: 'USD', rate: '1', source: 's' };
    expect(codeOf(() => parseValuationRules([twice, twice]))).toBe('VALIDATION_FAILED@rules[1]');
  });
});
