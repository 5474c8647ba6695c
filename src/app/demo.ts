import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionInput } from '../domain/ledger/transaction.ts';
import { formatMinor } from '../domain/money/decimal.ts';
import type { PolicyTerms } from '../domain/policy/policy.ts';
import type { Rail } from '../domain/rails.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { recordTransactions } from './record-transactions.ts';
import { approveChange, setPolicy } from './policy-changes.ts';
import { createOrg, issueApiKey, upsertAccount, upsertAgent, upsertRule } from './setup.ts';
import { parseTransactionInput } from './transaction-input.ts';
import { createUser } from './users.ts';

/**
 * A realistic, deterministic demo organisation: five agents in two clusters, a chart of
 * accounts, GL rules, one policy per agent and a month of spend (~750 payments) with a handful
 * of deliberate violations for the dashboards and reports to show. Everything random comes from
 * a PRNG seeded by the month, so the same month always gives the same ledger (amounts, ids,
 * timestamps); only tx ids, keys and signatures differ between runs.
 */

export interface SeedDemoOptions {
  readonly orgId?: string;
  /** 'YYYY-MM'; default: the calendar month before deps.clock.now() (UTC). */
  readonly month?: string;
  /** Called after each committed batch with transactions recorded so far and the total. */
  readonly onProgress?: (done: number, total: number) => void;
  /** Create dashboard users with generated passwords (default true). */
  readonly users?: boolean;
}

export interface SeedDemoResult {
  readonly org_id: string;
  readonly admin_api_key: string;
  readonly agents: number;
  readonly transactions: number;
  /** Dashboard users, each with a generated password shown once. */
  readonly users: readonly { readonly email: string; readonly roles: readonly string[]; readonly password: string }[];
}

/** One dashboard user per duty, so the dashboard can be tried from each side. */
const DEMO_USERS = [
  { email: 'finance@demo.example', roles: ['finance'] },
  { email: 'approver@demo.example', roles: ['approver'] },
  { email: 'policy@demo.example', roles: ['policy_admin'] },
  { email: 'auditor@demo.example', roles: ['auditor'] },
] as const;

/** Largest atomic batch handed to recordTransactions. */
export const DEMO_BATCH_SIZE = 500;

const APPROVER = 'dave@demo.test';

interface DemoAgent {
  readonly agent_id: string;
  readonly name: string;
  readonly owner: string;
  readonly cluster: string;
  readonly policy: PolicyTerms;
}

const RESEARCH_RAILS = ['x402', 'l402', 'stripe'];
const BLOCKED = ['7995'];

export const DEMO_AGENTS: readonly DemoAgent[] = [
  {
    agent_id: 'support-bot',
    name: 'Customer support bot',
    owner: 'alice@demo.test',
    cluster: 'customer-support',
    policy: { per_transaction_limit: '500.00', daily_limit: '1500.00', monthly_limit: '20000.00', approval_threshold: '200.00', blocked_categories: BLOCKED },
  },
  {
    agent_id: 'triage-bot',
    name: 'Ticket triage bot',
    owner: 'alice@demo.test',
    cluster: 'customer-support',
    policy: { per_transaction_limit: '300.00', daily_limit: '800.00', monthly_limit: '8000.00', approval_threshold: '150.00', blocked_categories: BLOCKED },
  },
  {
    agent_id: 'billing-bot',
    name: 'Billing operations bot',
    owner: 'carol@demo.test',
    cluster: 'customer-support',
    policy: { per_transaction_limit: '1000.00', daily_limit: '2500.00', monthly_limit: '25000.00', approval_threshold: '250.00', blocked_categories: BLOCKED },
  },
  {
    agent_id: 'research-bot',
    name: 'Research assistant',
    owner: 'bob@demo.test',
    cluster: 'research',
    policy: {
      per_transaction_limit: '250.00',
      daily_limit: '400.00',
      monthly_limit: '8000.00',
      approval_threshold: '200.00',
      blocked_categories: BLOCKED,
      allowed_rails: RESEARCH_RAILS,
    },
  },
  {
    agent_id: 'scraper-bot',
    name: 'Web data collector',
    owner: 'bob@demo.test',
    cluster: 'research',
    policy: {
      per_transaction_limit: '150.00',
      daily_limit: '300.00',
      monthly_limit: '5000.00',
      approval_threshold: '100.00',
      blocked_categories: BLOCKED,
      allowed_rails: RESEARCH_RAILS,
    },
  },
];

const ACCOUNTS: readonly { code: string; name: string }[] = [
  { code: '6400', name: 'Cloud infrastructure' },
  { code: '6410', name: 'Data and storage' },
  { code: '6420', name: 'API services' },
  { code: '6430', name: 'Software subscriptions' },
  { code: '6440', name: 'Data purchases' },
  { code: '6999', name: 'Uncategorised agent spend' },
];

/** No default rule on purpose: spend that matches nothing shows up as `uncoded`. */
const RULES: readonly { kind: 'mcc' | 'merchant' | 'agent'; match: string; account_code: string }[] = [
  { kind: 'mcc', match: '4816', account_code: '6400' },
  { kind: 'mcc', match: '7372', account_code: '6430' },
  { kind: 'mcc', match: '5734', account_code: '6430' },
  { kind: 'merchant', match: 'OpenAI', account_code: '6420' },
  { kind: 'merchant', match: 'Anthropic', account_code: '6420' },
  { kind: 'merchant', match: 'Snowflake', account_code: '6410' },
  { kind: 'agent', match: 'scraper-bot', account_code: '6440' },
];

// ---------------------------------------------------------------------------------------------
// Deterministic randomness. Floats only pick; money is integer minor units formatted exactly.

/** mulberry32: a tiny, well-distributed 32-bit PRNG. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a, to turn the month into a seed. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    const x = xs[this.int(0, xs.length - 1)];
    if (x === undefined) throw new Error('pick from an empty list');
    return x;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)] ?? '0';
    return s;
  }
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const HEX = '0123456789abcdef';

// ---------------------------------------------------------------------------------------------
// The month's spend.

type Currency = 'USD' | 'USDC' | 'SAT';

interface SpendKind {
  readonly merchant: string;
  readonly mcc: string | null;
  readonly rail: Rail;
  /** Inclusive range in minor units of the currency as generated (cents; whole sats for SAT). */
  readonly min: number;
  readonly max: number;
  readonly currency: Currency;
  /** Relative frequency within the agent's mix. */
  readonly weight: number;
  readonly purposes: readonly string[];
}

interface Profile {
  readonly agent_id: string;
  /** Payments per weekday drawn from [lo, hi]; weekends get about half. */
  readonly perDay: readonly [number, number];
  readonly mix: readonly SpendKind[];
}

const usd = (merchant: string, mcc: string | null, rail: Rail, min: number, max: number, weight: number, purposes: readonly string[]): SpendKind => ({
  merchant, mcc, rail, min, max, currency: 'USD', weight, purposes,
});
const x402 = (merchant: string, weight: number, purposes: readonly string[]): SpendKind => ({
  merchant, mcc: '7372', rail: 'x402', min: 1, max: 50, currency: 'USDC', weight, purposes,
});
const l402 = (merchant: string, weight: number, purposes: readonly string[]): SpendKind => ({
  merchant, mcc: '7372', rail: 'l402', min: 20, max: 1500, currency: 'SAT', weight, purposes,
});

const PROFILES: readonly Profile[] = [
  {
    agent_id: 'support-bot',
    perDay: [6, 10],
    mix: [
      usd('OpenAI', '5734', 'stripe', 200, 4500, 5, ['LLM inference for customer replies', 'Embedding refresh for the help-centre index']),
      usd('Anthropic', '5734', 'stripe', 200, 4500, 4, ['LLM inference for ticket summaries', 'Escalation drafting with long context']),
      x402('Exa Search', 3, ['Knowledge-base lookup for a customer question', 'Web search for a product compatibility answer']),
      usd('AWS', '4816', 'card', 2000, 18000, 1, ['Chat widget hosting', 'Voice transcription compute']),
    ],
  },
  {
    agent_id: 'triage-bot',
    perDay: [4, 6],
    mix: [
      usd('Anthropic', '5734', 'stripe', 100, 2500, 4, ['Ticket classification', 'Priority scoring of inbound tickets']),
      usd('OpenAI', '5734', 'stripe', 100, 2500, 3, ['Language detection and routing', 'Sentiment scoring']),
      x402('Tavily', 2, ['Account lookup enrichment', 'Status-page check for an incident ticket']),
      usd('Datadog', '7372', 'card', 2000, 18000, 1, ['Log search for an incident ticket', 'Synthetic check credits']),
    ],
  },
  {
    agent_id: 'billing-bot',
    perDay: [1, 3],
    mix: [
      usd('GitHub', '5734', 'card', 4000, 20000, 2, ['Actions minutes top-up', 'Copilot seat for a new hire']),
      usd('Datadog', '7372', 'card', 5000, 24000, 2, ['Infrastructure monitoring usage', 'Log retention overage']),
      usd('Google Cloud', '4816', 'card', 3000, 22000, 2, ['Invoice PDF rendering service', 'Cloud Run usage for billing jobs']),
      usd('Snowflake', '7372', 'stripe', 6000, 24000, 1, ['Revenue reporting warehouse credits']),
    ],
  },
  {
    agent_id: 'research-bot',
    perDay: [4, 8],
    mix: [
      x402('Exa Search', 4, ['Literature search', 'Competitor pricing research']),
      x402('Perplexity API', 2, ['Source discovery for a market brief']),
      l402('LN Data Market', 2, ['Paid dataset sample over Lightning', 'Market data snapshot']),
      usd('Snowflake', '7372', 'stripe', 500, 6000, 2, ['Ad-hoc analysis queries', 'Research warehouse credits']),
      usd('OpenAI', '5734', 'stripe', 200, 4000, 2, ['Long-form summarisation of sources', 'Report drafting']),
      usd('Google Cloud', '4816', 'stripe', 1000, 8000, 1, ['BigQuery public-dataset scans']),
    ],
  },
  {
    agent_id: 'scraper-bot',
    perDay: [4, 8],
    mix: [
      usd('Bright Data', '7372', 'stripe', 500, 6000, 3, ['Residential proxy bandwidth', 'SERP API requests']),
      x402('Firecrawl', 4, ['Page crawl for the pricing tracker', 'Site map extraction']),
      l402('LN Data Market', 2, ['Paid page snapshot over Lightning']),
      usd('Apify', '7372', 'stripe', 300, 3000, 1, ['Actor run for product listings']),
    ],
  },
];

/** Fixed demo BTC price: USD per satoshi. */
const SAT_USD = '0.00085';

interface Draft {
  external_id: string;
  agent_id: string;
  timestamp: string;
  amount: string;
  currency: Currency;
  payment_rail: Rail;
  merchant: string;
  merchant_category: string | null;
  business_purpose: string | null;
  approver?: string;
  approval_ref?: string;
  accounting_code?: string;
  type?: 'refund';
  refund_of?: string;
  fx_rate?: string;
  fx_rate_source?: string;
  fx_rate_time?: string;
}

/** USD cents of a generated amount, for keeping background spend inside the budgets. */
function usdCents(currency: Currency, minor: number): bigint {
  if (currency === 'SAT') return (BigInt(minor) * 85n + 99_999n) / 100_000n; // sats × 0.00085 USD, rounded up
  return BigInt(minor);
}

function externalId(rng: Rng, rail: Rail): string {
  switch (rail) {
    case 'stripe':
      return `ch_${rng.chars(BASE62, 24)}`;
    case 'x402':
      return `0x${rng.chars(HEX, 64)}`;
    case 'l402':
      return `lnpay_${rng.chars(HEX, 64)}`;
    case 'card':
      return `auth_${rng.chars('0123456789', 12)}`;
    default:
      return `pay_${rng.chars(BASE62, 20)}`;
  }
}

function amountText(currency: Currency, minor: number): string {
  return currency === 'SAT' ? String(minor) : formatMinor(BigInt(minor), 2);
}

function withFx(d: Draft): Draft {
  if (d.currency === 'USDC') return { ...d, fx_rate: '1', fx_rate_source: 'usdc-par', fx_rate_time: d.timestamp };
  if (d.currency === 'SAT') return { ...d, fx_rate: SAT_USD, fx_rate_source: 'demo-btc-usd-fixing', fx_rate_time: d.timestamp };
  return d;
}

const pad = (n: number): string => String(n).padStart(2, '0');

function parseMonth(month: string): { year: number; month: number; days: number } {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  const year = Number(m?.[1]);
  const mo = Number(m?.[2]);
  if (m === null || mo < 1 || mo > 12 || year < 1971) {
    throw new SpendtrailError('VALIDATION_FAILED', `month "${month}" is not YYYY-MM`, { field: 'month' });
  }
  return { year, month: mo, days: new Date(Date.UTC(year, mo, 0)).getUTCDate() };
}

export function previousMonth(now: Date): string {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1));
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/**
 * The month's transactions as input lines, in chronological order. Pure and deterministic: the
 * same month gives the same lines.
 */
export function buildDemoTransactions(month: string): TransactionInput[] {
  const { year, month: mo, days } = parseMonth(month);
  const rng = new Rng(fnv1a(`spendtrail-demo:${month}`));
  const at = (day: number, h: number, mi: number, s: number): string => `${year}-${pad(mo)}-${pad(day)}T${pad(h)}:${pad(mi)}:${pad(s)}Z`;
  const randomTime = (day: number): string => at(day, rng.int(0, 23), rng.int(0, 59), rng.int(0, 59));
  let approvalNo = 1000;
  const approval = (): { approver: string; approval_ref: string } => ({ approver: APPROVER, approval_ref: `FIN-${(approvalNo += rng.int(1, 9))}` });

  const drafts: Draft[] = [];
  const minor = (s: string | null | undefined): bigint => BigInt((s ?? '0').replace('.', ''));

  // Background spend: kept within 40% of each daily and 50% of each monthly budget, so the
  // only violations are the deliberate ones below (which need the head-room).
  for (const profile of PROFILES) {
    const agent = DEMO_AGENTS.find((a) => a.agent_id === profile.agent_id);
    if (agent === undefined) continue;
    const dailyCap = (minor(agent.policy.daily_limit) * 40n) / 100n;
    const monthlyCap = (minor(agent.policy.monthly_limit) * 50n) / 100n;
    const threshold = minor(agent.policy.approval_threshold);
    const totalWeight = profile.mix.reduce((s, k) => s + k.weight, 0);
    let monthly = 0n;
    for (let day = 1; day <= days; day++) {
      const weekday = new Date(Date.UTC(year, mo - 1, day)).getUTCDay();
      const weekend = weekday === 0 || weekday === 6;
      let n = rng.int(profile.perDay[0], profile.perDay[1]);
      if (weekend) n = Math.ceil(n / 2);
      let daily = 0n;
      for (let i = 0; i < n; i++) {
        let w = rng.int(1, totalWeight);
        const kind = profile.mix.find((k) => (w -= k.weight) <= 0) ?? profile.mix[0];
        if (kind === undefined) continue;
        const amount = rng.int(kind.min, kind.max);
        const cents = usdCents(kind.currency, amount);
        const d: Draft = withFx({
          external_id: externalId(rng, kind.rail),
          agent_id: profile.agent_id,
          timestamp: randomTime(day),
          amount: amountText(kind.currency, amount),
          currency: kind.currency,
          payment_rail: kind.rail,
          merchant: kind.merchant,
          merchant_category: kind.mcc,
          business_purpose: rng.pick(kind.purposes),
          ...(cents > threshold ? approval() : {}),
        });
        if (daily + cents > dailyCap || monthly + cents > monthlyCap) continue;
        daily += cents;
        monthly += cents;
        drafts.push(d);
      }
    }
  }

  // Monthly bills: large, approved, on the first working days.
  drafts.push(
    { external_id: externalId(rng, 'card'), agent_id: 'billing-bot', timestamp: at(2, 9, 5, 12), amount: formatMinor(BigInt(rng.int(60000, 90000)), 2), currency: 'USD', payment_rail: 'card', merchant: 'AWS', merchant_category: '4816', business_purpose: 'Monthly AWS invoice for the production account', ...approval() },
    { external_id: externalId(rng, 'card'), agent_id: 'support-bot', timestamp: at(1, 8, 30, 0), amount: '310.00', currency: 'USD', payment_rail: 'card', merchant: 'Zendesk', merchant_category: '7372', business_purpose: 'Zendesk Suite seats for the month', ...approval() },
  );

  // Deliberate findings.
  const refundable = [
    { external_id: externalId(rng, 'stripe'), agent_id: 'support-bot', timestamp: at(4, 11, 20, 5), amount: '64.00', currency: 'USD', payment_rail: 'stripe', merchant: 'OpenAI', merchant_category: '5734', business_purpose: 'Batch inference job for the FAQ rewrite' },
    { external_id: externalId(rng, 'card'), agent_id: 'billing-bot', timestamp: at(3, 15, 2, 44), amount: '190.00', currency: 'USD', payment_rail: 'card', merchant: 'GitHub', merchant_category: '5734', business_purpose: 'GitHub Copilot seats for the support team' },
  ] as const satisfies readonly Draft[];
  drafts.push(
    ...refundable,
    // refund: the batch job failed, fully refunded
    { ...refundable[0], external_id: externalId(rng, 'stripe'), timestamp: at(7, 9, 41, 10), amount: '-64.00', type: 'refund', refund_of: refundable[0].external_id, business_purpose: 'Refund of a failed batch inference job' },
    // refund: partial, seats downgraded
    { ...refundable[1], external_id: externalId(rng, 'card'), timestamp: at(10, 16, 0, 3), amount: '-38.00', type: 'refund', refund_of: refundable[1].external_id, business_purpose: 'Proration credit for a removed Copilot seat' },
    // over_limit: above support-bot's 500.00 per-transaction limit (approved, so only over_limit)
    { external_id: externalId(rng, 'card'), agent_id: 'support-bot', timestamp: at(9, 14, 12, 33), amount: '742.18', currency: 'USD', payment_rail: 'card', merchant: 'AWS', merchant_category: '4816', business_purpose: 'Reserved GPU capacity for a ticket surge', ...approval() },
    // blocked_category: MCC 7995 (gambling), after a prompt injection in a ticket
    { external_id: externalId(rng, 'stripe'), agent_id: 'triage-bot', timestamp: at(12, 2, 17, 48), amount: '25.00', currency: 'USD', payment_rail: 'stripe', merchant: 'Lucky Spin Casino', merchant_category: '7995', business_purpose: 'Promotional credit requested in ticket #48213', accounting_code: '6999' },
    // disallowed_rail: research agents may not pay by card
    { external_id: externalId(rng, 'card'), agent_id: 'research-bot', timestamp: at(14, 10, 3, 9), amount: '38.40', currency: 'USD', payment_rail: 'card', merchant: 'OpenAI', merchant_category: '5734', business_purpose: 'Report drafting' },
    // missing_purpose (×2)
    { external_id: externalId(rng, 'stripe'), agent_id: 'support-bot', timestamp: at(6, 13, 45, 0), amount: '12.34', currency: 'USD', payment_rail: 'stripe', merchant: 'OpenAI', merchant_category: '5734', business_purpose: null },
    { external_id: externalId(rng, 'stripe'), agent_id: 'scraper-bot', timestamp: at(20, 4, 11, 27), amount: '17.90', currency: 'USD', payment_rail: 'stripe', merchant: 'Bright Data', merchant_category: '7372', business_purpose: null },
    // missing_approval: above billing-bot's 250.00 threshold with no approver
    { external_id: externalId(rng, 'card'), agent_id: 'billing-bot', timestamp: at(16, 17, 30, 0), amount: '412.50', currency: 'USD', payment_rail: 'card', merchant: 'Datadog', merchant_category: '7372', business_purpose: 'Annual APM add-on' },
    // uncoded (×2): no rule matches the merchant or its category
    { external_id: externalId(rng, 'card'), agent_id: 'billing-bot', timestamp: at(8, 12, 5, 51), amount: '48.20', currency: 'USD', payment_rail: 'card', merchant: 'FedEx', merchant_category: '4215', business_purpose: 'Courier for a signed vendor contract' },
    { external_id: externalId(rng, 'stripe'), agent_id: 'support-bot', timestamp: at(22, 15, 19, 2), amount: '29.99', currency: 'USD', payment_rail: 'stripe', merchant: 'Zapier', merchant_category: null, business_purpose: 'Workflow automation task top-up' },
  );
  // daily_budget_exceeded: a burst of warehouse queries breaks research-bot's 400.00 daily budget
  for (const [i, cents] of [9420, 9785, 9110, 9640, 9375].entries()) {
    drafts.push({
      external_id: externalId(rng, 'stripe'), agent_id: 'research-bot', timestamp: at(18, 13 + Math.floor(i / 2), (i * 23) % 60, 7),
      amount: formatMinor(BigInt(cents), 2), currency: 'USD', payment_rail: 'stripe', merchant: 'Snowflake', merchant_category: '7372',
      business_purpose: 'Full-history backfill for the churn study',
    });
  }

  const inputs = drafts.map((d, i) => parseTransactionInput(d, `demo[${i}]`));
  return inputs.sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : a.external_id < b.external_id ? -1 : 1));
}

// ---------------------------------------------------------------------------------------------

/**
 * Creates the demo organisation (default id "demo") and records a month of its spend. Fails
 * with ORG_EXISTS if the organisation is already there; a batch that fails leaves the batches
 * before it recorded.
 */
export async function seedDemo(deps: AppDeps, options: SeedDemoOptions = {}): Promise<SeedDemoResult> {
  const orgId = options.orgId ?? 'demo';
  const month = options.month ?? previousMonth(deps.clock.now());
  const { year } = parseMonth(month);
  const inputs = buildDemoTransactions(month);

  const { admin } = await createOrg(deps, { org_id: orgId, name: 'Demo Robotics Inc.', reporting_currency: 'USD', timezone: 'UTC' });
  const by: Principal = { org_id: orgId, principal: admin.principal, roles: admin.roles, agent_id: null, key_id: admin.key_id };

  for (const a of DEMO_AGENTS) await upsertAgent(deps, by, { agent_id: a.agent_id, name: a.name, owner: a.owner, cluster: a.cluster });
  for (const a of ACCOUNTS) await upsertAccount(deps, by, a);
  for (const r of RULES) await upsertRule(deps, by, r);
  const validFrom = `${year}-01-01T00:00:00Z`;
  // Budgets widen spending, so each waits for a second person: the controller approves them.
  const controllerKey = await issueApiKey(deps, by, { principal: 'controller@demo.example', roles: ['approver'] });
  const controller: Principal = { org_id: orgId, principal: controllerKey.principal, roles: controllerKey.roles, agent_id: null, key_id: controllerKey.key_id };
  for (const a of DEMO_AGENTS) {
    const proposed = await setPolicy(deps, by, a.agent_id, { ...a.policy, valid_from: validFrom }, {
      justification: `${year} budget for ${a.name} as agreed in the annual plan`,
      approval_ticket: 'FIN-101',
    });
    if (proposed.version === null) await approveChange(deps, controller, proposed.change.change_id, 'Matches the approved annual plan');
  }

  let done = 0;
  for (let i = 0; i < inputs.length; i += DEMO_BATCH_SIZE) {
    const batch = inputs.slice(i, i + DEMO_BATCH_SIZE);
    await recordTransactions(deps, by, batch, 'atomic', (j) => `demo[${i + j}]`);
    done += batch.length;
    options.onProgress?.(done, inputs.length);
  }
  const users: { email: string; roles: readonly string[]; password: string }[] = [];
  if (options.users !== false) {
    for (const u of DEMO_USERS) {
      const made = await createUser(deps, by, { email: u.email, roles: [...u.roles] });
      users.push({ email: made.user.email, roles: made.user.roles, password: made.password ?? '' });
    }
  }
  return { org_id: orgId, admin_api_key: admin.api_key, agents: DEMO_AGENTS.length, transactions: done, users };
}
