import { describe, expect, it } from 'vitest';
import { isSpendtrailError } from '../../../domain/errors.ts';
import type { PolicyDocument } from '../../../domain/policy/policy.ts';
import { buildPolicyDocument } from '../../../domain/policy/policy.ts';
import { inputOfField, parseProposeForm, renderProposeForm, valuesOf } from './policy-propose.ts';

const doc: PolicyDocument = buildPolicyDocument(
  { org_id: 'acme', agent_id: 'support-bot', version: 3, currency: 'USD' },
  { per_transaction_limit: '2500.00', daily_limit: '5000.00', monthly_limit: '20000.00', blocked_categories: ['7995'], allowed_rails: ['stripe'], valid_from: '2026-01-01T00:00:00Z' },
  '2026-01-01T00:00:00.000Z' as never,
);

const errorOf = (f: () => unknown): { code: string; field: string | undefined } => {
  try {
    f();
  } catch (e) {
    if (isSpendtrailError(e)) return { code: e.code, field: e.field };
    throw e;
  }
  throw new Error('expected a refusal');
};

describe('parseProposeForm', () => {
  it('sends only the fields that differ from the policy in force, in the API shape', () => {
    const v = { ...valuesOf(doc), daily_limit: '4000.00', blocked_categories: '7995\n5933, 7273', justification: 'x' };
    const input = parseProposeForm(v, doc);
    expect(input.changes).toEqual({ daily_limit: '4000.00', blocked_categories: ['7995', '5933', '7273'] });
    expect(input.justification).toBe('x');
    expect(input.approval_ticket).toBeNull();
  });

  it('turns a blank limit into "no limit", "any" into no allow-list, and unticked rails into the ticked list', () => {
    const v = { ...valuesOf(doc), monthly_limit: '', allowed_categories_any: '', allowed_categories: '5734', allowed_rails: ['x402', 'stripe'], require_business_purpose: 'no' };
    expect(parseProposeForm(v, doc).changes).toEqual({
      monthly_limit: null,
      allowed_categories: ['5734'],
      allowed_rails: ['x402', 'stripe'],
      require_business_purpose: false,
    });
    expect(parseProposeForm({ ...valuesOf(doc), allowed_rails_any: 'on' }, doc).changes).toEqual({ allowed_rails: null });
  });

  it('sends every field for an agent without a policy', () => {
    const input = parseProposeForm({ ...valuesOf(null), monthly_limit: '100.00' }, null);
    expect(Object.keys(input.changes).sort()).toHaveLength(11);
    expect(input.changes.monthly_limit).toBe('100.00');
    expect(input.changes.allowed_categories).toBeNull();
  });

  it('refuses a form opened on another version (CHANGE_STALE, base_version)', () => {
    expect(errorOf(() => parseProposeForm({ ...valuesOf(doc), base_version: '2' }, doc))).toEqual({ code: 'CHANGE_STALE', field: 'base_version' });
  });

  it('validates with the API schema: an over-long justification fails on its field', () => {
    expect(errorOf(() => parseProposeForm({ ...valuesOf(doc), justification: 'j'.repeat(2001) }, doc))).toEqual({ code: 'VALIDATION_FAILED', field: 'justification' });
  });
});

describe('inputOfField', () => {
  it('maps an error field to the form input it is about', () => {
    expect(inputOfField('changes.allowed_categories[2]')).toBe('allowed_categories');
    expect(inputOfField('changes.daily_limit')).toBe('daily_limit');
    expect(inputOfField('changes')).toBe('changes');
    expect(inputOfField('approval_ticket')).toBe('approval_ticket');
    expect(inputOfField(undefined)).toBeNull();
  });
});

describe('renderProposeForm', () => {
  it('labels every input, keeps typed values as text, and marks the erroneous one', () => {
    const out = renderProposeForm({
      agentId: 'support-bot',
      currency: 'USD',
      csrf: 'tok',
      values: { ...valuesOf(doc), justification: '"><script>alert(1)</script>' },
      error: { code: 'INVALID_AMOUNT', message: 'not <a> number', input: 'daily_limit' },
    }).value;
    expect(out).not.toContain('<script>');
    expect(out).toContain('&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>');
    expect(out).toContain('not &lt;a&gt; number');
    expect(out).toContain('aria-invalid="true" aria-describedby="err-daily_limit"');
    expect(out).toContain('<input type="hidden" name="csrf" value="tok">');
    for (const [, id] of out.matchAll(/<(?:input|textarea|select) id="([^"]+)"/g)) expect(out, id).toContain(`<label for="${id}">`);
  });
});
