import { SpendtrailError } from '../../../domain/errors.ts';
import type { Macaroon } from './macaroon.ts';
import { decodeBase64, decodeMacaroon } from './macaroon.ts';

/**
 * The two L402 HTTP headers (bLIP-26). The scheme name is case-insensitive, and `LSAT`, the
 * protocol's former name, is accepted wherever `L402` is.
 *
 *   WWW-Authenticate: L402 macaroon="<base64>", invoice="<BOLT #11>"
 *   Authorization:    L402 <base64 macaroon>[,<base64 macaroon>...]:<hex preimage>
 */
const SCHEME = /^\s*(l402|lsat)\s+/i;

export interface L402Challenge {
  readonly scheme: string;
  readonly macaroon: Macaroon;
  readonly invoice: string;
}

export interface L402Credential {
  readonly scheme: string;
  /** The first macaroon is the L402 one; any others are discharges. */
  readonly macaroons: readonly Macaroon[];
  readonly preimage: string;
}

export function parseChallenge(header: string, field: string): L402Challenge {
  const m = SCHEME.exec(header);
  if (m === null) throw new SpendtrailError('MALFORMED_PAYLOAD', 'not an L402 (or LSAT) challenge', { field });
  const params = new Map<string, string>();
  // RFC 7235 auth-params: name=value or name="quoted value", separated by commas.
  const param = /\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(,|$)/y;
  param.lastIndex = m[0].length;
  while (param.lastIndex < header.length) {
    const p = param.exec(header);
    if (p === null) throw new SpendtrailError('MALFORMED_PAYLOAD', 'the challenge parameters are not name="value" pairs', { field });
    const name = (p[1] ?? '').toLowerCase();
    if (params.has(name)) throw new SpendtrailError('MALFORMED_PAYLOAD', `the challenge names ${name} twice`, { field });
    params.set(name, p[2] === undefined ? (p[3] ?? '') : p[2].replace(/\\(.)/g, '$1'));
    if (p[4] === '') break;
  }
  const mac = params.get('macaroon');
  const invoice = params.get('invoice');
  if (mac === undefined || invoice === undefined) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'an L402 challenge carries macaroon="…" and invoice="…"', { field });
  }
  return { scheme: (m[1] ?? '').toUpperCase(), macaroon: decodeMacaroon(decodeBase64(mac, field), field), invoice };
}

export function parseAuthorization(header: string, field: string): L402Credential {
  const m = SCHEME.exec(header);
  if (m === null) throw new SpendtrailError('MALFORMED_PAYLOAD', 'not L402 (or LSAT) credentials', { field });
  const token = header.slice(m[0].length).trim();
  const colon = token.lastIndexOf(':');
  if (colon < 0) throw new SpendtrailError('MALFORMED_PAYLOAD', 'L402 credentials are <macaroon>:<preimage>', { field });
  const preimage = token.slice(colon + 1);
  if (!/^[0-9a-fA-F]{64}$/.test(preimage)) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'the preimage after ":" is 32 bytes in hex', { field });
  }
  const encoded = token.slice(0, colon).split(',').map((s) => s.trim());
  if (encoded.some((s) => s === '')) throw new SpendtrailError('MALFORMED_PAYLOAD', 'an empty macaroon in the credentials', { field });
  return {
    scheme: (m[1] ?? '').toUpperCase(),
    macaroons: encoded.map((s) => decodeMacaroon(decodeBase64(s, field), field)),
    preimage: preimage.toLowerCase(),
  };
}
