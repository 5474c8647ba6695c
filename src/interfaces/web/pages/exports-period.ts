import { SpendtrailError } from '../../../domain/errors.ts';
import type { StatementPeriod } from '../../../domain/statement/period.ts';
import { resolvePeriod } from '../../../domain/statement/period.ts';

/** The query without blank values: an empty input on a GET form means "not given". */
export function given(query: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) if (v.trim() !== '') out[k] = v.trim();
  return out;
}

/**
 * A download's period from `month` (YYYY-MM) or `from`/`to` (a local day or an instant with a
 * zone; `to` exclusive), cut in the organisation's time zone as statements and summaries are.
 * Null when none is given and the period is optional.
 */
export function periodOfQuery(q: Readonly<Record<string, string>>, timeZone: string, required: boolean): StatementPeriod | null {
  const { month, from, to } = q;
  if (month !== undefined && (from !== undefined || to !== undefined)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'give a month or from/to, not both', { field: 'from' });
  }
  if (month !== undefined) return resolvePeriod({ month }, timeZone);
  if (from === undefined && to === undefined) {
    if (required) throw new SpendtrailError('VALIDATION_FAILED', 'give a month (YYYY-MM) or both from and to', { field: 'month' });
    return null;
  }
  if (from === undefined) throw new SpendtrailError('VALIDATION_FAILED', 'give "from" as well as "to"', { field: 'from' });
  if (to === undefined) throw new SpendtrailError('VALIDATION_FAILED', 'give "to" as well as "from"', { field: 'to' });
  return resolvePeriod({ from, to }, timeZone);
}

/** Refuses query parameters a download does not know (a typo would otherwise be silently ignored). */
export function onlyKnown(q: Readonly<Record<string, string>>, known: readonly string[]): void {
  for (const k of Object.keys(q)) {
    if (!known.includes(k)) throw new SpendtrailError('UNKNOWN_FIELD', `unknown parameter ${k} (${known.join(', ')})`, { field: k });
  }
}
