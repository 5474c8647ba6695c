import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { GlRule } from './coding.ts';
import { codeTransaction, ruleBook } from './coding.ts';

const agentRule: GlRule = { rule_id: 'r_agent', kind: 'agent', match: 'agent_1', account_code: '6100' };
const merchantRule: GlRule = { rule_id: 'r_merchant', kind: 'merchant', match: 'Acme Corp', account_code: '6200' };
const mccRule: GlRule = { rule_id: 'r_mcc', kind: 'mcc', match: '5734', account_code: '6300' };
const defaultRule: GlRule = { rule_id: 'r_default', kind: 'default', match: null, account_code: '6999' };
const allRules = [defaultRule, mccRule, merchantRule, agentRule];

const tx = (over: Partial<Parameters<typeof codeTransaction>[1]> = {}): Parameters<typeof codeTransaction>[1] => ({
  accountingCode: null,
  agentId: 'agent_1',
  merchant: 'Acme Corp',
  merchantCategory: '5734',
  ...over,
});

describe('codeTransaction precedence', () => {
  const book = ruleBook(allRules);

  it('takes a code given on the transaction over every rule', () => {
    expect(codeTransaction(book, tx({ accountingCode: '7000' }))).toEqual({ code: '7000', source: 'transaction', rule_id: null });
  });

  it('takes an agent rule over merchant, MCC and default rules', () => {
    expect(codeTransaction(book, tx())).toEqual({ code: '6100', source: 'agent_rule', rule_id: 'r_agent' });
  });

  it('takes a merchant rule over MCC and default rules when no agent rule matches', () => {
    expect(codeTransaction(book, tx({ agentId: 'agent_2' }))).toEqual({
      code: '6200',
      source: 'merchant_rule',
      rule_id: 'r_merchant',
    });
  });

  it('matches a merchant rule whatever the case and surrounding spaces of the merchant name', () => {
    expect(codeTransaction(book, tx({ agentId: 'agent_2', merchant: '  ACME corp ' }))?.rule_id).toBe('r_merchant');
    const upper = ruleBook([{ ...merchantRule, match: ' ACME CORP' }]);
    expect(codeTransaction(upper, tx({ agentId: 'agent_2', merchant: 'acme corp' }))?.rule_id).toBe('r_merchant');
  });

  it('takes an MCC rule over the default rule when no agent or merchant rule matches', () => {
    expect(codeTransaction(book, tx({ agentId: 'agent_2', merchant: 'Globex' }))).toEqual({
      code: '6300',
      source: 'mcc_rule',
      rule_id: 'r_mcc',
    });
  });

  it('falls back to the default rule when nothing else matches', () => {
    const coding = { code: '6999', source: 'default_rule', rule_id: 'r_default' };
    expect(codeTransaction(book, tx({ agentId: 'agent_2', merchant: 'Globex', merchantCategory: '5411' }))).toEqual(coding);
    expect(codeTransaction(book, tx({ agentId: 'agent_2', merchant: 'Globex', merchantCategory: null }))).toEqual(coding);
  });

  it('leaves a transaction uncoded when no rule matches and there is no default', () => {
    const noDefault = ruleBook([agentRule, merchantRule, mccRule]);
    expect(codeTransaction(noDefault, tx({ agentId: 'agent_2', merchant: 'Globex', merchantCategory: '5411' }))).toBeNull();
    expect(codeTransaction(noDefault, tx({ agentId: 'agent_2', merchant: 'Globex', merchantCategory: null }))).toBeNull();
    expect(codeTransaction(ruleBook([]), tx())).toBeNull();
  });

  it('ignores agent, merchant and MCC rules without a match value', () => {
    const book2 = ruleBook([
      { rule_id: 'x1', kind: 'agent', match: null, account_code: '1' },
      { rule_id: 'x2', kind: 'merchant', match: null, account_code: '2' },
      { rule_id: 'x3', kind: 'mcc', match: null, account_code: '3' },
    ]);
    expect(codeTransaction(book2, tx())).toBeNull();
  });

  it('follows the precedence order for any combination of matching rules', () => {
    const order = ['transaction', 'agent_rule', 'merchant_rule', 'mcc_rule', 'default_rule'] as const;
    fc.assert(
      fc.property(fc.boolean(), fc.subarray(allRules), fc.constantFrom('acme corp', 'ACME CORP', ' Acme Corp'), (hasCode, rules, merchant) => {
        const shuffled = [...rules].reverse();
        const coding = codeTransaction(ruleBook(shuffled), tx({ accountingCode: hasCode ? 'T' : null, merchant }));
        const present = new Set<string>([...(hasCode ? ['transaction'] : []), ...rules.map((r) => `${r.kind}_rule`)]);
        const expected = order.find((s) => present.has(s)) ?? null;
        expect(coding?.source ?? null).toBe(expected);
      }),
    );
  });
});
