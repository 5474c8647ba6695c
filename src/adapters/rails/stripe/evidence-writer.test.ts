import { describe, expect, it } from 'vitest';
import { SpendtrailError } from '../../../domain/errors.ts';
import { EvidenceWriter } from './webhook.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the evidence writer behind real-time authorizations', () => {
  it('holds a record back while a decision is in progress and writes it as soon as none is', async () => {
    const w = new EvidenceWriter(() => undefined, 5_000);
    const written: string[] = [];
    let release = (): void => undefined;
    const decision = w.deciding(() => new Promise<void>((r) => (release = r)));
    w.push(() => Promise.resolve(written.push('record')));
    await sleep(50);
    expect(written).toEqual([]);
    release();
    await decision;
    await w.idle();
    expect(written).toEqual(['record']);
  });

  it('does not hold a record back longer than its limit, so a steady stream of decisions cannot starve it', async () => {
    const w = new EvidenceWriter(() => undefined, 60);
    const written: number[] = [];
    let release = (): void => undefined;
    const decision = w.deciding(() => new Promise<void>((r) => (release = r)));
    const queued = performance.now();
    w.push(() => Promise.resolve(written.push(performance.now() - queued)));
    await w.idle();
    expect(written).toHaveLength(1);
    expect(written[0]).toBeGreaterThanOrEqual(55);
    release();
    await decision;
  });

  it('writes records one at a time in order, retries a failure of the store, and reports a failure of the content at once', async () => {
    const errors: unknown[] = [];
    const w = new EvidenceWriter((e) => errors.push(e), 1000, [1, 1]);
    const order: string[] = [];
    let attempts = 0;
    w.push(() => {
      attempts += 1;
      return attempts < 3 ? Promise.reject(new Error('connection reset')) : Promise.resolve(order.push('a'));
    });
    w.push(() => Promise.reject(new SpendtrailError('IDEMPOTENCY_CONFLICT', 'other bytes under this id')));
    w.push(() => Promise.resolve(order.push('c')));
    await w.idle();
    expect(attempts).toBe(3);
    expect(order).toEqual(['a', 'c']);
    expect(errors).toHaveLength(1);
    expect((errors[0] as SpendtrailError).code).toBe('IDEMPOTENCY_CONFLICT');
  });
});
