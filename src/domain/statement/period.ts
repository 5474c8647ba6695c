import { SpendtrailError } from '../errors.ts';
import { monthLabel } from '../summary/rules.ts';
import type { Instant } from '../time.ts';
import { instantFromDate, instantMs, localDay, monthBounds, parseInstant, startOfLocalDay } from '../time.ts';

/**
 * The period a statement covers: [start, end) as instants, cut in the organisation's time zone
 * so a statement's days and months are the same ones its budgets were counted in.
 */
export interface StatementPeriod {
  /** "2026-03" for a calendar month, else "2026-03-05_2026-03-19" (first and last local day): safe in a file name. */
  readonly key: string;
  /** The calendar month, when the period is exactly one. */
  readonly month: string | null;
  readonly start: Instant;
  /** Exclusive. */
  readonly end: Instant;
  readonly timezone: string;
  /** First and last local calendar day touched by the period, inclusive. */
  readonly first_day: string;
  readonly last_day: string;
  /** What a reader sees: "March 2026 (2026-03-01 to 2026-03-31, Europe/Berlin)". */
  readonly label: string;
}

export type PeriodRequest = { readonly month: string } | { readonly from: string; readonly to: string };

const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;
const DAY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "YYYY-MM-DD HH:MM:SS" wall-clock time of an instant in a time zone (what a statement prints). */
export function localDateTime(instant: Instant, timeZone: string): string {
  if (timeZone === 'UTC') return `${instant.slice(0, 10)} ${instant.slice(11, 19)}`;
  let f = formatters.get(timeZone);
  if (f === undefined) {
    // hourCycle h23: some engines print midnight as "24" under hour12: false.
    f = new Intl.DateTimeFormat('en-CA', {
      timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(instant));
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? '00';
  return `${get('year')}-${get('month')}-${get('day')} ${get('hour')}:${get('minute')}:${get('second')}`;
}

/** A boundary given as a local calendar day (its first instant) or as an instant with a zone. */
function boundary(text: string, timeZone: string, field: string): Instant {
  if (DAY.test(text)) {
    // parseInstant refuses 2026-02-30 and years before 1970; the local midnight is then found.
    parseInstant(`${text}T00:00:00Z`, field);
    return startOfLocalDay(text, timeZone);
  }
  return parseInstant(text, field);
}

const isLocalMidnight = (i: Instant, timeZone: string): boolean => startOfLocalDay(localDay(i, timeZone), timeZone) === i;

/**
 * Resolves a calendar month ("2026-03") or a from/to pair (each a local day "2026-03-05" or an
 * instant with a zone; `to` exclusive, as in `ledger`) into a period in `timeZone`.
 */
export function resolvePeriod(req: PeriodRequest, timeZone: string): StatementPeriod {
  let start: Instant;
  let end: Instant;
  let month: string | null = null;
  if ('month' in req) {
    if (!MONTH.test(req.month)) throw new SpendtrailError('VALIDATION_FAILED', 'month is YYYY-MM, e.g. 2026-03', { field: 'month' });
    ({ start, end } = monthBounds(req.month, timeZone));
    month = req.month;
  } else {
    start = boundary(req.from, timeZone, 'from');
    end = boundary(req.to, timeZone, 'to');
    if (instantMs(end) <= instantMs(start)) {
      throw new SpendtrailError('VALIDATION_FAILED', '"to" must be after "from" (it is exclusive: --from 2026-03-01 --to 2026-04-01 is March)', { field: 'to' });
    }
  }
  const first = localDay(start, timeZone);
  const last = localDay(instantFromDate(new Date(instantMs(end) - 1)), timeZone);
  let label: string;
  if (month !== null) label = `${monthLabel(month)} (${first} to ${last}, ${timeZone})`;
  else if (isLocalMidnight(start, timeZone) && isLocalMidnight(end, timeZone)) label = `${first} to ${last} (${timeZone})`;
  else label = `${localDateTime(start, timeZone)} to ${localDateTime(end, timeZone)} (end exclusive, ${timeZone})`;
  return { key: month ?? `${first}_${last}`, month, start, end, timezone: timeZone, first_day: first, last_day: last, label };
}

/** The calendar months ("YYYY-MM") a period touches, in order. */
export function monthsOf(p: StatementPeriod): string[] {
  const last = p.last_day.slice(0, 7);
  const out: string[] = [];
  for (let m = p.first_day.slice(0, 7); m <= last; m = nextMonth(m)) out.push(m);
  return out;
}

export function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}
