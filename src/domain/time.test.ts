import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { localDay, localMonth, parseInstant } from './time.ts';

describe('instants', () => {
  it('normalises offsets and precision to UTC milliseconds', () => {
    expect(parseInstant('2026-03-12T10:00:00Z', 't')).toBe('2026-03-12T10:00:00.000Z');
    expect(parseInstant('2026-03-12T12:00:00.123456+02:00', 't')).toBe('2026-03-12T10:00:00.123Z');
  });

  it.each(['2026-03-12T10:00:00', '2026-03-12', '2026-02-30T00:00:00Z', '2026-03-12T24:00:00Z', 'yesterday', '1969-12-31T23:59:59Z'])(
    'rejects %j',
    (text) => {
      expect(() => parseInstant(text, 'timestamp')).toThrow(
        expect.objectContaining({ code: 'INVALID_TIMESTAMP', field: 'timestamp' }),
      );
    },
  );

  // Already-normalised text takes a shortcut; these are the same shape (24 characters, Z) but invalid.
  it.each(['2026-02-30T00:00:00.000Z', '2023-02-29T12:00:00.000Z', '2026-13-01T00:00:00.000Z', '2026-01-01T00:00:60.000Z', '1969-12-31T23:59:59.999Z', '0000-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000z'])(
    'rejects %j in normalised form',
    (text) => {
      expect(() => parseInstant(text, 'timestamp')).toThrow(expect.objectContaining({ code: 'INVALID_TIMESTAMP' }));
    },
  );

  it('gives a normalised instant back unchanged, and the same instant written any other way', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }), (d) => {
        const iso = d.toISOString();
        expect(parseInstant(iso, 't')).toBe(iso);
        expect(parseInstant(iso.replace('Z', '000+00:00'), 't')).toBe(iso);
      }),
    );
  });

  it('places an instant in the organisation time zone day and month', () => {
    const i = parseInstant('2026-03-31T23:30:00Z', 't');
    expect(localDay(i, 'UTC')).toBe('2026-03-31');
    expect(localDay(i, 'Europe/Berlin')).toBe('2026-04-01');
    expect(localMonth(i, 'Europe/Berlin')).toBe('2026-04');
    expect(localMonth(i, 'America/New_York')).toBe('2026-03');
  });
});
