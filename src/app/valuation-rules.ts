import type { ValuationRule } from '../domain/money/valuation.ts';
import { DEFAULT_VALUATION_RULES, parseValuationRules } from '../domain/money/valuation.ts';
import { instantFromDate } from '../domain/time.ts';
import { appendToLog } from './append.ts';
import type { AppDeps } from './deps.ts';
import type { StoreReads } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';

interface ValuationBody {
  readonly rules: readonly ValuationRule[];
}

/** The organisation's valuation rules in force: the last `valuation_rules` entry, or the defaults. */
export async function valuationRulesOf(store: StoreReads, orgId: string): Promise<readonly ValuationRule[]> {
  const entries = await store.logEntriesOfKinds(orgId, ['valuation_rules'], [orgId]);
  const last = entries[entries.length - 1];
  if (last === undefined) return DEFAULT_VALUATION_RULES;
  return (JSON.parse(last.data) as { body: ValuationBody }).body.rules;
}

/** Replaces the rule set. A log entry: which rate a payment was booked at is evidence. */
export async function setValuationRules(deps: AppDeps, by: Principal, rules: readonly ValuationRule[]): Promise<readonly ValuationRule[]> {
  requireRole(by, 'admin', 'finance');
  const parsed = parseValuationRules(rules);
  await appendToLog(deps, by.org_id, ({ sealer, now }) => {
    const body: ValuationBody = { rules: parsed };
    sealer.addEntry('valuation_rules', by.org_id, instantFromDate(now), by.principal, body);
    return Promise.resolve();
  });
  return parsed;
}
