import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBolt11 } from '../src/adapters/rails/l402/bolt11.ts';
import { l402Capture } from '../src/adapters/rails/l402/l402-payment.ts';
import { parseAuthorization, parseChallenge } from '../src/adapters/rails/l402/headers.ts';
import { decodeBase64, decodeMacaroon, l402Identifier } from '../src/adapters/rails/l402/macaroon.ts';
import { decimalFromJsonNumber } from '../src/domain/money/decimal.ts';
import { valuationFields } from '../src/domain/money/valuation.ts';
import { SpendtrailError } from '../src/domain/errors.ts';
import { buildInvoice, l402Fixture, l402IdentifierBytes, lndPayment, macaroonSignature, mintMacaroon } from './rails-l402-fixtures.ts';

/** The code and field a synchronous call fails with. */
function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpendtrailError) return `${e.code}@${e.field ?? ''}`;
    throw e;
  }
  throw new Error('expected the call to fail');
}

// Published BOLT #11 examples (lightning/bolts 11-payment-encoding.md, "Examples" and
// "Examples of Invalid Invoices"), and the example challenge of bLIP-26 (lightning/blips blip-0026.md).
const HASH_0102 = '0001020304050607080900010203040506070809000102030405060708090102';
const DONATION = 'lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq8rkx3yf5tcsyz3d73gafnh3cax9rn449d9p5uxz9ezhhypd0elx87sjle52x86fux2ypatgddc6k63n7erqz25le42c4u4ecky03ylcqca784w';
const COFFEE_2500U = 'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpuaztrnwngzn3kdzw5hydlzf03qdgm2hdq27cqv3agm2awhz5se903vruatfhq77w3ls4evs3ch9zw97j25emudupq63nyw24cg27h2rspfj9srp';
const PICO = 'lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9qn07ytgrxxzad9hc4xt3mawjjt8znfv8xzscs7007v9gh9j569lencxa8xeujzkxs0uamak9aln6ez02uunw6rd2ht2sqe4hz8thcdagpleym0j';
const UPPER_25M = 'LNBC25M1PVJLUEZPP5QQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQYPQDQ5VDHKVEN9V5SXYETPDEESSP5ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYGS9Q5SQQQQQQQQQQQQQQQPQSQ67GYE39HFG3ZD8RGC80K32TVY9XK2XUNWM5LZEXNVPX6FD77EN8QAQ424DXGT56CAG2DPT359K3SSYHETKTKPQH24JQNJYW6UQD08SGPTQ44QU';
const IGNORED_FIELDS = 'lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqpqsq2qrqqqfppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhpnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqspnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnpkqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq2jxxfsnucm4jf4zwtznpaxphce606fvhvje5x7d4gw7n73994hgs7nteqvenq8a4ml8aqtchv5d9pf7l558889hp4yyrqv6a7zpq9fgpskqhza';
const SUB_MSAT = 'lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu7hqtk93pkf7sw55rdv4k9z2vj050rxdr6za9ekfs3nlt5lr89jqpdmxsmlj9urqumg0h9wzpqecw7th56tdms40p2ny9q4ddvjsedzcplva53s';
const BAD_CHECKSUM = 'lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt';
const MIXED_CASE = 'LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny';
const BAD_MULTIPLIER = 'lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpujr6jxr9gq9pv6g46y7d20jfkegkg4gljz2ea2a3m9lmvvr95tq2s0kvu70u3axgelz3kyvtp2ywwt0y8hkx2869zq5dll9nelr83zzqqpgl2zg';
const BLIP26_INVOICE = 'lnbc1500n1pw5kjhmpp5fu6xhthlt2vucmzkx6c7wtlh2r625r30cyjsfqhu8rsx4xpz5lwqdpa2fjkzep6yptksct5yp5hxgrrv96hx6twvusycn3qv9jx7ur5d9hkugr5dusx6cqzpgxqr23s79ruapxc4j5uskt4htly2salw4drq979d7rcela9wz02elhypmdzmzlnxuknpgfyfm86pntt8vvkvffma5qc9n50h4mvqhngadqy3ngqjcym5a';

describe('BOLT #11 invoices', () => {
  it('reads the amount of the published examples exactly, in millisatoshi', () => {
    expect(decodeBolt11(DONATION, 'i').amount_msat).toBeNull();
    expect(decodeBolt11(COFFEE_2500U, 'i').amount_msat).toBe(250_000_000n); // 2500 µBTC = 250 000 sat
    expect(decodeBolt11(PICO, 'i').amount_msat).toBe(967_878_534n); // the spec's "967878534 milli satoshi"
    expect(decodeBolt11(UPPER_25M, 'i').amount_msat).toBe(2_500_000_000n);
    expect(decodeBolt11(BLIP26_INVOICE, 'i').amount_msat).toBe(150_000n); // lnbc1500n = 150 sat
  });

  it('reads the payment hash, description, timestamp and expiry from the tagged fields', () => {
    expect(decodeBolt11(DONATION, 'i')).toMatchObject({ network: 'bc', payment_hash: HASH_0102, description: 'Please consider supporting this project', timestamp: 1496314658 });
    expect(decodeBolt11(COFFEE_2500U, 'i')).toMatchObject({ payment_hash: HASH_0102, description: '1 cup coffee', expiry_seconds: 60 });
    expect(decodeBolt11(PICO, 'i')).toMatchObject({ payment_hash: '462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f', timestamp: 1572468703, expiry_seconds: 604800 });
  });

  it('skips payment-hash fields of the wrong length, as the spec requires of readers', () => {
    expect(decodeBolt11(IGNORED_FIELDS, 'i').payment_hash).toBe(HASH_0102);
  });

  it('refuses a pico amount that is not a whole millisatoshi', () => {
    expect(failure(() => decodeBolt11(SUB_MSAT, 'payment_request'))).toBe('AMOUNT_NOT_EXACT@payment_request');
  });

  it('refuses a wrong checksum, mixed case and an unknown multiplier', () => {
    expect(failure(() => decodeBolt11(BAD_CHECKSUM, 'i'))).toBe('MALFORMED_PAYLOAD@i');
    expect(failure(() => decodeBolt11(MIXED_CASE, 'i'))).toBe('MALFORMED_PAYLOAD@i');
    expect(failure(() => decodeBolt11(BAD_MULTIPLIER, 'i'))).toBe('MALFORMED_PAYLOAD@i');
  });

  it('decodes an invoice built and signed by the test fixtures to its payment hash', () => {
    const hash = createHash('sha256').update(randomBytes(32)).digest();
    const inv = buildInvoice({ paymentHash: hash, amount: '25u', description: 'one inference' });
    expect(decodeBolt11(`lightning:${inv}`, 'i')).toMatchObject({ payment_hash: hash.toString('hex'), amount_msat: 2_500_000n, description: 'one inference' });
  });
});

describe('L402 macaroons', () => {
  it("builds fixtures with libmacaroons' HMAC chain (its README example: root and one caveat)", () => {
    const key = Buffer.from('this is our super secret key; only we should know it');
    const id = Buffer.from('we used our secret key');
    expect(macaroonSignature(key, id, []).toString('hex')).toBe('e3d9e02908526c4c0039ae15114115d97fdd68bf2ba379b342aaf0f617d0552f');
    expect(macaroonSignature(key, id, ['account = 3735928559']).toString('hex')).toBe('1efe4763f290dbce0c1d08477367e11f4eee456a64933cf662d79772dbb82128');
  });

  it('decodes a V2 binary macaroon and takes the payment hash and token id from its identifier', () => {
    const hash = randomBytes(32);
    const token = randomBytes(32);
    const rootKey = randomBytes(32);
    const bytes = mintMacaroon({ rootKey, identifier: l402IdentifierBytes(hash, token), location: 'api.example.test', caveats: ['services=inference:0'] });
    const m = decodeMacaroon(decodeBase64(bytes.toString('base64url'), 'm'), 'm');
    expect(m.location).toBe('api.example.test');
    expect(m.caveats.map((c) => c.id.toString())).toEqual(['services=inference:0']);
    expect(m.signature.equals(macaroonSignature(rootKey, l402IdentifierBytes(hash, token), ['services=inference:0']))).toBe(true);
    expect(l402Identifier(m.identifier, 'm')).toEqual({ version: 0, payment_hash: hash.toString('hex'), token_id: token.toString('hex') });
  });

  it('refuses V1 text macaroons, truncated bytes and identifiers of another version', () => {
    const v1 = 'MDAxY2xvY2F0aW9uIGh0dHA6Ly9teWJhbmsvCjAwMjZpZGVudGlmaWVyIHdlIHVzZWQgb3VyIHNlY3JldCBrZXkKMDAyZnNpZ25hdHVyZSDj2eApCFJsTAA5rhURQRXZf91ovyujebNCqvD2F9BVLwo';
    expect(failure(() => decodeMacaroon(decodeBase64(v1, 'm'), 'm'))).toBe('MALFORMED_PAYLOAD@m');
    const good = mintMacaroon({ rootKey: randomBytes(32), identifier: l402IdentifierBytes(randomBytes(32)) });
    expect(failure(() => decodeMacaroon(good.subarray(0, good.length - 1), 'm'))).toBe('MALFORMED_PAYLOAD@m');
    expect(failure(() => l402Identifier(l402IdentifierBytes(randomBytes(32), randomBytes(32), 1), 'm'))).toBe('MALFORMED_PAYLOAD@m');
    expect(failure(() => decodeBase64('not*base64', 'm'))).toBe('MALFORMED_PAYLOAD@m');
  });
});

describe('L402 headers', () => {
  it('parses the challenge whatever the case of the scheme, and under its old name LSAT', () => {
    const f = l402Fixture();
    for (const header of [f.challenge, f.challenge.replace('L402', 'l402'), f.challenge.replace('L402', 'LSAT'), `L402 invoice="${f.invoice}", macaroon="${f.macaroon}"`]) {
      const c = parseChallenge(header, 'challenge');
      expect(c.invoice).toBe(f.invoice);
      expect(l402Identifier(c.macaroon.identifier, 'challenge').payment_hash).toBe(f.paymentHash);
    }
  });

  it('parses credentials with several macaroons and a hex preimage', () => {
    const f = l402Fixture();
    const discharge = mintMacaroon({ rootKey: randomBytes(32), identifier: Buffer.from('discharge') }).toString('base64');
    const a = parseAuthorization(`LSAT ${f.macaroon},${discharge}:${f.preimage.toString('hex').toUpperCase()}`, 'authorization');
    expect(a.scheme).toBe('LSAT');
    expect(a.macaroons).toHaveLength(2);
    expect(a.preimage).toBe(f.preimage.toString('hex'));
  });

  it('refuses a challenge without an invoice, another scheme, and a preimage that is not hex', () => {
    const f = l402Fixture();
    expect(failure(() => parseChallenge(`L402 macaroon="${f.macaroon}"`, 'challenge'))).toBe('MALFORMED_PAYLOAD@challenge');
    expect(failure(() => parseChallenge(`Bearer ${f.macaroon}`, 'challenge'))).toBe('MALFORMED_PAYLOAD@challenge');
    expect(failure(() => parseAuthorization(`L402 ${f.macaroon}:${f.preimage.toString('base64')}`, 'authorization'))).toBe('MALFORMED_PAYLOAD@authorization');
  });
});

describe('JSON numbers as money', () => {
  it('accepts a float only when it is exactly a decimal of the currency', () => {
    expect(decimalFromJsonNumber(1.5, 2, 'v')).toBe('1.50');
    expect(decimalFromJsonNumber(1999.99, 2, 'v')).toBe('1999.99');
    expect(decimalFromJsonNumber(120, 0, 'v')).toBe('120');
    expect(decimalFromJsonNumber(0.001, 3, 'v')).toBe('0.001');
  });

  it('refuses floats that are not exact: 0.1 + 0.2, 1.005 USD, 1e-7, and beyond 2^53 minor units', () => {
    expect(failure(() => decimalFromJsonNumber(0.1 + 0.2, 2, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
    expect(failure(() => decimalFromJsonNumber(1.005, 2, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
    expect(failure(() => decimalFromJsonNumber(1.5, 0, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
    expect(failure(() => decimalFromJsonNumber(1e-7, 6, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
    expect(failure(() => decimalFromJsonNumber(1e21, 2, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
    expect(failure(() => decimalFromJsonNumber(Number.NaN, 2, 'v'))).toBe('AMOUNT_NOT_EXACT@v');
  });
});

describe('an L402 payment record', () => {
  const satRule = [{ asset: 'SAT', quote: 'USD', rate: '0.001', source: 'test rule' }];
  const capture = (over: Record<string, unknown>, payment: Record<string, unknown> = {}, rules = satRule) => {
    const f = l402Fixture();
    const body = { agent_id: 'support-bot', merchant: 'Inference API', challenge: f.challenge, authorization: f.authorization, payment: lndPayment(f, payment), ...over };
    return () => l402Capture(Buffer.from(JSON.stringify(body)), (asset, at) => valuationFields(rules, asset, 'USD', at));
  };

  it('makes exactly the payment line when no fee was paid, valued by the rate sent with it', () => {
    const c = capture({ fx_rate: '0.00095', fx_rate_source: 'exchange quote', fx_rate_time: '2026-03-12T10:00:00Z' }, { fee_msat: '0' })();
    expect(c.transactions).toHaveLength(1);
    expect(c.transactions[0]).toMatchObject({ amount: '150.000', currency: 'SAT', fx_rate: '0.00095', fx_rate_source: 'exchange quote' });
  });

  it('names the offending field of a record that is not in LND shape or misses a ledger field', () => {
    expect(failure(capture({}, { value_msat: '12.5' }))).toBe('MALFORMED_PAYLOAD@payment.value_msat');
    expect(failure(capture({}, { payment_hash: 'xyz' }))).toBe('MALFORMED_PAYLOAD@payment.payment_hash');
    expect(failure(capture({ agent_id: undefined }))).toBe('VALIDATION_FAILED@agent_id');
    expect(failure(capture({ memo: 'x' }))).toBe('UNKNOWN_FIELD@memo');
    expect(failure(() => l402Capture(Buffer.from('{"agent_id":'), () => ({ fx_rate: null, fx_rate_source: null, fx_rate_time: null })))).toBe('MALFORMED_PAYLOAD@');
  });

  it('refuses a payment below its invoice amount, an invoice for another hash, and an inexact invoice amount', () => {
    expect(failure(capture({}, { value_msat: '149999' }))).toBe('VALIDATION_FAILED@payment.value_msat');
    expect(failure(capture({ challenge: null }, { payment_request: l402Fixture().invoice }))).toBe('VALIDATION_FAILED@payment.payment_request');
    const f = l402Fixture();
    const hash = Buffer.from(f.paymentHash, 'hex');
    const inexact = buildInvoice({ paymentHash: hash, amount: '15001p' });
    expect(failure(capture({ challenge: null }, { payment_hash: f.paymentHash, payment_preimage: f.preimage.toString('hex'), payment_request: inexact }))).toBe('AMOUNT_NOT_EXACT@payment.payment_request');
  });

  it('asks for a rate when the organisation has no rule for SAT and none is sent', () => {
    expect(failure(capture({}, {}, []))).toBe('FX_RATE_REQUIRED@currency');
  });
});
