import { sign } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../hash.ts';
import type { Checkpoint } from './checkpoint.ts';
import { checkpointBody, openCheckpoint, signCheckpoint } from './checkpoint.ts';
import type { NoteSigner } from './note-key.ts';
import { generateNoteSigner, parseSignerKey, parseVerifierKey } from './note-key.ts';

const checkpointInvalid = expect.objectContaining({ code: 'CHECKPOINT_INVALID' });

const keys = generateNoteSigner('spendtrail.example/org-1');
const signer = parseSignerKey(keys.signerKey);
const verifier = parseVerifierKey(keys.verifierKey);
const cp: Checkpoint = { origin: 'spendtrail.example/org-1', size: 20852163, root: sha256('root') };

/** A note over arbitrary body text, signed correctly, to reach the body checks. */
const signRaw = (body: string, by: NoteSigner = signer): string => {
  const sig = sign(null, Buffer.from(body, 'utf8'), by.privateKey);
  return `${body}\n\u2014 ${by.name} ${Buffer.concat([by.keyId, sig]).toString('base64')}\n`;
};

describe('checkpointBody', () => {
  it('is origin, decimal size and base64 root, one per line', () => {
    expect(checkpointBody(cp)).toBe(`spendtrail.example/org-1\n20852163\n${cp.root.toString('base64')}\n`);
  });

  it('writes the empty tree as size 0', () => {
    expect(checkpointBody({ ...cp, size: 0 }).split('\n')[1]).toBe('0');
  });

  it.each([
    ['an empty origin', { ...cp, origin: '' }],
    ['a multi-line origin', { ...cp, origin: 'a\nb' }],
    ['a negative size', { ...cp, size: -1 }],
    ['a fractional size', { ...cp, size: 1.5 }],
    ['an unsafe size', { ...cp, size: 2 ** 53 }],
    ['a short root', { ...cp, root: Buffer.alloc(31) }],
  ])('rejects %s', (_label, bad) => {
    expect(() => checkpointBody(bad)).toThrow(checkpointInvalid);
  });
});

describe('signCheckpoint / openCheckpoint', () => {
  it('round-trips a checkpoint', () => {
    const opened = openCheckpoint(signCheckpoint(cp, signer), verifier);
    expect(opened.origin).toBe(cp.origin);
    expect(opened.size).toBe(cp.size);
    expect(opened.root.equals(cp.root)).toBe(true);
  });

  it('round-trips arbitrary checkpoints', () => {
    const arb = fc.record({
      origin: fc.string({ minLength: 1, unit: 'grapheme' }).filter((s) => !/[\u0000-\u001f]/.test(s)),
      size: fc.maxSafeNat(),
      root: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a)),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const opened = openCheckpoint(signCheckpoint(c, signer), verifier);
        expect(opened).toEqual({ origin: c.origin, size: c.size, root: c.root });
      }),
      { numRuns: 50 },
    );
  });

  it('writes the C2SP signed-note layout: body, blank line, em-dash signature line', () => {
    const note = signCheckpoint(cp, signer);
    const [body, sigLine] = note.split('\n\n') as [string, string];
    expect(`${body}\n`).toBe(checkpointBody(cp));
    expect(sigLine).toMatch(/^\u2014 spendtrail\.example\/org-1 [A-Za-z0-9+/]{91}=\n$/);
    const payload = Buffer.from(sigLine.split(' ')[2]!, 'base64');
    expect(payload.subarray(0, 4).equals(signer.keyId)).toBe(true);
    expect(payload).toHaveLength(4 + 64);
  });

  it('fails on any single-byte change anywhere in the note', () => {
    const bytes = Buffer.from(signCheckpoint(cp, signer), 'utf8');
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x20, 0x80]) {
        const mutated = Buffer.from(bytes);
        mutated[i] = mutated[i]! ^ mask;
        expect(() => openCheckpoint(mutated.toString('utf8'), verifier), `byte ${i} ^ ${mask}`).toThrow(checkpointInvalid);
      }
    }
  });

  it('fails on a random replacement of any single byte', () => {
    const bytes = Buffer.from(signCheckpoint(cp, signer), 'utf8');
    fc.assert(
      fc.property(fc.nat(bytes.length - 1), fc.integer({ min: 1, max: 255 }), (at, delta) => {
        const mutated = Buffer.from(bytes);
        mutated[at] = (mutated[at]! + delta) % 256;
        expect(() => openCheckpoint(mutated.toString('utf8'), verifier)).toThrow(checkpointInvalid);
      }),
      { numRuns: 500 },
    );
  });

  it('rejects a note signed by another key, even under the same name', () => {
    const other = parseSignerKey(generateNoteSigner('spendtrail.example/org-1').signerKey);
    expect(() => openCheckpoint(signCheckpoint(cp, other), verifier)).toThrow(/no signature by/);
  });

  it('rejects a note whose signature by another key is labelled with this key ID', () => {
    const other = parseSignerKey(generateNoteSigner('spendtrail.example/org-1').signerKey);
    const forged = signRaw(checkpointBody(cp), { ...other, keyId: signer.keyId });
    expect(() => openCheckpoint(forged, verifier)).toThrow(/does not verify/);
  });

  it('ignores signature lines from unknown keys', () => {
    const witness = parseSignerKey(generateNoteSigner('witness.example').signerKey);
    const witnessLine = signCheckpoint(cp, witness).split('\n\n')[1]!;
    const cosigned = signCheckpoint(cp, signer) + witnessLine;
    expect(openCheckpoint(cosigned, verifier).size).toBe(cp.size);
    const [body, ours] = signCheckpoint(cp, signer).split('\n\n') as [string, string];
    expect(openCheckpoint(`${body}\n\n${witnessLine}${ours}`, verifier).size).toBe(cp.size);
  });

  it.each([
    ['a missing root line', 'origin\n5\n', /3|lines/],
    ['an empty origin', `\n5\n${cp.root.toString('base64')}\n`, /origin/],
    ['a size with leading zeros', `origin\n05\n${cp.root.toString('base64')}\n`, /leading zeros/],
    ['a signed size', `origin\n+5\n${cp.root.toString('base64')}\n`, /decimal/],
    ['a hexadecimal size', `origin\n0x5\n${cp.root.toString('base64')}\n`, /decimal/],
    ['a size in exponent notation', `origin\n5e3\n${cp.root.toString('base64')}\n`, /decimal/],
    ['a size beyond 2^53 - 1', `origin\n9007199254740993\n${cp.root.toString('base64')}\n`, /exceeds/],
    ['a 31-byte root', `origin\n5\n${Buffer.alloc(31).toString('base64')}\n`, /31 bytes/],
    ['a root in URL-safe base64', `origin\n5\n${Buffer.alloc(32, 0xff).toString('base64url')}\n`, /base64/],
    ['an extension line', `origin\n5\n${cp.root.toString('base64')}\nextension\n`, /extension/],
  ])('rejects a validly signed body with %s', (_label, body, message) => {
    const note = signRaw(body);
    expect(() => openCheckpoint(note, verifier)).toThrow(checkpointInvalid);
    expect(() => openCheckpoint(note, verifier)).toThrow(message);
  });

  it('accepts the empty tree', () => {
    const empty = { origin: 'o', size: 0, root: sha256('') };
    expect(openCheckpoint(signCheckpoint(empty, signer), verifier).size).toBe(0);
  });
});
