import { findCurrency } from '../money/currency.ts';
import { formatMinor, parseDecimal } from '../money/decimal.ts';
import { budgetAmount } from '../policy/evaluate.ts';
import type { CompiledPolicy } from '../policy/policy.ts';
import { compilePolicy, policyInForce } from '../policy/policy.ts';
import { instantMs, localDay, monthBounds } from '../time.ts';
import type { StatementPeriod } from './period.ts';
import { monthsOf } from './period.ts';
import type { PolicyVersionInput, StatementLine } from './statement.ts';

export interface AmountCount {
  readonly count: number;
  /** Exact decimal in the reporting currency. */
  readonly amount: string;
}

export interface GlTotal {
  /** Null for uncoded transactions. */
  readonly gl_account: string | null;
  readonly name: string | null;
  readonly count: number;
  /** Payments and refunds together (net). */
  readonly amount: string;
}

export interface MonthlyBudget {
  readonly month: string;
  /** The period covers part of the month only: `used` counts that part. */
  readonly partial: boolean;
  /** Gross payments, as budgets count them: a refund gives no budget back. */
  readonly used: string;
  readonly limit: string | null;
  /** limit − used; negative when over. Null without a limit. */
  readonly remaining: string | null;
  readonly policy_version: number | null;
}

export interface DailySpend {
  readonly day: string;
  readonly used: string;
  readonly limit: string | null;
  readonly policy_version: number | null;
  readonly over: boolean;
}

export interface DailyBudget {
  readonly days_with_spend: number;
  /** The day with the most spend (the earliest of equal days); null without payments. */
  readonly peak: DailySpend | null;
  /** Every day whose spend went above the daily limit in force, in date order. */
  readonly over_limit: readonly DailySpend[];
}

export interface StatementTotals {
  readonly currency: string;
  readonly transactions: number;
  readonly payments: AmountCount;
  /** Refunds and reversals; the amount is negative (money coming back). */
  readonly refunds: AmountCount;
  /** payments + refunds. */
  readonly net: AmountCount;
  /** By account code, uncoded last. */
  readonly by_gl_account: readonly GlTotal[];
  /** Transactions with at least one violation. */
  readonly with_violations: number;
  readonly budget: {
    /** Whether the agent had any policy: without one there is no limit to compare with. */
    readonly has_policy: boolean;
    readonly monthly: readonly MonthlyBudget[];
    readonly daily: DailyBudget;
  };
}

interface Window {
  minor: bigint;
  /** The window's last payment: its limit is the one that payment was judged against. */
  lastMs: number;
}

/**
 * Totals of a statement, accumulated line by line as the lines stream past, in exact minor
 * units. Budgets are counted the way evaluation counts them: gross payments per calendar day and
 * month in the organisation's time zone, against the limits of the version in force at the
 * window's last payment.
 */
export class StatementTotaller {
  private readonly exponent: number;
  private readonly policies: readonly CompiledPolicy[];
  private count = 0;
  private payments = { count: 0, minor: 0n };
  private refunds = { count: 0, minor: 0n };
  private violating = 0;
  private readonly gl = new Map<string, { name: string | null; count: number; minor: bigint }>();
  private readonly days = new Map<string, Window>();
  private readonly months = new Map<string, Window>();

  constructor(
    private readonly currency: string,
    private readonly period: StatementPeriod,
    versions: readonly PolicyVersionInput[],
  ) {
    this.exponent = findCurrency(currency)?.exponent ?? 2;
    this.policies = versions.map((v) => compilePolicy(v.document));
  }

  add(line: StatementLine): void {
    if (line.reporting_currency !== this.currency) {
      throw new Error(`statement in ${this.currency} got a line in ${line.reporting_currency}`);
    }
    const minor = parseDecimal(line.reporting_amount, this.exponent, { allowNegative: true, field: 'reporting_amount' });
    this.count += 1;
    if (line.violations.length > 0) this.violating += 1;
    const key = line.gl_account ?? '';
    const g = this.gl.get(key) ?? { name: line.gl_account_name, count: 0, minor: 0n };
    g.count += 1;
    g.minor += minor;
    this.gl.set(key, g);
    if (line.type !== 'payment') {
      this.refunds.count += 1;
      this.refunds.minor += minor;
      return;
    }
    this.payments.count += 1;
    this.payments.minor += minor;
    const at = instantMs(line.timestamp);
    const day = localDay(line.timestamp, this.period.timezone);
    for (const [map, k] of [[this.days, day], [this.months, day.slice(0, 7)]] as const) {
      const w = map.get(k) ?? { minor: 0n, lastMs: at };
      w.minor += budgetAmount(minor);
      w.lastMs = Math.max(w.lastMs, at);
      map.set(k, w);
    }
  }

  totals(): StatementTotals {
    const money = (m: bigint): string => formatMinor(m, this.exponent);
    const byGl = [...this.gl.entries()]
      .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0))
      .map(([code, g]): GlTotal => ({ gl_account: code === '' ? null : code, name: g.name, count: g.count, amount: money(g.minor) }));
    return {
      currency: this.currency,
      transactions: this.count,
      payments: { count: this.payments.count, amount: money(this.payments.minor) },
      refunds: { count: this.refunds.count, amount: money(this.refunds.minor) },
      net: { count: this.count, amount: money(this.payments.minor + this.refunds.minor) },
      by_gl_account: byGl,
      with_violations: this.violating,
      budget: { has_policy: this.policies.length > 0, monthly: this.monthly(money), daily: this.daily(money) },
    };
  }

  /** The limit of the version in force at an instant, when it is in the reporting currency. */
  private limitAt(atMs: number, pick: (p: CompiledPolicy) => bigint | null): { limit: bigint | null; version: number | null } {
    const p = policyInForce(this.policies, atMs);
    if (p === null) return { limit: null, version: null };
    // Limits are set in the reporting currency; one in another currency cannot be compared here.
    return { limit: p.document.currency === this.currency ? pick(p) : null, version: p.document.version };
  }

  private monthly(money: (m: bigint) => string): MonthlyBudget[] {
    const startMs = instantMs(this.period.start);
    const endMs = instantMs(this.period.end);
    return monthsOf(this.period).map((month) => {
      const bounds = monthBounds(month, this.period.timezone);
      const w = this.months.get(month);
      // Without payments, the limit shown is the one in force at the end of the covered part.
      const at = w?.lastMs ?? Math.min(instantMs(bounds.end), endMs) - 1;
      const { limit, version } = this.limitAt(at, (p) => p.monthlyLimit);
      const used = w?.minor ?? 0n;
      return {
        month,
        partial: instantMs(bounds.start) < startMs || instantMs(bounds.end) > endMs,
        used: money(used),
        limit: limit === null ? null : money(limit),
        remaining: limit === null ? null : money(limit - used),
        policy_version: version,
      };
    });
  }

  private daily(money: (m: bigint) => string): DailyBudget {
    let peak: { spend: DailySpend; minor: bigint } | null = null;
    const over: DailySpend[] = [];
    for (const day of [...this.days.keys()].sort()) {
      const w = this.days.get(day) as Window;
      const { limit, version } = this.limitAt(w.lastMs, (p) => p.dailyLimit);
      const spend: DailySpend = {
        day,
        used: money(w.minor),
        limit: limit === null ? null : money(limit),
        policy_version: version,
        over: limit !== null && w.minor > limit,
      };
      if (spend.over) over.push(spend);
      if (peak === null || w.minor > peak.minor) peak = { spend, minor: w.minor };
    }
    return { days_with_spend: this.days.size, peak: peak?.spend ?? null, over_limit: over };
  }
}

/** Exact sums of several statements' totals (a cluster's agents): payments, refunds and net. */
export function combineTotals(list: readonly StatementTotals[], currency: string): { payments: AmountCount; refunds: AmountCount; net: AmountCount } {
  const exponent = findCurrency(currency)?.exponent ?? 2;
  const minor = (s: string): bigint => parseDecimal(s, exponent, { allowNegative: true, field: 'amount' });
  const sum = (pick: (t: StatementTotals) => AmountCount): AmountCount => ({
    count: list.reduce((n, t) => n + pick(t).count, 0),
    amount: formatMinor(list.reduce((m, t) => m + minor(pick(t).amount), 0n), exponent),
  });
  return { payments: sum((t) => t.payments), refunds: sum((t) => t.refunds), net: sum((t) => t.net) };
}
