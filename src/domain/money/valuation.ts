import { SpendtrailError } from '../errors.ts';
import type { Instant } from '../time.ts';
import { findCurrency } from './currency.ts';
import { normalizeRate } from './decimal.ts';

/**
 * How an organisation values an asset it pays in (a stablecoin, satoshis) in its reporting
 * currency: a fixed rate it has decided on, with the source it wants recorded. Market rates
 * come with the payment instead (fx_rate on the record); a rule is for pegs and for assets the
 * organisation values by policy.
 */
export interface ValuationRule {
  readonly asset: string;
  readonly quote: string;
  /** Units of `quote` per one unit of `asset`, a positive decimal. */
  readonly rate: string;
  /** What the ledger records as fx_rate_source, e.g. "peg: 1 USDC = 1 USD (treasury policy 2026-01)". */
  readonly source: string;
}

/** Stablecoins at par with the fiat they are redeemable for, until an organisation says otherwise. */
export const DEFAULT_VALUATION_RULES: readonly ValuationRule[] = [
  { asset: 'USDC', quote: 'USD', rate: '1', source: 'peg: 1 USDC = 1 USD (default rule)' },
  { asset: 'USDT', quote: 'USD', rate: '1', source: 'peg: 1 USDT = 1 USD (default rule)' },
  { asset: 'PYUSD', quote: 'USD', rate: '1', source: 'peg: 1 PYUSD = 1 USD (default rule)' },
  { asset: 'EURC', quote: 'EUR', rate: '1', source: 'peg: 1 EURC = 1 EUR (default rule)' },
];

/** Checks and normalises a rule set: known codes, positive rates, one rule per asset and quote. */
export function parseValuationRules(rules: readonly ValuationRule[]): ValuationRule[] {
  const seen = new Set<string>();
  return rules.map((r, i) => {
    const field = `rules[${i}]`;
    const asset = findCurrency(r.asset.trim().toUpperCase());
    const quote = findCurrency(r.quote.trim().toUpperCase());
    if (asset === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown asset ${r.asset}`, { field: `${field}.asset` });
    if (quote === undefined) throw new SpendtrailError('UNKNOWN_CURRENCY', `unknown currency ${r.quote}`, { field: `${field}.quote` });
    if (asset.code === quote.code) throw new SpendtrailError('VALIDATION_FAILED', 'an asset is not valued in itself', { field: `${field}.quote` });
    const source = r.source.trim();
    if (source === '' || source.length > 200) {
      throw new SpendtrailError('VALIDATION_FAILED', 'a rule names its source (at most 200 characters)', { field: `${field}.source` });
    }
    const key = `${asset.code}/${quote.code}`;
    if (seen.has(key)) throw new SpendtrailError('VALIDATION_FAILED', `two rules for ${key}`, { field });
    seen.add(key);
    return { asset: asset.code, quote: quote.code, rate: normalizeRate(r.rate, `${field}.rate`), source };
  });
}

/**
 * The exchange-rate fields for an amount in `asset` when the books are in `reporting`: none
 * when they are the same, the rule's rate and source otherwise. FX_RATE_REQUIRED names the
 * missing rule.
 */
export function valuationFields(
  rules: readonly ValuationRule[],
  asset: string,
  reporting: string,
  at: Instant,
): { fx_rate: string | null; fx_rate_source: string | null; fx_rate_time: Instant | null } {
  if (asset === reporting) return { fx_rate: null, fx_rate_source: null, fx_rate_time: null };
  const rule = rules.find((r) => r.asset === asset && r.quote === reporting);
  if (rule === undefined) {
    throw new SpendtrailError('FX_RATE_REQUIRED', `no valuation rule for ${asset} in ${reporting}: add one (spendtrail valuation set) or send fx_rate with the payment`, {
      field: 'currency',
    });
  }
  return { fx_rate: rule.rate, fx_rate_source: rule.source, fx_rate_time: at };
}

/** An organisation's valuation bound to its rules and reporting currency: what a rail adapter asks for an amount's fx fields. */
export type AssetValuation = (asset: string, at: Instant) => ReturnType<typeof valuationFields>;
