import { SpendtrailError } from '../errors.ts';
import { findCurrency } from '../money/currency.ts';
import { parseDecimal } from '../money/decimal.ts';
import type { Instant } from '../time.ts';
import { instantMs } from '../time.ts';
import type { PolicyDocument, PolicyTerms } from './policy.ts';

/**
 * The terms of a policy a change can touch, and the kind of value each holds. `valid_from` is
 * not among them: it is when a version takes effect, set when the change is applied.
 */
export const POLICY_FIELDS = {
  per_transaction_limit: 'money',
  daily_limit: 'money',
  monthly_limit: 'money',
  approval_threshold: 'money',
  allowed_categories: 'allow_list',
  blocked_categories: 'block_list',
  allowed_merchants: 'allow_list',
  blocked_merchants: 'block_list',
  allowed_rails: 'allow_list',
  require_business_purpose: 'boolean',
  valid_until: 'instant',
} as const;

export type PolicyField = keyof typeof POLICY_FIELDS;
export const FIELD_NAMES = Object.keys(POLICY_FIELDS) as PolicyField[];
export const isPolicyField = (s: string): s is PolicyField => Object.hasOwn(POLICY_FIELDS, s);

export type FieldValue = string | boolean | readonly string[] | null;

export interface FieldChange {
  readonly field: PolicyField;
  readonly old_value: FieldValue;
  readonly new_value: FieldValue;
  /** Widening lets the agent spend where, when or how much it could not before. */
  readonly direction: 'widens' | 'narrows';
}

/** The terms of a document, without identity and effective date. */
export function termsOf(doc: PolicyDocument): Required<Pick<PolicyTerms, PolicyField>> {
  return {
    per_transaction_limit: doc.per_transaction_limit,
    daily_limit: doc.daily_limit,
    monthly_limit: doc.monthly_limit,
    approval_threshold: doc.approval_threshold,
    allowed_categories: doc.allowed_categories,
    blocked_categories: doc.blocked_categories,
    allowed_merchants: doc.allowed_merchants,
    blocked_merchants: doc.blocked_merchants,
    allowed_rails: doc.allowed_rails,
    require_business_purpose: doc.require_business_purpose,
    valid_until: doc.valid_until,
  };
}

const same = (a: FieldValue, b: FieldValue): boolean => JSON.stringify(a) === JSON.stringify(b);

/** null is "no limit": the widest value. */
function moneyDirection(before: string | null, after: string | null, exponent: number): 'widens' | 'narrows' {
  if (after === null) return 'widens';
  if (before === null) return 'narrows';
  const b = parseDecimal(before, exponent, { allowNegative: false, field: 'old_value' });
  const a = parseDecimal(after, exponent, { allowNegative: false, field: 'new_value' });
  return a > b ? 'widens' : 'narrows';
}

/** An allow-list widens when it gains an entry or is lifted (null = anything allowed). */
function allowDirection(before: readonly string[] | null, after: readonly string[] | null): 'widens' | 'narrows' {
  if (after === null) return 'widens';
  if (before === null) return 'narrows';
  const had = new Set(before);
  return after.some((x) => !had.has(x)) ? 'widens' : 'narrows';
}

/** A block-list widens when it loses an entry. */
function blockDirection(before: readonly string[], after: readonly string[]): 'widens' | 'narrows' {
  const has = new Set(after);
  return before.some((x) => !has.has(x)) ? 'widens' : 'narrows';
}

function instantDirection(before: string | null, after: string | null): 'widens' | 'narrows' {
  if (after === null) return 'widens';
  if (before === null) return 'narrows';
  return instantMs(after as Instant) > instantMs(before as Instant) ? 'widens' : 'narrows';
}

/**
 * The field-by-field difference between two normalised documents. With no document before,
 * every field is listed as widening: an agent without a policy can spend nothing, so its first
 * policy is the widest change there is.
 */
export function diffPolicies(before: PolicyDocument | null, after: PolicyDocument): FieldChange[] {
  const exponent = findCurrency(after.currency)?.exponent ?? 2;
  const next = termsOf(after);
  if (before === null) {
    return FIELD_NAMES.map((field) => ({ field, old_value: null, new_value: next[field] ?? null, direction: 'widens' as const }));
  }
  const prev = termsOf(before);
  const out: FieldChange[] = [];
  for (const field of FIELD_NAMES) {
    const o = prev[field] ?? null;
    const n = next[field] ?? null;
    if (same(o, n)) continue;
    let direction: 'widens' | 'narrows';
    switch (POLICY_FIELDS[field]) {
      case 'money':
        direction = moneyDirection(o as string | null, n as string | null, exponent);
        break;
      case 'allow_list':
        direction = allowDirection(o as readonly string[] | null, n as readonly string[] | null);
        break;
      case 'block_list':
        direction = blockDirection(o as readonly string[], n as readonly string[]);
        break;
      case 'boolean':
        direction = o === true && n === false ? 'widens' : 'narrows';
        break;
      case 'instant':
        direction = instantDirection(o as string | null, n as string | null);
        break;
    }
    out.push({ field, old_value: o, new_value: n, direction });
  }
  return out;
}

/** Per organisation: which changes wait for a second person, and whether a ticket is required. */
export type ApprovalMode = 'widening' | 'always' | 'never';

export interface ChangeControl {
  /** The rule for every field not listed in `fields`. */
  readonly approval: ApprovalMode;
  readonly fields: Readonly<Partial<Record<PolicyField, ApprovalMode>>>;
  /** When false, a change without a ticket is accepted and flagged; when true it is refused. */
  readonly ticket_required: boolean;
  /** Which changes are announced to the configured chat/webhook channels. */
  readonly notify: 'unticketed' | 'all' | 'none';
}

export const DEFAULT_CHANGE_CONTROL: ChangeControl = {
  approval: 'widening',
  fields: {},
  ticket_required: true,
  notify: 'unticketed',
};

export function requiresApproval(changes: readonly FieldChange[], control: ChangeControl): boolean {
  return changes.some((c) => {
    const mode = control.fields[c.field] ?? control.approval;
    return mode === 'always' || (mode === 'widening' && c.direction === 'widens');
  });
}

const JIRA_OR_LINEAR = /^[A-Z][A-Z0-9_]{1,19}-[1-9][0-9]{0,9}$/;
const SERVICENOW = /^(CHG|INC|RITM|REQ|PRB|TASK|SCTASK|CTASK|STRY)[0-9]{7,10}$/;

/**
 * An approval ticket is a Jira/Linear key (FIN-123), a ServiceNow number (CHG0012345) or an
 * http(s) link to the ticket. Keys are upper-cased; links are kept as given.
 */
export function parseTicket(input: string, field = 'approval_ticket'): string {
  const t = input.trim();
  // The URL parser drops tabs and newlines silently; a ticket that carries them could inject
  // lines into notices and exports, so any whitespace inside is refused.
  if (/[\s\u0000-\u001f\u007f]/.test(t)) {
    throw new SpendtrailError('INVALID_TICKET', 'a ticket key or link contains no spaces or line breaks', { field });
  }
  if (/^https?:\/\//i.test(t)) {
    let url: URL;
    try {
      url = new URL(t);
    } catch {
      throw new SpendtrailError('INVALID_TICKET', 'the ticket link is not a valid URL', { field });
    }
    if (url.hostname === '' || url.username !== '' || url.password !== '' || t.length > 500) {
      throw new SpendtrailError('INVALID_TICKET', 'the ticket link must be a plain http(s) URL of at most 500 characters', { field });
    }
    return t;
  }
  const key = t.toUpperCase();
  if (JIRA_OR_LINEAR.test(key) || SERVICENOW.test(key)) return key;
  throw new SpendtrailError(
    'INVALID_TICKET',
    `"${t.slice(0, 60)}" is not a ticket: use a Jira/Linear key (FIN-123), a ServiceNow number (CHG0012345) or a link`,
    { field },
  );
}

export function parseJustification(input: string | null | undefined, field = 'justification'): string {
  const j = (input ?? '').trim();
  if (j === '') throw new SpendtrailError('JUSTIFICATION_REQUIRED', 'a policy change needs a justification', { field });
  if (j.length > 2000) throw new SpendtrailError('VALIDATION_FAILED', 'justification is longer than 2000 characters', { field });
  return j;
}
