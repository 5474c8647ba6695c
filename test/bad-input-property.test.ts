import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, SpendtrailError } from '../src/domain/errors.ts';
import { parseTransactionInput } from '../src/app/transaction-input.ts';
import { convert, decimalFromJsonNumber, formatMinor, normalizeRate, parseDecimal, parseRate } from '../src/domain/money/decimal.ts';
import { findCurrency } from '../src/domain/money/currency.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import type { AssetValuation } from '../src/domain/money/valuation.ts';
import { parseInstant } from '../src/domain/time.ts';
import { mapRecord, parseColumnMapping } from '../src/adapters/import/column-mapping.ts';
import { parseJsonDocument } from '../src/adapters/import/json-document.ts';
import { readCsv, readJsonArray, readNdjson } from '../src/adapters/import/transaction-file.ts';
import { ap2Capture } from '../src/adapters/rails/ap2/ap2-payment.ts';
import { ap4mCapture } from '../src/adapters/rails/ap4m/ap4m-record.ts';
import { l402Capture } from '../src/adapters/rails/l402/l402-payment.ts';
import { decodeBolt11 } from '../src/adapters/rails/l402/bolt11.ts';
import { decodeBech32 } from '../src/adapters/rails/l402/bech32.ts';
import { parseAuthorization, parseChallenge } from '../src/adapters/rails/l402/headers.ts';
import { decodeBase64, decodeMacaroon, l402Identifier } from '../src/adapters/rails/l402/macaroon.ts';
import { decodeHeader } from '../src/adapters/rails/x402/documents.ts';
import { readX402Payment, readX402Settled } from '../src/adapters/rails/x402/payment.ts';
import { fromStripeAmount, parseStripeEvent } from '../src/adapters/rails/stripe/events.ts';
import { verifyStripeSignature } from '../src/adapters/rails/stripe/signature.ts';
import { rawTx } from './support/fixtures.ts';

/**
 * Fuzzing the parsers with fast-check: for arbitrary input (JSON values, strings with lone
 * surrogates and control characters, raw bytes) each either returns a value or throws a
 * SpendtrailError with a documented code: never a TypeError, RangeError or a driver error that
 * would reach a client as a 500. Valid money round-trips exactly. FC_SEED replays a run.
 */
const SEED = Number(process.env.FC_SEED ?? Date.now() % 2 ** 31);
const RUNS = 300;
const opts = { numRuns: RUNS, seed: SEED };
console.info(`bad-input properties: FC_SEED=${SEED}`);

let thrown = 0;
/** Runs a parser; a throw must be a SpendtrailError with a known code. Returns whether it returned. */
function outcome(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch (e) {
    if (!(e instanceof SpendtrailError)) throw new Error(`not a SpendtrailError: ${String((e as Error).stack ?? e)}`);
    expect(ERROR_CODES).toContain(e.code);
    thrown += 1;
    return false;
  }
}

async function outcomeAsync(parse: () => Promise<unknown>): Promise<boolean> {
  try {
    await parse();
    return true;
  } catch (e) {
    if (!(e instanceof SpendtrailError)) throw new Error(`not a SpendtrailError: ${String((e as Error).stack ?? e)}`);
    expect(ERROR_CODES).toContain(e.code);
    return false;
  }
}

/** Strings of every kind: printable, any UTF-16 code unit (lone surrogates, NUL, controls), money-like. */
const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', '+', 'e', 'E', ' ', ',', '_', '\u0000', '\ud800', 'x'), maxLength: 30 }),
);
const anyJson = fc.jsonValue({ maxDepth: 4 });
/** Arbitrary values a JSON body can hold, plus strings of any kind where a field is expected. */
const fieldValue = fc.oneof(anyString, anyJson, fc.constant(null), fc.double(), fc.boolean());
const bytes = fc.uint8Array({ maxLength: 300 });
const noValuation: AssetValuation = (asset, at) => valuationFields([], asset, 'USD', at);

/** An input-contract record with some of its fields replaced by arbitrary values, others good. */
const mutatedTx = fc
  .tuple(
    fc.subarray(['external_id', 'agent_id', 'timestamp', 'amount', 'currency', 'payment_rail', 'merchant', 'merchant_category', 'business_purpose', 'type', 'refund_of', 'reporting_amount', 'fx_rate', 'fx_rate_time', 'authorization_id', 'extra'], { minLength: 1, maxLength: 3 }),
    fc.array(fieldValue, { minLength: 3, maxLength: 3 }),
  )
  .map(([keys, values]) => {
    const t: Record<string, unknown> = rawTx();
    keys.forEach((k, i) => (t[k] = values[i]));
    return t;
  });

describe('parsers under arbitrary input', () => {
  it('parseTransactionInput: arbitrary JSON and records with arbitrary fields', () => {
    fc.assert(fc.property(anyJson, (v) => void outcome(() => parseTransactionInput(v, 'line 1'))), opts);
    let accepted = 0;
    fc.assert(
      fc.property(mutatedTx, (t) => {
        if (outcome(() => parseTransactionInput(t))) accepted += 1;
      }),
      opts,
    );
    // The mutations leave some records valid: the property saw both outcomes.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(RUNS);
  });

  it('parseDecimal, parseRate, normalizeRate and parseInstant: arbitrary strings', () => {
    fc.assert(
      fc.property(anyString, fc.integer({ min: 0, max: 18 }), fc.boolean(), (s, exp, neg) => {
        outcome(() => parseDecimal(s, exp, { allowNegative: neg, field: 'amount' }));
        outcome(() => parseRate(s, 'fx_rate'));
        outcome(() => normalizeRate(s, 'fx_rate'));
        outcome(() => parseInstant(s, 'timestamp'));
      }),
      opts,
    );
  });

  it('decimalFromJsonNumber: any double is exact or AMOUNT_NOT_EXACT, and what it returns is that double', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer(), fc.double({ min: -1e6, max: 1e6 }).map((d) => Math.round(d * 100) / 100)), fc.integer({ min: 0, max: 18 }), (d, exp) => {
        let text = '';
        if (outcome(() => (text = decimalFromJsonNumber(d, exp, 'amount')))) expect(Number(text)).toBe(d === 0 ? 0 : d);
      }),
      opts,
    );
  });

  it('parseJsonDocument, parseStripeEvent and decodeHeader: arbitrary bytes and strings', () => {
    fc.assert(
      fc.property(bytes, anyString, (b, s) => {
        outcome(() => parseJsonDocument(b, 'the body'));
        outcome(() => parseStripeEvent(Buffer.from(b)));
        outcome(() => parseStripeEvent(Buffer.from(s, 'utf8')));
        outcome(() => decodeHeader(s, { name: 'X-PAYMENT', field: 'x_payment' }));
        outcome(() => decodeHeader(Buffer.from(b).toString('base64'), { name: 'X-PAYMENT', field: 'x_payment' }));
      }),
      opts,
    );
    // Well-formed UTF-8 JSON reads as JSON.parse reads it.
    fc.assert(
      fc.property(anyJson, (v) => {
        expect(parseJsonDocument(Buffer.from(JSON.stringify(v)), 'x')).toEqual(JSON.parse(JSON.stringify(v)));
      }),
      opts,
    );
  });

  it('Stripe signature header and amounts: arbitrary headers, numbers and currencies', () => {
    const now = new Date('2026-03-12T12:00:00Z');
    fc.assert(
      fc.property(anyString, bytes, fc.oneof(fc.double(), fc.integer()), anyString, (header, body, amount, currency) => {
        outcome(() => verifyStripeSignature(Buffer.from(body), header, 'whsec_property_secret', now));
        outcome(() => verifyStripeSignature(Buffer.from(body), `t=${Math.floor(now.getTime() / 1000)},v1=${header}`, 'whsec_property_secret', now));
        outcome(() => fromStripeAmount(amount, currency));
      }),
      opts,
    );
  });

  it('L402 pieces: invoices, bech32, challenge and authorization headers, macaroons', () => {
    fc.assert(
      fc.property(anyString, bytes, (s, b) => {
        outcome(() => decodeBolt11(s, 'invoice'));
        outcome(() => decodeBolt11(`lnbc${s}`, 'invoice'));
        outcome(() => decodeBech32(s, 'invoice'));
        outcome(() => parseChallenge(s, 'challenge'));
        outcome(() => parseChallenge(`L402 macaroon="${s}", invoice="${s}"`, 'challenge'));
        outcome(() => parseAuthorization(s, 'authorization'));
        outcome(() => parseAuthorization(`L402 ${s}:${s}`, 'authorization'));
        outcome(() => decodeBase64(s, 'macaroon'));
        outcome(() => decodeMacaroon(Buffer.from(b), 'macaroon'));
        outcome(() => l402Identifier(Buffer.from(b), 'macaroon'));
      }),
      opts,
    );
  });

  it('rail records (AP2, AP4M, L402, x402): arbitrary bytes, JSON and records with arbitrary fields', () => {
    const captures = [ap2Capture, ap4mCapture, l402Capture];
    fc.assert(
      fc.property(bytes, anyJson, (b, v) => {
        for (const capture of captures) {
          outcome(() => capture(Buffer.from(b), noValuation));
          outcome(() => capture(Buffer.from(JSON.stringify(v)), noValuation));
        }
      }),
      opts,
    );
    const ap4mKeys = ['record_id', 'agent_id', 'amount', 'currency', 'merchant', 'timestamp', 'status', 'raw', 'fx_rate', 'failure_reason'];
    fc.assert(
      fc.property(fc.subarray(ap4mKeys, { minLength: 1, maxLength: 3 }), fc.array(fieldValue, { minLength: 3, maxLength: 3 }), (keys, values) => {
        const r: Record<string, unknown> = { record_id: 'r1', agent_id: 'support-bot', amount: '3.00', currency: 'USD', merchant: 'AWS', timestamp: '2026-03-12T10:00:00Z', status: 'settled', raw: {} };
        keys.forEach((k, i) => (r[k] = values[i]));
        outcome(() => ap4mCapture(Buffer.from(JSON.stringify(r)), noValuation));
      }),
      opts,
    );
    const docKeys = ['x_payment', 'payment_requirements', 'payment_signature', 'payment_required', 'x_payment_response', 'payment_response'] as const;
    fc.assert(
      fc.property(fc.subarray([...docKeys], { minLength: 1 }), fc.array(fc.oneof(anyString, bytes.map((b) => Buffer.from(b).toString('base64')), anyJson), { minLength: 6, maxLength: 6 }), (keys, values) => {
        const docs: Record<string, unknown> = {};
        keys.forEach((k, i) => (docs[k] = values[i]));
        outcome(() => readX402Payment(docs));
        outcome(() => readX402Settled(docs));
      }),
      opts,
    );
  });

  it('column mappings: arbitrary mappings, and a good mapping over arbitrary rows and paths', () => {
    fc.assert(fc.property(anyJson, (v) => void outcome(() => parseColumnMapping(v))), opts);
    const good = (over: Record<string, unknown>) =>
      parseColumnMapping({
        fields: {
          external_id: 'id',
          agent_id: { value: 'support-bot' },
          timestamp: 'at',
          amount: { path: '$.money.amount' },
          currency: { path: '$.money.currency', default: 'usd' },
          payment_rail: { value: 'card' },
          merchant: { column: 'merchant', map: { AWS: 'Amazon Web Services' }, default: 'Unknown' },
          ...over,
        },
        amount: { unit: 'decimal', sign: 'payments_negative' },
      });
    const minor = parseColumnMapping({
      fields: { external_id: 'id', agent_id: { value: 'a' }, timestamp: 'at', amount: 'amt', currency: 'cur', payment_rail: { value: 'card' }, merchant: 'm' },
      amount: { unit: 'minor' },
      timestamp: { format: 'unix_millis' },
    });
    fc.assert(
      fc.property(anyJson, fieldValue, fieldValue, anyString, (row, amount, at, path) => {
        const rec = { id: 'x1', at, merchant: 'AWS', money: { amount, currency: 'USD' }, amt: amount, cur: 'USD', m: 'AWS' };
        for (const m of [good({}), minor]) {
          for (const r of [row, rec]) {
            if (outcome(() => mapRecord(m, r))) outcome(() => parseTransactionInput(mapRecord(m, r)));
          }
        }
        let withPath: ReturnType<typeof good> | undefined;
        if (outcome(() => (withPath = good({ merchant: { path: path === '' ? '$' : path } }))) && withPath !== undefined) {
          const m = withPath;
          outcome(() => mapRecord(m, rec));
        }
      }),
      opts,
    );
  });

  it('file readers refuse, with a code, documents nested deeper than the canonical form allows', async () => {
    const deep = `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`;
    const drain = async (rows: AsyncIterable<unknown>): Promise<number> => {
      let n = 0;
      for await (const r of rows) n += r === undefined ? 0 : 1;
      return n;
    };
    expect(await outcomeAsync(() => drain(readJsonArray(Readable.from([Buffer.from(deep)]), { keepSource: true })))).toBe(false);
    expect(await outcomeAsync(() => drain(readNdjson(Readable.from([Buffer.from(deep.slice(1, -1))]), { keepSource: true })))).toBe(true);
    expect(outcome(() => parseTransactionInput(JSON.parse(deep.slice(1, -1)) as unknown))).toBe(false);
  });

  it('file readers (NDJSON, CSV, JSON array): arbitrary bytes', async () => {
    const drain = async (rows: AsyncIterable<unknown>): Promise<void> => {
      for await (const r of rows) void r;
    };
    await fc.assert(
      fc.asyncProperty(bytes, async (b) => {
        const buf = Buffer.from(b);
        await outcomeAsync(() => drain(readNdjson(Readable.from([buf]), { keepSource: true })));
        await outcomeAsync(() => drain(readCsv(Readable.from([buf]), { keepSource: true })));
        await outcomeAsync(() => drain(readJsonArray(Readable.from([buf]), { keepSource: true })));
      }),
      { numRuns: 200, seed: SEED },
    );
  });
});

describe('money round-trips', () => {
  const exponents = fc.constantFrom(0, 2, 3, 4, 6, 8, 18);
  const minorUnits = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n });

  it('formatMinor then parseDecimal gives back the same minor units, and the same text', () => {
    fc.assert(
      fc.property(minorUnits, exponents, (minor, exp) => {
        const text = formatMinor(minor, exp);
        const intDigits = text.replace('-', '').split('.')[0]?.length ?? 0;
        if (intDigits > 24 || minor === 0n) return;
        const back = parseDecimal(text, exp, { allowNegative: true, field: 'amount' });
        expect(back).toBe(minor);
        expect(formatMinor(back, exp)).toBe(text);
      }),
      opts,
    );
  });

  it('an accepted decimal string is exactly its value: fewer decimals are padded, never rounded', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 20n }), fc.integer({ min: 0, max: 6 }), exponents, (digits, scale, exp) => {
        const s = digits.toString().padStart(scale + 1, '0');
        const text = scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
        let minor = 0n;
        const ok = outcome(() => (minor = parseDecimal(text, exp, { allowNegative: false, field: 'amount' })));
        expect(ok).toBe(scale <= exp);
        if (ok) expect(minor).toBe(digits * 10n ** BigInt(exp - scale));
      }),
      opts,
    );
  });

  it('a transaction amount is normalised to the currency exponent without changing its value', () => {
    const codes = ['USD', 'JPY', 'KWD', 'USDC', 'BTC', 'CLF'];
    fc.assert(
      fc.property(fc.constantFrom(...codes), fc.bigInt({ min: 1n, max: 10n ** 15n }), (code, minor) => {
        const exp = findCurrency(code)?.exponent ?? 2;
        const text = formatMinor(minor, exp);
        const t = parseTransactionInput(rawTx({ amount: text, currency: code }));
        expect(parseDecimal(t.amount, exp, { allowNegative: false, field: 'amount' })).toBe(minor);
      }),
      opts,
    );
  });

  it('a conversion at rate 1 between equal exponents is the identity, and rates normalise idempotently', () => {
    fc.assert(
      fc.property(minorUnits, exponents, fc.bigInt({ min: 1n, max: 10n ** 12n }), fc.integer({ min: 0, max: 12 }), (minor, exp, num, scale) => {
        expect(convert(minor, exp, parseRate('1', 'r'), exp)).toBe(minor);
        const s = num.toString().padStart(scale + 1, '0');
        const rate = scale === 0 ? s : `${s.slice(0, s.length - scale)}.${s.slice(s.length - scale)}`;
        const once = normalizeRate(rate, 'r');
        expect(normalizeRate(once, 'r')).toBe(once);
      }),
      opts,
    );
  });

  it('counted the failures it saw', () => {
    // The properties above are not vacuous: arbitrary input was refused, with codes, many times.
    expect(thrown).toBeGreaterThan(RUNS);
  });
});
