import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { emptyRoot, largestPowerOfTwoBelow, leafHash, nodeHash, rootOf } from './tree-hash.ts';

const hex = (b: Buffer): string => b.toString('hex');

// Certificate Transparency reference vectors (certificate-transparency / transparency-dev merkle tests).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map(
  (h) => leafHash(Buffer.from(h, 'hex')),
);
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('leafHash', () => {
  it('is SHA-256 over 0x00 followed by the data', () => {
    const expected = createHash('sha256').update(Buffer.from([0x00, 0xab, 0xcd])).digest();
    expect(leafHash(Buffer.from([0xab, 0xcd])).equals(expected)).toBe(true);
  });

  it('hashes strings as UTF-8', () => {
    expect(leafHash('€').equals(leafHash(Buffer.from('e282ac', 'hex')))).toBe(true);
  });

  it('hashes the empty leaf to the CT reference value', () => {
    expect(hex(leafHash(''))).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  });
});

describe('nodeHash', () => {
  it('is SHA-256 over 0x01, left, right', () => {
    const left = Buffer.alloc(32, 1);
    const right = Buffer.alloc(32, 2);
    const expected = createHash('sha256').update(Buffer.concat([Buffer.from([1]), left, right])).digest();
    expect(nodeHash(left, right).equals(expected)).toBe(true);
  });

  it('is order-sensitive', () => {
    const a = leafHash('a');
    const b = leafHash('b');
    expect(nodeHash(a, b).equals(nodeHash(b, a))).toBe(false);
  });

  it('is domain-separated from leaf hashing of the same bytes', () => {
    const a = leafHash('a');
    const b = leafHash('b');
    expect(nodeHash(a, b).equals(leafHash(Buffer.concat([a, b])))).toBe(false);
  });
});

describe('emptyRoot', () => {
  it('is SHA-256 of the empty string', () => {
    expect(hex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('returns a fresh buffer each time so callers cannot corrupt it', () => {
    emptyRoot().fill(0);
    expect(hex(emptyRoot())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('rootOf', () => {
  it('is the empty root for no leaves', () => {
    expect(rootOf([]).equals(emptyRoot())).toBe(true);
  });

  it.each(CT_ROOTS.map((root, i) => [i + 1, root] as const))('matches the CT reference root for %i leaves', (n, root) => {
    expect(hex(rootOf(CT_LEAVES.slice(0, n)))).toBe(root);
  });

  it('splits at the largest power of two below the size (RFC 6962 MTH)', () => {
    const [a, b, c, d, e] = CT_LEAVES as [Buffer, Buffer, Buffer, Buffer, Buffer];
    const expected = nodeHash(nodeHash(nodeHash(a, b), nodeHash(c, d)), e);
    expect(rootOf([a, b, c, d, e]).equals(expected)).toBe(true);
  });
});

describe('largestPowerOfTwoBelow', () => {
  it.each([
    [2, 1],
    [3, 2],
    [4, 2],
    [5, 4],
    [8, 4],
    [9, 8],
    [2 ** 40 + 1, 2 ** 40],
  ])('for %i is %i', (n, k) => {
    expect(largestPowerOfTwoBelow(n)).toBe(k);
  });
});
