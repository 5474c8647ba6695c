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
  // Already normalised ("YYYY-MM-DDTHH:MM:SS.sssZ", what every export and most clients write):
  // a valid one reads back as itself, and that is the whole check. Anything else (an offset,
  // other precision, an impossible date that would roll over) takes the full parse below.
  if (text.length === 24 && text >= '1970') {
    const ms = Date.parse(text);
    if (ms === ms && new Date(ms).toISOString() === text) return text as Instant;
  }
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

/**
 * The instant local midnight begins on a calendar day in a time zone. Found by search over the
 * UTC instants around it, so DST transitions (a day starting at 01:00, or twice) come out right:
 * the first instant whose local day is `day`.
 */
export function startOfLocalDay(day: string, timeZone: string): Instant {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const utcMidnight = Date.UTC(y, m - 1, d);
  // Local midnight lies within 14 hours either side of UTC midnight; step back to before it,
  // then forward by hours and minutes to the first instant of the day.
  let t = utcMidnight - 15 * 3_600_000;
  const dayOf = (ms: number): string => localDay(instantFromDate(new Date(ms)), timeZone);
  while (dayOf(t) < day) t += 3_600_000;
  t -= 3_600_000;
  while (dayOf(t) < day) t += 60_000;
  return instantFromDate(new Date(t));
}

/** [start, end) of a calendar month ("YYYY-MM") in a time zone. */
export function monthBounds(month: string, timeZone: string): { start: Instant; end: Instant } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
  return { start: startOfLocalDay(`${month}-01`, timeZone), end: startOfLocalDay(`${next}-01`, timeZone) };
}
