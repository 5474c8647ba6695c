import type { KeyObject } from 'node:crypto';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { hasLoneSurrogate } from '../canonical/unicode.ts';
import { SpendtrailError } from '../errors.ts';
import { sha256 } from '../hash.ts';
import { decodeBase64Strict } from './base64.ts';

/** Signature type byte of Ed25519 in C2SP signed-note (and golang.org/x/mod/sumdb/note). */
const ALG_ED25519 = 0x01;
const ED25519_KEY_SIZE = 32;

// Fixed DER wrappers for raw Ed25519 keys (RFC 8410), so node can import a bare seed or point.
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface NoteVerifier {
  readonly name: string;
  /** First four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), as in every signature line. */
  readonly keyId: Buffer;
  readonly publicKey: KeyObject;
}

export interface NoteSigner extends NoteVerifier {
  readonly privateKey: KeyObject;
}

// Unicode White_Space is exactly Go's unicode.IsSpace, which the reference implementation uses.
const NAME_FORBIDDEN = /[\p{White_Space}+\u0000-\u001f]/u;

/** C2SP signed-note key names: non-empty, no Unicode spaces, no '+', and encodable as UTF-8. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !NAME_FORBIDDEN.test(name) && !hasLoneSurrogate(name);
}

export function noteKeyId(name: string, rawPublicKey: Uint8Array): Buffer {
  const digest = sha256(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([ALG_ED25519]), rawPublicKey]));
  return Buffer.from(digest.subarray(0, 4));
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  return Buffer.from(publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length));
}

function rawSeed(privateKey: KeyObject): Buffer {
  return Buffer.from(privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length));
}

/** A fresh Ed25519 key pair in the text formats of golang.org/x/mod/sumdb/note. */
export function generateNoteSigner(name: string): { signerKey: string; verifierKey: string } {
  if (!isValidKeyName(name)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'key name must be non-empty with no whitespace, "+" or control characters', {
      field: 'name',
    });
  }
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pub = rawPublicKey(publicKey);
  const keyHex = noteKeyId(name, pub).toString('hex');
  const alg = Buffer.from([ALG_ED25519]);
  return {
    signerKey: `PRIVATE+KEY+${name}+${keyHex}+${Buffer.concat([alg, rawSeed(privateKey)]).toString('base64')}`,
    verifierKey: `${name}+${keyHex}+${Buffer.concat([alg, pub]).toString('base64')}`,
  };
}

/** `<name>+<hex8>+<base64(0x01 ‖ public key)>` → verifier. Malformed keys are CHECKPOINT_INVALID. */
export function parseVerifierKey(text: string): NoteVerifier {
  const fail = (reason: string): SpendtrailError =>
    new SpendtrailError('CHECKPOINT_INVALID', `verifier key is malformed: ${reason}`);
  const parts = splitKey(text, 3);
  if (parts === undefined) throw fail('expected <name>+<key hash>+<base64 key>');
  const [name, hashHex, keyBase64] = parts as [string, string, string];
  const key = decodeKey(name, hashHex, keyBase64, fail);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, key]), format: 'der', type: 'spki' });
  } catch (cause) {
    throw new SpendtrailError('CHECKPOINT_INVALID', 'verifier key is not a usable Ed25519 public key', { cause });
  }
  const keyId = noteKeyId(name, key);
  if (keyId.toString('hex') !== hashHex.toLowerCase()) throw fail('key hash does not match the name and public key');
  return { name, keyId, publicKey };
}

/**
 * `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>` → signer. Any unusable key is
 * SIGNING_KEY_MISSING, and messages never echo the input, which is a secret.
 */
export function parseSignerKey(text: string): NoteSigner {
  const fail = (reason: string): SpendtrailError =>
    new SpendtrailError('SIGNING_KEY_MISSING', `signer key is unusable: ${reason}`);
  const parts = splitKey(text, 5);
  if (parts === undefined || parts[0] !== 'PRIVATE' || parts[1] !== 'KEY') {
    throw fail('expected PRIVATE+KEY+<name>+<key hash>+<base64 key>');
  }
  const [, , name, hashHex, keyBase64] = parts as [string, string, string, string, string];
  const seed = decodeKey(name, hashHex, keyBase64, fail);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new SpendtrailError('SIGNING_KEY_MISSING', 'signer key is not a usable Ed25519 seed', { cause });
  }
  const publicKey = createPublicKey(privateKey);
  // The hash covers the public key, so it can only be checked after deriving it from the seed.
  const keyId = noteKeyId(name, rawPublicKey(publicKey));
  if (keyId.toString('hex') !== hashHex.toLowerCase()) throw fail('key hash does not match the name and key');
  return { name, keyId, publicKey, privateKey };
}

/**
 * Splits on the first `count − 1` '+' signs only: the trailing base64 field may itself
 * contain '+', while names cannot.
 */
function splitKey(text: string, count: number): string[] | undefined {
  const parts: string[] = [];
  let rest = text;
  for (let i = 1; i < count; i++) {
    const at = rest.indexOf('+');
    if (at < 0) return undefined;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

const HEX8 = /^[0-9a-fA-F]{8}$/;

function decodeKey(name: string, hashHex: string, keyBase64: string, fail: (reason: string) => SpendtrailError): Buffer {
  if (!isValidKeyName(name)) throw fail('invalid key name');
  if (!HEX8.test(hashHex)) throw fail('key hash must be 8 hex digits');
  const key = decodeBase64Strict(keyBase64);
  if (key === undefined) throw fail('key is not canonical base64');
  if (key.length === 0 || key[0] !== ALG_ED25519) throw fail('unknown signature algorithm (only Ed25519, 0x01, is supported)');
  if (key.length !== 1 + ED25519_KEY_SIZE) throw fail(`Ed25519 key must be ${ED25519_KEY_SIZE} bytes`);
  return key.subarray(1);
}
