import { SpendtrailError } from './errors.ts';

/**
 * Instants travel as ISO 8601 UTC strings with millisecond precision ("...T10:00:00.000Z").
 * Input may carry any explicit offset and more digits; both are normalised here, before
 * hashing, so a database round trip can never change an entry's hash.
 */
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

export type Instant = string & { readonly __instant: unique symbol };

export function parseInstant(text: string, field: string): Instant {
  const m = ISO_WITH_ZONE.exec(text);
  if (m === null) {
    throw new SpendtrailError(
      'INVALID_TIMESTAMP',
      `"${text.slice(0, 64)}" is not an ISO 8601 timestamp with a zone (e.g. 2026-03-12T10:00:00Z)`,
      { field },
    );
  }
  const [, y, mo, d, h, mi, s, frac = '', zone = 'Z'] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  // Date.UTC silently rolls 2026-02-30 over to March; the day check below refuses it.
  const local = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0').slice(0, 3)));
  const offsetMin = zone === 'Z' ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (
    month < 1 || month > 12 ||
    probe.getUTCDate() !== day ||
    Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 ||
    Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59
  ) {
    throw new SpendtrailError('INVALID_TIMESTAMP', `"${text.slice(0, 64)}" is not a valid date and time`, { field });
  }
  const date = new Date(local - offsetMin * 60_000);
  if (date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999 || year < 1970) {
    throw new SpendtrailError('INVALID_TIMESTAMP', 'timestamp is outside 1970..9999', { field });
  }
  return date.toISOString() as Instant;
}

/** For values the product made itself (clock readings, database rows). */
export const instantFromDate = (d: Date): Instant => d.toISOString() as Instant;
export const instantMs = (i: Instant): number => Date.parse(i);

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The calendar day of an instant in a time zone, "YYYY-MM-DD": the key of daily budgets. */
export function localDay(instant: Instant, timeZone: string): string {
  if (timeZone === 'UTC') return instant.slice(0, 10);
  const parts = formatterFor(timeZone).formatToParts(new Date(instant));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '';
  return `${get('year')}-${get('month')}-${get('day')}`;
}

/** The calendar month of an instant in a time zone, "YYYY-MM": the key of monthly budgets. */
export const localMonth = (instant: Instant, timeZone: string): string => localDay(instant, timeZone).slice(0, 7);

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone });
    return true;
  } catch {
    return false;
  }
}
