import { createHash } from 'node:crypto';
import canonicalizeRef from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { parseInstant } from '../time.ts';
import type { PolicyDocument, PolicyTerms } from './policy.ts';
import { buildPolicyDocument, compilePolicy, policyInForce, policySnapshotId } from './policy.ts';

const DEFAULT_FROM = parseInstant('2026-01-01T00:00:00Z', 'valid_from');
const identity = { org_id: 'org_1', agent_id: 'agent_1', version: 1, currency: 'USD' };

const build = (terms: PolicyTerms, id: Partial<typeof identity> = {}): PolicyDocument =>
  buildPolicyDocument({ ...identity, ...id }, terms, DEFAULT_FROM);

const ms = (iso: string): number => Date.parse(iso);

/** The snapshot id computed independently: RFC 8785 bytes from the reference package, hashed by node:crypto. */
const referenceSnapshotId = (doc: PolicyDocument): string => {
  const bytes = canonicalizeRef(doc);
  if (bytes === undefined) throw new Error('reference canonicalizer returned undefined');
  return `sha256:${createHash('sha256').update(bytes, 'utf8').digest('hex')}`;
};

const fullTerms: PolicyTerms = {
  per_transaction_limit: '500',
  daily_limit: '1000.5',
  monthly_limit: '20000',
  approval_threshold: '250',
  allowed_categories: ['5999', '5411', '5999'],
  blocked_categories: ['7995'],
  allowed_merchants: ['Café Zürich', 'Acme Corp', '東京 Shop'],
  blocked_merchants: ['Casino Royale'],
  allowed_rails: ['x402', 'card', 'stripe'],
  valid_from: '2026-02-01T00:00:00Z',
  valid_until: '2027-02-01T00:00:00Z',
};

describe('buildPolicyDocument: normalisation', () => {
  it('writes limit amounts with the full exponent of the policy currency', () => {
    const doc = build({ per_transaction_limit: '500', daily_limit: '1000.5', monthly_limit: '20000.25', approval_threshold: '0' });
    expect(doc.per_transaction_limit).toBe('500.00');
    expect(doc.daily_limit).toBe('1000.50');
    expect(doc.monthly_limit).toBe('20000.25');
    expect(doc.approval_threshold).toBe('0.00');
  });

  it('uses the exponent of currencies that do not have two decimals', () => {
    expect(build({ per_transaction_limit: '1500' }, { currency: 'JPY' }).per_transaction_limit).toBe('1500');
    expect(build({ per_transaction_limit: '1.5' }, { currency: 'KWD' }).per_transaction_limit).toBe('1.500');
    expect(build({ per_transaction_limit: '2' }, { currency: 'USDC' }).per_transaction_limit).toBe('2.000000');
  });

  it('leaves absent limits and lists as "no limit" / "no list" with every field present', () => {
    const doc = build({});
    expect(doc).toEqual({
      org_id: 'org_1',
      agent_id: 'agent_1',
      version: 1,
      currency: 'USD',
      per_transaction_limit: null,
      daily_limit: null,
      monthly_limit: null,
      approval_threshold: null,
      allowed_categories: null,
      blocked_categories: [],
      allowed_merchants: null,
      blocked_merchants: [],
      allowed_rails: null,
      require_business_purpose: true,
      valid_from: '2026-01-01T00:00:00.000Z',
      valid_until: null,
    });
    expect(Object.keys(doc).sort()).toEqual(Object.keys(build(fullTerms)).sort());
  });

  it('sorts and de-duplicates category lists', () => {
    const doc = build({ allowed_categories: ['5999', '5411', '5999', '0742'], blocked_categories: ['7995', '7995', '5933'] });
    expect(doc.allowed_categories).toEqual(['0742', '5411', '5999']);
    expect(doc.blocked_categories).toEqual(['5933', '7995']);
  });

  it('case-folds, trims, sorts and de-duplicates merchant lists', () => {
    const doc = build({ allowed_merchants: ['Zeta', ' Acme ', 'acme', 'Zeta '], blocked_merchants: ['b', 'a', 'B'] });
    expect(doc.allowed_merchants).toEqual(['acme', 'zeta']);
    expect(doc.blocked_merchants).toEqual(['a', 'b']);
  });

  it('sorts and de-duplicates the rail allow-list', () => {
    expect(build({ allowed_rails: ['x402', 'card', 'x402', 'ap2'] }).allowed_rails).toEqual(['ap2', 'card', 'x402']);
  });

  it('keeps an empty allow-list distinct from no allow-list', () => {
    const doc = build({ allowed_categories: [], allowed_merchants: [], allowed_rails: [] });
    expect(doc.allowed_categories).toEqual([]);
    expect(doc.allowed_merchants).toEqual([]);
    expect(doc.allowed_rails).toEqual([]);
  });

  it('requires a business purpose unless the terms turn it off', () => {
    expect(build({}).require_business_purpose).toBe(true);
    expect(build({ require_business_purpose: false }).require_business_purpose).toBe(false);
  });

  it('starts validity at the default instant unless valid_from is given, normalised to UTC', () => {
    expect(build({}).valid_from).toBe(DEFAULT_FROM);
    const doc = build({ valid_from: '2026-03-01T02:00:00+02:00', valid_until: '2026-04-01T00:00:00.5Z' });
    expect(doc.valid_from).toBe('2026-03-01T00:00:00.000Z');
    expect(doc.valid_until).toBe('2026-04-01T00:00:00.500Z');
  });

  it('accepts limits that are equal to the next wider limit', () => {
    const doc = build({ per_transaction_limit: '100', daily_limit: '100.00', monthly_limit: '100.0' });
    expect([doc.per_transaction_limit, doc.daily_limit, doc.monthly_limit]).toEqual(['100.00', '100.00', '100.00']);
  });
});

describe('buildPolicyDocument: rejection', () => {
  it('rejects a daily limit above the monthly limit', () => {
    expect(() => build({ daily_limit: '100.01', monthly_limit: '100' })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'daily_limit' }),
    );
  });

  it('rejects a per-transaction limit above the daily limit', () => {
    expect(() => build({ per_transaction_limit: '50.01', daily_limit: '50' })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'per_transaction_limit' }),
    );
  });

  it.each(['541', '54111', 'abcd', '54 1', '５４１１', ''])('rejects %j as a merchant category code', (mcc) => {
    expect(() => build({ blocked_categories: ['5411', mcc] })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'blocked_categories[1]' }),
    );
    expect(() => build({ allowed_categories: [mcc] })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'allowed_categories[0]' }),
    );
  });

  it('rejects an empty merchant name', () => {
    expect(() => build({ allowed_merchants: ['Acme', '   '] })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'allowed_merchants[1]' }),
    );
    expect(() => build({ blocked_merchants: [''] })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'blocked_merchants[0]' }),
    );
  });

  it.each(['paypal', 'CARD', ''])('rejects the unknown rail %j', (rail) => {
    expect(() => build({ allowed_rails: ['card', rail] })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'allowed_rails[1]' }),
    );
  });

  it('rejects a validity that ends at or before it begins', () => {
    const from = '2026-03-01T00:00:00Z';
    expect(() => build({ valid_from: from, valid_until: from })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'valid_until' }),
    );
    expect(() => build({ valid_from: from, valid_until: '2026-02-28T23:59:59.999Z' })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'valid_until' }),
    );
    // Against the default valid_from too, and with an offset that lands on the same instant.
    expect(() => build({ valid_until: '2026-01-01T01:00:00+01:00' })).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID', field: 'valid_until' }),
    );
    expect(build({ valid_from: from, valid_until: '2026-03-01T00:00:00.001Z' }).valid_until).toBe('2026-03-01T00:00:00.001Z');
  });

  it('rejects a limit with more decimals than the currency has', () => {
    expect(() => build({ daily_limit: '10.001' })).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'daily_limit' }));
    expect(() => build({ per_transaction_limit: '10.5' }, { currency: 'JPY' })).toThrow(
      expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'per_transaction_limit' }),
    );
  });

  it.each(['-1.00', '1e3', '', 'ten', '1,000'])('rejects %j as a limit', (text) => {
    expect(() => build({ monthly_limit: text })).toThrow(expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'monthly_limit' }));
    expect(() => build({ approval_threshold: text })).toThrow(
      expect.objectContaining({ code: 'INVALID_AMOUNT', field: 'approval_threshold' }),
    );
  });

  it.each(['XYZ', 'usd', ''])('rejects the unknown currency %j', (currency) => {
    expect(() => build({}, { currency })).toThrow(expect.objectContaining({ code: 'UNKNOWN_CURRENCY', field: 'currency' }));
  });

  it('rejects validity instants that are not ISO 8601 with a zone', () => {
    expect(() => build({ valid_from: '2026-03-01T00:00:00' })).toThrow(
      expect.objectContaining({ code: 'INVALID_TIMESTAMP', field: 'valid_from' }),
    );
    expect(() => build({ valid_until: 'next year' })).toThrow(
      expect.objectContaining({ code: 'INVALID_TIMESTAMP', field: 'valid_until' }),
    );
  });
});

describe('policy snapshot id', () => {
  it('is sha256 of the RFC 8785 bytes of the document', () => {
    for (const doc of [build({}), build(fullTerms), build({ ...fullTerms, daily_limit: '1000' }, { currency: 'JPY', version: 7 })]) {
      const id = policySnapshotId(doc);
      expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(id).toBe(referenceSnapshotId(doc));
    }
  });

  it('is the id the compiled policy carries', () => {
    const doc = build(fullTerms);
    expect(compilePolicy(doc).snapshotId).toBe(referenceSnapshotId(doc));
  });

  it('is the same for equal documents built from differently ordered and duplicated lists', () => {
    const a = build(fullTerms);
    const b = build({
      ...fullTerms,
      per_transaction_limit: '500.00',
      daily_limit: '1000.50',
      allowed_categories: ['5411', '5999'],
      allowed_merchants: ['東京 Shop', ' Acme Corp', 'Café Zürich', 'Acme Corp'],
      allowed_rails: ['stripe', 'card', 'x402', 'card'],
      valid_from: '2026-02-01T01:00:00+01:00',
    });
    expect(b).toEqual(a);
    expect(policySnapshotId(b)).toBe(policySnapshotId(a));
  });

  const base = build(fullTerms);
  it.each<[string, PolicyDocument]>([
    ['version', build(fullTerms, { version: 2 })],
    ['agent_id', build(fullTerms, { agent_id: 'agent_2' })],
    ['org_id', build(fullTerms, { org_id: 'org_2' })],
    ['currency', build(fullTerms, { currency: 'EUR' })],
    ['per_transaction_limit', build({ ...fullTerms, per_transaction_limit: '499.99' })],
    ['daily_limit', build({ ...fullTerms, daily_limit: '1000.51' })],
    ['monthly_limit', build({ ...fullTerms, monthly_limit: null })],
    ['approval_threshold', build({ ...fullTerms, approval_threshold: '250.01' })],
    ['allowed_categories (null instead of a list)', build({ ...fullTerms, allowed_categories: null })],
    ['blocked_categories', build({ ...fullTerms, blocked_categories: ['7995', '7996'] })],
    ['allowed_merchants', build({ ...fullTerms, allowed_merchants: ['Acme Corp'] })],
    ['blocked_merchants', build({ ...fullTerms, blocked_merchants: ['Casino Royal'] })],
    ['allowed_rails', build({ ...fullTerms, allowed_rails: ['card'] })],
    ['require_business_purpose', build({ ...fullTerms, require_business_purpose: false })],
    ['valid_from', build({ ...fullTerms, valid_from: '2026-02-01T00:00:00.001Z' })],
    ['valid_until', build({ ...fullTerms, valid_until: null })],
  ])('changes when only %s changes', (_field, changed) => {
    expect(policySnapshotId(changed)).not.toBe(policySnapshotId(base));
    expect(policySnapshotId(changed)).toBe(referenceSnapshotId(changed));
  });

  it('tells an empty allow-list from no allow-list', () => {
    expect(policySnapshotId(build({ allowed_rails: [] }))).not.toBe(policySnapshotId(build({ allowed_rails: null })));
  });
});

describe('compilePolicy', () => {
  it('turns limits into minor units and lists into sets, merchants case-folded', () => {
    const c = compilePolicy(build(fullTerms));
    expect(c.exponent).toBe(2);
    expect(c.perTransactionLimit).toBe(50000n);
    expect(c.dailyLimit).toBe(100050n);
    expect(c.monthlyLimit).toBe(2000000n);
    expect(c.approvalThreshold).toBe(25000n);
    expect([...(c.allowedMerchants ?? [])].sort()).toEqual(['acme corp', 'café zürich', '東京 shop']);
    expect([...c.blockedMerchants]).toEqual(['casino royale']);
    expect([...(c.allowedCategories ?? [])].sort()).toEqual(['5411', '5999']);
    expect([...c.blockedCategories]).toEqual(['7995']);
    expect([...(c.allowedRails ?? [])].sort()).toEqual(['card', 'stripe', 'x402']);
    expect(c.validFromMs).toBe(ms('2026-02-01T00:00:00Z'));
    expect(c.validUntilMs).toBe(ms('2027-02-01T00:00:00Z'));
  });

  it('keeps "no limit" and "no list" as null', () => {
    const c = compilePolicy(build({}));
    expect([c.perTransactionLimit, c.dailyLimit, c.monthlyLimit, c.approvalThreshold]).toEqual([null, null, null, null]);
    expect([c.allowedCategories, c.allowedMerchants, c.allowedRails, c.validUntilMs]).toEqual([null, null, null, null]);
  });
});

describe('policyInForce', () => {
  const version = (v: number, validFrom: string, validUntil: string | null = null) =>
    compilePolicy(build({ valid_from: validFrom, valid_until: validUntil }, { version: v }));
  const v1 = version(1, '2026-01-01T00:00:00Z');
  const v2 = version(2, '2026-03-01T00:00:00Z');
  const v3 = version(3, '2026-06-01T00:00:00Z');
  const shuffled = [v3, v1, v2];

  it('is null before any version has begun, and for no versions at all', () => {
    expect(policyInForce(shuffled, ms('2025-12-31T23:59:59.999Z'))).toBeNull();
    expect(policyInForce([], ms('2026-05-01T00:00:00Z'))).toBeNull();
  });

  it('picks the highest version whose valid_from is at or before the instant', () => {
    expect(policyInForce(shuffled, ms('2026-01-01T00:00:00Z'))).toBe(v1);
    expect(policyInForce(shuffled, ms('2026-02-28T23:59:59.999Z'))).toBe(v1);
    expect(policyInForce(shuffled, ms('2026-03-01T00:00:00Z'))).toBe(v2);
    expect(policyInForce(shuffled, ms('2026-05-31T12:00:00Z'))).toBe(v2);
    expect(policyInForce(shuffled, ms('2030-01-01T00:00:00Z'))).toBe(v3);
  });

  it('lets a newer version with an earlier start supersede an older one', () => {
    const v4 = version(4, '2026-02-01T00:00:00Z');
    expect(policyInForce([v1, v2, v3, v4], ms('2026-04-01T00:00:00Z'))).toBe(v4);
    expect(policyInForce([v4, v1], ms('2026-01-15T00:00:00Z'))).toBe(v1);
  });

  it('still returns an expired version, leaving expiry to evaluation', () => {
    const expired = version(1, '2026-01-01T00:00:00Z', '2026-02-01T00:00:00Z');
    expect(policyInForce([expired], ms('2026-09-01T00:00:00Z'))).toBe(expired);
  });
});
