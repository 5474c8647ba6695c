import { SpendtrailError } from '../../../domain/errors.ts';

/**
 * Bech32 (BIP-173) decoding, as BOLT #11 uses it: checksum verified, no 90-character limit
 * (BOLT #11 lifts it), upper case accepted but not mixed case. Only decoding lives here:
 * Spendtrail reads invoices, it never writes them.
 */
const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATORS = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: readonly number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATORS[i] ?? 0;
  }
  return chk >>> 0;
}

const hrpExpand = (hrp: string): number[] => [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31)];

export interface Bech32 {
  readonly hrp: string;
  /** The data part as 5-bit words, checksum removed. */
  readonly words: readonly number[];
}

export function decodeBech32(text: string, field: string): Bech32 {
  const bad = (why: string): SpendtrailError => new SpendtrailError('MALFORMED_PAYLOAD', `not a bech32 string: ${why}`, { field });
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) throw bad('mixed case');
  const s = text.toLowerCase();
  const sep = s.lastIndexOf('1');
  if (sep < 1 || sep + 7 > s.length) throw bad('no separator, or the data part is shorter than its checksum');
  const hrp = s.slice(0, sep);
  for (const c of hrp) {
    const code = c.charCodeAt(0);
    if (code < 33 || code > 126) throw bad('the prefix has a character outside US-ASCII 33..126');
  }
  const words: number[] = [];
  for (const c of s.slice(sep + 1)) {
    const w = CHARSET.indexOf(c);
    if (w < 0) throw bad(`"${c}" is not a bech32 character`);
    words.push(w);
  }
  if (polymod([...hrpExpand(hrp), ...words]) !== 1) throw bad('the checksum does not match');
  return { hrp, words: words.slice(0, -6) };
}

/** 5-bit words to bytes, big-endian; trailing bits that do not fill a byte are padding and dropped. */
export function wordsToBytes(words: readonly number[]): Buffer {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const w of words) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 0xff);
    }
  }
  return Buffer.from(out);
}

/** 5-bit words as one big-endian unsigned integer (BOLT #11 timestamps, expiry). */
export function wordsToInt(words: readonly number[]): number {
  let n = 0;
  for (const w of words) n = n * 32 + w;
  return n;
}
