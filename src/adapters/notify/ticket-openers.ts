import type { TicketOpener, TicketRequest, TicketResult } from '../../app/ports/ticketer.ts';
import type { HttpOptions, HttpReply, PostTarget } from './http-post.ts';
import { checkHttpsUrl, checkSigningSecret, checkTimeout, httpFailure, httpPost, redactor, retryableStatus, urlForms, webhookHeaders } from './http-post.ts';

/**
 * A `TicketResult` that may also carry how long the tracker asked us to wait (a 429/503
 * `Retry-After`), which `deliverWithRetry` honours. Same convention as `SendOutcome`.
 */
export type TicketOutcome = TicketResult & { readonly retry_after_ms?: number };

interface TicketerHttpOptions extends HttpOptions {
  /** Whole-request budget (connect, headers and body); default 10000 ms. */
  readonly timeoutMs?: number;
}

export interface JiraTicketerOptions extends TicketerHttpOptions {
  /** The site, e.g. `https://acme.atlassian.net`. */
  readonly baseUrl: string;
  /** The Atlassian account the API token belongs to. */
  readonly email: string;
  readonly apiToken: string;
  /** e.g. `FIN`. */
  readonly projectKey: string;
  /** Name of the issue type to create; default `Task`. */
  readonly issueType?: string;
}

export interface LinearTicketerOptions extends TicketerHttpOptions {
  /** A personal API key (`lin_api_…`), sent as the Authorization header as is, without "Bearer". */
  readonly apiKey: string;
  /** The team's id (a UUID), not its key. */
  readonly teamId: string;
  /** Default `https://api.linear.app/graphql`. */
  readonly endpoint?: string;
}

export interface WebhookTicketerOptions extends TicketerHttpOptions {
  readonly url: string;
  /** When set, requests carry `X-Spendtrail-Signature: sha256=<hex HMAC-SHA256 of the body>`, as the webhook sender's do. */
  readonly secret?: string;
}

/**
 * 10 s, twice the chat senders' 5 s: creating an issue does more work on the tracker's side
 * than posting a chat message, and a ticket a few seconds late costs nothing.
 */
const DEFAULT_TIMEOUT_MS = 10_000;
/** Tracker replies (created issue, error lists) are small; more is never buffered. */
const MAX_BODY_BYTES = 64 * 1024;
/** Jira Cloud rejects a summary longer than 255 characters (Java `String.length`, i.e. UTF-16 units). */
export const JIRA_SUMMARY_MAX = 255;
const LINEAR_ENDPOINT = 'https://api.linear.app/graphql';
const LIMITS = { defaultTimeoutMs: DEFAULT_TIMEOUT_MS, maxBodyBytes: MAX_BODY_BYTES };

/** Exactly the documented mutation; the fields asked for are the ones the result records. */
export const LINEAR_ISSUE_CREATE =
  'mutation IssueCreate($input: IssueCreateInput!) { issueCreate(input: $input) { success issue { id identifier url } } }';

/**
 * Every request carries a credential or signed audit data, hence `checkHttpsUrl`; a URL with
 * credentials in it is refused as well.
 */
function checkUrl(raw: string, what: string): URL {
  return checkHttpsUrl(raw, what, { rejectCredentials: true });
}

function required(value: string, what: string): void {
  // Names the option, never its value: several of these are credentials.
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${what} must be a non-empty string`);
}

/**
 * Removes every secret in every form it could take in a reason (an echoing proxy, an error
 * page quoting the request): the raw values, the Authorization header value, the URL. Then
 * shortens to one URL-free line.
 */
function scrubber(secrets: readonly string[]): (text: string) => string {
  return redactor([...new Set(secrets)]);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Not JSON (an HTML error page from a proxy) or cut at MAX_BODY_BYTES.
    return undefined;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

interface Reply extends HttpReply {
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown;
}

/** `httpPost` with the trackers' limits, handing `interpret` the body parsed as JSON too. */
function post(target: PostTarget, body: string, interpret: (reply: Reply) => TicketOutcome): Promise<TicketOutcome> {
  return httpPost(target, body, LIMITS, (reply) => interpret({ ...reply, json: parseJson(reply.text) }));
}

function firstLine(text: string): string {
  return text.trim().split(/\r?\n/, 1)[0] ?? '';
}

/** Keeps a reference to the summary in the ticket itself, so whoever picks it up can find it. */
function referenceLine(t: TicketRequest): string {
  return `Spendtrail summary ${t.summary_id} (org ${t.org_id}, period ${t.period}, ${t.cluster === null ? 'all agents' : `cluster ${t.cluster}`})`;
}

/** Description lines may themselves contain line breaks; every output line is one paragraph. */
function descriptionLines(t: TicketRequest): string[] {
  return [...t.description, '', referenceLine(t)].flatMap((l) => l.split(/\r\n|\r|\n/));
}

// ---------------------------------------------------------------------------------- Jira

/** Cuts at `max` UTF-16 units (Jira counts like Java), never between the halves of a surrogate pair. */
export function truncateSummary(title: string, max = JIRA_SUMMARY_MAX): string {
  // Jira rejects a summary containing line breaks; tabs and other controls would only confuse.
  const oneLine = title.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (oneLine.length <= max) return oneLine;
  let cut = oneLine.slice(0, max - 1);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut}…`;
}

interface AdfText {
  readonly type: 'text';
  readonly text: string;
}
interface AdfParagraph {
  readonly type: 'paragraph';
  readonly content: AdfText[];
}
export interface AdfDoc {
  readonly type: 'doc';
  readonly version: 1;
  readonly content: AdfParagraph[];
}

/**
 * Atlassian Document Format, which REST v3 requires for rich-text fields (a plain string is a
 * 400). One paragraph per line keeps the plain-text layout; an empty line becomes an empty
 * paragraph because ADF forbids empty text nodes.
 */
export function adfDocument(lines: readonly string[]): AdfDoc {
  return {
    type: 'doc',
    version: 1,
    content: lines.map((text) => ({ type: 'paragraph', content: text === '' ? [] : [{ type: 'text', text }] })),
  };
}

/** Jira's errors come as `{ errorMessages: [...], errors: { field: message } }`. */
function jiraReason(reply: Reply): string {
  const j = reply.json;
  if (isRecord(j)) {
    const parts: string[] = [];
    if (Array.isArray(j.errorMessages)) parts.push(...j.errorMessages.filter((m): m is string => typeof m === 'string'));
    if (isRecord(j.errors)) {
      for (const [field, msg] of Object.entries(j.errors)) if (typeof msg === 'string') parts.push(`${field}: ${msg}`);
    }
    const message = nonEmpty(j.message);
    if (parts.length === 0 && message !== undefined) parts.push(message);
    if (parts.length > 0) return parts.join('; ');
  }
  return firstLine(reply.text);
}

/**
 * Creates a Jira Cloud issue with REST v3 (`POST /rest/api/3/issue`, basic auth with the
 * account e-mail and an API token). The title becomes the summary (one line, at most 255
 * characters); the description lines become an ADF document.
 *
 * 201 → ok with `ticket_key` (e.g. FIN-123) and `ticket_url` (`<baseUrl>/browse/FIN-123`). A
 * 2xx whose body cannot be read is still ok, without a key: the issue exists, and a retry would
 * open a second one. 400 (invalid field, unknown project or issue type), 401 and 403 are not
 * retryable; 408, 429 (with `Retry-After`), 5xx and network failures are. `error` never
 * contains the token or the Authorization header.
 */
export function jiraTicketer(opts: JiraTicketerOptions): TicketOpener {
  const base = checkUrl(opts.baseUrl, 'Jira base');
  if (base.search !== '' || base.hash !== '') throw new Error(`Jira base URL must not have a query or fragment (host ${base.host})`);
  required(opts.email, 'Jira email');
  required(opts.apiToken, 'Jira apiToken');
  // Project keys are letters, digits and underscores, starting with a letter.
  if (typeof opts.projectKey !== 'string' || !/^[A-Za-z][A-Za-z0-9_]*$/.test(opts.projectKey)) {
    throw new Error(`Jira projectKey must look like FIN (got ${JSON.stringify(opts.projectKey)})`);
  }
  const issueType = opts.issueType ?? 'Task';
  required(issueType, 'Jira issueType');
  checkTimeout(opts);
  // Without a trailing slash the relative path would replace the last segment of a context path.
  const root = base.href.endsWith('/') ? base.href : `${base.href}/`;
  const url = new URL('rest/api/3/issue', root);
  const browse = root.slice(0, -1);
  const auth = `Basic ${Buffer.from(`${opts.email}:${opts.apiToken}`, 'utf8').toString('base64')}`;
  const target: PostTarget = {
    url,
    headers: { authorization: auth, 'content-type': 'application/json', accept: 'application/json' },
    opts,
    scrub: scrubber([opts.apiToken, auth, auth.slice('Basic '.length), encodeURIComponent(opts.apiToken)]),
  };
  return {
    channel: 'jira',
    open: (ticket: TicketRequest) => {
      const body = JSON.stringify({
        fields: {
          project: { key: opts.projectKey },
          summary: truncateSummary(ticket.title),
          issuetype: { name: issueType },
          description: adfDocument(descriptionLines(ticket)),
        },
      });
      return post(target, body, (reply) => {
        if (reply.status < 200 || reply.status >= 300) return httpFailure(reply, jiraReason(reply), target.scrub);
        const key = isRecord(reply.json) ? nonEmpty(reply.json.key) : undefined;
        return {
          ok: true,
          http_status: reply.status,
          error: null,
          retryable: false,
          ticket_key: key,
          ticket_url: key === undefined ? undefined : `${browse}/browse/${encodeURIComponent(key)}`,
        };
      });
    },
  };
}

// -------------------------------------------------------------------------------- Linear

/**
 * Markdown-escapes a plain-text line so that text from transactions (agent ids, merchant
 * details) cannot turn into links, images or HTML in the ticket. Leading list or heading
 * markers are escaped too, so a line reads the same as in the e-mail.
 */
export function markdownLine(line: string): string {
  const escaped = line.replace(/[\\`*_[\]<>|~#]/g, '\\$&');
  // Markdown drops up to three leading spaces; the indentation carried no meaning anyway.
  return escaped.trimStart().replace(/^[-+=]/, '\\$&').replace(/^(\d+)([.)])/, '$1\\$2');
}

/** One paragraph per line: single newlines are soft breaks in markdown and would merge the lines. */
function linearDescription(t: TicketRequest): string {
  return descriptionLines(t)
    .map(markdownLine)
    .filter((l) => l !== '')
    .join('\n\n');
}

interface GraphQlError {
  readonly message?: unknown;
  readonly extensions?: unknown;
}

/** Linear reports rate limiting as a GraphQL error with `extensions.code` RATELIMITED. */
function isRateLimited(errors: readonly GraphQlError[]): boolean {
  return errors.some((e) => {
    const ext = isRecord(e.extensions) ? e.extensions : {};
    const marks = [ext.code, ext.type, e.message].filter((v): v is string => typeof v === 'string');
    return marks.some((m) => /rate.?limit/i.test(m));
  });
}

function graphQlErrors(json: unknown): GraphQlError[] {
  return isRecord(json) && Array.isArray(json.errors) ? json.errors.filter(isRecord) : [];
}

function graphQlReason(errors: readonly GraphQlError[]): string {
  return errors
    .map((e) => {
      const ext = isRecord(e.extensions) ? e.extensions : {};
      // `userPresentableMessage` is the clearer text when Linear gives one.
      return nonEmpty(ext.userPresentableMessage) ?? nonEmpty(e.message) ?? 'unknown GraphQL error';
    })
    .join('; ');
}

/**
 * Creates a Linear issue with the GraphQL `issueCreate` mutation; the description is markdown
 * (each plain-text line escaped, one paragraph per line).
 *
 * A 200 whose `issueCreate.success` is true is ok, with `ticket_key` = the identifier (e.g.
 * ENG-42) and `ticket_url` = the issue's URL. A 200 with `errors` or `success: false` is a
 * failure (`http_status` 200) that is not retryable, unless an error says the request was rate
 * limited. Non-2xx statuses map like the webhook sender's (408/429/5xx retryable), again
 * with rate limiting always retryable. `error` never contains the API key.
 */
export function linearTicketer(opts: LinearTicketerOptions): TicketOpener {
  required(opts.apiKey, 'Linear apiKey');
  required(opts.teamId, 'Linear teamId');
  const url = checkUrl(opts.endpoint ?? LINEAR_ENDPOINT, 'Linear endpoint');
  checkTimeout(opts);
  const target: PostTarget = {
    url,
    headers: { authorization: opts.apiKey, 'content-type': 'application/json' },
    opts,
    scrub: scrubber([opts.apiKey]),
  };
  return {
    channel: 'linear',
    open: (ticket: TicketRequest) => {
      const body = JSON.stringify({
        query: LINEAR_ISSUE_CREATE,
        variables: { input: { teamId: opts.teamId, title: ticket.title, description: linearDescription(ticket) } },
      });
      return post(target, body, (reply) => {
        const errors = graphQlErrors(reply.json);
        const limited = isRateLimited(errors);
        if (reply.status < 200 || reply.status >= 300) {
          const reason = errors.length > 0 ? graphQlReason(errors) : firstLine(reply.text);
          return httpFailure(reply, reason, target.scrub, limited || retryableStatus(reply.status));
        }
        const data = isRecord(reply.json) && isRecord(reply.json.data) ? reply.json.data : undefined;
        const created = data !== undefined && isRecord(data.issueCreate) ? data.issueCreate : undefined;
        // success wins over accompanying errors: the issue exists, and a retry would duplicate it.
        if (created?.success === true) {
          const issue = isRecord(created.issue) ? created.issue : {};
          return {
            ok: true,
            http_status: reply.status,
            error: null,
            retryable: false,
            ticket_key: nonEmpty(issue.identifier),
            ticket_url: nonEmpty(issue.url),
          };
        }
        const reason =
          errors.length > 0 ? graphQlReason(errors) : created !== undefined ? 'issueCreate returned success: false' : 'no issueCreate in the response';
        return { ok: false, http_status: reply.status, error: target.scrub(`GraphQL ${reason}`), retryable: limited };
      });
    },
  };
}

// ------------------------------------------------------------------------------- webhook

/**
 * The body POSTed to a generic ticket webhook. STABLE CONTRACT, version 1, with the same rules
 * as the policy-change webhook: properties keep their names, types and meanings; new optional
 * ones may be added; anything else needs `version: 2`.
 *
 * - `type`: always `"summary_needs_review"`.
 * - the rest is the `TicketRequest`: `cluster` is null for the all-agents summary; `description`
 *   is an array of plain-text lines.
 */
export interface TicketWebhookBody {
  readonly type: 'summary_needs_review';
  readonly version: 1;
  readonly org_id: string;
  readonly summary_id: string;
  readonly period: string;
  readonly cluster: string | null;
  readonly title: string;
  readonly description: readonly string[];
}

/** Copies property by property, so extra properties never leak and the signed key order is fixed. */
export function ticketWebhookBody(t: TicketRequest): TicketWebhookBody {
  return {
    type: 'summary_needs_review',
    version: 1,
    org_id: t.org_id,
    summary_id: t.summary_id,
    period: t.period,
    cluster: t.cluster,
    title: t.title,
    description: [...t.description],
  };
}

/**
 * POSTs `ticketWebhookBody` to any HTTPS endpoint, signed like the webhook sender when a secret
 * is given. 2xx ok (no ticket key: a generic receiver has no contract for one); 408/429/5xx,
 * network errors and timeouts retryable; other statuses not. `error` never contains the URL.
 */
export function webhookTicketer(opts: WebhookTicketerOptions): TicketOpener {
  const url = checkUrl(opts.url, 'ticket webhook');
  checkTimeout(opts);
  checkSigningSecret(opts.secret, 'ticket webhook');
  const scrub = scrubber([...urlForms(url), opts.secret ?? '']);
  return {
    channel: 'ticket-webhook',
    open: (ticket: TicketRequest) => {
      const body = JSON.stringify(ticketWebhookBody(ticket));
      return post({ url, headers: webhookHeaders(body, opts.secret), opts, scrub }, body, (reply) => {
        if (reply.status >= 200 && reply.status < 300) return { ok: true, http_status: reply.status, error: null, retryable: false };
        let reason = firstLine(reply.text);
        if (isRecord(reply.json)) reason = nonEmpty(reply.json.error) ?? nonEmpty(reply.json.message) ?? reason;
        return httpFailure(reply, reason, scrub);
      });
    },
  };
}
