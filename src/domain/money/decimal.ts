import { SpendtrailError } from '../errors.ts';

/**
 * Exact decimal strings <-> bigint minor units. Money never passes through a JS number:
 * the parser works on the digits and the formatter on bigint division.
 */
const DECIMAL = /^(-)?(0|[1-9][0-9]*)(?:\.([0-9]+))?$/;

/** Longest integer part accepted: 10^24 major units is far beyond any real payment. */
const MAX_INTEGER_DIGITS = 24;

export interface ParseDecimalOptions {
  readonly allowNegative: boolean;
  readonly field: string;
}

/**
 * Parses a decimal string into minor units at `exponent`. Rejects exponents, signs other than
 * a leading '-', leading zeros, whitespace, negative zero and more decimals than the currency has.
 */
export function parseDecimal(text: string, exponent: number, options: ParseDecimalOptions): bigint {
  const m = DECIMAL.exec(text);
  if (m === null) {
    throw new SpendtrailError('INVALID_AMOUNT', `"${text.slice(0, 64)}" is not a plain decimal string (e.g. "12.50")`, {
      field: options.field,
    });
  }
  const [, sign, intPart = '0', fraction = ''] = m;
  if (intPart.length > MAX_INTEGER_DIGITS) {
    throw new SpendtrailError('INVALID_AMOUNT', `amount has more than ${MAX_INTEGER_DIGITS} integer digits`, {
      field: options.field,
    });
  }
  if (fraction.length > exponent) {
    throw new SpendtrailError(
      'INVALID_AMOUNT',
      `amount has ${fraction.length} decimal places; this currency allows ${exponent}`,
      { field: options.field },
    );
  }
  const minor = BigInt(intPart + fraction.padEnd(exponent, '0'));
  if (sign === '-') {
    if (minor === 0n) {
      throw new SpendtrailError('INVALID_AMOUNT', 'negative zero is not an amount', { field: options.field });
    }
    if (!options.allowNegative) {
      throw new SpendtrailError('INVALID_AMOUNT', 'a negative amount is only valid for a refund or reversal', {
        field: options.field,
      });
    }
    return -minor;
  }
  return minor;
}

/** Formats minor units as a decimal string with exactly `exponent` decimals ("-12.50"). */
export function formatMinor(minor: bigint, exponent: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, '0');
  const cut = digits.length - exponent;
  const body = exponent === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${body}` : body;
}

const RATE = /^(0|[1-9][0-9]{0,17})(?:\.([0-9]{1,18}))?$/;

/** A positive exchange rate as an exact fraction numerator / 10^scale. */
export interface Rate {
  readonly numerator: bigint;
  readonly scale: number;
  readonly text: string;
}

/** A rate's canonical text ("1.10" → "1.1"), so equal rates hash equally. */
export function normalizeRate(text: string, field: string): string {
  const r = parseRate(text, field);
  const digits = r.numerator.toString().padStart(r.scale + 1, '0');
  const int = digits.slice(0, digits.length - r.scale);
  const frac = digits.slice(digits.length - r.scale).replace(/0+$/, '');
  return frac === '' ? int : `${int}.${frac}`;
}

export function parseRate(text: string, field: string): Rate {
  const m = RATE.exec(text);
  if (m === null) {
    throw new SpendtrailError('INVALID_AMOUNT', `"${text.slice(0, 64)}" is not a positive decimal rate`, { field });
  }
  const fraction = m[2] ?? '';
  const numerator = BigInt((m[1] ?? '0') + fraction);
  if (numerator === 0n) throw new SpendtrailError('INVALID_AMOUNT', 'an exchange rate must be positive', { field });
  return { numerator, scale: fraction.length, text };
}

/**
 * Converts `minor` (at `fromExponent`) by `rate` (reporting units per original unit) into
 * minor units at `toExponent`, rounding half to even (banker's rounding, the usual choice for
 * accounting conversions because it does not bias totals).
 */
export function convert(minor: bigint, fromExponent: number, rate: Rate, toExponent: number): bigint {
  // value = minor / 10^from * num / 10^scale, expressed in 10^-to units.
  let numerator = minor * rate.numerator;
  const denominator = 10n ** BigInt(fromExponent + rate.scale);
  const up = 10n ** BigInt(toExponent);
  numerator *= up;
  const negative = numerator < 0n;
  if (negative) numerator = -numerator;
  let q = numerator / denominator;
  const r = numerator % denominator;
  const twice = r * 2n;
  if (twice > denominator || (twice === denominator && q % 2n === 1n)) q += 1n;
  return negative ? -q : q;
}

/**
 * Whether a reported reporting-currency amount agrees with amount × rate: within one minor unit
 * or 0.5 %, whichever is larger (processors round and settle at slightly different rates, but a
 * figure far off the stated rate would let a payment be booked below its value).
 */
export function fxConsistent(minor: bigint, fromExponent: number, rateText: string | null, reportingMinor: bigint, toExponent: number): boolean {
  if (rateText === null) return true;
  const expected = convert(minor, fromExponent, parseRate(rateText, 'fx_rate'), toExponent);
  const diff = expected > reportingMinor ? expected - reportingMinor : reportingMinor - expected;
  const abs = expected < 0n ? -expected : expected;
  return diff <= 1n || diff * 200n <= abs;
}

/**
 * The exact decimal a JSON number stands for, for rails that send money as floats (AP2 v0.1's
 * `PaymentCurrencyAmount.value`). The number is accepted only if its shortest round-trip
 * decimal form (ECMAScript Number::toString, the same digits RFC 8785 writes) has at most
 * `exponent` decimals and at most 15 significant digits: every decimal of up to 15 significant
 * digits survives the trip through a double unchanged, so the sender's text and ours are the
 * same number. Anything else (0.1 + 0.2, 1.005 USD, 1e-7) was not an exact amount in the
 * currency and is AMOUNT_NOT_EXACT rather than silently rounded.
 */
export function decimalFromJsonNumber(value: number, exponent: number, field: string): string {
  if (!Number.isFinite(value)) throw new SpendtrailError('AMOUNT_NOT_EXACT', `${value} is not an amount`, { field });
  const text = plainDecimal(String(value));
  const [int = '0', frac = ''] = text.replace(/^-/, '').split('.');
  const significant = (int + frac).replace(/^0+/, '').replace(/0+$/, '').length;
  if (frac.length > exponent || significant > 15) {
    throw new SpendtrailError(
      'AMOUNT_NOT_EXACT',
      `${String(value)} is not an exact amount with ${exponent} decimal${exponent === 1 ? '' : 's'}: send it as a decimal string`,
      { field },
    );
  }
  const minor = BigInt(int + frac.padEnd(exponent, '0'));
  // Beyond 2^53 minor units a double no longer holds every whole amount: 1e21 may have been sent as 1000000000000000000001.
  if (minor > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SpendtrailError('AMOUNT_NOT_EXACT', `${String(value)} is too large to be exact as a JSON number: send it as a decimal string`, { field });
  }
  return formatMinor(text.startsWith('-') && minor !== 0n ? -minor : minor, exponent);
}

/** "1.5e-7" → "0.00000015", "1e+21" → "1000000000000000000000": Number::toString's exponent form, expanded. */
function plainDecimal(s: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
  if (m === null) return s;
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  const digits = int + frac;
  const point = int.length + Number(exp);
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
