import type { Role } from '../../src/app/principal.ts';

/**
 * Who may call what: the expected role × route matrix of the HTTP API under /v1, from the roles
 * in ARCHITECTURE.md ("agent: record, authorize; policy_admin: propose changes; approver: approve
 * changes and over-threshold spend; finance: reports, sign-off; auditor: read everything, export";
 * admin holds every role). test/access-matrix.test.ts calls every route with a key of each role
 * and fails for a route that is missing here, so a new route cannot ship without a row.
 *
 * Stripe webhooks (`/v1/rails/stripe/:endpoint_id`) authenticate by the endpoint's signing secret,
 * not an API key: they are listed in WEBHOOK_ROUTES and tested for forged and missing signatures.
 */

/** What a matrix request needs from the organisation under test; each helper makes a fresh target. */
export interface MatrixFixture {
  /** A transaction of agent support-bot. */
  readonly txId: string;
  /** A summary id of the organisation. */
  readonly summaryId: string;
  /** A policy change (decided) of the organisation. */
  readonly changeId: string;
  /** A fresh number, for values that must differ call to call. */
  next(): number;
  /** A change to research-bot's policy that widens it and waits for an approver. */
  pendingChange(): Promise<string>;
  /** An open hold of support-bot. */
  heldAuthorization(): Promise<string>;
  /** An authorization of support-bot waiting for an approver (over its threshold). */
  pendingSpend(): Promise<string>;
  /** A key id nobody uses. */
  throwawayKey(): Promise<string>;
  /** A rail endpoint id nobody uses. */
  throwawayEndpoint(): Promise<string>;
}

export interface MatrixRequest {
  readonly url: string;
  readonly payload?: unknown;
}

export interface MatrixRow {
  /** Roles whose key may call the route (admin is listed explicitly). */
  readonly allowed: readonly Role[];
  /** A minimal valid request: allowed roles get past the role check with it. */
  readonly request: (f: MatrixFixture) => MatrixRequest | Promise<MatrixRequest>;
  /** Every allowed call must answer 2xx (the representative subset); otherwise only "not 401/403". */
  readonly succeeds?: boolean;
}

export const ALL_ROLES: readonly Role[] = ['admin', 'agent', 'policy_admin', 'approver', 'finance', 'auditor'];
const ALL = ALL_ROLES;
const LEDGER_READERS: readonly Role[] = ['admin', 'agent', 'policy_admin', 'approver', 'finance', 'auditor'];
const STAFF_READERS: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];
const CHANGE_READERS: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];
const SUMMARY_READERS: readonly Role[] = ['admin', 'policy_admin', 'approver', 'finance', 'auditor'];
const RECORDERS: readonly Role[] = ['admin', 'agent'];
const GL_EDITORS: readonly Role[] = ['admin', 'policy_admin', 'finance'];
const INTEGRITY: readonly Role[] = ['admin', 'finance', 'auditor'];

let external = 0;
/** One transaction line of support-bot as an agent sends it. */
export const matrixTx = (): Record<string, unknown> => {
  external += 1;
  return {
    external_id: `mx_${external}_${Math.random().toString(36).slice(2, 8)}`,
    agent_id: 'support-bot',
    timestamp: '2026-03-12T10:00:00Z',
    amount: '3.00',
    currency: 'USD',
    payment_rail: 'stripe',
    merchant: 'AWS',
    merchant_category: '4816',
    business_purpose: 'Access matrix',
  };
};

export const authorizeBody = (amount = '5.00'): Record<string, unknown> => ({
  agent_id: 'support-bot',
  amount,
  currency: 'USD',
  merchant: 'AWS',
  merchant_category: '4816',
  payment_rail: 'stripe',
  business_purpose: 'Access matrix',
  hold_seconds: 60,
});

/** Keyed by `METHOD /url` exactly as Fastify registered the route. */
export const ACCESS_MATRIX: Readonly<Record<string, MatrixRow>> = {
  'GET /v1/org': { allowed: ALL, request: () => ({ url: '/v1/org' }), succeeds: true },

  // --- ledger
  'POST /v1/transactions': { allowed: RECORDERS, request: () => ({ url: '/v1/transactions', payload: matrixTx() }), succeeds: true },
  'POST /v1/transactions/batch': { allowed: RECORDERS, request: () => ({ url: '/v1/transactions/batch', payload: { transactions: [matrixTx()] } }), succeeds: true },
  'GET /v1/transactions': { allowed: LEDGER_READERS, request: () => ({ url: '/v1/transactions?agent_id=support-bot&limit=5' }), succeeds: true },
  'GET /v1/transactions/:tx_id': { allowed: LEDGER_READERS, request: (f) => ({ url: `/v1/transactions/${f.txId}` }), succeeds: true },

  // --- authorization
  'POST /v1/authorize': { allowed: RECORDERS, request: () => ({ url: '/v1/authorize', payload: authorizeBody() }), succeeds: true },
  'POST /v1/authorizations/:id/release': { allowed: RECORDERS, request: async (f) => ({ url: `/v1/authorizations/${await f.heldAuthorization()}/release` }), succeeds: true },
  'POST /v1/spend-approvals': {
    allowed: ['admin', 'approver'],
    request: async (f) => ({ url: '/v1/spend-approvals', payload: { authorization_id: await f.pendingSpend(), decision: 'reject', comment: 'not this month' } }),
    succeeds: true,
  },

  // --- setup
  'GET /v1/agents': { allowed: STAFF_READERS, request: () => ({ url: '/v1/agents' }), succeeds: true },
  'PUT /v1/agents/:agent_id': {
    allowed: ['admin', 'policy_admin'],
    request: (f) => ({ url: `/v1/agents/matrix-${f.next()}`, payload: { name: 'Matrix bot', owner: 'owner@alpha.test', cluster: 'support' } }),
    succeeds: true,
  },
  'GET /v1/accounts': { allowed: STAFF_READERS, request: () => ({ url: '/v1/accounts' }), succeeds: true },
  'PUT /v1/accounts/:code': { allowed: GL_EDITORS, request: (f) => ({ url: `/v1/accounts/7${f.next()}`, payload: { name: 'Matrix account' } }), succeeds: true },
  'GET /v1/rules': { allowed: STAFF_READERS, request: () => ({ url: '/v1/rules' }), succeeds: true },
  'POST /v1/rules': {
    allowed: GL_EDITORS,
    request: (f) => ({ url: '/v1/rules', payload: { kind: 'merchant', match: `Vendor ${f.next()}`, account_code: '6400' } }),
    succeeds: true,
  },
  'POST /v1/api-keys': { allowed: ['admin'], request: (f) => ({ url: '/v1/api-keys', payload: { principal: `reader${f.next()}@alpha.test`, roles: ['auditor'] } }), succeeds: true },
  'DELETE /v1/api-keys/:key_id': { allowed: ['admin'], request: async (f) => ({ url: `/v1/api-keys/${await f.throwawayKey()}` }), succeeds: true },
  'GET /v1/settings/change-control': { allowed: STAFF_READERS, request: () => ({ url: '/v1/settings/change-control' }), succeeds: true },
  'PUT /v1/settings/change-control': {
    allowed: ['admin'],
    request: () => ({ url: '/v1/settings/change-control', payload: { approval: 'widening', ticket_required: true, notify: 'unticketed' } }),
    succeeds: true,
  },
  'GET /v1/valuation-rules': { allowed: ['admin', 'agent', 'finance', 'auditor'], request: () => ({ url: '/v1/valuation-rules' }), succeeds: true },
  'PUT /v1/valuation-rules': { allowed: ['admin', 'finance'], request: () => ({ url: '/v1/valuation-rules', payload: { rules: [] } }) },

  // --- policies and change control
  'GET /v1/agents/:agent_id/policy': { allowed: LEDGER_READERS, request: () => ({ url: '/v1/agents/support-bot/policy' }), succeeds: true },
  'GET /v1/agents/:agent_id/policy/versions': { allowed: LEDGER_READERS, request: () => ({ url: '/v1/agents/support-bot/policy/versions' }), succeeds: true },
  'PUT /v1/agents/:agent_id/policy': {
    allowed: ['admin', 'policy_admin'],
    request: (f) => ({
      url: '/v1/agents/research-bot/policy',
      // A narrowing (lower daily limit each time): applies at once, no approver needed.
      payload: { per_transaction_limit: '400.00', daily_limit: `${900 - f.next()}.00`, monthly_limit: '5000.00', allowed_rails: ['x402', 'stripe'], justification: 'Tighter daily budget', approval_ticket: 'FIN-2' },
    }),
    succeeds: true,
  },
  'POST /v1/agents/:agent_id/policy/changes': {
    allowed: ['admin', 'policy_admin'],
    request: (f) => ({ url: '/v1/agents/research-bot/policy/changes', payload: { changes: { daily_limit: `${900 - f.next()}.00` }, justification: 'Tighter daily budget', approval_ticket: 'FIN-3' } }),
    succeeds: true,
  },
  'GET /v1/policy-changes': { allowed: CHANGE_READERS, request: () => ({ url: '/v1/policy-changes' }), succeeds: true },
  'GET /v1/policy-changes/export': { allowed: CHANGE_READERS, request: () => ({ url: '/v1/policy-changes/export?format=csv' }), succeeds: true },
  'GET /v1/policy-changes/:id': { allowed: CHANGE_READERS, request: (f) => ({ url: `/v1/policy-changes/${f.changeId}` }), succeeds: true },
  'POST /v1/policy-changes/:id/approve': { allowed: ['admin', 'approver'], request: async (f) => ({ url: `/v1/policy-changes/${await f.pendingChange()}/approve`, payload: { comment: 'ok' } }), succeeds: true },
  'POST /v1/policy-changes/:id/reject': { allowed: ['admin', 'approver'], request: async (f) => ({ url: `/v1/policy-changes/${await f.pendingChange()}/reject`, payload: { comment: 'not now' } }), succeeds: true },
  'GET /v1/policy-changes/:id/notifications': { allowed: ['admin', 'policy_admin', 'approver', 'auditor'], request: (f) => ({ url: `/v1/policy-changes/${f.changeId}/notifications` }), succeeds: true },
  'GET /v1/segregation-findings': { allowed: ['admin', 'policy_admin', 'approver', 'finance', 'auditor'], request: () => ({ url: '/v1/segregation-findings' }), succeeds: true },

  // --- reports
  'POST /v1/summaries': { allowed: ['admin', 'finance'], request: () => ({ url: '/v1/summaries', payload: { month: '2026-03' } }), succeeds: true },
  'GET /v1/summaries': { allowed: SUMMARY_READERS, request: () => ({ url: '/v1/summaries?month=2026-03' }), succeeds: true },
  'GET /v1/summaries/:id': { allowed: SUMMARY_READERS, request: (f) => ({ url: `/v1/summaries/${f.summaryId}` }), succeeds: true },
  // The first allowed call signs it off; later ones answer SUMMARY_ALREADY_SIGNED (still past the role check).
  'POST /v1/summaries/:id/sign-off': { allowed: ['admin', 'finance'], request: (f) => ({ url: `/v1/summaries/${f.summaryId}/sign-off` }) },
  'GET /v1/summaries/:id/deliveries': { allowed: ['admin', 'finance', 'auditor'], request: (f) => ({ url: `/v1/summaries/${f.summaryId}/deliveries` }), succeeds: true },
  'GET /v1/agents/:agent_id/statement': { allowed: ['admin', 'agent', 'finance', 'auditor'], request: () => ({ url: '/v1/agents/support-bot/statement?month=2026-03&format=csv' }), succeeds: true },
  'GET /v1/clusters/:cluster/statement': { allowed: ['admin', 'finance', 'auditor'], request: () => ({ url: '/v1/clusters/support/statement?month=2026-03&format=csv' }), succeeds: true },
  'POST /v1/accounting/exports': { allowed: ['admin', 'finance', 'auditor'], request: () => ({ url: '/v1/accounting/exports', payload: { format: 'hledger', month: '2026-03' } }) },

  // --- rails
  'POST /v1/rail-endpoints': {
    allowed: ['admin'],
    request: (f) => ({ url: '/v1/rail-endpoints', payload: { rail: 'stripe', secret: `whsec_matrix_${f.next()}_0123456789`, label: 'matrix' } }),
    succeeds: true,
  },
  'GET /v1/rail-endpoints': { allowed: ['admin', 'auditor'], request: () => ({ url: '/v1/rail-endpoints' }), succeeds: true },
  'DELETE /v1/rail-endpoints/:endpoint_id': { allowed: ['admin'], request: async (f) => ({ url: `/v1/rail-endpoints/${await f.throwawayEndpoint()}` }), succeeds: true },
  // Rail records: the bodies are minimal, so allowed roles get a 4xx about the body, never 401/403.
  'POST /v1/rails/x402/authorize': { allowed: RECORDERS, request: () => ({ url: '/v1/rails/x402/authorize', payload: { agent_id: 'support-bot' } }) },
  'POST /v1/rails/x402/payments': { allowed: RECORDERS, request: () => ({ url: '/v1/rails/x402/payments', payload: { agent_id: 'support-bot' } }) },
  'POST /v1/rails/l402/payments': { allowed: RECORDERS, request: () => ({ url: '/v1/rails/l402/payments', payload: { agent_id: 'support-bot' } }) },
  'POST /v1/rails/ap2/payments': { allowed: RECORDERS, request: () => ({ url: '/v1/rails/ap2/payments', payload: { agent_id: 'support-bot' } }) },
  'POST /v1/rails/ap4m/payments': { allowed: RECORDERS, request: () => ({ url: '/v1/rails/ap4m/payments', payload: { agent_id: 'support-bot' } }) },

  // --- integrity
  'POST /v1/checkpoints': { allowed: INTEGRITY, request: () => ({ url: '/v1/checkpoints' }), succeeds: true },
  'GET /v1/checkpoints/latest': { allowed: ALL, request: () => ({ url: '/v1/checkpoints/latest' }), succeeds: true },
  'POST /v1/verify': { allowed: INTEGRITY, request: () => ({ url: '/v1/verify' }), succeeds: true },
  'GET /v1/audit-export/status': { allowed: ['admin', 'finance', 'auditor'], request: () => ({ url: '/v1/audit-export/status' }), succeeds: true },
};

/** Routes under /v1 that take no API key (tested separately). */
export const WEBHOOK_ROUTES: readonly string[] = ['POST /v1/rails/stripe/:endpoint_id'];
/** Routes under /v1 open to anyone. */
export const PUBLIC_ROUTES: readonly string[] = ['GET /v1/health'];

/**
 * Every `METHOD /url` Fastify registered under /v1 (HEAD twins of GET excluded), read from
 * `printRoutes({ commonPrefix: false })`: a tree whose lines are `<indent><path piece> (METHODS)`.
 */
export function v1RoutesOf(printed: string): string[] {
  const out = new Set<string>();
  const stack: { depth: number; path: string }[] = [];
  for (const line of printed.split('\n')) {
    const m = /^((?:[│ ] {3})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (m === null) continue;
    const depth = (m[1] ?? '').length / 4;
    while (stack.length > 0 && (stack.at(-1)?.depth ?? -1) >= depth) stack.pop();
    const path = (stack.at(-1)?.path ?? '') + (m[2] ?? '');
    stack.push({ depth, path });
    if (m[3] === undefined || !path.startsWith('/v1/')) continue;
    for (const method of m[3].split(',').map((s) => s.trim())) {
      if (method !== 'HEAD') out.add(`${method} ${path}`);
    }
  }
  return [...out].sort();
}
