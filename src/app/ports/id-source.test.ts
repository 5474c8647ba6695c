import { describe, expect, it } from 'vitest';
import { randomIds, uuidv7 } from './id-source.ts';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('uuidv7', () => {
  it('writes the millisecond timestamp in the first 48 bits, then version 7 and variant 10', () => {
    const ms = Date.UTC(2026, 2, 12, 10, 0, 0, 123);
    const id = uuidv7(ms);
    expect(id).toMatch(V7);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(ms);
  });

  it('is time-ordered across milliseconds and unique within one', () => {
    const ids = Array.from({ length: 2000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 10)));
    for (let i = 1; i < ids.length; i++) {
      if (Math.floor(i / 10) !== Math.floor((i - 1) / 10)) expect((ids[i] as string) > (ids[i - 1] as string)).toBe(true);
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('draws fresh random bits for each id, across refills of the random block', () => {
    const ids = Array.from({ length: 600 }, () => randomIds.uuid());
    for (const id of ids) expect(id).toMatch(V7);
    // 62 random bits after the variant: any repeat among 600 ids means the bits were reused.
    expect(new Set(ids.map((id) => id.slice(19))).size).toBe(ids.length);
  });
});
