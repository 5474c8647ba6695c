import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SpendtrailError } from '../errors.ts';
import { findCurrency } from '../money/currency.ts';
import { formatMinor } from '../money/decimal.ts';
import { parseInstant } from '../time.ts';
import type { ApprovalMode, ChangeControl, FieldChange, PolicyField } from './change.ts';
import {
  DEFAULT_CHANGE_CONTROL,
  FIELD_NAMES,
  diffPolicies,
  parseJustification,
  parseTicket,
  requiresApproval,
  termsOf,
} from './change.ts';
import type { PolicyDocument, PolicyTerms } from './policy.ts';
import { buildPolicyDocument } from './policy.ts';

const DEFAULT_FROM = parseInstant('2026-01-01T00:00:00Z', 'valid_from');

/** Documents go through the production builder, so the diff sees exactly what the log would hold. */
const doc = (terms: PolicyTerms, currency = 'USD', version = 1): PolicyDocument =>
  buildPolicyDocument({ org_id: 'org_1', agent_id: 'agent_1', version, currency }, terms, DEFAULT_FROM);

/** Field and direction only: the shape most direction rules are about. */
const directions = (changes: readonly FieldChange[]): { field: PolicyField; direction: string }[] =>
  changes.map((c) => ({ field: c.field, direction: c.direction }));

const diffOne = (before: PolicyTerms, after: PolicyTerms): { field: PolicyField; direction: string }[] =>
  directions(diffPolicies(doc(before), doc(after)));

function errorOf(fn: () => unknown): SpendtrailError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SpendtrailError) return e;
    throw e;
  }
  throw new Error('expected a SpendtrailError, but nothing was thrown');
}

describe('diffPolicies: what is listed', () => {
  it('lists nothing when two versions differ only in identity and effective date', () => {
    // valid_from and version are not policy terms: a re-issue of the same terms is no change.
    const a = doc({ daily_limit: '100' }, 'USD', 1);
    const b = buildPolicyDocument({ org_id: 'org_1', agent_id: 'agent_1', version: 2, currency: 'USD' }, { daily_limit: '100', valid_from: '2026-05-01T00:00:00Z' }, DEFAULT_FROM);
    expect(diffPolicies(a, b)).toEqual([]);
  });

  it('lists only the fields that changed, with their normalised old and new values', () => {
    const before = doc({ daily_limit: '100', monthly_limit: '1000', blocked_categories: ['7995'] });
    const after = doc({ daily_limit: '150.5', monthly_limit: '1000', blocked_categories: ['7995'] });
    expect(diffPolicies(before, after)).toEqual([
      { field: 'daily_limit', old_value: '100.00', new_value: '150.50', direction: 'widens' },
    ]);
  });

  it('does not list a field whose spelling changed but whose meaning did not', () => {
    // "100" and "100.00", unsorted/duplicated lists and merchant case all normalise to the same bytes.
    const before = doc({
      daily_limit: '100',
      allowed_categories: ['5999', '5411'],
      allowed_merchants: ['Acme Corp'],
      valid_until: '2026-06-01T02:00:00+02:00',
    });
    const after = doc({
      daily_limit: '100.00',
      allowed_categories: ['5411', '5999', '5411'],
      allowed_merchants: ['  ACME CORP '],
      valid_until: '2026-06-01T00:00:00Z',
    });
    expect(diffPolicies(before, after)).toEqual([]);
  });

  it('lists changed fields in POLICY_FIELDS order, whatever order the terms were written in', () => {
    const before = doc({});
    const after = doc({ valid_until: '2026-09-01T00:00:00Z', allowed_rails: ['card'], daily_limit: '10', require_business_purpose: false });
    expect(diffPolicies(before, after).map((c) => c.field)).toEqual([
      'daily_limit',
      'allowed_rails',
      'require_business_purpose',
      'valid_until',
    ]);
  });

  it('lists every field as widening, with old_value null, when there was no policy before', () => {
    // An agent without a policy can spend nothing, so its first policy widens everything,
    // including fields whose new value is itself "no limit".
    const after = doc({ per_transaction_limit: '5', blocked_merchants: ['Casino'], require_business_purpose: false });
    const changes = diffPolicies(null, after);
    expect(changes.map((c) => c.field)).toEqual(FIELD_NAMES);
    expect(changes.every((c) => c.direction === 'widens' && c.old_value === null)).toBe(true);
    expect(changes.find((c) => c.field === 'per_transaction_limit')?.new_value).toBe('5.00');
    expect(changes.find((c) => c.field === 'daily_limit')?.new_value).toBeNull();
    expect(changes.find((c) => c.field === 'blocked_merchants')?.new_value).toEqual(['casino']);
    expect(changes.find((c) => c.field === 'blocked_categories')?.new_value).toEqual([]);
    expect(changes.find((c) => c.field === 'require_business_purpose')?.new_value).toBe(false);
  });
});

describe('diffPolicies: money limits', () => {
  it('compares amounts numerically: 900.00 -> 1000.00 widens even though "1000.00" < "900.00" as text', () => {
    expect(diffOne({ daily_limit: '900' }, { daily_limit: '1000' })).toEqual([{ field: 'daily_limit', direction: 'widens' }]);
    expect(diffOne({ daily_limit: '1000' }, { daily_limit: '900' })).toEqual([{ field: 'daily_limit', direction: 'narrows' }]);
  });

  it('treats a raise by one minor unit as widening and a cut by one as narrowing', () => {
    expect(diffOne({ approval_threshold: '99.99' }, { approval_threshold: '100' })).toEqual([{ field: 'approval_threshold', direction: 'widens' }]);
    expect(diffOne({ approval_threshold: '100' }, { approval_threshold: '99.99' })).toEqual([{ field: 'approval_threshold', direction: 'narrows' }]);
  });

  it('treats lifting a limit (to null) as widening', () => {
    expect(diffOne({ per_transaction_limit: '50' }, {})).toEqual([{ field: 'per_transaction_limit', direction: 'widens' }]);
  });

  it('treats setting a limit where there was none as narrowing, even a huge one', () => {
    expect(diffOne({}, { monthly_limit: '999999999999' })).toEqual([{ field: 'monthly_limit', direction: 'narrows' }]);
  });

  it('uses the exponent of the policy currency (JPY has no decimals)', () => {
    const before = doc({ daily_limit: '900' }, 'JPY');
    const after = doc({ daily_limit: '10000' }, 'JPY');
    expect(directions(diffPolicies(before, after))).toEqual([{ field: 'daily_limit', direction: 'widens' }]);
  });
});

describe('diffPolicies: allow-lists (categories, merchants, rails)', () => {
  it('treats gaining an entry as widening', () => {
    expect(diffOne({ allowed_categories: ['5411'] }, { allowed_categories: ['5411', '5999'] })).toEqual([{ field: 'allowed_categories', direction: 'widens' }]);
    expect(diffOne({ allowed_rails: [] }, { allowed_rails: ['card'] })).toEqual([{ field: 'allowed_rails', direction: 'widens' }]);
  });

  it('treats lifting the list (null: anything allowed) as widening', () => {
    expect(diffOne({ allowed_merchants: ['Acme'] }, {})).toEqual([{ field: 'allowed_merchants', direction: 'widens' }]);
  });

  it('treats only removing entries as narrowing', () => {
    expect(diffOne({ allowed_rails: ['card', 'x402'] }, { allowed_rails: ['card'] })).toEqual([{ field: 'allowed_rails', direction: 'narrows' }]);
    expect(diffOne({ allowed_merchants: ['Acme'] }, { allowed_merchants: [] })).toEqual([{ field: 'allowed_merchants', direction: 'narrows' }]);
  });

  it('treats newly restricting (null -> a list) as narrowing, even to a long list', () => {
    expect(diffOne({}, { allowed_categories: ['5411', '5812', '5999', '7011'] })).toEqual([{ field: 'allowed_categories', direction: 'narrows' }]);
  });

  it('treats a list that both adds and removes entries as widening (the new entry is new spending)', () => {
    expect(diffOne({ allowed_merchants: ['Acme', 'Globex'] }, { allowed_merchants: ['Acme', 'Initech'] })).toEqual([{ field: 'allowed_merchants', direction: 'widens' }]);
  });
});

describe('diffPolicies: block-lists', () => {
  it('treats losing an entry as widening', () => {
    expect(diffOne({ blocked_categories: ['7995', '5993'] }, { blocked_categories: ['7995'] })).toEqual([{ field: 'blocked_categories', direction: 'widens' }]);
    expect(diffOne({ blocked_merchants: ['Casino'] }, {})).toEqual([{ field: 'blocked_merchants', direction: 'widens' }]);
  });

  it('treats only adding entries as narrowing', () => {
    expect(diffOne({}, { blocked_merchants: ['Casino'] })).toEqual([{ field: 'blocked_merchants', direction: 'narrows' }]);
    expect(diffOne({ blocked_categories: ['7995'] }, { blocked_categories: ['7995', '5993'] })).toEqual([{ field: 'blocked_categories', direction: 'narrows' }]);
  });

  it('treats a block-list that swaps one entry for another as widening (the dropped one is now allowed)', () => {
    expect(diffOne({ blocked_categories: ['7995'] }, { blocked_categories: ['5993'] })).toEqual([{ field: 'blocked_categories', direction: 'widens' }]);
  });
});

describe('diffPolicies: business purpose and expiry', () => {
  it('treats dropping the business-purpose requirement as widening and adding it as narrowing', () => {
    expect(diffOne({ require_business_purpose: true }, { require_business_purpose: false })).toEqual([{ field: 'require_business_purpose', direction: 'widens' }]);
    expect(diffOne({ require_business_purpose: false }, { require_business_purpose: true })).toEqual([{ field: 'require_business_purpose', direction: 'narrows' }]);
  });

  it('treats a later expiry, or none, as widening', () => {
    expect(diffOne({ valid_until: '2026-06-01T00:00:00Z' }, { valid_until: '2026-06-01T00:00:01Z' })).toEqual([{ field: 'valid_until', direction: 'widens' }]);
    expect(diffOne({ valid_until: '2026-06-01T00:00:00Z' }, {})).toEqual([{ field: 'valid_until', direction: 'widens' }]);
  });

  it('treats an earlier expiry, or a first one, as narrowing', () => {
    expect(diffOne({ valid_until: '2026-06-01T00:00:00Z' }, { valid_until: '2026-05-31T23:59:59Z' })).toEqual([{ field: 'valid_until', direction: 'narrows' }]);
    expect(diffOne({}, { valid_until: '2030-01-01T00:00:00Z' })).toEqual([{ field: 'valid_until', direction: 'narrows' }]);
  });

  it('compares expiries as instants, not as the offset they were written with', () => {
    // 10:00+05:00 is 05:00Z, which is earlier than 06:00Z even though "10" > "06" as text.
    expect(diffOne({ valid_until: '2026-06-01T06:00:00Z' }, { valid_until: '2026-06-01T10:00:00+05:00' })).toEqual([{ field: 'valid_until', direction: 'narrows' }]);
  });
});

describe('diffPolicies: properties', () => {
  // A policy's meaning, independent of how it is spelled. Limit pools respect
  // per_transaction <= daily <= monthly for every combination, so any draw is a valid document.
  const CATS = ['5411', '5999', '7995'];
  const MERCHANTS = ['acme corp', 'café zürich', 'globex'];
  const UNTIL = ['2026-06-01T00:00:00Z', '2027-01-01T00:00:00Z'].map((s) => Date.parse(s));
  const cents = (xs: (number | null)[]) => fc.constantFrom(...xs.map((x) => (x === null ? null : BigInt(x))));

  interface Meaning {
    readonly per_transaction_limit: bigint | null;
    readonly daily_limit: bigint | null;
    readonly monthly_limit: bigint | null;
    readonly approval_threshold: bigint | null;
    readonly allowed_categories: string[] | null;
    readonly blocked_categories: string[];
    readonly allowed_merchants: string[] | null;
    readonly blocked_merchants: string[];
    readonly allowed_rails: string[] | null;
    readonly require_business_purpose: boolean;
    readonly valid_until: number | null;
  }

  const meaning: fc.Arbitrary<Meaning> = fc.record({
    per_transaction_limit: cents([null, 999, 10_000]),
    daily_limit: cents([null, 10_000, 100_050]),
    monthly_limit: cents([null, 100_050, 2_500_000]),
    approval_threshold: cents([null, 0, 90_000, 100_000]),
    allowed_categories: fc.option(fc.subarray(CATS), { nil: null }),
    blocked_categories: fc.subarray(CATS),
    allowed_merchants: fc.option(fc.subarray(MERCHANTS), { nil: null }),
    blocked_merchants: fc.subarray(MERCHANTS),
    allowed_rails: fc.option(fc.subarray(['card', 'stripe', 'x402']), { nil: null }),
    require_business_purpose: fc.boolean(),
    valid_until: fc.option(fc.constantFrom(...UNTIL), { nil: null }),
  });

  /** "900.50" may be written "900.5", "900.00" as "900": the builder must bring them back together. */
  const spellAmount = (x: bigint | null): fc.Arbitrary<string | null> =>
    x === null ? fc.constant(null) : fc.boolean().map((short) => {
      const full = formatMinor(x, 2);
      return short ? full.replace(/\.?0+$/, '') || '0' : full;
    });

  /** Any order, with duplicates, and (for merchants) any case and padding. */
  const spellList = (xs: string[], recase: boolean): fc.Arbitrary<string[]> =>
    fc
      .tuple(
        fc.shuffledSubarray(xs, { minLength: xs.length }),
        fc.subarray(xs),
        fc.array(fc.constantFrom<(s: string) => string>((s) => s, (s) => s.toUpperCase(), (s) => ` ${s}\t`), { minLength: 2 * xs.length, maxLength: 2 * xs.length }),
      )
      .map(([all, dups, cases]) => [...all, ...dups].map((s, i) => (recase ? cases[i]!(s) : s)));

  const spellOptionalList = (xs: string[] | null, recase: boolean): fc.Arbitrary<string[] | null> =>
    xs === null ? fc.constant(null) : spellList(xs, recase);

  /** The same instant in UTC or at +02:00. */
  const spellInstant = (ms: number | null): fc.Arbitrary<string | null> =>
    ms === null
      ? fc.constant(null)
      : fc.boolean().map((utc) => (utc ? new Date(ms).toISOString() : `${new Date(ms + 7_200_000).toISOString().slice(0, 19)}+02:00`));

  const spell = (m: Meaning): fc.Arbitrary<PolicyTerms> =>
    fc.record({
      per_transaction_limit: spellAmount(m.per_transaction_limit),
      daily_limit: spellAmount(m.daily_limit),
      monthly_limit: spellAmount(m.monthly_limit),
      approval_threshold: spellAmount(m.approval_threshold),
      allowed_categories: spellOptionalList(m.allowed_categories, false),
      blocked_categories: spellList(m.blocked_categories, false),
      allowed_merchants: spellOptionalList(m.allowed_merchants, true),
      blocked_merchants: spellList(m.blocked_merchants, true),
      allowed_rails: spellOptionalList(m.allowed_rails, false),
      require_business_purpose: fc.constant(m.require_business_purpose),
      valid_until: spellInstant(m.valid_until),
    });

  const spelled = meaning.chain((m) => spell(m).map((terms) => ({ m, terms })));

  /** The oracle: a field changed when its meaning changed (sets compared as sets). */
  const key = (m: Meaning, f: PolicyField): string =>
    JSON.stringify(m[f], (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : Array.isArray(v) ? [...(v as string[])].sort() : v));

  it('lists exactly the fields whose meaning differs, in field order, with the documents\' normalised values', () => {
    fc.assert(
      fc.property(spelled, spelled, (a, b) => {
        const da = doc(a.terms);
        const db = doc(b.terms);
        const changes = diffPolicies(da, db);
        expect(changes.map((c) => c.field)).toEqual(FIELD_NAMES.filter((f) => key(a.m, f) !== key(b.m, f)));
        for (const c of changes) {
          expect(c.old_value).toEqual(termsOf(da)[c.field]);
          expect(c.new_value).toEqual(termsOf(db)[c.field]);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('lists nothing when the second document means the same as the first, however it is spelled', () => {
    fc.assert(
      fc.property(meaning.chain((m) => fc.tuple(spell(m), spell(m))), ([ta, tb]) => {
        expect(diffPolicies(doc(ta), doc(tb))).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });

  it('calls a strict raise of one money limit widening and a strict cut narrowing, in any currency', () => {
    const moneyFields = ['per_transaction_limit', 'daily_limit', 'monthly_limit', 'approval_threshold'] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...moneyFields),
        fc.constantFrom('USD', 'JPY', 'KWD', 'USDC'),
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        (field, currency, low, delta) => {
          const e = findCurrency(currency)!.exponent;
          const lo = doc({ [field]: formatMinor(low, e) }, currency);
          const hi = doc({ [field]: formatMinor(low + delta, e) }, currency);
          expect(directions(diffPolicies(lo, hi))).toEqual([{ field, direction: 'widens' }]);
          expect(directions(diffPolicies(hi, lo))).toEqual([{ field, direction: 'narrows' }]);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('requiresApproval', () => {
  const change = (field: PolicyField, direction: 'widens' | 'narrows'): FieldChange => ({ field, old_value: null, new_value: null, direction });
  const control = (approval: ApprovalMode, fields: ChangeControl['fields'] = {}): ChangeControl => ({ ...DEFAULT_CHANGE_CONTROL, approval, fields });
  const narrowing = [change('daily_limit', 'narrows'), change('blocked_merchants', 'narrows')];
  const oneWidening = [change('daily_limit', 'narrows'), change('allowed_rails', 'widens')];

  it('by default asks for approval of widening changes only', () => {
    expect(DEFAULT_CHANGE_CONTROL.approval).toBe('widening');
    expect(requiresApproval(oneWidening, DEFAULT_CHANGE_CONTROL)).toBe(true);
    expect(requiresApproval(narrowing, DEFAULT_CHANGE_CONTROL)).toBe(false);
  });

  it('in "always" mode asks for approval of narrowing changes too', () => {
    expect(requiresApproval(narrowing, control('always'))).toBe(true);
  });

  it('in "never" mode applies even widening changes directly', () => {
    expect(requiresApproval(oneWidening, control('never'))).toBe(false);
  });

  it('asks nothing when nothing changed, whatever the mode', () => {
    expect(requiresApproval([], control('always'))).toBe(false);
  });

  it('lets a per-field "never" exempt that field from the organisation rule', () => {
    const c = control('widening', { allowed_rails: 'never' });
    expect(requiresApproval(oneWidening, c)).toBe(false);
    // ...but only that field: another widening field still needs approval.
    expect(requiresApproval([...oneWidening, change('monthly_limit', 'widens')], c)).toBe(true);
  });

  it('lets a per-field "always" require approval where the organisation rule would not', () => {
    expect(requiresApproval(narrowing, control('never', { blocked_merchants: 'always' }))).toBe(true);
    expect(requiresApproval(narrowing, control('never', { allowed_rails: 'always' }))).toBe(false);
  });

  it('lets a per-field "widening" relax an "always" organisation for narrowing changes of that field', () => {
    const c = control('always', { daily_limit: 'widening', blocked_merchants: 'widening' });
    expect(requiresApproval(narrowing, c)).toBe(false);
    expect(requiresApproval([change('daily_limit', 'widens')], c)).toBe(true);
  });
});

describe('parseTicket', () => {
  it('accepts Jira/Linear keys and upper-cases them', () => {
    expect(parseTicket('FIN-123')).toBe('FIN-123');
    expect(parseTicket('fin-123')).toBe('FIN-123');
    expect(parseTicket('  ops_2-9 ')).toBe('OPS_2-9');
  });

  it('accepts ServiceNow numbers and upper-cases them', () => {
    expect(parseTicket('CHG0012345')).toBe('CHG0012345');
    expect(parseTicket('ritm0001234')).toBe('RITM0001234');
  });

  it('accepts http(s) links and keeps them exactly as given (not upper-cased)', () => {
    expect(parseTicket('https://linear.app/acme/issue/fin-123')).toBe('https://linear.app/acme/issue/fin-123');
    expect(parseTicket('http://jira.example.com/browse/FIN-1?focus=x#c')).toBe('http://jira.example.com/browse/FIN-1?focus=x#c');
    expect(parseTicket(' HTTPS://Jira.example.com/x ')).toBe('HTTPS://Jira.example.com/x');
  });

  it('accepts a link of exactly 500 characters', () => {
    const url = `https://jira.example.com/${'a'.repeat(500 - 'https://jira.example.com/'.length)}`;
    expect(url).toHaveLength(500);
    expect(parseTicket(url)).toBe(url);
  });

  const refused: [string, string][] = [
    ['free text', 'approved by Bob in standup'],
    ['an empty string', ''],
    ['only whitespace', '   '],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['another scheme', 'ftp://files.example.com/FIN-1'],
    ['a link with user:password', 'https://bob:hunter2@jira.example.com/browse/FIN-1'],
    ['a link with a user name', 'https://bob@jira.example.com/browse/FIN-1'],
    ['a link with only a password', 'https://:hunter2@jira.example.com/browse/FIN-1'],
    ['a link with no host', 'https://'],
    ['a link of 501 characters', `https://jira.example.com/${'a'.repeat(501 - 'https://jira.example.com/'.length)}`],
    ['a key numbered 0', 'FIN-0'],
    ['a key with a leading zero', 'FIN-012'],
    ['a key with no number', 'FIN-'],
    ['a key with no project', '-12'],
    ['a project starting with a digit', '1FIN-12'],
    ['a ServiceNow number with too few digits', 'CHG12345'],
    ['an unknown ServiceNow prefix', 'ABC0012345'],
    ['a key with trailing text', 'FIN-12 done'],
  ];

  it.each(refused)('refuses %s with INVALID_TICKET on approval_ticket', (_what, input) => {
    const e = errorOf(() => parseTicket(input));
    expect(e.code).toBe('INVALID_TICKET');
    expect(e.field).toBe('approval_ticket');
  });

  it('names the field it was given', () => {
    expect(errorOf(() => parseTicket('nope', 'changes[0].ticket')).field).toBe('changes[0].ticket');
  });
});

describe('parseJustification', () => {
  it('trims the justification', () => {
    expect(parseJustification('  raise for Q3 travel \n')).toBe('raise for Q3 travel');
  });

  it.each([
    ['empty', ''],
    ['whitespace', ' \n\t '],
    ['null', null],
    ['undefined', undefined],
  ])('refuses a %s justification with JUSTIFICATION_REQUIRED', (_what, input) => {
    const e = errorOf(() => parseJustification(input));
    expect(e.code).toBe('JUSTIFICATION_REQUIRED');
    expect(e.field).toBe('justification');
  });

  it('accepts 2000 characters, counted after trimming', () => {
    const text = 'x'.repeat(2000);
    expect(parseJustification(`   ${text}   `)).toBe(text);
  });

  it('refuses more than 2000 characters with VALIDATION_FAILED', () => {
    const e = errorOf(() => parseJustification('x'.repeat(2001)));
    expect(e.code).toBe('VALIDATION_FAILED');
    expect(e.field).toBe('justification');
  });
});

describe('parseTicket and hidden line breaks', () => {
  it('refuses a link that carries a newline or tab the URL parser would drop silently', () => {
    for (const t of ['https://jira.example.com/browse/FIN-1\nInjected line', 'https://jira.example.com/browse/\tFIN-1', 'FIN 12']) {
      expect(() => parseTicket(t)).toThrow(expect.objectContaining({ code: 'INVALID_TICKET', field: 'approval_ticket' }));
    }
  });
});
