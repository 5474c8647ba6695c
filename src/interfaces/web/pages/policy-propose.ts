import type { z } from 'zod';
import { parseInput, policyChangeInput } from '../../../app/schemas.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import type { FieldValue, PolicyField } from '../../../domain/policy/change.ts';
import { FIELD_NAMES, POLICY_FIELDS, termsOf } from '../../../domain/policy/change.ts';
import type { PolicyDocument } from '../../../domain/policy/policy.ts';
import { RAILS } from '../../../domain/rails.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import { fieldLabel } from './policy-values.ts';

export type PolicyChangeInput = z.output<typeof policyChangeInput>;

/** What the form shows: the text of each input, from the current policy or as the person typed it. */
export type ProposeValues = Readonly<Record<string, string | readonly string[]>>;

export interface FormError {
  readonly code: string;
  readonly message: string;
  /** The form input the error is about (derived from the error's field), if any. */
  readonly input: string | null;
}

const listText = (v: readonly string[] | null | undefined): string => (v ?? []).join('\n');

/** The form's starting values: the current policy, so a person edits what is in force. */
export function valuesOf(d: PolicyDocument | null): ProposeValues {
  if (d === null) return { base_version: '0', require_business_purpose: 'yes', allowed_categories_any: 'on', allowed_merchants_any: 'on', allowed_rails_any: 'on' };
  const t = termsOf(d);
  return {
    base_version: String(d.version),
    per_transaction_limit: t.per_transaction_limit ?? '',
    daily_limit: t.daily_limit ?? '',
    monthly_limit: t.monthly_limit ?? '',
    approval_threshold: t.approval_threshold ?? '',
    allowed_categories: listText(t.allowed_categories),
    allowed_categories_any: t.allowed_categories === null ? 'on' : '',
    blocked_categories: listText(t.blocked_categories),
    allowed_merchants: listText(t.allowed_merchants),
    allowed_merchants_any: t.allowed_merchants === null ? 'on' : '',
    blocked_merchants: listText(t.blocked_merchants),
    allowed_rails: t.allowed_rails ?? [],
    allowed_rails_any: t.allowed_rails === null ? 'on' : '',
    require_business_purpose: t.require_business_purpose ? 'yes' : 'no',
    valid_until: t.valid_until ?? '',
  };
}

/** The submitted form as values to show again (kept as typed when the proposal is refused). */
export function valuesFromForm(form: URLSearchParams): ProposeValues {
  const out: Record<string, string | readonly string[]> = {};
  for (const k of new Set(form.keys())) {
    if (k === 'csrf') continue;
    out[k] = k === 'allowed_rails' ? form.getAll(k) : (form.get(k) ?? '');
  }
  return out;
}

/** One entry per line or comma; blanks dropped. */
const splitList = (s: string): string[] =>
  s
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter((x) => x !== '');

const str = (v: ProposeValues, k: string): string => {
  const x = v[k];
  return typeof x === 'string' ? x : '';
};

/** The value a field has on the form, in the API's shape (null = no limit / any / open-ended). */
function formValue(f: PolicyField, v: ProposeValues): FieldValue {
  switch (POLICY_FIELDS[f]) {
    case 'money':
    case 'instant': {
      const s = str(v, f).trim();
      return s === '' ? null : s;
    }
    case 'allow_list':
      if (str(v, `${f}_any`) !== '') return null;
      return f === 'allowed_rails' ? [...((Array.isArray(v[f]) ? v[f] : splitList(str(v, f))) as string[])] : splitList(str(v, f));
    case 'block_list':
      return splitList(str(v, f));
    case 'boolean':
      return str(v, f) !== 'no';
  }
}

/**
 * The form as the API's input: only the fields that differ from the current policy are sent
 * (the others keep their value), then validated by the same schema as
 * POST /v1/agents/{id}/policy/changes, so a bad value fails with the same code and field. The
 * form carries the version it was opened on: if the policy has moved since, the untouched
 * fields would silently revert someone else's change, so the proposal is refused instead.
 */
export function parseProposeForm(v: ProposeValues, current: PolicyDocument | null): PolicyChangeInput {
  const base = str(v, 'base_version');
  if (base !== String(current?.version ?? 0)) {
    throw new SpendtrailError('CHANGE_STALE', `the policy changed since this form was opened (now version ${current?.version ?? 0}): review it and propose again`, {
      field: 'base_version',
    });
  }
  const before = current === null ? null : (termsOf(current) as Record<PolicyField, FieldValue>);
  const changes: Record<string, FieldValue> = {};
  for (const f of FIELD_NAMES) {
    const value = formValue(f, v);
    if (before === null || JSON.stringify(value) !== JSON.stringify(before[f] ?? null)) changes[f] = value;
  }
  const blankToNull = (s: string): string | null => (s.trim() === '' ? null : s);
  return parseInput(policyChangeInput, {
    justification: blankToNull(str(v, 'justification')),
    approval_ticket: blankToNull(str(v, 'approval_ticket')),
    effective_from: blankToNull(str(v, 'effective_from')),
    changes,
  });
}

/** The form input an error's field points at: `changes.allowed_categories[2]` → `allowed_categories`. */
export function inputOfField(field: string | undefined): string | null {
  if (field === undefined || field === '') return null;
  const name = field.replace(/^changes\.?/, '').replace(/[[.].*$/, '');
  return name === '' ? 'changes' : name;
}

export const formErrorOf = (e: SpendtrailError): FormError => ({ code: e.code, message: e.message, input: inputOfField(e.field) });

function fieldError(err: FormError | null, name: string): Html {
  if (err === null || err.input !== name) return html``;
  return html`<p class="field-error" id="err-${name}" role="alert"><strong>${err.code}</strong>: ${err.message}</p>`;
}

/** Attributes linking an input to its error message, when it has one. */
const invalid = (err: FormError | null, name: string): Html =>
  err !== null && err.input === name ? html` aria-invalid="true" aria-describedby="err-${name}"` : html``;

const checked = (on: boolean): Html => (on ? html` checked` : html``);

/** The propose-a-change form, pre-filled; an error is shown beside the input it is about. */
export function renderProposeForm(p: {
  readonly agentId: string;
  readonly currency: string;
  readonly csrf: string;
  readonly values: ProposeValues;
  readonly error: FormError | null;
}): Html {
  const { values: v, error: err } = p;
  const text = (name: string, hint: string): Html => html`<label for="f-${name}">${fieldLabel(name)} <span class="muted">${hint}</span></label>
<input id="f-${name}" name="${name}" value="${str(v, name)}"${invalid(err, name)}>${fieldError(err, name)}`;
  const money = (name: string): Html => html`<label for="f-${name}">${fieldLabel(name)} <span class="muted">(${p.currency}; exact decimal, blank = no limit)</span></label>
<input id="f-${name}" name="${name}" inputmode="decimal" value="${str(v, name)}"${invalid(err, name)}>${fieldError(err, name)}`;
  const list = (name: string, hint: string, anyLabel: string | null): Html => html`<label for="f-${name}">${fieldLabel(name)} <span class="muted">${hint}</span></label>
<textarea id="f-${name}" name="${name}" rows="2"${invalid(err, name)}>${str(v, name)}</textarea>
${anyLabel === null ? '' : html`<label class="inline"><input type="checkbox" name="${name}_any"${checked(str(v, `${name}_any`) !== '')}> ${anyLabel}</label>`}${fieldError(err, name)}`;
  const rails = Array.isArray(v.allowed_rails) ? (v.allowed_rails as readonly string[]) : [];
  const formError = err !== null && (err.input === null || err.input === 'changes' || err.input === 'base_version')
    ? html`<div class="error" role="alert"><strong>${err.code}</strong>: ${err.message}</div>`
    : '';
  return html`<form method="post" action="${href(`/policies/${encodeURIComponent(p.agentId)}/changes`)}" class="stack" id="propose">
<input type="hidden" name="csrf" value="${p.csrf}"><input type="hidden" name="base_version" value="${str(v, 'base_version')}">
${formError}
<p class="muted">Change what should change; the other terms keep their value. Changes that widen spending wait for a second person with the approver role.</p>
${money('per_transaction_limit')}${money('daily_limit')}${money('monthly_limit')}${money('approval_threshold')}
${list('allowed_categories', '(four-digit MCCs, one per line or comma-separated)', 'Any category (no allow-list)')}
${list('blocked_categories', '(four-digit MCCs)', null)}
${list('allowed_merchants', '(one per line)', 'Any merchant (no allow-list)')}
${list('blocked_merchants', '(one per line)', null)}
<fieldset${invalid(err, 'allowed_rails')}><legend>${fieldLabel('allowed_rails')}</legend>
<label class="inline"><input type="checkbox" name="allowed_rails_any"${checked(str(v, 'allowed_rails_any') !== '')}> Any rail</label>
${RAILS.map((r) => html`<label class="inline"><input type="checkbox" name="allowed_rails" value="${r}"${checked(rails.includes(r))}> ${r}</label>`)}
${fieldError(err, 'allowed_rails')}</fieldset>
<label for="f-require_business_purpose">${fieldLabel('require_business_purpose')}</label>
<select id="f-require_business_purpose" name="require_business_purpose"${invalid(err, 'require_business_purpose')}>
<option value="yes"${str(v, 'require_business_purpose') !== 'no' ? html` selected` : ''}>yes</option>
<option value="no"${str(v, 'require_business_purpose') === 'no' ? html` selected` : ''}>no</option></select>${fieldError(err, 'require_business_purpose')}
${text('valid_until', '(ISO 8601 with zone, e.g. 2026-12-31T23:59:59Z; blank = open-ended)')}
<label for="f-effective_from">Effective from <span class="muted">(ISO 8601 with zone; blank = when applied)</span></label>
<input id="f-effective_from" name="effective_from" value="${str(v, 'effective_from')}"${invalid(err, 'effective_from')}>${fieldError(err, 'effective_from')}
<label for="f-justification">Justification <span class="muted">(required)</span></label>
<textarea id="f-justification" name="justification" required${invalid(err, 'justification')}>${str(v, 'justification')}</textarea>${fieldError(err, 'justification')}
<label for="f-approval_ticket">Approval ticket <span class="muted">(FIN-123, CHG0012345 or a link)</span></label>
<input id="f-approval_ticket" name="approval_ticket" value="${str(v, 'approval_ticket')}"${invalid(err, 'approval_ticket')}>${fieldError(err, 'approval_ticket')}
<div><button type="submit" class="primary">Propose change</button></div>
</form>`;
}
