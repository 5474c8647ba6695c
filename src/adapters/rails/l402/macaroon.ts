import { SpendtrailError } from '../../../domain/errors.ts';

/**
 * Reads a macaroon in the V2 binary format that L402 servers issue (go-macaroon's
 * marshal-v2.go, libmacaroons doc/format.txt): a version byte 0x02, then packets of
 * `type(uvarint) length(uvarint) data`, sections ended by an EOS byte 0x00:
 *
 *   0x02  [location(1)] identifier(2) EOS  ( [location(1)] identifier(2) [vid(4)] EOS )*  EOS  signature(6)
 *
 * Field types within a section are strictly increasing. Nothing here verifies the signature:
 * that needs the server's root key. What the ledger needs is the identifier, which L402
 * binds to the invoice's payment hash.
 */
export interface MacaroonCaveat {
  readonly id: Buffer;
  readonly verification_id: Buffer | null;
  readonly location: string | null;
}

export interface Macaroon {
  readonly location: string | null;
  readonly identifier: Buffer;
  readonly caveats: readonly MacaroonCaveat[];
  readonly signature: Buffer;
}

const LOCATION = 1;
const IDENTIFIER = 2;
const VERIFICATION_ID = 4;
const SIGNATURE = 6;

/** Base64 as L402 servers send it: the standard or the URL-safe alphabet, padded or not. */
export function decodeBase64(text: string, field: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || text.replace(/=+$/, '').length % 4 === 1) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', 'not base64', { field });
  }
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

export function decodeMacaroon(bytes: Buffer, field: string): Macaroon {
  const bad = (why: string): SpendtrailError => new SpendtrailError('MALFORMED_PAYLOAD', `not a V2 macaroon: ${why}`, { field });
  if (bytes[0] !== 2) throw bad(bytes.length === 0 ? 'empty' : 'it does not start with the version byte 0x02 (V1 text macaroons are not supported)');
  let pos = 1;
  const varint = (): number => {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined) throw bad('a length runs past the end');
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (value > 0x7fffffff) throw bad('a length is out of range');
        return value;
      }
    }
    throw bad('a length is out of range');
  };
  const section = (): { type: number; data: Buffer }[] => {
    const packets: { type: number; data: Buffer }[] = [];
    for (;;) {
      if (pos >= bytes.length) throw bad('a section runs past the end');
      const type = varint();
      if (type === 0) return packets;
      const last = packets[packets.length - 1];
      if (last !== undefined && type <= last.type) throw bad('fields out of order');
      const length = varint();
      if (pos + length > bytes.length) throw bad('a field runs past the end');
      packets.push({ type, data: bytes.subarray(pos, pos + length) });
      pos += length;
    }
  };
  const header = section();
  const location = header[0]?.type === LOCATION ? header.shift()?.data.toString('utf8') ?? null : null;
  if (header.length !== 1 || header[0]?.type !== IDENTIFIER) throw bad('the header has no identifier');
  const identifier = Buffer.from(header[0].data);
  const caveats: MacaroonCaveat[] = [];
  for (;;) {
    const s = section();
    if (s.length === 0) break;
    const loc = s[0]?.type === LOCATION ? s.shift()?.data.toString('utf8') ?? null : null;
    const id = s.shift();
    if (id?.type !== IDENTIFIER) throw bad('a caveat has no identifier');
    const vid = s.shift();
    if (vid !== undefined && vid.type !== VERIFICATION_ID) throw bad('a caveat has an unknown field');
    if (s.length > 0) throw bad('a caveat has extra fields');
    caveats.push({ id: Buffer.from(id.data), verification_id: vid === undefined ? null : Buffer.from(vid.data), location: loc });
  }
  const type = varint();
  if (type !== SIGNATURE) throw bad('no signature after the caveats');
  const length = varint();
  if (length !== 32 || pos + length !== bytes.length) throw bad('the signature is not 32 bytes at the end');
  return { location, identifier, caveats, signature: Buffer.from(bytes.subarray(pos, pos + length)) };
}

export interface L402Identifier {
  readonly version: number;
  readonly payment_hash: string;
  readonly token_id: string;
}

/**
 * The L402 macaroon identifier, version 0 (bLIP-26; lightninglabs/L402 macaroon-spec.md):
 * version uint16 big-endian ‖ payment_hash (32 bytes) ‖ token_id (32 bytes), 66 bytes.
 */
export function l402Identifier(id: Buffer, field: string): L402Identifier {
  if (id.length < 2) throw new SpendtrailError('MALFORMED_PAYLOAD', 'the macaroon identifier is not an L402 identifier', { field });
  const version = id.readUInt16BE(0);
  if (version !== 0) throw new SpendtrailError('MALFORMED_PAYLOAD', `L402 identifier version ${version} is not supported (only 0)`, { field });
  if (id.length !== 66) throw new SpendtrailError('MALFORMED_PAYLOAD', `an L402 version 0 identifier is 66 bytes, not ${id.length}`, { field });
  return { version, payment_hash: id.subarray(2, 34).toString('hex'), token_id: id.subarray(34, 66).toString('hex') };
}
