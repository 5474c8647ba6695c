import { describe, expect, it } from 'vitest';
import { generateNoteSigner, parseSignerKey, parseVerifierKey } from './note-key.ts';
import { openNote, signNote } from './signed-note.ts';

// Vectors from golang.org/x/mod/sumdb/note's tests. Ed25519 is deterministic, so signing the
// same text with the same key must reproduce Go's note byte for byte.
const PETER_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_VERIFIER = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

const checkpointInvalid = expect.objectContaining({ code: 'CHECKPOINT_INVALID' });

describe('signNote', () => {
  it('reproduces the Go reference signed note exactly', () => {
    expect(signNote(TEXT, parseSignerKey(PETER_SIGNER))).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('refuses text without a final newline', () => {
    expect(() => signNote('abc', parseSignerKey(PETER_SIGNER))).toThrow(checkpointInvalid);
  });

  it('refuses text with control characters', () => {
    expect(() => signNote('a\tb\n', parseSignerKey(PETER_SIGNER))).toThrow(checkpointInvalid);
  });
});

describe('openNote', () => {
  const peter = parseVerifierKey(PETER_VERIFIER);
  const enoch = parseVerifierKey(ENOCH_VERIFIER);

  it('opens the Go reference note and returns its text', () => {
    expect(openNote(`${TEXT}\n${PETER_SIG}`, peter)).toBe(TEXT);
  });

  it('ignores well-formed signatures from other keys, before or after the trusted one', () => {
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, peter)).toBe(TEXT);
    expect(openNote(`${TEXT}\n${ENOCH_SIG}${PETER_SIG}`, peter)).toBe(TEXT);
    expect(openNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`, enoch)).toBe(TEXT);
  });

  it('rejects a note signed only by other keys', () => {
    expect(() => openNote(`${TEXT}\n${ENOCH_SIG}`, peter)).toThrow(/no signature by PeterNeumann\+c74f20a3/);
  });

  it('ignores a signature with the trusted name but another key ID', () => {
    const { signerKey } = generateNoteSigner('PeterNeumann');
    const impostor = signNote(TEXT, parseSignerKey(signerKey));
    expect(() => openNote(impostor, peter)).toThrow(/no signature by/);
  });

  it('rejects a signature claiming the trusted key that does not verify', () => {
    const corrupted = `${TEXT}\n${PETER_SIG.slice(0, 60)}ABCD${PETER_SIG.slice(60)}`;
    expect(() => openNote(corrupted, peter)).toThrow(/does not verify/);
  });

  it('separates text from signatures at the last blank line, so text may contain blank lines', () => {
    const text = 'first\n\nsecond\n';
    const signer = parseSignerKey(PETER_SIGNER);
    expect(openNote(signNote(text, signer), peter)).toBe(text);
  });

  it.each([
    ['text only', TEXT],
    ['a blank line but no signatures', `${TEXT}\n`],
    ['a signature line without the final newline', `${TEXT}\n${PETER_SIG.slice(0, -1)}`],
    ['a leading control character', `\u0001${TEXT}\n${PETER_SIG}`],
    ['a carriage return', `${TEXT.replace('\n', '\r\n')}\n${PETER_SIG}`],
    ['a key name with a space', `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`],
    ['a trailing line that is not a signature', `${TEXT}\n${PETER_SIG}Unexpected line.\n`],
    ['a hyphen instead of an em dash', `${TEXT}\n${PETER_SIG.replace('\u2014', '-')}`],
    ['a signature too short for a key ID', `${TEXT}\n\u2014 PeterNeumann AAAA\n`],
    ['non-canonical base64', `${TEXT}\n${PETER_SIG.replace('AM=', 'AN=')}`],
    ['a lone surrogate', `\ud800${TEXT}\n${PETER_SIG}`],
    ['more than 100 signatures', `${TEXT}\n${PETER_SIG.repeat(101)}`],
  ])('rejects a note with %s', (_label, note) => {
    expect(() => openNote(note, peter)).toThrow(checkpointInvalid);
  });

  it('accepts 100 signatures', () => {
    expect(openNote(`${TEXT}\n${ENOCH_SIG.repeat(99)}${PETER_SIG}`, peter)).toBe(TEXT);
  });
});
