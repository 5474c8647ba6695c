import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local QuickBooks Online for tests (QuickBooks itself is not reachable from here), built
 * from Intuit's documented endpoints and payloads:
 *
 * - Token endpoint `POST /oauth2/v1/tokens/bearer`: HTTP Basic client authentication, form
 *   body; `authorization_code` and `refresh_token` grants answering `{token_type: "bearer",
 *   access_token, expires_in: 3600, refresh_token, x_refresh_token_expires_in}`; `400
 *   {"error": "invalid_grant"}` for a used, unknown, revoked, expired or rotated-away code or
 *   refresh token; `401 {"error": "invalid_client"}` for wrong client credentials. Refresh tokens
 *   are rotated on every refresh (the old one stops working), the strictest reading.
 * - Accounting API v3 under `/v3/company/{realmId}/`: bearer access tokens (an expired or
 *   unknown one answers 401 with the lower-case AUTHENTICATION fault, code 3200, and
 *   `www-authenticate: Bearer realm="Intuit", error="invalid_token"`); `minorversion` ≥ 75
 *   required; `POST journalentry` and `POST purchase` validated as QuickBooks does (balanced
 *   journal: 6000 business validation error; unknown or inactive Account/Vendor: 2500 Invalid
 *   Reference Id; amounts must be non-negative JSON numbers with at most two decimals;
 *   DocNumber at most 21 characters, and a duplicate one refused with 6140 as in a company
 *   that forbids duplicate numbers); `GET query?query=select * from Account|Vendor|JournalEntry|
 *   Purchase [where Active IN (true, false) | where DocNumber = '…'] [STARTPOSITION n]
 *   [MAXRESULTS m]`, inactive objects left out unless asked for.
 * - A repeated `requestid` gets the original response, byte for byte, without acting again
 *   (QuickBooks' documented idempotency), including an original refusal.
 *
 * Tests steer it: answer 429/503 for the next N calls, drop the connection after processing the
 * next create, forget the requestids, revoke refresh tokens, expire access tokens; and they read
 * what it holds to assert that each entry was created exactly once.
 *
 * The error codes 3200 (authentication), 3001 (throttle), 6000 (business validation), 2500
 * (invalid reference) and 6140 (duplicate document number) are QuickBooks'; the Detail texts
 * are the fake's own words.
 */

export interface FakeAccount {
  readonly Id: string;
  readonly Name: string;
  readonly AcctNum?: string;
  readonly AccountType: string;
  readonly Active?: boolean;
}

export interface FakeVendor {
  readonly Id: string;
  readonly DisplayName: string;
  readonly Active?: boolean;
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly body: string;
  readonly status: number;
}

export interface CreatedObject {
  readonly entity: 'JournalEntry' | 'Purchase';
  readonly requestid: string | null;
  readonly object: Record<string, unknown>;
  /** The request body exactly as received. */
  readonly raw: string;
}

interface TokenState {
  readonly realm: string;
  expires_at: number;
  revoked: boolean;
}

export interface QboFakeOptions {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly redirectUri?: string;
  readonly realmId?: string;
  readonly accounts?: readonly FakeAccount[];
  readonly vendors?: readonly FakeVendor[];
  /** Milliseconds since the epoch, for token lifetimes; tests move it. */
  readonly now?: () => number;
}

const ACCESS_TTL_S = 3600;
const REFRESH_TTL_S = 100 * 24 * 3600;
const DECIMAL = /^(0|[1-9][0-9]*)(\.[0-9]{1,2})?$/;

export class QboFake {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
  readonly realmId: string;
  readonly accounts: FakeAccount[];
  readonly vendors: FakeVendor[];
  readonly requests: FakeRequest[] = [];
  readonly created: CreatedObject[] = [];
  readonly tokenGrants: { grant_type: string; ok: boolean }[] = [];
  now: () => number;

  private server: Server | undefined;
  private port = 0;
  private readonly codes = new Map<string, { realm: string; used: boolean }>();
  private readonly accessTokens = new Map<string, TokenState>();
  private readonly refreshTokens = new Map<string, TokenState>();
  private readonly replies = new Map<string, { status: number; body: string }>();
  private failures: { status: number; retryAfter: string | null; path: RegExp | null }[] = [];
  private drops = 0;
  private nextId = 100;

  constructor(o: QboFakeOptions = {}) {
    this.clientId = o.clientId ?? 'fake-client-id';
    this.clientSecret = o.clientSecret ?? 'fake-client-secret';
    this.redirectUri = o.redirectUri ?? 'http://localhost:8765/qbo/callback';
    this.realmId = o.realmId ?? '9130350000000000';
    this.accounts = [...(o.accounts ?? [])];
    this.vendors = [...(o.vendors ?? [])];
    this.now = o.now ?? Date.now;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get tokenUrl(): string {
    return `${this.baseUrl}/oauth2/v1/tokens/bearer`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server === undefined ? resolve() : this.server.close(() => resolve())));
  }

  // --- steering ---

  /** What Intuit's redirect carries after the user consents for a company. */
  issueCode(realm = this.realmId): string {
    const code = `AB11${randomBytes(12).toString('hex')}`;
    this.codes.set(code, { realm, used: false });
    return code;
  }

  /** The next `n` calls (to paths matching `path`, default any) answer `status` (429 or 5xx) without acting. */
  failNext(n: number, status: number, retryAfter: string | null = null, path: RegExp | null = null): void {
    for (let i = 0; i < n; i++) this.failures.push({ status, retryAfter, path });
  }

  /** The next `n` creates are carried out, then the connection is dropped before the answer. */
  dropAfterProcessing(n: number): void {
    this.drops = n;
  }

  /** QuickBooks keeps requestids for a limited time: after it, a repeat is a new request. */
  forgetRequestIds(): void {
    this.replies.clear();
  }

  /** The user disconnected the app in QuickBooks: every refresh token stops working. */
  revokeRefreshTokens(): void {
    for (const t of this.refreshTokens.values()) t.revoked = true;
    for (const t of this.accessTokens.values()) t.revoked = true;
  }

  /** Every access token issued so far is refused from now on, as if its hour were over. */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.revoked = true;
  }

  /** Objects created per requestid: exactly-once means one each. */
  createdPerRequestId(): Map<string | null, number> {
    const m = new Map<string | null, number>();
    for (const c of this.created) m.set(c.requestid, (m.get(c.requestid) ?? 0) + 1);
    return m;
  }

  /** Objects created carrying a DocNumber. */
  createdWithDocNumber(doc: string): CreatedObject[] {
    return this.created.filter((c) => c.object.DocNumber === doc);
  }

  apiRequests(): FakeRequest[] {
    return this.requests.filter((r) => r.path.startsWith('/v3/'));
  }

  // --- the server ---

  private reply(req: IncomingMessage, res: ServerResponse, body: string, status: number, json: unknown, headers: Record<string, string> = {}): void {
    const u = new URL(req.url ?? '/', this.baseUrl);
    this.requests.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, body, status });
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', intuit_tid: `1-${randomBytes(8).toString('hex')}`, ...headers });
    res.end(typeof json === 'string' ? json : JSON.stringify(json));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: string): void {
    const u = new URL(req.url ?? '/', this.baseUrl);
    const at = this.failures.findIndex((f) => f.path === null || f.path.test(u.pathname));
    const failure = at < 0 ? undefined : this.failures.splice(at, 1)[0];
    if (failure !== undefined) {
      if (failure.status === 429) {
        this.reply(req, res, body, 429, fault('SERVICE', '3001', 'message=ThrottleExceeded; errorCode=003001; statusCode=429', 'The request limit was reached.'), failure.retryAfter === null ? {} : { 'retry-after': failure.retryAfter });
      } else {
        this.reply(req, res, body, failure.status, '<html><body>Service Unavailable</body></html>', failure.retryAfter === null ? {} : { 'retry-after': failure.retryAfter });
      }
      return;
    }
    if (u.pathname === '/oauth2/v1/tokens/bearer' && req.method === 'POST') return this.token(req, res, body);
    const m = /^\/v3\/company\/([^/]+)\/([a-z]+)$/.exec(u.pathname);
    if (m === null) return this.reply(req, res, body, 404, fault('ValidationFault', '4000', 'Unsupported operation', `no such endpoint ${u.pathname}`));
    const [, realm = '', entity = ''] = m;
    const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    const token = auth === null ? undefined : this.accessTokens.get(auth[1] ?? '');
    if (token === undefined || token.revoked || token.expires_at <= this.now() || token.realm !== realm) {
      return this.reply(
        req,
        res,
        body,
        401,
        { warnings: null, intuitObject: null, fault: { error: [{ message: 'message=AuthenticationFailed; errorCode=003200; statusCode=401', detail: 'Token expired', code: '3200', element: null }], type: 'AUTHENTICATION' }, time: this.now() },
        { 'www-authenticate': 'Bearer realm="Intuit", error="invalid_token"' },
      );
    }
    const minor = Number(u.searchParams.get('minorversion') ?? '0');
    if (!Number.isInteger(minor) || minor < 75) {
      return this.reply(req, res, body, 400, fault('ValidationFault', '4001', 'Invalid minorversion', 'minor versions 1-74 are discontinued: send minorversion=75 or later'));
    }
    if (req.method === 'GET' && entity === 'query') return this.query(req, res, body, u.searchParams.get('query') ?? '');
    if (req.method === 'POST' && (entity === 'journalentry' || entity === 'purchase')) return this.create(req, res, body, entity === 'journalentry' ? 'JournalEntry' : 'Purchase', u.searchParams.get('requestid'));
    return this.reply(req, res, body, 400, fault('ValidationFault', '500', 'Unsupported Operation', `${req.method} ${entity}`));
  }

  private token(req: IncomingMessage, res: ServerResponse, body: string): void {
    const basic = Buffer.from(`${this.clientId}:${this.clientSecret}`).toString('base64');
    const form = new URLSearchParams(body);
    const grantType = form.get('grant_type') ?? '';
    if (req.headers.authorization !== `Basic ${basic}`) {
      this.tokenGrants.push({ grant_type: grantType, ok: false });
      return this.reply(req, res, body, 401, { error: 'invalid_client' });
    }
    let realm: string | undefined;
    if (grantType === 'authorization_code') {
      const c = this.codes.get(form.get('code') ?? '');
      if (c !== undefined && !c.used && form.get('redirect_uri') === this.redirectUri) {
        c.used = true;
        realm = c.realm;
      }
    } else if (grantType === 'refresh_token') {
      const t = this.refreshTokens.get(form.get('refresh_token') ?? '');
      if (t !== undefined && !t.revoked && t.expires_at > this.now()) {
        // Rotation: the refresh token just used is spent.
        t.revoked = true;
        realm = t.realm;
      }
    }
    this.tokenGrants.push({ grant_type: grantType, ok: realm !== undefined });
    if (realm === undefined) return this.reply(req, res, body, 400, { error: 'invalid_grant' });
    const access = `eyJfake.${randomBytes(16).toString('hex')}`;
    const refresh = `RT1-${randomBytes(16).toString('hex')}`;
    this.accessTokens.set(access, { realm, expires_at: this.now() + ACCESS_TTL_S * 1000, revoked: false });
    this.refreshTokens.set(refresh, { realm, expires_at: this.now() + REFRESH_TTL_S * 1000, revoked: false });
    this.reply(req, res, body, 200, { token_type: 'bearer', access_token: access, expires_in: ACCESS_TTL_S, refresh_token: refresh, x_refresh_token_expires_in: REFRESH_TTL_S });
  }

  private query(req: IncomingMessage, res: ServerResponse, body: string, q: string): void {
    const m = /^select \* from (\w+)(?: where (.+?))?(?: startposition (\d+))?(?: maxresults (\d+))?$/i.exec(q.trim());
    if (m === null) return this.reply(req, res, body, 400, fault('ValidationFault', '4000', 'Error parsing query', `QueryParserError: ${q}`));
    const [, entity = '', where, start = '1', max = '100'] = m;
    let rows: Record<string, unknown>[];
    if (entity === 'Account') rows = this.accounts.map((a) => ({ Active: true, ...a, FullyQualifiedName: a.Name, SyncToken: '0' }));
    else if (entity === 'Vendor') rows = this.vendors.map((v) => ({ Active: true, ...v, SyncToken: '0' }));
    else if (entity === 'JournalEntry' || entity === 'Purchase') rows = this.created.filter((c) => c.entity === entity).map((c) => c.object);
    else return this.reply(req, res, body, 400, fault('ValidationFault', '4000', 'Error parsing query', `unknown entity ${entity}`));
    const doc = where === undefined ? null : /^DocNumber = '((?:[^'\\]|\\.)*)'$/i.exec(where.trim());
    if (doc !== null) rows = rows.filter((r) => r.DocNumber === doc[1]?.replace(/\\(.)/g, '$1'));
    else if (where === undefined || !/^Active IN \(true, false\)$/i.test(where.trim())) {
      if (where !== undefined) return this.reply(req, res, body, 400, fault('ValidationFault', '4000', 'Error parsing query', `unsupported where: ${where}`));
      rows = rows.filter((r) => r.Active !== false);
    }
    const page = rows.slice(Number(start) - 1, Number(start) - 1 + Number(max));
    this.reply(req, res, body, 200, { QueryResponse: page.length === 0 ? {} : { [entity]: page, startPosition: Number(start), maxResults: page.length }, time: new Date(this.now()).toISOString() });
  }

  private create(req: IncomingMessage, res: ServerResponse, body: string, entity: 'JournalEntry' | 'Purchase', requestid: string | null): void {
    if (requestid !== null) {
      const seen = this.replies.get(requestid);
      if (seen !== undefined) return this.reply(req, res, body, seen.status, seen.body);
    }
    const answer = this.validateAndCreate(body, entity, requestid);
    const text = JSON.stringify(answer.json);
    if (requestid !== null) this.replies.set(requestid, { status: answer.status, body: text });
    if (answer.status === 200 && this.drops > 0) {
      // Processed and kept, but the answer never leaves: the client cannot know it worked.
      this.drops -= 1;
      const u = new URL(req.url ?? '/', this.baseUrl);
      this.requests.push({ method: req.method ?? '', path: u.pathname, query: u.searchParams, body, status: 0 });
      req.socket.destroy();
      return;
    }
    this.reply(req, res, body, answer.status, text);
  }

  private validateAndCreate(raw: string, entity: 'JournalEntry' | 'Purchase', requestid: string | null): { status: number; json: unknown } {
    const refuse = (code: string, message: string, detail: string, element = ''): { status: number; json: unknown } => ({ status: 400, json: fault('ValidationFault', code, message, detail, element) });
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      return refuse('2020', 'Request has invalid or unsupported property', 'the request body is not JSON');
    }
    // Amounts are checked as written: JSON.parse would let 12.345 or "12.50" through as numbers.
    for (const m of raw.matchAll(/"Amount":\s*("[^"]*"|[^,}\]]+)/g)) {
      if (!DECIMAL.test(m[1] ?? '')) return refuse('6000', 'A business validation error has occurred while processing your request', `Business Validation Error: Amount ${m[1]} is not a non-negative number with at most two decimals`, 'Line.Amount');
    }
    const lines = Array.isArray(o.Line) ? (o.Line as Record<string, unknown>[]) : [];
    if (lines.length === 0) return refuse('2020', 'Required param missing, need to supply the required value for the API', 'Required parameter Line is missing in the request', 'Line');
    const doc = typeof o.DocNumber === 'string' ? o.DocNumber : null;
    if (doc !== null && doc.length > 21) return refuse('2050', 'String length is either shorter or longer than supported by specification', `DocNumber: Min:0 Max:21 supported. Given: ${doc.length}`, 'DocNumber');
    if (typeof o.TxnDate !== 'string' || !/^[0-9]{4}-[0-9]{2}-[0-9]{2}$/.test(o.TxnDate)) return refuse('2020', 'Invalid date', `TxnDate ${String(o.TxnDate)}`, 'TxnDate');
    const account = (ref: unknown): FakeAccount | undefined => this.accounts.find((a) => a.Id === (ref as { value?: unknown } | undefined)?.value && a.Active !== false);
    const vendorOk = (ref: unknown): boolean => this.vendors.some((v) => v.Id === (ref as { value?: unknown } | undefined)?.value && v.Active !== false);
    const badRef = (what: string, ref: unknown): { status: number; json: unknown } =>
      refuse('2500', 'Invalid Reference Id', `Invalid Reference Id : ${what} element id ${String((ref as { value?: unknown } | undefined)?.value)} not found`, what);
    const cents = (v: unknown): bigint => {
      const [w = '0', f = ''] = String(v).split('.');
      return BigInt(w) * 100n + BigInt(f.padEnd(2, '0') || '0');
    };
    let debit = 0n;
    let credit = 0n;
    if (entity === 'JournalEntry') {
      for (const l of lines) {
        const d = l.JournalEntryLineDetail as Record<string, unknown> | undefined;
        if (l.DetailType !== 'JournalEntryLineDetail' || d === undefined) return refuse('2020', 'Required param missing', 'JournalEntryLineDetail is required', 'Line.DetailType');
        if (account(d.AccountRef) === undefined) return badRef('Accounts', d.AccountRef);
        const ent = d.Entity as { Type?: unknown; EntityRef?: unknown } | undefined;
        if (ent !== undefined && (ent.Type !== 'Vendor' || !vendorOk(ent.EntityRef))) return badRef('Vendor', ent.EntityRef);
        if (d.PostingType === 'Debit') debit += cents(l.Amount);
        else if (d.PostingType === 'Credit') credit += cents(l.Amount);
        else return refuse('2170', 'Invalid Enumeration', `PostingType ${String(d.PostingType)}`, 'PostingType');
      }
      if (debit !== credit) {
        return refuse('6000', 'A business validation error has occurred while processing your request', `Business Validation Error: the debits (${debit}) and credits (${credit}) of a journal entry must be equal`);
      }
    } else {
      const paid = account(o.AccountRef);
      if (paid === undefined) return badRef('Accounts', o.AccountRef);
      const type = o.PaymentType;
      const fits = (type === 'CreditCard' && paid.AccountType === 'Credit Card') || ((type === 'Cash' || type === 'Check') && paid.AccountType === 'Bank');
      if (!fits) return refuse('6000', 'A business validation error has occurred while processing your request', `Business Validation Error: PaymentType ${String(type)} cannot be paid from a ${paid.AccountType} account`);
      if (o.Credit === true && type !== 'CreditCard') return refuse('6000', 'A business validation error has occurred while processing your request', 'Business Validation Error: Credit applies to credit card purchases only');
      if (o.EntityRef !== undefined && !vendorOk(o.EntityRef)) return badRef('Vendor', o.EntityRef);
      for (const l of lines) {
        const d = l.AccountBasedExpenseLineDetail as Record<string, unknown> | undefined;
        if (l.DetailType !== 'AccountBasedExpenseLineDetail' || d === undefined) return refuse('2020', 'Required param missing', 'AccountBasedExpenseLineDetail is required', 'Line.DetailType');
        if (account(d.AccountRef) === undefined) return badRef('Accounts', d.AccountRef);
        debit += cents(l.Amount);
      }
    }
    if (doc !== null && this.created.some((c) => c.entity === entity && c.object.DocNumber === doc)) {
      return refuse('6140', 'Duplicate Document Number Error', `Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber=${doc}`, 'DocNumber');
    }
    this.nextId += 1;
    const object: Record<string, unknown> = {
      ...o,
      Id: String(this.nextId),
      SyncToken: '0',
      TotalAmt: Number(debit) / 100,
      domain: 'QBO',
      MetaData: { CreateTime: new Date(this.now()).toISOString(), LastUpdatedTime: new Date(this.now()).toISOString() },
    };
    this.created.push({ entity, requestid, object, raw });
    return { status: 200, json: { [entity]: object, time: new Date(this.now()).toISOString() } };
  }
}

function fault(type: string, code: string, message: string, detail: string, element = ''): unknown {
  return { Fault: { Error: [{ Message: message, Detail: detail, code, element }], type }, time: new Date().toISOString() };
}
