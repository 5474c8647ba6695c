import { sign, verify } from 'node:crypto';
import { hasLoneSurrogate } from '../canonical/unicode.ts';
import { SpendtrailError } from '../errors.ts';
import { decodeBase64Strict } from './base64.ts';
import type { NoteSigner, NoteVerifier } from './note-key.ts';
import { isValidKeyName } from './note-key.ts';

// U+2014 EM DASH, then a space: easy to mistype as a hyphen, and then nothing verifies.
const SIGNATURE_PREFIX = '\u2014 ';
// Bounds the work an untrusted note can cause; the spec requires accepting at least 16.
const MAX_SIGNATURES = 100;
const ED25519_SIGNATURE_SIZE = 64;
// The note format allows no ASCII control characters other than newline.
const FORBIDDEN_CONTROL = /[\u0000-\u0009\u000b-\u001f]/;

const invalid = (message: string): SpendtrailError => new SpendtrailError('CHECKPOINT_INVALID', message);

/** `text` must be note text: well-formed, newline-terminated, no control characters but newline. */
export function signNote(text: string, signer: NoteSigner): string {
  checkText(text, 'note text');
  const signature = sign(null, Buffer.from(text, 'utf8'), signer.privateKey);
  return `${text}\n${SIGNATURE_PREFIX}${signer.name} ${Buffer.concat([signer.keyId, signature]).toString('base64')}\n`;
}

/**
 * C2SP signed-note verification against one trusted key; returns the note text. Lines
 * signed by other keys (other name or key ID) are ignored as the spec requires, but they
 * must still be well-formed, and a line claiming this key must verify.
 */
export function openNote(note: string, verifier: NoteVerifier): string {
  checkText(note, 'signed note');
  // The text may contain blank lines itself; only the last one separates the signatures.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) throw invalid('signed note has no blank line before its signatures');
  const text = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block.length === 0) throw invalid('signed note has no signature lines');

  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw invalid(`signed note has more than ${MAX_SIGNATURES} signatures`);
  const textBytes = Buffer.from(text, 'utf8');
  let verified = false;
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) {
      throw invalid('signature line must start with an em dash (U+2014) and a space');
    }
    const space = line.indexOf(' ', SIGNATURE_PREFIX.length);
    const name = space < 0 ? '' : line.slice(SIGNATURE_PREFIX.length, space);
    if (!isValidKeyName(name)) throw invalid('signature line has an invalid key name');
    const payload = decodeBase64Strict(line.slice(space + 1));
    if (payload === undefined || payload.length < 5) {
      throw invalid(`signature by ${name} is not base64 of a key ID and a signature`);
    }
    if (name !== verifier.name || !payload.subarray(0, 4).equals(verifier.keyId)) continue;
    const signature = payload.subarray(4);
    if (signature.length !== ED25519_SIGNATURE_SIZE || !verify(null, textBytes, verifier.publicKey, signature)) {
      throw invalid(`signature by ${name}+${verifier.keyId.toString('hex')} does not verify`);
    }
    verified = true;
  }
  if (!verified) throw invalid(`signed note has no signature by ${verifier.name}+${verifier.keyId.toString('hex')}`);
  return text;
}

function checkText(text: string, what: string): void {
  if (!text.endsWith('\n')) throw invalid(`${what} must end with a newline`);
  if (FORBIDDEN_CONTROL.test(text)) throw invalid(`${what} contains an ASCII control character other than newline`);
  if (hasLoneSurrogate(text)) throw invalid(`${what} is not well-formed Unicode`);
}
