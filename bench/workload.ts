import { createHash, randomBytes } from 'node:crypto';
import type { AppDeps } from '../src/app/deps.ts';
import type { IssuedKey } from '../src/app/setup.ts';
import { createOrg, issueApiKey, upsertAccount, upsertAgent, upsertRule } from '../src/app/setup.ts';
import { approveChange, setPolicy } from '../src/app/policy-changes.ts';
import type { Principal } from '../src/app/principal.ts';
import { operator } from '../src/app/principal.ts';
import { mulberry32 } from '../src/app/demo.ts';
import type { PolicyTerms } from '../src/domain/policy/policy.ts';

/**
 * A deterministic, random-access workload: transaction i is a pure function of (seed, i), so
 * the baseline COPY rows, the batch ingest and the HTTP bodies all draw from the same mix
 * without holding it in memory twice.
 */

export const ORG_ID = 'acme';

interface AgentSpec {
  readonly id: string;
  readonly cluster: string;
  readonly weight: number;
  readonly merchants: readonly number[];
  readonly terms: PolicyTerms;
}

/** [name, MCC or null, typical amount in USD, rail mix key] */
const MERCHANTS: readonly (readonly [string, string | null, number])[] = [
  ['AWS', '4816', 60], // 0
  ['Google Cloud', '4816', 45],
  ['Cloudflare', '4816', 20],
  ['Vercel', '4816', 25],
  ['OpenAI', '5734', 2], // 4
  ['Anthropic', '5734', 2],
  ['Replicate', '7372', 1],
  ['GitHub', '7372', 21],
  ['Datadog', '7372', 90],
  ['Notion', '7372', 10], // 9
  ['Twilio', '4814', 5],
  ['Expedia', '4722', 420],
  ['Delta Air Lines', '3058', 380],
  ['Marriott', '3509', 240],
  ['Uber', '4121', 28], // 14
  ['Google Ads', '7311', 150],
  ['Meta Ads', '7311', 120],
  ['Upwork', '7392', 300],
  ['Staples', '5943', 40],
  ['Lucky Spin Casino', '7995', 50], // 19: blocked everywhere
  ['Bright Data', '7379', 15],
  ['arxiv-mirror.example', null, 0.05], // 21: x402 micro-payments, no MCC
  ['weather-api.example', null, 0.01],
  ['Stripe Atlas', '8931', 500],
];

const GENEROUS: PolicyTerms = {
  per_transaction_limit: '5000.00',
  daily_limit: '250000.00',
  monthly_limit: '5000000.00',
  approval_threshold: '2000.00',
  blocked_categories: ['7995'],
  valid_from: '2026-01-01T00:00:00Z',
};

export const AGENTS: readonly AgentSpec[] = [
  { id: 'support-bot', cluster: 'support', weight: 3, merchants: [4, 5, 10, 0, 9], terms: GENEROUS },
  {
    id: 'research-bot',
    cluster: 'research',
    weight: 3,
    merchants: [4, 5, 6, 21, 22, 20, 19],
    // Tight on purpose: a busy research agent runs over its daily budget later in the day.
    terms: { ...GENEROUS, per_transaction_limit: '500.00', daily_limit: '900.00', monthly_limit: '20000.00', allowed_rails: ['x402', 'stripe', 'l402'] },
  },
  { id: 'devops-bot', cluster: 'platform', weight: 2, merchants: [0, 1, 2, 3, 7, 8], terms: GENEROUS },
  { id: 'travel-bot', cluster: 'ops', weight: 1, merchants: [11, 12, 13, 14], terms: { ...GENEROUS, per_transaction_limit: '1500.00', approval_threshold: '800.00' } },
  { id: 'marketing-bot', cluster: 'growth', weight: 1, merchants: [15, 16, 17, 9], terms: GENEROUS },
  { id: 'procurement-bot', cluster: 'ops', weight: 1, merchants: [18, 23, 7, 17, 13], terms: { ...GENEROUS, blocked_merchants: ['Upwork'] } },
  { id: 'data-bot', cluster: 'research', weight: 2, merchants: [20, 0, 6, 1, 22], terms: { ...GENEROUS, allowed_categories: ['4816', '7372', '7379'] } },
  { id: 'sales-bot', cluster: 'growth', weight: 1, merchants: [10, 14, 15, 13], terms: GENEROUS },
];

const PURPOSES = [
  'Model inference for customer support replies',
  'Literature search for the Q2 market study',
  'Staging cluster compute',
  'Flights for the customer summit',
  'Ad campaign: spring launch',
  'Office supplies for the Berlin team',
  'Weather data for route planning',
  'Paid dataset access for churn model',
  'Contractor for landing page copy',
  'SMS notifications to customers',
];

const RAILS_BY_MERCHANT = (mcc: string | null): readonly string[] =>
  mcc === null ? ['x402', 'x402', 'x402', 'l402'] : ['stripe', 'stripe', 'stripe', 'card', 'card', 'x402', 'ap2', 'other'];

const AGENT_PICK: readonly number[] = AGENTS.flatMap((a, i) => Array.from({ length: a.weight }, () => i));


const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const b62 = (r: () => number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += B62[Math.floor(r() * 62)];
  return s;
};

export interface RawTransaction {
  external_id: string;
  agent_id: string;
  timestamp: string;
  amount: string;
  currency: string;
  payment_rail: string;
  merchant: string;
  merchant_category: string | null;
  business_purpose: string | null;
  approver?: string;
  approval_ref?: string;
  fx_rate?: string;
  fx_rate_source?: string;
  fx_rate_time?: string;
  type?: 'refund';
  refund_of?: string;
}

const MONTH_START = Date.parse('2026-03-01T00:00:00Z');
const MONTH_MS = 31 * 24 * 3600 * 1000;
const REFUND_LAG = 5003;

export class Workload {
  private readonly seed: number;
  readonly tag: string;

  constructor(
    readonly total: number,
    seed = 20260301,
    tag = randomBytes(4).toString('hex'),
  ) {
    this.seed = seed;
    this.tag = tag;
  }

  private stream(i: number): () => number {
    return mulberry32(this.seed ^ Math.imul(i + 1, 0x9e3779b1));
  }

  /** About 0.4% of items (after the first chunk) refund a payment recorded one chunk earlier. */
  private isRefund(i: number): boolean {
    if (i < REFUND_LAG) return false;
    const r = this.stream(i);
    if (r() >= 0.004) return false;
    const target = this.payment(i - REFUND_LAG);
    return target.currency === 'USD' && !this.isRefund(i - REFUND_LAG);
  }

  /** Transaction i, as a client would submit it (an NDJSON line or a POST body). */
  get(i: number, agentOverride?: string): RawTransaction {
    if (agentOverride === undefined && this.isRefund(i)) {
      const t = this.payment(i - REFUND_LAG);
      const cents = Math.max(1, Math.round(Number(t.amount) * 50));
      return {
        ...t,
        external_id: `re_${this.tag}${i.toString(36)}`,
        timestamp: this.timestamp(i),
        amount: `-${(cents / 100).toFixed(2)}`,
        type: 'refund',
        refund_of: t.external_id,
      };
    }
    return this.payment(i, agentOverride);
  }

  private timestamp(i: number): string {
    const r = this.stream(i + 7_777_777);
    return new Date(MONTH_START + Math.floor((i / this.total) * MONTH_MS) + Math.floor(r() * 600_000)).toISOString();
  }

  private payment(i: number, agentOverride?: string): RawTransaction {
    const r = this.stream(i);
    r(); // the refund draw
    const found = agentOverride === undefined ? AGENTS[pick(r, AGENT_PICK)] : AGENTS.find((a) => a.id === agentOverride);
    if (found === undefined) throw new Error(`no agent ${agentOverride ?? '?'} in the workload`);
    const agent: AgentSpec = found;
    // 90% from the agent's usual merchants, the rest from anywhere (some of which a policy refuses).
    const m = MERCHANTS[r() < 0.9 ? pick(r, agent.merchants) : Math.floor(r() * MERCHANTS.length)] as (typeof MERCHANTS)[number];
    const [merchant, mcc, typical] = m;
    const rail = pick(r, RAILS_BY_MERCHANT(mcc));
    // Log-normal-ish around the merchant's typical amount; a long tail of large ones.
    const usd = Math.max(0.01, typical * Math.exp((r() - 0.5) * 2.4) * (r() < 0.01 ? 12 : 1));
    const cur = rail === 'x402' && r() < 0.3 ? 'USDC' : r() < 0.04 ? 'EUR' : 'USD';
    const day = this.timestamp(i).slice(0, 10);
    const t: RawTransaction = {
      external_id: this.externalId(rail, i, r),
      agent_id: agent.id,
      timestamp: this.timestamp(i),
      amount: cur === 'USDC' ? usd.toFixed(6) : cur === 'EUR' ? (usd / 1.0842).toFixed(2) : usd.toFixed(2),
      currency: cur,
      payment_rail: rail,
      merchant,
      merchant_category: mcc,
      business_purpose: r() < 0.03 ? null : pick(r, PURPOSES),
    };
    if (cur === 'USDC') Object.assign(t, { fx_rate: '1.0000', fx_rate_source: 'coinbase', fx_rate_time: `${day}T00:00:00Z` });
    if (cur === 'EUR') Object.assign(t, { fx_rate: '1.0842', fx_rate_source: 'ECB', fx_rate_time: `${day}T00:00:00Z` });
    if (usd > 700 && r() < 0.7) Object.assign(t, { approver: 'cfo@acme.test', approval_ref: `APR-${1000 + (i % 9000)}` });
    return t;
  }

  private externalId(rail: string, i: number, r: () => number): string {
    const n = `${this.tag}${i.toString(36).padStart(5, '0')}`;
    switch (rail) {
      case 'stripe':
        return `ch_3P${n}${b62(r, 12)}`;
      case 'x402':
        return `0x${createHash('sha256').update(`${n}`).digest('hex')}`;
      case 'l402':
        return createHash('sha256').update(`l${n}`).digest('hex');
      case 'card':
        return `auth_${n}_${Math.floor(r() * 1e9)}`;
      case 'ap2':
        return `ap2-mandate-${n}`;
      default:
        return `inv-${n}`;
    }
  }
}

export interface SeededOrg {
  readonly admin: Principal;
  readonly operator: Principal;
}

/** An organisation shaped like a real one: accounts, GL rules, eight agents with policies. */
export async function seedBenchOrg(deps: AppDeps, agents: readonly AgentSpec[] = AGENTS): Promise<SeededOrg> {
  const { admin } = await createOrg(deps, { org_id: ORG_ID, name: 'Acme Corp' });
  const p: Principal = { org_id: ORG_ID, principal: 'admin', roles: ['admin'], agent_id: null, key_id: admin.key_id };
  for (const a of agents) {
    await upsertAgent(deps, p, { agent_id: a.id, name: a.id.replace('-', ' '), owner: `${a.cluster}-lead@acme.test`, cluster: a.cluster });
  }
  for (const [code, name] of [
    ['6400', 'Cloud infrastructure'],
    ['6420', 'API services'],
    ['6500', 'Software subscriptions'],
    ['6600', 'Travel'],
    ['6700', 'Advertising'],
    ['6800', 'Contractors'],
    ['6999', 'Uncategorised agent spend'],
  ] as const) {
    await upsertAccount(deps, p, { code, name });
  }
  await upsertRule(deps, p, { kind: 'mcc', match: '4816', account_code: '6400' });
  await upsertRule(deps, p, { kind: 'mcc', match: '7372', account_code: '6500' });
  await upsertRule(deps, p, { kind: 'mcc', match: '4722', account_code: '6600' });
  await upsertRule(deps, p, { kind: 'mcc', match: '3058', account_code: '6600' });
  await upsertRule(deps, p, { kind: 'mcc', match: '7311', account_code: '6700' });
  await upsertRule(deps, p, { kind: 'merchant', match: 'OpenAI', account_code: '6420' });
  await upsertRule(deps, p, { kind: 'merchant', match: 'Anthropic', account_code: '6420' });
  await upsertRule(deps, p, { kind: 'merchant', match: 'Upwork', account_code: '6800' });
  if (agents.some((a) => a.id === 'marketing-bot')) await upsertRule(deps, p, { kind: 'agent', match: 'marketing-bot', account_code: '6700' });
  const approver: Principal = { org_id: ORG_ID, principal: 'controller@bench.test', roles: ['approver'], agent_id: null, key_id: null };
  for (const a of agents) {
    const r = await setPolicy(deps, p, a.id, a.terms, { justification: 'Benchmark budget', approval_ticket: 'BENCH-1' });
    if (r.version === null) await approveChange(deps, approver, r.change.change_id);
  }
  return { admin: p, operator: operator(ORG_ID) };
}

/** Agents for the authorize run: generous limits so a short hold never denies. */
export const AUTH_AGENTS: readonly AgentSpec[] = Array.from({ length: 8 }, (_, i) => ({
  id: `auth-bot-${i + 1}`,
  cluster: 'authz',
  weight: 1,
  merchants: [4],
  terms: {
    per_transaction_limit: '5000.00',
    daily_limit: '10000000.00',
    monthly_limit: '100000000.00',
    approval_threshold: '4000.00',
    blocked_categories: ['7995'],
    valid_from: '2026-01-01T00:00:00Z',
  },
}));

export async function agentKey(deps: AppDeps, admin: Principal, agentId: string): Promise<IssuedKey> {
  return issueApiKey(deps, admin, { principal: `${agentId}@bench`, roles: ['agent'], agent_id: agentId });
}

/** Plausible column values for a stored row, for the raw COPY and INSERT baselines. */
export const TX_COPY_COLUMNS = [
  'org_id', 'seq', 'tx_id', 'recorded_at', 'recorded_by', 'external_id', 'agent_id', 'ts', 'type', 'refund_of', 'amount',
  'currency', 'reporting_amount', 'reporting_minor', 'reporting_currency', 'fx_rate', 'fx_rate_source', 'fx_rate_time',
  'payment_rail', 'merchant', 'merchant_category', 'business_purpose', 'accounting_code', 'accounting_code_source', 'approver',
  'approval_ref', 'authorization_id', 'policy_snapshot_id', 'violations', 'spend_before_daily', 'spend_before_monthly',
  'input_hash', 'leaf_hash',
] as const;

function uuidv7(ms: number): string {
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const SNAPSHOT = createHash('sha256').update('policy').digest('hex');

/** Row i as column values (null = SQL NULL), in TX_COPY_COLUMNS order. */
export function storedRowValues(w: Workload, i: number, recordedAt: string): (string | null)[] {
  const t = w.get(i);
  const usd = t.currency === 'USD' ? t.amount : (Number(t.amount) * (t.currency === 'EUR' ? 1.0842 : 1)).toFixed(2);
  const h = createHash('sha256').update(`${w.tag}:${i}`).digest('hex');
  return [
    ORG_ID, String(i + 20), uuidv7(Date.now()), recordedAt, 'operator@cli', t.external_id, t.agent_id, t.timestamp,
    t.type ?? 'payment', null, t.amount, t.currency, usd, String(Math.round(Number(usd) * 100)), 'USD',
    t.fx_rate ?? null, t.fx_rate_source ?? null, t.fx_rate_time ?? null, t.payment_rail, t.merchant, t.merchant_category,
    t.business_purpose, t.merchant_category === null ? null : '6400', t.merchant_category === null ? null : 'mcc_rule',
    t.approver ?? null, t.approval_ref ?? null, null, SNAPSHOT, i % 17 === 0 ? '{daily_budget_exceeded}' : '{}',
    '1234.56', '23456.78', h, `\\x${createHash('sha256').update(h).digest('hex')}`,
  ];
}

/** One line of COPY text format (tab-separated, \N for NULL); values carry no tabs or newlines. */
export const copyLine = (values: readonly (string | null)[]): string =>
  `${values.map((v) => (v === null ? '\\N' : v.replace(/\\/g, '\\\\'))).join('\t')}\n`;
