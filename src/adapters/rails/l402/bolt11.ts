import { SpendtrailError } from '../../../domain/errors.ts';
import { decodeBech32, wordsToBytes, wordsToInt } from './bech32.ts';

/**
 * What Spendtrail reads from a BOLT #11 invoice: the amount from the human-readable part and
 * the tagged fields an auditor needs (payment hash, description, payee, expiry). The signature
 * is not verified: the payment record itself proves the payment (the preimage), and the
 * invoice is kept verbatim in the stored payload for anyone who wants to check it.
 */
export interface Bolt11Invoice {
  /** The invoice as decoded, lower case, without a `lightning:` prefix. */
  readonly invoice: string;
  /** BIP-173 currency prefix: bc, tb, tbs, bcrt or sb. */
  readonly network: string;
  /** Exact amount in millisatoshi, or null for an invoice that lets the payer choose. */
  readonly amount_msat: bigint | null;
  /** Unix seconds at which the invoice was created. */
  readonly timestamp: number;
  readonly payment_hash: string;
  readonly description: string | null;
  readonly description_hash: string | null;
  /** The payee node's public key when the invoice names it (`n`), hex. */
  readonly payee: string | null;
  readonly expiry_seconds: number;
}

// BOLT #11: the currencies a reader understands; any other prefix MUST fail the payment.
const NETWORKS = new Set(['bc', 'tb', 'tbs', 'bcrt', 'sb']);

// Millisatoshi per unit of the amount, by multiplier: 1 BTC = 10^11 msat. `p` (10^-12 BTC) is a
// tenth of a millisatoshi, so a pico amount is exact only when it ends in 0.
const MSAT_PER: Readonly<Record<string, bigint>> = { '': 100_000_000_000n, m: 100_000_000n, u: 100_000n, n: 100n };

const SIGNATURE_WORDS = 104; // 520 bits: 64-byte signature + recovery byte
const TIMESTAMP_WORDS = 7; // 35 bits

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeBolt11(text: string, field: string): Bolt11Invoice {
  const trimmed = text.trim().replace(/^lightning:/i, '');
  const { hrp, words } = decodeBech32(trimmed, field);
  const bad = (why: string): SpendtrailError => new SpendtrailError('MALFORMED_PAYLOAD', `not a BOLT #11 invoice: ${why}`, { field });
  const m = /^ln([a-z]+?)(?:([0-9]+)([munp])?)?$/.exec(hrp);
  if (m === null) throw bad(`"${hrp}" is not ln + currency + amount`);
  const [, network = '', digits, multiplier = ''] = m;
  if (!NETWORKS.has(network)) throw bad(`unknown currency prefix "${network}"`);
  const amount_msat = digits === undefined ? null : amountMsat(digits, multiplier, field);
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) throw bad('the data part is too short for a timestamp and a signature');
  const timestamp = wordsToInt(words.slice(0, TIMESTAMP_WORDS));
  const end = words.length - SIGNATURE_WORDS;
  let payment_hash: string | null = null;
  let description: string | null = null;
  let description_hash: string | null = null;
  let payee: string | null = null;
  let expiry_seconds = 3600;
  for (let i = TIMESTAMP_WORDS; i < end; ) {
    if (i + 3 > end) throw bad('a tagged field is cut off');
    const type = words[i] ?? 0;
    const length = (words[i + 1] ?? 0) * 32 + (words[i + 2] ?? 0);
    const data = words.slice(i + 3, i + 3 + length);
    if (i + 3 + length > end) throw bad('a tagged field runs into the signature');
    i += 3 + length;
    // Readers skip fields of unexpected length (BOLT #11), and the first good one of a kind wins.
    if (type === 1 && length === 52 && payment_hash === null) payment_hash = wordsToBytes(data).toString('hex');
    else if (type === 13 && description === null) {
      try {
        description = utf8.decode(wordsToBytes(data));
      } catch {
        throw bad('the description is not UTF-8');
      }
    } else if (type === 23 && length === 52 && description_hash === null) description_hash = wordsToBytes(data).toString('hex');
    else if (type === 19 && length === 53 && payee === null) payee = wordsToBytes(data).toString('hex');
    else if (type === 6) expiry_seconds = wordsToInt(data);
  }
  if (payment_hash === null) throw bad('it has no payment hash (p field)');
  return { invoice: trimmed.toLowerCase(), network, amount_msat, timestamp, payment_hash, description, description_hash, payee, expiry_seconds };
}

function amountMsat(digits: string, multiplier: string, field: string): bigint {
  if (/^0/.test(digits)) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'a BOLT #11 amount is a positive integer without leading zeros', { field });
  }
  const n = BigInt(digits);
  if (multiplier === 'p') {
    if (n % 10n !== 0n) {
      throw new SpendtrailError('AMOUNT_NOT_EXACT', `${digits}p is not a whole number of millisatoshi`, { field });
    }
    return n / 10n;
  }
  return n * (MSAT_PER[multiplier] ?? 0n);
}
