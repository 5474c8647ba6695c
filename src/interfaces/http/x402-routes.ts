import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { requireActsFor, requireRole } from '../../app/principal.ts';
import type { AuthorizeResult } from '../../app/authorize.ts';
import { authorize } from '../../app/authorize.ts';
import type { RailIngestResult } from '../../app/rail-ingest.ts';
import { ingestRailCapture } from '../../app/rail-ingest.ts';
import { identifier, mcc, parseInput, text } from '../../app/schemas.ts';
import { valuationRulesOf } from '../../app/valuation-rules.ts';
import type { TransactionInput, TransactionRecord } from '../../domain/ledger/transaction.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { instantFromDate } from '../../domain/time.ts';
import type { X402LedgerFields, X402Valuation } from '../../adapters/rails/x402/capture.ts';
import { merchantOf, x402Capture, x402ReportingCeiling } from '../../adapters/rails/x402/capture.ts';
import type { X402Payment } from '../../adapters/rails/x402/payment.ts';
import { readX402Payment, readX402Settled } from '../../adapters/rails/x402/payment.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

// A header value as the client saw it; x402 headers are a few kilobytes.
const header = z.string().min(1).max(64 * 1024);

const ledgerFields = {
  agent_id: identifier,
  business_purpose: text(1000).nullish(),
  merchant: text(200).nullish(),
  merchant_category: mcc.nullish(),
  accounting_code: text(32).min(1).nullish(),
};
const paymentDocuments = {
  x_payment: header.nullish(),
  payment_requirements: z.unknown().optional(),
  payment_signature: header.nullish(),
  payment_required: header.nullish(),
};

/** A settled (or failed) x402 payment as an agent submits it: its ledger fields and the x402 documents. */
export const x402PaymentRequest = z.strictObject({
  ...ledgerFields,
  ...paymentDocuments,
  authorization_id: z.string().uuid().nullish(),
  x_payment_response: header.nullish(),
  payment_response: header.nullish(),
});

/** An x402 payment about to be sent: the signed payload and the requirements it pays, before any settlement. */
export const x402AuthorizeRequest = z.strictObject({
  ...ledgerFields,
  ...paymentDocuments,
  hold_seconds: z.number().int().min(1).max(86_400).optional(),
});

async function valuationFor(deps: AppDeps, orgId: string): Promise<X402Valuation> {
  const org = await deps.store.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  return { rules: await valuationRulesOf(deps.store, orgId), reporting: org.reporting_currency, at: instantFromDate(deps.clock.now()) };
}

/** What the response tells the agent about the payment it submitted. */
const describe = (p: X402Payment) => ({
  version: p.version,
  network: p.network.caip2,
  network_name: p.network.name,
  asset: p.asset,
  currency: p.currency.code,
  amount: p.amount,
  atomic_amount: p.atomic_amount,
  payer: p.payer,
  pay_to: p.pay_to,
  nonce: p.nonce,
});

export interface X402RecordResult extends RailIngestResult {
  readonly reason: string | null;
  readonly x402: ReturnType<typeof describe> & { readonly transaction: string | null };
}

/**
 * Records an x402 payment from its documents: the native record and its transaction in one
 * unit of work (see ingestRailCapture). The same documents again return the first record; the
 * same payment (network, asset, payer, nonce) with other documents is IDEMPOTENCY_CONFLICT,
 * and so is a replay that attributes it differently (another agent, purpose or merchant).
 */
export async function recordX402Payment(deps: AppDeps, by: Principal, body: unknown): Promise<X402RecordResult> {
  // The role first: a caller who may not record learns nothing from how its body is read.
  requireRole(by, 'agent');
  const req = parseInput(x402PaymentRequest, body);
  requireActsFor(by, req.agent_id);
  const payment = readX402Settled(req);
  const capture = x402Capture(payment, req, await valuationFor(deps, by.org_id));
  const result = await ingestRailCapture(deps, by, capture);
  if (result.status === 'duplicate') sameAttribution(capture.transactions[0], result.transactions[0], req);
  return { ...result, reason: capture.reason, x402: { ...describe(payment), transaction: payment.settlement.transaction } };
}

/**
 * The payload bytes are what the rail said; who the payment is for is what the agent says. A
 * replay must say the same, or two submissions of one payment would disagree silently.
 */
function sameAttribution(now: TransactionInput | undefined, before: TransactionRecord | undefined, f: X402LedgerFields): void {
  if (now === undefined || before === undefined) return;
  const fields = ['agent_id', 'merchant', 'merchant_category', 'business_purpose', 'authorization_id'] as const;
  const differs: string[] = fields.filter((k) => now[k] !== before[k]);
  if (f.accounting_code != null && f.accounting_code !== before.accounting_code) differs.push('accounting_code');
  if (differs.length > 0) {
    throw new SpendtrailError('IDEMPOTENCY_CONFLICT', `this x402 payment was recorded before (tx ${before.tx_id}) with another ${differs.join(', ')}`, {
      field: differs[0],
      details: { tx_id: before.tx_id },
    });
  }
}

export interface X402AuthorizeResult extends AuthorizeResult {
  readonly amount: string;
  readonly currency: string;
  readonly reporting_amount: string;
  readonly reporting_currency: string;
  readonly source_id: string;
  readonly x402: ReturnType<typeof describe>;
}

/**
 * `authorize` for a signed x402 payment that has not been sent: the amount, payee and rail come
 * from the documents, and the asset is valued with the same registry and rule the ledger books
 * it with, so the hold covers exactly what will be recorded. (/v1/authorize takes amounts in the
 * reporting currency only, and an agent does not know its organisation's valuation rules.)
 */
export async function authorizeX402Payment(deps: AppDeps, by: Principal, body: unknown): Promise<X402AuthorizeResult> {
  // The role first: a caller who may not record learns nothing from how its body is read.
  requireRole(by, 'agent');
  const req = parseInput(x402AuthorizeRequest, body);
  requireActsFor(by, req.agent_id);
  const payment = readX402Payment(req);
  const valuation = await valuationFor(deps, by.org_id);
  const reportingAmount = x402ReportingCeiling(payment, valuation);
  const r = await authorize(deps, by, {
    agent_id: req.agent_id,
    amount: reportingAmount,
    currency: valuation.reporting,
    merchant: merchantOf(payment, req),
    merchant_category: req.merchant_category ?? null,
    payment_rail: 'x402',
    business_purpose: req.business_purpose ?? null,
    hold_seconds: req.hold_seconds,
  });
  return {
    ...r,
    amount: payment.amount,
    currency: payment.currency.code,
    reporting_amount: reportingAmount,
    reporting_currency: valuation.reporting,
    source_id: payment.source_id,
    x402: describe(payment),
  };
}

/** x402: authorize a signed payment before it is sent, and record it with its settlement after. */
export function registerX402Routes(app: FastifyInstance, deps: AppDeps, who: (req: FastifyRequest) => Principal, doc: Doc): void {
  const limit = { bodyLimit: 256 * 1024 };
  app.post('/v1/rails/x402/authorize', { ...doc('Authorize a signed x402 payment before sending it', x402AuthorizeRequest, ['rails']), ...limit }, async (req) =>
    authorizeX402Payment(deps, who(req), req.body),
  );
  app.post('/v1/rails/x402/payments', { ...doc('Record an x402 payment from its requirements, payload and settlement headers', x402PaymentRequest, ['rails']), ...limit }, async (req, reply) => {
    const r = await recordX402Payment(deps, who(req), req.body);
    return reply.status(r.status === 'recorded' ? 201 : 200).send(r);
  });
}
