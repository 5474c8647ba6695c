import { z } from 'zod';
import { SpendtrailError } from '../domain/errors.ts';
import { RAILS } from '../domain/rails.ts';
import { VIOLATIONS } from '../domain/policy/violation.ts';
import { RULE_KINDS } from '../domain/gl/coding.ts';
import { ROLES } from './principal.ts';

/**
 * One schema per input: the same objects validate HTTP bodies, CLI flags and file lines, and
 * give the types. Text fields refuse control characters and lone surrogates (they could not be
 * hashed canonically and have no business in a merchant name).
 */
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !CONTROL.test(s), { message: 'contains control characters' })
    .refine((s) => !LONE_SURROGATE.test(s), { message: 'contains an unpaired UTF-16 surrogate' });

export const identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'use letters, digits, ".", "_" or "-"');

/** Amounts are decimal strings; a JSON number is refused with its own message. */
export const moneyString = z.string({ error: (i) => (typeof i.input === 'number' ? 'amounts are decimal strings, not JSON numbers' : 'expected a decimal string') }).max(64);

export const currencyCode = z.string().regex(/^[A-Z]{3,5}$/, 'an upper-case currency code such as USD or USDC');
export const mcc = z.string().regex(/^[0-9]{4}$/, 'a four-digit merchant category code');
export const instantText = z.string().max(40);

export const transactionLine = z.strictObject({
  external_id: text(200).min(1),
  agent_id: identifier,
  timestamp: instantText,
  amount: moneyString,
  currency: currencyCode,
  payment_rail: z.enum(RAILS),
  merchant: text(200).refine((s) => s.trim() !== '', { message: 'merchant is empty' }),
  merchant_category: mcc.nullish(),
  business_purpose: text(1000).nullish(),
  accounting_code: text(32).min(1).nullish(),
  approver: text(200).nullish(),
  approval_ref: text(200).nullish(),
  type: z.enum(['payment', 'refund', 'reversal']).optional(),
  refund_of: text(200).min(1).nullish(),
  authorization_id: z.string().uuid().nullish(),
  reporting_amount: moneyString.nullish(),
  fx_rate: z.string().max(40).nullish(),
  fx_rate_source: text(200).nullish(),
  fx_rate_time: instantText.nullish(),
});
export type TransactionLine = z.infer<typeof transactionLine>;

export const transactionBatch = z.strictObject({ transactions: z.array(z.unknown()).min(1).max(10_000) });

export const authorizeRequest = z.strictObject({
  agent_id: identifier,
  amount: moneyString,
  currency: currencyCode,
  merchant: text(200).refine((s) => s.trim() !== '', { message: 'merchant is empty' }),
  merchant_category: mcc.nullish(),
  payment_rail: z.enum(RAILS),
  business_purpose: text(1000).nullish(),
  approver: text(200).nullish(),
  timestamp: instantText.optional(),
  hold_seconds: z.number().int().min(1).max(86_400).optional(),
});
export type AuthorizeRequest = z.infer<typeof authorizeRequest>;

export const agentInput = z.strictObject({
  agent_id: identifier,
  name: text(200).min(1),
  owner: text(200).min(1),
  cluster: identifier,
});

export const accountInput = z.strictObject({
  code: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.:-]{0,31}$/, 'an account code such as 6400'),
  name: text(200).min(1),
  active: z.boolean().optional(),
});

export const ruleInput = z.strictObject({
  kind: z.enum(RULE_KINDS),
  match: text(200).min(1).nullish(),
  account_code: text(32).min(1),
  active: z.boolean().optional(),
});

/** Change metadata: checked by the use case, so its codes (JUSTIFICATION_REQUIRED, INVALID_TICKET) are the same everywhere. */
const changeMeta = {
  justification: text(2000).nullish(),
  approval_ticket: text(500).nullish(),
};

export const policyInput = z.strictObject({
  ...changeMeta,
  per_transaction_limit: moneyString.nullish(),
  daily_limit: moneyString.nullish(),
  monthly_limit: moneyString.nullish(),
  approval_threshold: moneyString.nullish(),
  allowed_categories: z.array(z.string()).max(1000).nullish(),
  blocked_categories: z.array(z.string()).max(1000).optional(),
  allowed_merchants: z.array(text(200)).max(1000).nullish(),
  blocked_merchants: z.array(text(200)).max(1000).optional(),
  allowed_rails: z.array(z.string()).max(20).nullish(),
  require_business_purpose: z.boolean().optional(),
  valid_from: instantText.optional(),
  valid_until: instantText.nullish(),
});

const list = (item: z.ZodString, max: number) => z.array(item).max(max);

/** A partial change: only the fields named change; null lifts a limit or a list. */
export const policyChangeInput = z.strictObject({
  ...changeMeta,
  effective_from: instantText.nullish(),
  changes: z.strictObject({
    per_transaction_limit: moneyString.nullable().optional(),
    daily_limit: moneyString.nullable().optional(),
    monthly_limit: moneyString.nullable().optional(),
    approval_threshold: moneyString.nullable().optional(),
    allowed_categories: list(z.string(), 1000).nullable().optional(),
    blocked_categories: list(z.string(), 1000).optional(),
    allowed_merchants: list(text(200), 1000).nullable().optional(),
    blocked_merchants: list(text(200), 1000).optional(),
    allowed_rails: list(z.string(), 20).nullable().optional(),
    require_business_purpose: z.boolean().optional(),
    valid_until: instantText.nullable().optional(),
  }),
});

export const changeDecisionInput = z.strictObject({ comment: text(2000).nullish() });

export const spendDecisionInput = z.strictObject({
  authorization_id: z.string().uuid().optional(),
  tx_id: z.string().uuid().optional(),
  decision: z.enum(['approve', 'reject']),
  comment: text(2000).nullish(),
});

const approvalMode = z.enum(['widening', 'always', 'never']);
export const changeControlInput = z.strictObject({
  approval: approvalMode,
  fields: z
    .strictObject({
      per_transaction_limit: approvalMode.optional(),
      daily_limit: approvalMode.optional(),
      monthly_limit: approvalMode.optional(),
      approval_threshold: approvalMode.optional(),
      allowed_categories: approvalMode.optional(),
      blocked_categories: approvalMode.optional(),
      allowed_merchants: approvalMode.optional(),
      blocked_merchants: approvalMode.optional(),
      allowed_rails: approvalMode.optional(),
      require_business_purpose: approvalMode.optional(),
      valid_until: approvalMode.optional(),
    })
    .default({}),
  ticket_required: z.boolean(),
  notify: z.enum(['unticketed', 'all', 'none']),
});

export const changeQuery = z.strictObject({
  agent_id: identifier.optional(),
  from: instantText.optional(),
  to: instantText.optional(),
  status: z.enum(['pending', 'applied', 'rejected', 'superseded']).optional(),
});

export const findingQuery = z.strictObject({
  agent_id: identifier.optional(),
  from: instantText.optional(),
  to: instantText.optional(),
});

const month = z.string().regex(/^[0-9]{4}-(0[1-9]|1[0-2])$/, 'a month as YYYY-MM, e.g. 2026-03');

/** PUT /v1/valuation-rules and `valuation set`: the whole rule set, replacing the previous one. */
export const valuationRulesInput = z.strictObject({
  rules: z
    .array(
      z.strictObject({
        asset: text(16).min(1),
        quote: text(16).min(1),
        rate: text(40).min(1),
        source: text(200).min(1),
      }),
    )
    .max(100),
});

export const summaryRequest = z.strictObject({
  month,
  cluster: identifier.nullish(),
});

export const summaryQuery = z.strictObject({ month: month.optional() });

export const apiKeyInput = z.strictObject({
  principal: text(200).min(1),
  roles: z.array(z.enum(ROLES)).min(1),
  agent_id: identifier.nullish(),
});

/** Dashboard people hold any role but `agent` (agents are machines and use the API). */
const personRole = z.enum(ROLES).refine((r) => r !== 'agent', { message: 'agent is not a role for a person' });
const email = z
  .string()
  .trim()
  .max(254)
  .regex(/^[^\s@<>"]+@[^\s@<>"]+$/, 'an email address')
  .transform((s) => s.toLowerCase());
/** Long enough that guessing is hopeless at the login throttle's rate; no other composition rules. */
export const password = z.string().min(12, 'at least 12 characters').max(1024);

export const userInput = z.strictObject({
  email,
  roles: z.array(personRole).min(1, 'choose at least one role'),
  password: password.optional(),
});

export const userRolesInput = z.strictObject({
  user_id: identifier,
  roles: z.array(personRole).min(1, 'choose at least one role'),
});

export const loginInput = z.strictObject({
  email: z.string().trim().min(1, 'email is required').max(254).transform((s) => s.toLowerCase()),
  password: z.string().min(1, 'password is required').max(1024),
});

export const apiKeyLoginInput = z.strictObject({
  api_key: z.string().trim().min(1, 'API key is required').max(200),
});

export const ledgerQuery = z.strictObject({
  agent_id: identifier.optional(),
  cluster: identifier.optional(),
  from: instantText.optional(),
  to: instantText.optional(),
  accounting_code: text(32).optional(),
  payment_rail: z.enum(RAILS).optional(),
  violation: z.enum(VIOLATIONS).optional(),
  cursor: text(200).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  order: z.enum(['asc', 'desc']).optional(),
});

/** Validates with a schema and turns the first issue into a SpendtrailError naming the field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, prefix?: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = issue === undefined ? '' : issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const field = `${prefix ?? ''}${path}`.replace(/^\./, '') || undefined;
  if (issue?.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    return fail('UNKNOWN_FIELD', `unknown field(s): ${keys}`, field === undefined ? issue.keys[0] : `${field}.${issue.keys[0]}`);
  }
  const money = /amount|limit|threshold/.test(field ?? '');
  return fail(money ? 'INVALID_AMOUNT' : 'VALIDATION_FAILED', issue?.message ?? 'invalid input', field);
}

function fail(code: 'UNKNOWN_FIELD' | 'INVALID_AMOUNT' | 'VALIDATION_FAILED', message: string, field: string | undefined): never {
  throw new SpendtrailError(code, message, { field });
}
