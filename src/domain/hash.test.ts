import { describe, expect, it } from 'vitest';
import { sha256, sha256Hex, snapshotId } from './hash.ts';

describe('sha256', () => {
  it('hashes the empty input to the FIPS 180-4 empty digest', () => {
    expect(sha256('').toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes "abc" to the FIPS 180-4 example digest', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('encodes strings as UTF-8', () => {
    expect(sha256('€').equals(sha256(Buffer.from([0xe2, 0x82, 0xac])))).toBe(true);
  });

  it('returns a 32-byte Buffer', () => {
    const digest = sha256(new Uint8Array([1, 2, 3]));
    expect(Buffer.isBuffer(digest)).toBe(true);
    expect(digest).toHaveLength(32);
  });
});

describe('snapshotId', () => {
  it('prefixes the lowercase hex digest with the algorithm name', () => {
    expect(snapshotId('{}')).toBe(`sha256:${sha256Hex('{}')}`);
    expect(snapshotId('{}')).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('differs for different documents', () => {
    expect(snapshotId('{"a":1}')).not.toBe(snapshotId('{"a":2}'));
  });
});
