import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fitEvidence } from './evidence.ts';

const id = (i: number): string => `00000000-0000-7000-8000-${i.toString(16).padStart(12, '0')}`;
const policy = (c: string): string => `sha256:${c.repeat(64)}`;

describe('evidence memo', () => {
  it('names the transaction, its policy snapshot and agent', () => {
    expect(fitEvidence({ kind: 'payment', tx_id: id(1), refund_of: null, policy_snapshot_id: policy('a'), agent_id: 'support-bot' }, 255)).toBe(
      `tx ${id(1)} policy ${policy('a')} agent support-bot`,
    );
    expect(fitEvidence({ kind: 'payment', tx_id: id(1), refund_of: null, policy_snapshot_id: null, agent_id: 'x' }, 255)).toBe(`tx ${id(1)} policy none agent x`);
  });

  it('drops whole parts from the end rather than cutting an id', () => {
    const e = { kind: 'refund', tx_id: id(2), refund_of: id(1), policy_snapshot_id: policy('a'), agent_id: 'support-bot' } as const;
    expect(fitEvidence(e, 120)).toBe(`refund ${id(2)} of ${id(1)}`);
  });

  it('keeps a roll-up reference and as many whole tx ids as fit, counting the rest', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 120, max: 4095 }), (n, limit) => {
        const ids = Array.from({ length: n }, (_, i) => id(i));
        const memo = fitEvidence({ kind: 'rollup', rollup_id: 'ru_0123456789abcdef0123456789abcdef', tx_ids: ids, policy_snapshot_ids: [policy('a')] }, limit);
        expect(memo.length).toBeLessThanOrEqual(limit);
        expect(memo.startsWith(`rollup ru_0123456789abcdef0123456789abcdef ${n} tx`)).toBe(true);
        const listed = memo.match(/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}/g) ?? [];
        expect(listed).toEqual(ids.slice(0, listed.length));
        const more = /\+(\d+) more$/.exec(memo);
        // Listed ids plus the counted rest make every transaction; with none listed the head counts them.
        if (listed.length > 0) expect(listed.length + (more === null ? 0 : Number(more[1]))).toBe(n);
        else expect(more).toBeNull();
      }),
    );
  });

  it('counts policy snapshots when their ids do not fit', () => {
    const memo = fitEvidence({ kind: 'rollup', rollup_id: 'ru_x', tx_ids: [id(1)], policy_snapshot_ids: ['a', 'b', 'c'].map(policy) }, 200);
    expect(memo).toBe(`rollup ru_x 1 tx 3 policies tx ${id(1)}`);
  });
});
