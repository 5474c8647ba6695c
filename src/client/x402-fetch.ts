/**
 * Agent-side compliance for x402: a `fetch` wrapper that asks Spendtrail before an x402 payment
 * leaves the agent and records its settlement after. It talks to a Spendtrail server over HTTP
 * with an agent API key and imports nothing from the server.
 *
 * One line with the official client (`@x402/fetch`), Spendtrail underneath the payment wrapper:
 *
 *   const pay = wrapFetchWithPayment(withSpendtrail(fetch, { baseUrl, apiKey, agentId }), x402client);
 *
 * or on its own, with any payer that turns a 402 challenge into payment headers:
 *
 *   const pay = withSpendtrail(fetch, { baseUrl, apiKey, agentId, pay: (challenge) => headersFor(challenge) });
 *
 * How it works: the wrapper sees every request the payment client sends. A 402 challenge is
 * remembered (its v2 PAYMENT-REQUIRED header or v1 JSON body). A request that carries a signed
 * payment (PAYMENT-SIGNATURE or X-PAYMENT) has not moved any money yet: the wrapper sends the
 * signed payload and the challenge to Spendtrail's x402 authorize endpoint, which values it with
 * the organisation's rules and answers allow, deny or needs_approval. Only on allow does the
 * request go out; otherwise SpendtrailPaymentRefused is thrown and the payload is never sent.
 * The settlement header on the answer (PAYMENT-RESPONSE / X-PAYMENT-RESPONSE) is then recorded
 * against the hold; a failed settlement is recorded as failed and the hold released.
 */

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A 402 challenge as the resource server sent it: v2's decoded PAYMENT-REQUIRED, or v1's JSON body. */
export interface X402Challenge {
  readonly x402Version: number;
  readonly accepts: readonly Record<string, unknown>[];
  readonly [key: string]: unknown;
}

export interface SpendtrailX402Options {
  /** The Spendtrail server, e.g. "https://spendtrail.internal:8787". */
  readonly baseUrl: string;
  /** An API key with the agent role for `agentId`. */
  readonly apiKey: string;
  readonly agentId: string;
  readonly businessPurpose?: string;
  /** A merchant name for the ledger; the payee address is used when absent. */
  readonly merchant?: string;
  /** Four-digit merchant category code. */
  readonly merchantCategory?: string;
  readonly accountingCode?: string;
  /**
   * Pays a challenge: returns the headers to retry the request with (PAYMENT-SIGNATURE or
   * X-PAYMENT). Give it when no x402 payment wrapper sits on top of this one.
   */
  readonly pay?: (challenge: X402Challenge, request: Request) => Promise<Record<string, string>>;
}

/** Spendtrail answered deny or needs_approval: the signed payment was not sent. */
export class SpendtrailPaymentRefused extends Error {
  constructor(
    readonly decision: 'deny' | 'needs_approval',
    readonly reasons: readonly string[],
    /** For needs_approval: what an approver approves (spendtrail approve-spend --authorization <id>). */
    readonly authorizationId: string,
    readonly url: string,
  ) {
    super(
      decision === 'deny'
        ? `Spendtrail denied the x402 payment for ${url} (${reasons.join(', ') || 'no reason given'}); nothing was paid`
        : `the x402 payment for ${url} needs approval (${reasons.join(', ')}): authorization ${authorizationId} is waiting for an approver; nothing was paid`,
    );
    this.name = 'SpendtrailPaymentRefused';
  }
}

/** Spendtrail answered an error, or the exchange could not be made safe to record. */
export class SpendtrailClientError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number | null,
    readonly field: string | null,
    /** Set when the payment was made and only recording it failed: the paid resource is here. */
    readonly response: Response | null = null,
  ) {
    super(message);
    this.name = 'SpendtrailClientError';
  }
}

interface Challenge {
  /** v2: the PAYMENT-REQUIRED header exactly as received. */
  readonly header: string | null;
  /** v1: the 402 body; v2: the decoded header. */
  readonly document: X402Challenge;
}

interface AuthorizeAnswer {
  readonly authorization_id: string;
  readonly decision: 'allow' | 'deny' | 'needs_approval';
  readonly reasons: readonly string[];
}

interface RecordAnswer {
  readonly outcome: 'settled' | 'failed' | 'noted';
}

const V2 = { payment: 'PAYMENT-SIGNATURE', settlement: 'PAYMENT-RESPONSE', required: 'PAYMENT-REQUIRED' } as const;
const V1 = { payment: 'X-PAYMENT', settlement: 'X-PAYMENT-RESPONSE' } as const;

/**
 * Wraps `fetch` so that x402 payments are authorized by Spendtrail before they are sent and
 * recorded after they settle. Without `pay` it only watches: put an x402 payment wrapper on top.
 */
export function withSpendtrail(fetch: Fetch, options: SpendtrailX402Options): Fetch {
  const guarded = guard(fetch, options);
  const pay = options.pay;
  if (pay === undefined) return guarded.fetch;
  return async (input, init) => {
    const request = new Request(input, init);
    const retry = request.clone();
    const response = await guarded.fetch(request);
    if (response.status !== 402 || hasPayment(retry)) return response;
    const challenge = guarded.challengeFor(retry);
    // A 402 without an x402 challenge is the server's answer, not a price.
    if (challenge === undefined) return response;
    for (const [name, value] of Object.entries(await pay(challenge.document, retry))) retry.headers.set(name, value);
    return guarded.fetch(retry);
  };
}

const MAX_CHALLENGES = 1000;
const hasPayment = (r: Request): boolean => r.headers.has(V2.payment) || r.headers.has(V1.payment);
const keyOf = (r: Request): string => `${r.method} ${r.url}`;

function guard(fetch: Fetch, options: SpendtrailX402Options): { fetch: Fetch; challengeFor(r: Request): Challenge | undefined } {
  // The latest challenge per method and URL, the oldest forgotten beyond a bound (a Map keeps insertion order).
  const challenges = new Map<string, Challenge>();
  const remember = (key: string, c: Challenge): void => {
    challenges.delete(key);
    challenges.set(key, c);
    if (challenges.size > MAX_CHALLENGES) challenges.delete(challenges.keys().next().value as string);
  };
  const spendtrail = spendtrailClient(fetch, options);
  const ledger = {
    agent_id: options.agentId,
    business_purpose: options.businessPurpose,
    merchant: options.merchant,
    merchant_category: options.merchantCategory,
    accounting_code: options.accountingCode,
  };

  const observe = async (request: Request): Promise<Response> => {
    const response = await fetch(request);
    if (response.status === 402) {
      const challenge = await challengeOf(response);
      if (challenge !== undefined) remember(keyOf(request), challenge);
    }
    return response;
  };

  const payAndRecord = async (request: Request): Promise<Response> => {
    const version = request.headers.has(V2.payment) ? 2 : 1;
    // Kept after use: concurrent requests to one URL answer the same challenge.
    const challenge = challenges.get(keyOf(request));
    let documents: Record<string, unknown>;
    if (version === 2) {
      documents = { payment_signature: request.headers.get(V2.payment), ...(challenge?.header == null ? {} : { payment_required: challenge.header }) };
    } else {
      // A v1 payload names neither payee nor asset: without the challenge it paid, nothing can check it.
      if (challenge === undefined) {
        throw new SpendtrailClientError(`an x402 v1 payment to ${request.url} without the 402 challenge it answers cannot be checked; it was not sent`, 'NO_CHALLENGE', null, null);
      }
      documents = { x_payment: request.headers.get(V1.payment), payment_requirements: challenge.document };
    }
    const auth = await spendtrail.post<AuthorizeAnswer>('v1/rails/x402/authorize', { ...ledger, ...documents });
    if (auth.decision !== 'allow') throw new SpendtrailPaymentRefused(auth.decision, auth.reasons, auth.authorization_id, request.url);

    // A request that gets no answer leaves the hold to expire: whether the resource server
    // settled is unknown, and freeing budget that may have been spent would understate it.
    const response = await fetch(request);
    const settlement = response.headers.get(version === 2 ? V2.settlement : V1.settlement);
    if (settlement === null) {
      // Refused before settlement (a new 402, a 4xx): nothing moved, so the hold goes back. A 2xx
      // without a settlement header is left holding until it expires: it may have been paid.
      if (!response.ok) await spendtrail.release(auth.authorization_id);
      return response;
    }
    let recorded: RecordAnswer;
    try {
      recorded = await spendtrail.post<RecordAnswer>('v1/rails/x402/payments', {
        ...ledger,
        ...documents,
        [version === 2 ? 'payment_response' : 'x_payment_response']: settlement,
        authorization_id: auth.authorization_id,
      });
    } catch (e) {
      if (!(e instanceof SpendtrailClientError)) throw e;
      throw new SpendtrailClientError(`the x402 payment to ${request.url} was made but Spendtrail did not record it: ${e.message}`, e.code, e.status, e.field, response);
    }
    if (recorded.outcome !== 'settled') await spendtrail.release(auth.authorization_id);
    return response;
  };

  return {
    fetch: async (input, init) => {
      const request = new Request(input, init);
      return hasPayment(request) ? payAndRecord(request) : observe(request);
    },
    challengeFor: (r) => challenges.get(keyOf(r)),
  };
}

/** The x402 challenge of a 402 answer, read from a clone so the caller still gets the body. */
async function challengeOf(response: Response): Promise<Challenge | undefined> {
  const header = response.headers.get(V2.required);
  if (header !== null) {
    const document = decodeChallenge(header);
    return document === undefined ? undefined : { header, document };
  }
  let body: unknown;
  try {
    body = JSON.parse(await response.clone().text()) as unknown;
  } catch {
    return undefined;
  }
  return isChallenge(body) ? { header: null, document: body } : undefined;
}

function decodeChallenge(header: string): X402Challenge | undefined {
  try {
    const doc = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(header), (c) => c.charCodeAt(0)))) as unknown;
    return isChallenge(doc) ? doc : undefined;
  } catch {
    return undefined;
  }
}

const isChallenge = (d: unknown): d is X402Challenge =>
  typeof d === 'object' && d !== null && typeof (d as { x402Version?: unknown }).x402Version === 'number' && Array.isArray((d as { accepts?: unknown }).accepts);

function spendtrailClient(fetch: Fetch, options: SpendtrailX402Options) {
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`;
  const call = async (path: string, body?: unknown): Promise<Response> => {
    const response = await fetch(new URL(path, base), {
      method: 'POST',
      headers: { authorization: `Bearer ${options.apiKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (response.ok) return response;
    let error: { code?: string; message?: string; field?: string } = {};
    try {
      error = ((await response.json()) as { error?: typeof error }).error ?? {};
    } catch {
      // Not Spendtrail's JSON error shape: the status says enough.
    }
    throw new SpendtrailClientError(
      `Spendtrail ${path}: ${error.code ?? `HTTP ${response.status}`}${error.field === undefined ? '' : ` at ${error.field}`}: ${error.message ?? response.statusText}`,
      error.code ?? 'HTTP_ERROR',
      response.status,
      error.field ?? null,
    );
  };
  return {
    post: async <T>(path: string, body: unknown): Promise<T> => (await (await call(path, body)).json()) as T,
    release: async (authorizationId: string): Promise<void> => {
      await call(`v1/authorizations/${encodeURIComponent(authorizationId)}/release`);
    },
  };
}
