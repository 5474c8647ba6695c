import type { FieldValue, PolicyField } from '../../../domain/policy/change.ts';
import { POLICY_FIELDS } from '../../../domain/policy/change.ts';
import { html } from '../html.ts';
import type { Html } from '../html.ts';

/** How each policy term is labelled on the dashboard: words a finance reader uses. */
export const FIELD_LABELS: Readonly<Record<PolicyField, string>> = {
  per_transaction_limit: 'Per-transaction limit',
  daily_limit: 'Daily limit',
  monthly_limit: 'Monthly limit',
  approval_threshold: 'Approval threshold',
  allowed_categories: 'Allowed categories (MCC)',
  blocked_categories: 'Blocked categories (MCC)',
  allowed_merchants: 'Allowed merchants',
  blocked_merchants: 'Blocked merchants',
  allowed_rails: 'Allowed rails',
  require_business_purpose: 'Business purpose required',
  valid_until: 'Valid until',
};

export const fieldLabel = (f: string): string => (FIELD_LABELS as Record<string, string>)[f] ?? f;

/**
 * A term's value as text. null means different things per kind (no limit, any, open-ended), so
 * it is spelt out rather than shown as an empty cell; money keeps the record's exact decimal
 * string and its currency code.
 */
export function fieldText(field: string, v: FieldValue | undefined, currency: string): string {
  const kind = (POLICY_FIELDS as Record<string, string>)[field];
  if (v === undefined) return '—';
  if (kind === 'money') return v === null ? 'no limit' : `${String(v)} ${currency}`;
  if (kind === 'allow_list') return v === null ? 'any' : (v as readonly string[]).length === 0 ? 'none allowed' : (v as readonly string[]).join(', ');
  if (kind === 'block_list') return v === null || (v as readonly string[]).length === 0 ? 'none' : (v as readonly string[]).join(', ');
  if (kind === 'boolean') return v === true ? 'yes' : 'no';
  if (kind === 'instant') return v === null ? 'open-ended' : String(v);
  return v === null ? '—' : Array.isArray(v) ? v.join(', ') : String(v);
}

/** A status as a word in a badge: the colour only repeats what the text says. */
export function statusBadge(status: string): Html {
  const tone =
    status === 'applied' || status === 'COMPLIANT' || status === 'approved' || status === 'signed'
      ? 'ok'
      : status === 'pending' || status === 'superseded' || status === 'NEEDS_REVIEW' || status === 'unsigned'
        ? 'warn'
        : 'bad';
  return html`<span class="badge ${tone}">${status.replace(/_/g, ' ')}</span>`;
}

/** "3 h", "2 d": how long a proposal has waited. */
export function ageOf(fromIso: string, now: Date): string {
  const ms = Math.max(0, now.getTime() - new Date(fromIso).getTime());
  const min = Math.floor(ms / 60_000);
  if (min < 60) return `${min} min`;
  const h = Math.floor(min / 60);
  if (h < 48) return `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** Case-insensitive identity comparison, as the use cases compare proposer, owner and approver. */
export const samePerson = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();
