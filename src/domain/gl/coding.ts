import { merchantKey } from '../policy/policy.ts';

/** GL coding rule kinds, in the order they are consulted after a code given on the transaction. */
export const RULE_KINDS = ['agent', 'merchant', 'mcc', 'default'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

export interface GlRule {
  readonly rule_id: string;
  readonly kind: RuleKind;
  /** agent id, merchant name, or 4-digit MCC; null for the default rule. */
  readonly match: string | null;
  readonly account_code: string;
}

export type CodeSource = 'transaction' | `${RuleKind}_rule`;

export interface Coding {
  readonly code: string;
  readonly source: CodeSource;
  readonly rule_id: string | null;
}

/** Rules indexed for constant-time lookup; build once per batch. */
export interface RuleBook {
  readonly byAgent: ReadonlyMap<string, GlRule>;
  readonly byMerchant: ReadonlyMap<string, GlRule>;
  readonly byMcc: ReadonlyMap<string, GlRule>;
  readonly fallback: GlRule | null;
}

export function ruleBook(rules: readonly GlRule[]): RuleBook {
  const byAgent = new Map<string, GlRule>();
  const byMerchant = new Map<string, GlRule>();
  const byMcc = new Map<string, GlRule>();
  let fallback: GlRule | null = null;
  for (const r of rules) {
    if (r.kind === 'agent' && r.match !== null) byAgent.set(r.match, r);
    else if (r.kind === 'merchant' && r.match !== null) byMerchant.set(merchantKey(r.match), r);
    else if (r.kind === 'mcc' && r.match !== null) byMcc.set(r.match, r);
    else if (r.kind === 'default') fallback = r;
  }
  return { byAgent, byMerchant, byMcc, fallback };
}

/**
 * Precedence: code on the transaction > agent rule > merchant rule > MCC rule > default.
 * No match → null, and the transaction is flagged `uncoded`.
 */
export function codeTransaction(
  book: RuleBook,
  tx: { readonly accountingCode: string | null; readonly agentId: string; readonly merchant: string; readonly merchantCategory: string | null },
): Coding | null {
  if (tx.accountingCode !== null) return { code: tx.accountingCode, source: 'transaction', rule_id: null };
  const hit =
    book.byAgent.get(tx.agentId) ??
    book.byMerchant.get(merchantKey(tx.merchant)) ??
    (tx.merchantCategory === null ? undefined : book.byMcc.get(tx.merchantCategory)) ??
    book.fallback;
  return hit === null || hit === undefined ? null : { code: hit.account_code, source: `${hit.kind}_rule`, rule_id: hit.rule_id };
}
