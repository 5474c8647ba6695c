import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { record } from '../../../test/support/transaction-arbitraries.ts';
import type { TransactionRecord } from './transaction.ts';
import { encodeTransaction } from './transaction.ts';
import { encodeTransactionAsJsonString } from './transaction-json-string.ts';


describe('a transaction encoding as a JSON string, in one pass', () => {
  it('is JSON.stringify of the canonical encoding, for any transaction record', () => {
    fc.assert(
      fc.property(record, (r) => {
        expect(encodeTransactionAsJsonString(r)).toBe(JSON.stringify(encodeTransaction(r)));
      }),
      { numRuns: 2000 },
    );
  });

  it('escapes every value that needs it, wherever it sits, lone surrogates included', () => {
    const base = fc.sample(record, { seed: 11, numRuns: 1 })[0]!;
    for (const odd of ['"', '\\', '\n', '\u0001', '\u001f', 'a\ud800b', '\udc00', '😀', 'é "x" \\ y']) {
      for (const field of ['merchant', 'business_purpose', 'external_id', 'approver', 'org_id', 'input_hash'] as const) {
        const r: TransactionRecord = { ...base, [field]: `pre${odd}post` };
        const s = encodeTransactionAsJsonString(r);
        expect(s).toBe(JSON.stringify(encodeTransaction(r)));
        expect(JSON.parse(s)).toBe(encodeTransaction(r));
      }
    }
  });
});
