import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findCurrency } from './currency.ts';
import { convert, formatMinor, normalizeRate, parseDecimal, parseRate } from './decimal.ts';

const opts = { allowNegative: false, field: 'amount' };

describe('decimal amounts', () => {
  it('parses a decimal string into exact minor units', () => {
    expect(parseDecimal('2100.00', 2, opts)).toBe(210000n);
    expect(parseDecimal('0.000001', 6, opts)).toBe(1n);
    expect(parseDecimal('12', 2, opts)).toBe(1200n);
    expect(parseDecimal('12.5', 2, opts)).toBe(1250n);
    expect(parseDecimal('1500', 0, opts)).toBe(1500n);
  });

  it('keeps 40-digit sums exact where a JS number would round', () => {
    const a = parseDecimal('999999999999999999999.99', 2, opts);
    expect(formatMinor(a + 1n, 2)).toBe('1000000000000000000000.00');
  });

  it('rejects more decimals than the currency allows', () => {
    expect(() => parseDecimal('1.001', 2, opts)).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'amount' }));
    expect(() => parseDecimal('1.5', 0, opts)).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT' }));
  });

  it.each(['1e3', '1E-2', '+1.00', ' 1.00', '1.', '.5', '01.00', 'NaN', 'Infinity', '0x10', '1,000.00', '', '--1', '１'])(
    'rejects %j as a money string',
    (text) => {
      expect(() => parseDecimal(text, 2, opts)).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT' }));
    },
  );

  it('rejects negative amounts unless allowed, and negative zero always', () => {
    expect(() => parseDecimal('-1.00', 2, opts)).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT' }));
    expect(parseDecimal('-1.00', 2, { ...opts, allowNegative: true })).toBe(-100n);
    expect(() => parseDecimal('-0.00', 2, { ...opts, allowNegative: true })).toThrow(
      expect.objectContaining({ code: 'INVALID_AMOUNT' }),
    );
  });

  it('rejects absurdly long integer parts', () => {
    expect(() => parseDecimal('1'.repeat(40), 2, opts)).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT' }));
  });

  it('round-trips any minor amount exactly through its decimal string', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 23n), max: 10n ** 23n }), fc.integer({ min: 0, max: 18 }), (minor, exp) => {
        const text = formatMinor(minor, exp);
        expect(parseDecimal(text, exp, { allowNegative: true, field: 'a' })).toBe(minor);
      }),
    );
  });
});

describe('currency table', () => {
  it('knows the ISO 4217 exponents that differ from two', () => {
    expect(findCurrency('USD')?.exponent).toBe(2);
    expect(findCurrency('JPY')?.exponent).toBe(0);
    expect(findCurrency('KRW')?.exponent).toBe(0);
    expect(findCurrency('JOD')?.exponent).toBe(3);
    expect(findCurrency('KWD')?.exponent).toBe(3);
    expect(findCurrency('CLF')?.exponent).toBe(4);
    expect(findCurrency('USDC')).toMatchObject({ exponent: 6, kind: 'crypto' });
    expect(findCurrency('usd')).toBeUndefined();
    expect(findCurrency('XYZ')).toBeUndefined();
  });
});

describe('rate text', () => {
  it('writes equal rates the same way', () => {
    expect(normalizeRate('1.10', 'r')).toBe('1.1');
    expect(normalizeRate('1.0000', 'r')).toBe('1');
    expect(normalizeRate('0.00085', 'r')).toBe('0.00085');
    expect(normalizeRate('12', 'r')).toBe('12');
    expect(() => normalizeRate('0.000', 'fx_rate')).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'fx_rate' }));
  });
});

describe('currency conversion', () => {
  it('converts at an exact rate with half-even rounding', () => {
    const rate = parseRate('1.0825', 'fx_rate');
    // 10.00 × 1.0825 = 10.825: a tie, rounded to the even cent.
    expect(convert(1000n, 2, rate, 2)).toBe(1082n);
    // 10.10 × 1.0825 = 10.93325: below the tie, rounds down.
    expect(convert(1010n, 2, rate, 2)).toBe(1093n);
    // 1,000 JPY at 0.0067 USD = 6.70 USD, across exponents.
    expect(convert(1000n, 0, parseRate('0.0067', 'r'), 2)).toBe(670n);
    // 1.000001 USDC at 1 = 1.00 USD (half-even down), negative amounts mirror.
    expect(convert(1000001n, 6, parseRate('1', 'r'), 2)).toBe(100n);
    expect(convert(-1000n, 2, rate, 2)).toBe(-1082n);
  });
});
