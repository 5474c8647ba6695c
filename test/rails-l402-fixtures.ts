import { createHash, createHmac, createPrivateKey, randomBytes, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Real L402 material for tests, written from the specifications rather than through the code
 * under test: macaroons in go-macaroon's V2 binary format with a libmacaroons HMAC chain,
 * BOLT #11 invoices in bech32 signed with secp256k1, L402 headers, LND payment records.
 */

// --- macaroons (go-macaroon marshal-v2.go / packet-v2.go; HMAC chain per libmacaroons)

const uvarint = (n: number): Buffer => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
};
const packet = (type: number, data: Buffer): Buffer => Buffer.concat([uvarint(type), uvarint(data.length), data]);
const EOS = Buffer.from([0]);
const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

/** libmacaroons derives the HMAC key from the root key with the fixed key "macaroons-key-generator". */
export function macaroonSignature(rootKey: Buffer, identifier: Buffer, caveats: readonly string[]): Buffer {
  let sig = hmac(hmac(Buffer.from('macaroons-key-generator'), rootKey), identifier);
  for (const c of caveats) sig = hmac(sig, Buffer.from(c));
  return sig;
}

/** The L402 identifier v0: version uint16 BE ‖ payment_hash ‖ token_id (bLIP-26, 66 bytes). */
export const l402IdentifierBytes = (paymentHash: Buffer, tokenId: Buffer = randomBytes(32), version = 0): Buffer => {
  const v = Buffer.alloc(2);
  v.writeUInt16BE(version);
  return Buffer.concat([v, paymentHash, tokenId]);
};

export function mintMacaroon(o: { rootKey: Buffer; identifier: Buffer; location?: string; caveats?: readonly string[] }): Buffer {
  const caveats = o.caveats ?? [];
  return Buffer.concat([
    Buffer.from([2]),
    ...(o.location === undefined ? [] : [packet(1, Buffer.from(o.location))]),
    packet(2, o.identifier),
    EOS,
    ...caveats.flatMap((c) => [packet(2, Buffer.from(c)), EOS]),
    EOS,
    packet(6, macaroonSignature(o.rootKey, o.identifier, caveats)),
  ]);
}

// --- BOLT #11 invoices (bech32 per BIP-173; signature per BOLT #11 "Data Part")

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const b = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((b >>> i) & 1) chk ^= GEN[i] as number;
  }
  return chk >>> 0;
}
function bech32(hrp: string, words: number[]): string {
  const expanded = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];
  const mod = polymod([...expanded, ...words, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum = [0, 1, 2, 3, 4, 5].map((i) => (mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...words, ...checksum].map((w) => CHARSET[w]).join('')}`;
}
function toWords(bytes: Buffer): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push((acc >> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (5 - bits)) & 31);
  return out;
}
const intWords = (n: number, count?: number): number[] => {
  const out: number[] = [];
  do {
    out.unshift(n % 32);
    n = Math.floor(n / 32);
  } while (n > 0);
  while (count !== undefined && out.length < count) out.unshift(0);
  return out;
};
const tagged = (type: number, data: number[]): number[] => [type, data.length >> 5, data.length & 31, ...data];

// secp256k1, for the recovery id BOLT #11 appends to the signature (node:crypto signs, it does not recover).
const P = 2n ** 256n - 2n ** 32n - 977n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const G: [bigint, bigint] = [0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798n, 0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8n];
const mod = (a: bigint, m: bigint): bigint => ((a % m) + m) % m;
const inv = (a: bigint, m: bigint): bigint => {
  let [x, y, r0, r1] = [1n, 0n, mod(a, m), m];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [x, y] = [y, x - q * y];
  }
  return mod(x, m);
};
type Pt = [bigint, bigint] | null;
function add(a: Pt, b: Pt): Pt {
  if (a === null) return b;
  if (b === null) return a;
  if (a[0] === b[0] && mod(a[1] + b[1], P) === 0n) return null;
  const l = a[0] === b[0] ? mod(3n * a[0] * a[0] * inv(2n * a[1], P), P) : mod((b[1] - a[1]) * inv(b[0] - a[0], P), P);
  const x = mod(l * l - a[0] - b[0], P);
  return [x, mod(l * (a[0] - x) - a[1], P)];
}
function mul(k: bigint, p: Pt): Pt {
  let r: Pt = null;
  let q = p;
  for (; k > 0n; k >>= 1n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
  }
  return r;
}
const big = (b64url: string | undefined): bigint => BigInt(`0x${Buffer.from(b64url ?? '', 'base64url').toString('hex')}`);

/** The private key the BOLT #11 examples are signed with. */
export const BOLT11_EXAMPLE_KEY = createPrivateKey({
  key: Buffer.concat([Buffer.from('302e0201010420', 'hex'), Buffer.from('e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734', 'hex'), Buffer.from('a00706052b8104000a', 'hex')]),
  format: 'der',
  type: 'sec1',
});

/**
 * A signed BOLT #11 invoice: timestamp, `p` payment hash, `d` description, `x` expiry, `c`
 * min_final_cltv_expiry, and a 65-byte low-S secp256k1 signature with its recovery id.
 */
export function buildInvoice(o: { paymentHash: Buffer; amount?: string; network?: string; description?: string; timestamp?: number; key?: KeyObject }): string {
  const hrp = `ln${o.network ?? 'bc'}${o.amount ?? ''}`;
  const words = [
    ...intWords(o.timestamp ?? 1_772_000_000, 7),
    ...tagged(1, toWords(o.paymentHash)),
    ...tagged(13, toWords(Buffer.from(o.description ?? 'L402 API access'))),
    ...tagged(6, intWords(3600)),
    ...tagged(24, intWords(80)),
  ];
  const key = o.key ?? BOLT11_EXAMPLE_KEY;
  const signed = Buffer.concat([Buffer.from(hrp, 'utf8'), Buffer.from(toWords8(words))]);
  const der = sign('sha256', signed, { key, dsaEncoding: 'ieee-p1363' });
  const r = BigInt(`0x${der.subarray(0, 32).toString('hex')}`);
  let s = BigInt(`0x${der.subarray(32).toString('hex')}`);
  const jwk = key.export({ format: 'jwk' });
  const Q: Pt = [big(jwk.x), big(jwk.y)];
  const z = BigInt(`0x${createHash('sha256').update(signed).digest('hex')}`);
  const si = inv(s, N);
  const R = add(mul(mod(z * si, N), G), mul(mod(r * si, N), Q));
  let recid = R === null ? 0 : Number(R[1] & 1n);
  if (s > N / 2n) {
    s = N - s;
    recid ^= 1;
  }
  const sig = Buffer.concat([Buffer.from(r.toString(16).padStart(64, '0'), 'hex'), Buffer.from(s.toString(16).padStart(64, '0'), 'hex'), Buffer.from([recid])]);
  return bech32(hrp, [...words, ...toWords(sig)]);
}

/** 5-bit words → bytes with zero padding to the byte boundary (what BOLT #11 signs). */
function toWords8(words: number[]): number[] {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = (acc << 5) | w;
    bits += 5;
    while (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out.push((acc << (8 - bits)) & 0xff);
  return out;
}

// --- a complete L402 payment as an agent would report it

export interface L402Fixture {
  readonly preimage: Buffer;
  readonly paymentHash: string;
  readonly macaroon: string;
  readonly invoice: string;
  readonly challenge: string;
  readonly authorization: string;
}

export function l402Fixture(o: { amount?: string; preimage?: Buffer; scheme?: string; caveats?: readonly string[] } = {}): L402Fixture {
  const preimage = o.preimage ?? randomBytes(32);
  const hash = createHash('sha256').update(preimage).digest();
  const mac = mintMacaroon({ rootKey: randomBytes(32), identifier: l402IdentifierBytes(hash), location: 'api.example.test', caveats: o.caveats ?? ['services=inference:0', 'inference_valid_until=1900000000'] });
  const macaroon = mac.toString('base64');
  const invoice = buildInvoice({ paymentHash: hash, amount: o.amount ?? '1500n' });
  const scheme = o.scheme ?? 'L402';
  return {
    preimage,
    paymentHash: hash.toString('hex'),
    macaroon,
    invoice,
    challenge: `${scheme} macaroon="${macaroon}", invoice="${invoice}"`,
    authorization: `${scheme} ${macaroon}:${preimage.toString('hex')}`,
  };
}

/** An LND lnrpc.Payment as `lncli listpayments` / the REST API render it (int64 as strings). */
export function lndPayment(f: L402Fixture, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    payment_hash: f.paymentHash,
    value: '150',
    creation_date: '1773309600',
    fee: '0',
    payment_preimage: f.preimage.toString('hex'),
    value_sat: '150',
    value_msat: '150000',
    payment_request: f.invoice,
    status: 'SUCCEEDED',
    fee_sat: '0',
    fee_msat: '1234',
    creation_time_ns: '1773309600123456789',
    htlcs: [],
    payment_index: '7',
    failure_reason: 'FAILURE_REASON_NONE',
    ...over,
  };
}
