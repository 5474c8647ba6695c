import { SpendtrailError } from '../errors.ts';
import { canonicalize } from '../canonical/jcs.ts';
import { snapshotId } from '../hash.ts';
import { findCurrency } from '../money/currency.ts';
import { formatMinor, parseDecimal } from '../money/decimal.ts';
import type { Rail } from '../rails.ts';
import { isRail } from '../rails.ts';
import type { Instant } from '../time.ts';
import { instantMs, parseInstant } from '../time.ts';

/**
 * A spending policy version exactly as it is printed by `policy show --json` and hashed into
 * its `policy_snapshot_id`. Every field is always present (null = no limit / no list) so two
 * documents that mean the same thing have the same bytes. Lists are sorted and de-duplicated.
 */
export interface PolicyDocument {
  readonly org_id: string;
  readonly agent_id: string;
  readonly version: number;
  readonly currency: string;
  readonly per_transaction_limit: string | null;
  readonly daily_limit: string | null;
  readonly monthly_limit: string | null;
  readonly approval_threshold: string | null;
  readonly allowed_categories: readonly string[] | null;
  readonly blocked_categories: readonly string[];
  readonly allowed_merchants: readonly string[] | null;
  readonly blocked_merchants: readonly string[];
  readonly allowed_rails: readonly Rail[] | null;
  readonly require_business_purpose: boolean;
  readonly valid_from: Instant;
  readonly valid_until: Instant | null;
}

/** What a user supplies for a new version; identity and version number are assigned. */
export interface PolicyTerms {
  readonly per_transaction_limit?: string | null | undefined;
  readonly daily_limit?: string | null | undefined;
  readonly monthly_limit?: string | null | undefined;
  readonly approval_threshold?: string | null | undefined;
  readonly allowed_categories?: readonly string[] | null | undefined;
  readonly blocked_categories?: readonly string[] | undefined;
  readonly allowed_merchants?: readonly string[] | null | undefined;
  readonly blocked_merchants?: readonly string[] | undefined;
  readonly allowed_rails?: readonly string[] | null | undefined;
  readonly require_business_purpose?: boolean | undefined;
  readonly valid_from?: string | undefined;
  readonly valid_until?: string | null | undefined;
}

/** The evaluable form: limits in minor units, lists as sets with merchants case-folded. */
export interface CompiledPolicy {
  readonly document: PolicyDocument;
  readonly snapshotId: string;
  readonly exponent: number;
  readonly perTransactionLimit: bigint | null;
  readonly dailyLimit: bigint | null;
  readonly monthlyLimit: bigint | null;
  readonly approvalThreshold: bigint | null;
  readonly allowedCategories: ReadonlySet<string> | null;
  readonly blockedCategories: ReadonlySet<string>;
  readonly allowedMerchants: ReadonlySet<string> | null;
  readonly blockedMerchants: ReadonlySet<string>;
  readonly allowedRails: ReadonlySet<string> | null;
  readonly validFromMs: number;
  readonly validUntilMs: number | null;
}

export const merchantKey = (m: string): string => m.trim().toLowerCase();

const sortedUnique = (xs: readonly string[]): string[] => [...new Set(xs)].sort();

const MCC = /^[0-9]{4}$/;

function limit(text: string | null | undefined, exponent: number, field: string): string | null {
  if (text === null || text === undefined) return null;
  return formatMinor(parseDecimal(text, exponent, { allowNegative: false, field }), exponent);
}

function categories(xs: readonly string[], field: string): string[] {
  xs.forEach((c, i) => {
    if (!MCC.test(c)) {
      throw new SpendtrailError('POLICY_INVALID', `"${c}" is not a four-digit merchant category code`, {
        field: `${field}[${i}]`,
      });
    }
  });
  return sortedUnique(xs);
}

/** Merchants match case-insensitively, so they are stored case-folded: equal meaning, equal bytes. */
function merchants(xs: readonly string[], field: string): string[] {
  xs.forEach((m, i) => {
    if (m.trim() === '') throw new SpendtrailError('POLICY_INVALID', 'merchant name is empty', { field: `${field}[${i}]` });
  });
  return sortedUnique(xs.map(merchantKey));
}

function rails(xs: readonly string[], field: string): Rail[] {
  const out: Rail[] = [];
  xs.forEach((r, i) => {
    if (!isRail(r)) throw new SpendtrailError('POLICY_INVALID', `unknown rail "${r}"`, { field: `${field}[${i}]` });
    out.push(r);
  });
  return sortedUnique(out) as Rail[];
}

/** Builds a validated, normalised document; throws POLICY_INVALID naming the field. */
export function buildPolicyDocument(
  identity: { org_id: string; agent_id: string; version: number; currency: string },
  terms: PolicyTerms,
  defaultValidFrom: Instant,
): PolicyDocument {
  const currency = findCurrency(identity.currency);
  if (currency === undefined) {
    throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${identity.currency}`, { field: 'currency' });
  }
  const e = currency.exponent;
  const doc: PolicyDocument = {
    org_id: identity.org_id,
    agent_id: identity.agent_id,
    version: identity.version,
    currency: currency.code,
    per_transaction_limit: limit(terms.per_transaction_limit, e, 'per_transaction_limit'),
    daily_limit: limit(terms.daily_limit, e, 'daily_limit'),
    monthly_limit: limit(terms.monthly_limit, e, 'monthly_limit'),
    approval_threshold: limit(terms.approval_threshold, e, 'approval_threshold'),
    allowed_categories: terms.allowed_categories == null ? null : categories(terms.allowed_categories, 'allowed_categories'),
    blocked_categories: categories(terms.blocked_categories ?? [], 'blocked_categories'),
    allowed_merchants: terms.allowed_merchants == null ? null : merchants(terms.allowed_merchants, 'allowed_merchants'),
    blocked_merchants: merchants(terms.blocked_merchants ?? [], 'blocked_merchants'),
    allowed_rails: terms.allowed_rails == null ? null : rails(terms.allowed_rails, 'allowed_rails'),
    require_business_purpose: terms.require_business_purpose ?? true,
    valid_from: terms.valid_from === undefined ? defaultValidFrom : parseInstant(terms.valid_from, 'valid_from'),
    valid_until: terms.valid_until == null ? null : parseInstant(terms.valid_until, 'valid_until'),
  };
  const c = compilePolicy(doc);
  if (c.dailyLimit !== null && c.monthlyLimit !== null && c.dailyLimit > c.monthlyLimit) {
    throw new SpendtrailError('POLICY_INVALID', 'daily_limit is above monthly_limit', { field: 'daily_limit' });
  }
  if (c.perTransactionLimit !== null && c.dailyLimit !== null && c.perTransactionLimit > c.dailyLimit) {
    throw new SpendtrailError('POLICY_INVALID', 'per_transaction_limit is above daily_limit', {
      field: 'per_transaction_limit',
    });
  }
  if (c.perTransactionLimit !== null && c.monthlyLimit !== null && c.perTransactionLimit > c.monthlyLimit) {
    throw new SpendtrailError('POLICY_INVALID', 'per_transaction_limit is above monthly_limit', {
      field: 'per_transaction_limit',
    });
  }
  if (c.validUntilMs !== null && c.validUntilMs <= c.validFromMs) {
    throw new SpendtrailError('POLICY_INVALID', 'valid_until must be after valid_from', { field: 'valid_until' });
  }
  return doc;
}

export const policySnapshotId = (doc: PolicyDocument): string => snapshotId(canonicalize(doc));

const set = (xs: readonly string[] | null): ReadonlySet<string> | null => (xs === null ? null : new Set(xs));

export function compilePolicy(doc: PolicyDocument): CompiledPolicy {
  const exponent = findCurrency(doc.currency)?.exponent ?? 2;
  const minor = (x: string | null, field: string): bigint | null =>
    x === null ? null : parseDecimal(x, exponent, { allowNegative: false, field });
  return {
    document: doc,
    snapshotId: policySnapshotId(doc),
    exponent,
    perTransactionLimit: minor(doc.per_transaction_limit, 'per_transaction_limit'),
    dailyLimit: minor(doc.daily_limit, 'daily_limit'),
    monthlyLimit: minor(doc.monthly_limit, 'monthly_limit'),
    approvalThreshold: minor(doc.approval_threshold, 'approval_threshold'),
    allowedCategories: set(doc.allowed_categories),
    blockedCategories: new Set(doc.blocked_categories),
    allowedMerchants: doc.allowed_merchants === null ? null : new Set(doc.allowed_merchants.map(merchantKey)),
    blockedMerchants: new Set(doc.blocked_merchants.map(merchantKey)),
    allowedRails: set(doc.allowed_rails),
    validFromMs: instantMs(doc.valid_from),
    validUntilMs: doc.valid_until === null ? null : instantMs(doc.valid_until),
  };
}

/**
 * The version in force at an instant: the highest version whose validity has begun.
 * `versions` may be in any order. Expiry is reported by evaluation, not here, so an expired
 * policy still names the snapshot the transaction was judged against.
 */
export function policyInForce<P extends { readonly validFromMs: number; readonly document: { readonly version: number } }>(
  versions: readonly P[],
  atMs: number,
): P | null {
  let best: P | null = null;
  for (const p of versions) {
    if (p.validFromMs <= atMs && (best === null || p.document.version > best.document.version)) best = p;
  }
  return best;
}
