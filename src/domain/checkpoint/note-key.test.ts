import { sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateNoteSigner, isValidKeyName, noteKeyId, parseSignerKey, parseVerifierKey } from './note-key.ts';

// Key pair from golang.org/x/mod/sumdb/note's tests: proves the text formats interoperate.
const GO_SIGNER_KEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';

const checkpointInvalid = expect.objectContaining({ code: 'CHECKPOINT_INVALID' });
const signingKeyMissing = expect.objectContaining({ code: 'SIGNING_KEY_MISSING' });
const validationFailed = expect.objectContaining({ code: 'VALIDATION_FAILED' });

describe('parseVerifierKey', () => {
  it('parses the Go reference verifier key', () => {
    const verifier = parseVerifierKey(GO_VERIFIER_KEY);
    expect(verifier.name).toBe('PeterNeumann');
    expect(verifier.keyId.toString('hex')).toBe('c74f20a3');
    expect(verifier.publicKey.asymmetricKeyType).toBe('ed25519');
  });

  it('rejects every proper substring of a valid key', () => {
    for (let i = 0; i < GO_VERIFIER_KEY.length; i++) {
      for (let j = i + 1; j <= GO_VERIFIER_KEY.length; j++) {
        if (i === 0 && j === GO_VERIFIER_KEY.length) continue;
        expect(() => parseVerifierKey(GO_VERIFIER_KEY.slice(i, j))).toThrow(checkpointInvalid);
      }
    }
  });

  it('rejects a key with any single character incremented', () => {
    for (let i = 0; i < GO_VERIFIER_KEY.length; i++) {
      const mangled =
        GO_VERIFIER_KEY.slice(0, i) + String.fromCharCode(GO_VERIFIER_KEY.charCodeAt(i) + 1) + GO_VERIFIER_KEY.slice(i + 1);
      expect(() => parseVerifierKey(mangled)).toThrow(checkpointInvalid);
    }
  });

  it('rejects a key of the wrong length even with a matching key hash', () => {
    expect(() => parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==')).toThrow(
      checkpointInvalid,
    );
  });

  it('rejects an unknown algorithm byte even with a matching key hash', () => {
    expect(() => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW')).toThrow(/algorithm/);
  });

  it('rejects a key hash that does not match the name', () => {
    expect(() => parseVerifierKey(GO_VERIFIER_KEY.replace('PeterNeumann', 'PeterNeuman'))).toThrow(/key hash does not match/);
  });
});

describe('parseSignerKey', () => {
  it('parses the Go reference signer key into the same identity as its verifier key', () => {
    const signer = parseSignerKey(GO_SIGNER_KEY);
    const verifier = parseVerifierKey(GO_VERIFIER_KEY);
    expect(signer.name).toBe(verifier.name);
    expect(signer.keyId.equals(verifier.keyId)).toBe(true);
    const signature = sign(null, Buffer.from('hi'), signer.privateKey);
    expect(verify(null, Buffer.from('hi'), verifier.publicKey, signature)).toBe(true);
  });

  it('rejects every proper substring of a valid key', () => {
    for (let i = 0; i < GO_SIGNER_KEY.length; i++) {
      for (let j = i + 1; j <= GO_SIGNER_KEY.length; j++) {
        if (i === 0 && j === GO_SIGNER_KEY.length) continue;
        expect(() => parseSignerKey(GO_SIGNER_KEY.slice(i, j))).toThrow(signingKeyMissing);
      }
    }
  });

  it('rejects a key with any single character incremented', () => {
    for (let i = 0; i < GO_SIGNER_KEY.length; i++) {
      const mangled = GO_SIGNER_KEY.slice(0, i) + String.fromCharCode(GO_SIGNER_KEY.charCodeAt(i) + 1) + GO_SIGNER_KEY.slice(i + 1);
      expect(() => parseSignerKey(mangled)).toThrow(signingKeyMissing);
    }
  });

  it('rejects a verifier key given as a signer key', () => {
    expect(() => parseSignerKey(GO_VERIFIER_KEY)).toThrow(signingKeyMissing);
  });

  it('never echoes the secret key material in its error message', () => {
    const secret = GO_SIGNER_KEY.slice(GO_SIGNER_KEY.lastIndexOf('+') + 1);
    const tampered = GO_SIGNER_KEY.replace('c74f20a3', 'c74f20a4');
    expect(() => parseSignerKey(tampered)).toThrow(signingKeyMissing);
    try {
      parseSignerKey(tampered);
    } catch (e) {
      expect((e as Error).message).not.toContain(secret);
      expect((e as Error).message).not.toContain(secret.slice(0, 12));
    }
  });
});

describe('generateNoteSigner', () => {
  it('produces a signer and verifier key that parse to the same identity', () => {
    const { signerKey, verifierKey } = generateNoteSigner('example.com/log');
    expect(signerKey).toMatch(/^PRIVATE\+KEY\+example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    expect(verifierKey).toMatch(/^example\.com\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/);
    const signer = parseSignerKey(signerKey);
    const verifier = parseVerifierKey(verifierKey);
    expect(signer.keyId.equals(verifier.keyId)).toBe(true);
    expect(verifierKey.split('+')[1]).toBe(signer.keyId.toString('hex'));
    const signature = sign(null, Buffer.from('msg'), signer.privateKey);
    expect(verify(null, Buffer.from('msg'), verifier.publicKey, signature)).toBe(true);
  });

  it('generates a different key each time', () => {
    expect(generateNoteSigner('a').verifierKey).not.toBe(generateNoteSigner('a').verifierKey);
  });

  it.each(['', 'has space', 'tab\there', 'plus+sign', 'nbsp\u00a0', 'nel\u0085', 'ideographic\u3000space', 'bell\u0007', 'lone\ud800'])(
    'rejects the key name %j',
    (name) => {
      expect(isValidKeyName(name)).toBe(false);
      expect(() => generateNoteSigner(name)).toThrow(validationFailed);
    },
  );

  it('accepts URL-like and non-ASCII key names', () => {
    expect(isValidKeyName('spendtrail.example/org-1')).toBe(true);
    expect(isValidKeyName('naïve-€')).toBe(true);
  });
});

describe('noteKeyId', () => {
  it('is the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)', () => {
    // The Go reference key: c74f20a3 over "PeterNeumann" and its published public key.
    const publicKey = Buffer.from('ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW', 'base64').subarray(1);
    expect(noteKeyId('PeterNeumann', publicKey).toString('hex')).toBe('c74f20a3');
  });
});
