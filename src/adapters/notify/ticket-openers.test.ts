import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TicketRequest, TicketResult } from '../../app/ports/ticketer.ts';
import type { TicketOutcome } from './ticket-openers.ts';
import { jiraTicketer, linearTicketer, markdownLine, truncateSummary, webhookTicketer } from './ticket-openers.ts';

// Loopback only, so anything near the project-wide 60 s default means a hang, not slowness.
vi.setConfig({ testTimeout: 5_000, hookTimeout: 5_000 });

// --------------------------------------------------------------------------- fake services

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly raw: string;
}
interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
}
/** What a fake does with one request: answer now, or never (to exercise timeouts). */
type Behaviour = Answer | 'hang';

interface Fake {
  base: string;
  readonly seen: Seen[];
  /** Answers for the next requests, in order, instead of the service's own behaviour. */
  script: Behaviour[];
  server: Server;
}

function startFake(behave: (req: Seen) => Answer): Fake {
  const fake: Fake = { base: '', seen: [], script: [], server: createServer() };
  fake.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen: Seen = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw: Buffer.concat(chunks).toString('utf8') };
      fake.seen.push(seen);
      const answer = fake.script.shift() ?? behave(seen);
      if (answer === 'hang') return; // closeAllConnections() in afterAll ends it
      const text = typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      const type = typeof answer.body === 'string' ? 'text/plain' : 'application/json';
      res.writeHead(answer.status, { 'content-type': type, ...answer.headers }).end(text);
    });
  });
  return fake;
}

async function listen(fake: Fake): Promise<void> {
  await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
  fake.base = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
}

async function stop(fake: Fake): Promise<void> {
  fake.server.closeAllConnections();
  await new Promise<void>((resolve) => fake.server.close(() => resolve()));
}

function parse(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return undefined;
  }
}
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

// Jira Cloud REST v3 "Create issue", as documented: basic auth with e-mail and API token,
// `fields.project.key`, `fields.issuetype.name`, a one-line summary of at most 255 characters
// and an ADF description. Errors come as 400 `{ errorMessages, errors }`, bad auth as 401.
const JIRA_EMAIL = 'bot@acme.example';
const JIRA_TOKEN = 'ATATT3xFfGF0-jira-api-token-SECRET';
const JIRA_PROJECTS = new Set(['FIN']);
const JIRA_ISSUE_TYPES = new Set(['Task', 'Bug']);

/** ADF's rules for what we send: a doc of paragraphs of non-empty text nodes. Returns the problem, or null. */
function adfProblem(doc: unknown): string | null {
  if (!isObj(doc) || doc.type !== 'doc' || doc.version !== 1 || !Array.isArray(doc.content)) return 'not a doc version 1 with content';
  for (const block of doc.content as unknown[]) {
    if (!isObj(block) || block.type !== 'paragraph' || !Array.isArray(block.content)) return 'block is not a paragraph with content';
    for (const inline of block.content as unknown[]) {
      if (!isObj(inline) || inline.type !== 'text' || typeof inline.text !== 'string' || inline.text === '') return 'inline is not a non-empty text node';
    }
  }
  return null;
}

function jiraBehaviour(fake: () => Fake): (req: Seen) => Answer {
  let next = 1;
  const bad = (errors: Record<string, string>, errorMessages: string[] = []): Answer => ({ status: 400, body: { errorMessages, errors } });
  return (req) => {
    if (req.path !== '/rest/api/3/issue') return { status: 404, body: { errorMessages: ['Not found'], errors: {} } };
    if (req.method !== 'POST') return { status: 405, body: '' };
    const expected = `Basic ${Buffer.from(`${JIRA_EMAIL}:${JIRA_TOKEN}`).toString('base64')}`;
    if (req.headers.authorization !== expected) return { status: 401, body: 'Client must be authenticated to access this resource.' };
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) return { status: 415, body: 'Unsupported Media Type' };
    const body = parse(req.raw);
    if (!isObj(body) || !isObj(body.fields)) return bad({}, ['Unexpected character in the request body']);
    const f = body.fields;
    const errors: Record<string, string> = {};
    if (!isObj(f.project) || typeof f.project.key !== 'string' || !JIRA_PROJECTS.has(f.project.key)) errors.project = 'valid project is required';
    if (!isObj(f.issuetype) || typeof f.issuetype.name !== 'string' || !JIRA_ISSUE_TYPES.has(f.issuetype.name)) {
      errors.issuetype = 'Specify a valid issue type';
    }
    if (typeof f.summary !== 'string' || f.summary.trim() === '') errors.summary = 'You must specify a summary of the issue.';
    else if (f.summary.length > 255) errors.summary = 'Summary must be less than 255 characters.';
    else if (/[\r\n]/.test(f.summary)) errors.summary = 'The summary is invalid because it contains newline characters.';
    const adf = f.description === undefined ? null : adfProblem(f.description);
    if (adf !== null) errors.description = `Operation value must be an Atlassian Document (${adf}).`;
    if (Object.keys(errors).length > 0) return bad(errors);
    const n = next++;
    return { status: 201, body: { id: String(10000 + n), key: `FIN-${n}`, self: `${fake().base}/rest/api/3/issue/${10000 + n}` } };
  };
}

// Linear's GraphQL API, as documented: a personal API key in `Authorization` without "Bearer",
// a POST of `{ query, variables }`; answers `{ data: { issueCreate: … } }` or `{ errors: [...] }`.
const LINEAR_KEY = 'lin_api_SECRETkey0123456789abcdefghijklmnop';
const LINEAR_TEAM = '9cfb482a-81e3-4154-b5b9-2c805e70a02d';

function linearBehaviour(): (req: Seen) => Answer {
  let next = 1;
  const error = (status: number, message: string, code: string): Answer => ({
    status,
    body: { errors: [{ message, extensions: { code, userPresentableMessage: message } }] },
  });
  return (req) => {
    if (req.method !== 'POST' || req.path !== '/graphql') return { status: 404, body: 'Not found' };
    if (req.headers.authorization !== LINEAR_KEY) return error(400, 'Authentication required, not authenticated', 'AUTHENTICATION_ERROR');
    const body = parse(req.raw);
    if (!isObj(body) || typeof body.query !== 'string') return error(400, 'Must provide query string.', 'GRAPHQL_PARSE_FAILED');
    if (!/^\s*mutation\b/.test(body.query) || !/\bissueCreate\s*\(/.test(body.query)) return error(400, 'Unknown operation', 'GRAPHQL_VALIDATION_FAILED');
    const input = isObj(body.variables) && isObj(body.variables.input) ? body.variables.input : undefined;
    if (input === undefined || typeof input.teamId !== 'string' || typeof input.title !== 'string' || input.title === '') {
      return error(400, 'Variable "$input" got invalid value', 'GRAPHQL_VALIDATION_FAILED');
    }
    if (input.description !== undefined && typeof input.description !== 'string') return error(400, 'description must be a string', 'GRAPHQL_VALIDATION_FAILED');
    // An unknown team passes validation but fails when resolved: a 200 carrying `errors`.
    if (input.teamId !== LINEAR_TEAM) {
      return { status: 200, body: { data: null, errors: [{ message: 'Entity not found: Team', extensions: { code: 'INVALID_INPUT' } }] } };
    }
    const n = next++;
    return {
      status: 200,
      body: { data: { issueCreate: { success: true, issue: { id: randomUUID(), identifier: `ENG-${n}`, url: `https://linear.app/acme/issue/ENG-${n}/spend-review` } } } },
    };
  };
}

const WEBHOOK_PATH = '/hooks/T0-super-secret-path-token';
const WEBHOOK_SECRET = 'whsec-shared-hmac-secret';

function webhookBehaviour(): (req: Seen) => Answer {
  return (req) => {
    if (req.method !== 'POST' || req.path !== WEBHOOK_PATH) return { status: 404, body: 'no such hook' };
    const sig = req.headers['x-spendtrail-signature'];
    if (typeof sig === 'string') {
      const want = Buffer.from(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(req.raw, 'utf8').digest('hex')}`);
      const got = Buffer.from(sig);
      if (got.length !== want.length || !timingSafeEqual(got, want)) return { status: 401, body: { error: 'bad signature' } };
    }
    return parse(req.raw) === undefined ? { status: 400, body: { error: 'not JSON' } } : { status: 202, body: '' };
  };
}

const jira: Fake = startFake(jiraBehaviour(() => jira));
const linear: Fake = startFake(linearBehaviour());
const hook: Fake = startFake(webhookBehaviour());

beforeAll(async () => {
  await Promise.all([listen(jira), listen(linear), listen(hook)]);
});
afterAll(async () => {
  await Promise.all([stop(jira), stop(linear), stop(hook)]);
});
beforeEach(() => {
  for (const f of [jira, linear, hook]) {
    f.seen.length = 0;
    f.script = [];
  }
});

// ---------------------------------------------------------------------------------- helpers

const TICKET: TicketRequest = {
  org_id: 'org_acme',
  summary_id: 'sum_2026_03_all_v1',
  period: '2026-03',
  cluster: null,
  title: 'Agent spend March 2026 (all agents) needs review: 3 transactions over the limit',
  description: [
    'Acme Corp: March 2026, all agents (version 1)',
    'Status: NEEDS REVIEW',
    '  - 3 transactions over the limit',
    'Top exceptions (3 in all):',
    '  * agent-7 2026-03-04 1200.00 merchant [click me](https://evil.example) <img src=x>',
  ],
};

/** Every failure's error must be free of each secret, in any of the forms it travels in. */
function expectNoSecrets(result: TicketResult, secrets: readonly string[]): void {
  for (const s of secrets) expect(result.error ?? '').not.toContain(s);
}
const JIRA_SECRETS = [JIRA_TOKEN, Buffer.from(`${JIRA_EMAIL}:${JIRA_TOKEN}`).toString('base64')];

async function closedPort(): Promise<number> {
  const probe = createNetServer();
  const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

// ------------------------------------------------------------------------------------ Jira

describe('jiraTicketer', () => {
  const opener = (over: Partial<Parameters<typeof jiraTicketer>[0]> = {}) =>
    jiraTicketer({ baseUrl: jira.base, email: JIRA_EMAIL, apiToken: JIRA_TOKEN, projectKey: 'FIN', ...over });

  it('creates a Task with an ADF description and returns the key and browse URL', async () => {
    const result = await opener().open(TICKET);

    expect(result).toEqual({
      ok: true,
      http_status: 201,
      error: null,
      retryable: false,
      ticket_key: 'FIN-1',
      ticket_url: `${jira.base}/browse/FIN-1`,
    });
    expect(jira.seen).toHaveLength(1);
    const fields = (JSON.parse(jira.seen[0]!.raw) as { fields: Record<string, unknown> }).fields;
    expect(fields.project).toEqual({ key: 'FIN' });
    expect(fields.issuetype).toEqual({ name: 'Task' });
    expect(fields.summary).toBe(TICKET.title);
    const paragraphs = (fields.description as { content: { content: { text: string }[] }[] }).content.map((p) =>
      p.content.map((t) => t.text).join(''),
    );
    // Every line as its own paragraph, then a blank one and the reference to the summary.
    expect(paragraphs).toEqual([...TICKET.description, '', 'Spendtrail summary sum_2026_03_all_v1 (org org_acme, period 2026-03, all agents)']);
  });

  it('uses the configured issue type, and the fake rejects one the project does not have', async () => {
    const bug = await opener({ issueType: 'Bug' }).open(TICKET);
    const epic = await opener({ issueType: 'Epic' }).open(TICKET);

    expect(bug.ok).toBe(true);
    expect((JSON.parse(jira.seen[0]!.raw) as { fields: { issuetype: unknown } }).fields.issuetype).toEqual({ name: 'Bug' });
    expect(epic).toMatchObject({ ok: false, http_status: 400, retryable: false });
    expect(epic.error).toBe('HTTP 400 issuetype: Specify a valid issue type');
  });

  it('truncates a long title to 255 characters on one line, which Jira accepts and an untruncated one it does not', async () => {
    // The cut falls inside a surrogate pair (🚨 is two UTF-16 units at 253–254).
    const long = `${'x'.repeat(253)}🚨 and\nmore text ${'y'.repeat(100)}`;
    const result = await opener().open({ ...TICKET, title: long });

    expect(result.ok).toBe(true);
    const summary = (JSON.parse(jira.seen[0]!.raw) as { fields: { summary: string } }).fields.summary;
    expect(summary.length).toBeLessThanOrEqual(255);
    expect(summary).toBe(`${'x'.repeat(253)}…`);
    expect(summary).toBe(truncateSummary(long));

    // Control: the fake really enforces the limit and the one-line rule.
    const raw = await fetch(`${jira.base}/rest/api/3/issue`, {
      method: 'POST',
      headers: { authorization: `Basic ${JIRA_SECRETS[1]!}`, 'content-type': 'application/json' },
      body: JSON.stringify({ fields: { project: { key: 'FIN' }, issuetype: { name: 'Task' }, summary: 'z'.repeat(256) } }),
    });
    expect(raw.status).toBe(400);
    expect(await raw.json()).toEqual({ errorMessages: [], errors: { summary: 'Summary must be less than 255 characters.' } });
  });

  it('flattens line breaks in a short title, which Jira would reject', async () => {
    const result = await opener().open({ ...TICKET, title: 'Needs review:\r\n3 over limit\tand 1 unapproved' });

    expect(result.ok).toBe(true);
    expect((JSON.parse(jira.seen[0]!.raw) as { fields: { summary: string } }).fields.summary).toBe('Needs review: 3 over limit and 1 unapproved');
  });

  it('sends empty description lines as empty paragraphs, since ADF forbids empty text nodes', async () => {
    const result = await opener().open({ ...TICKET, description: ['first', '', 'multi\nline'] });

    expect(result.ok).toBe(true);
    const doc = (JSON.parse(jira.seen[0]!.raw) as { fields: { description: { content: unknown[] } } }).fields.description;
    expect(doc.content.slice(0, 4)).toEqual([
      { type: 'paragraph', content: [{ type: 'text', text: 'first' }] },
      { type: 'paragraph', content: [] },
      { type: 'paragraph', content: [{ type: 'text', text: 'multi' }] },
      { type: 'paragraph', content: [{ type: 'text', text: 'line' }] },
    ]);
  });

  it('counts a 201 with an unreadable body as created (no key), since a retry would open a second issue', async () => {
    jira.script = [{ status: 201, body: '<html>proxy page</html>' }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: true, http_status: 201, error: null, retryable: false, ticket_key: undefined, ticket_url: undefined });
  });

  it('reports a wrong API token as 401, not retryable, without the token', async () => {
    const wrong = 'ATATT3x-wrong-but-still-secret-token';
    const result = await opener({ apiToken: wrong }).open(TICKET);

    expect(result).toMatchObject({ ok: false, http_status: 401, retryable: false });
    expect(result.error).toBe('HTTP 401 Client must be authenticated to access this resource.');
    expectNoSecrets(result, [wrong, Buffer.from(`${JIRA_EMAIL}:${wrong}`).toString('base64'), ...JIRA_SECRETS]);
  });

  it('reports an unknown project as a non-retryable 400 with Jira\'s field message', async () => {
    const result = await opener({ projectKey: 'OPS' }).open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 400, error: 'HTTP 400 project: valid project is required', retryable: false });
  });

  it('removes the token and the Authorization header even when an error body quotes them', async () => {
    jira.script = [{ status: 400, body: { errorMessages: [`bad header ${JIRA_SECRETS[1]!} for token ${JIRA_TOKEN}`], errors: {} } }];
    const result = await opener().open(TICKET);

    expect(result).toMatchObject({ ok: false, http_status: 400, retryable: false });
    expect(result.error).toBe('HTTP 400 bad header [redacted] for token [redacted]');
    expectNoSecrets(result, JIRA_SECRETS);
  });

  it.each([
    { status: 500, retryable: true },
    { status: 502, retryable: true },
    { status: 503, retryable: true },
    { status: 408, retryable: true },
    { status: 403, retryable: false },
    { status: 404, retryable: false },
  ])('maps HTTP $status to retryable=$retryable', async ({ status, retryable }) => {
    jira.script = [{ status, body: { errorMessages: ['scripted'], errors: {} } }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: status, error: `HTTP ${status} scripted`, retryable });
  });

  it('passes on a 429 Retry-After so the retry loop can honour it', async () => {
    jira.script = [{ status: 429, body: { errorMessages: ['Rate limit exceeded'], errors: {} }, headers: { 'retry-after': '7' } }];
    const result: TicketOutcome = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 429, error: 'HTTP 429 Rate limit exceeded', retryable: true, retry_after_ms: 7000 });
  });

  it('reports a redirect without following it', async () => {
    jira.script = [{ status: 302, body: '', headers: { location: 'https://elsewhere.example/login' } }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 302, error: 'HTTP 302 redirect not followed', retryable: false });
    expect(jira.seen).toHaveLength(1);
  });

  it('times out a tracker that never answers, as retryable', async () => {
    jira.script = ['hang'];
    const started = Date.now();
    const result = await opener({ timeoutMs: 200 }).open(TICKET);

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result).toEqual({ ok: false, http_status: null, error: 'timeout after 200 ms', retryable: true });
  });

  it('reports ECONNREFUSED as retryable', async () => {
    const result = await opener({ baseUrl: `http://127.0.0.1:${await closedPort()}` }).open(TICKET);

    expect(result).toEqual({ ok: false, http_status: null, error: 'ECONNREFUSED', retryable: true });
  });

  it('rejects bad configuration without quoting the token', () => {
    const cases: [Partial<Parameters<typeof jiraTicketer>[0]>, RegExp][] = [
      [{ baseUrl: 'http://acme.atlassian.net' }, /must use https/],
      [{ baseUrl: 'not a url' }, /not a valid absolute URL/],
      [{ baseUrl: `https://bot:${JIRA_TOKEN}@acme.atlassian.net` }, /must not contain credentials/],
      [{ apiToken: '' }, /apiToken must be a non-empty string/],
      [{ projectKey: 'FIN-1' }, /projectKey must look like FIN/],
      [{ timeoutMs: 0 }, /timeoutMs must be > 0/],
    ];
    for (const [over, why] of cases) {
      let message = '';
      try {
        opener(over);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(why);
      expect(message).not.toContain(JIRA_TOKEN);
    }
  });
});

// ---------------------------------------------------------------------------------- Linear

describe('linearTicketer', () => {
  const opener = (over: Partial<Parameters<typeof linearTicketer>[0]> = {}) =>
    linearTicketer({ apiKey: LINEAR_KEY, teamId: LINEAR_TEAM, endpoint: `${linear.base}/graphql`, ...over });

  it('creates an issue with the issueCreate mutation and returns identifier and URL', async () => {
    const result = await opener().open(TICKET);

    expect(result).toEqual({
      ok: true,
      http_status: 200,
      error: null,
      retryable: false,
      ticket_key: 'ENG-1',
      ticket_url: 'https://linear.app/acme/issue/ENG-1/spend-review',
    });
    const req = linear.seen[0]!;
    // A personal API key goes in as is: "Bearer lin_api_…" is rejected by Linear.
    expect(req.headers.authorization).toBe(LINEAR_KEY);
    const body = JSON.parse(req.raw) as { query: string; variables: { input: Record<string, unknown> } };
    expect(body.query).toContain('issueCreate(input: $input)');
    expect(body.variables.input.teamId).toBe(LINEAR_TEAM);
    expect(body.variables.input.title).toBe(TICKET.title);
  });

  it('writes the description as markdown paragraphs in which transaction text cannot become a link or HTML', async () => {
    await opener().open(TICKET);

    const description = (JSON.parse(linear.seen[0]!.raw) as { variables: { input: { description: string } } }).variables.input.description;
    const paragraphs = description.split('\n\n');
    expect(paragraphs[0]).toBe('Acme Corp: March 2026, all agents (version 1)');
    expect(paragraphs[2]).toBe('\\- 3 transactions over the limit');
    expect(paragraphs[4]).toBe('\\* agent-7 2026-03-04 1200.00 merchant \\[click me\\](https://evil.example) \\<img src=x\\>');
    expect(description).not.toMatch(/(^|[^\\])\[click me/);
    expect(paragraphs.at(-1)).toBe('Spendtrail summary sum\\_2026\\_03\\_all\\_v1 (org org\\_acme, period 2026-03, all agents)');
  });

  it('reports a wrong API key as not retryable, without the key', async () => {
    const wrong = 'lin_api_WRONGbutSECRET0123456789';
    const result = await opener({ apiKey: wrong }).open(TICKET);

    expect(result).toMatchObject({ ok: false, http_status: 400, retryable: false });
    expect(result.error).toBe('HTTP 400 Authentication required, not authenticated');
    expectNoSecrets(result, [wrong, LINEAR_KEY]);
  });

  it('treats a 200 carrying errors (unknown team) as a non-retryable failure', async () => {
    const result = await opener({ teamId: randomUUID() }).open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 200, error: 'GraphQL Entity not found: Team', retryable: false });
  });

  it('treats issueCreate success: false as a non-retryable failure', async () => {
    linear.script = [{ status: 200, body: { data: { issueCreate: { success: false, issue: null } } } }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 200, error: 'GraphQL issueCreate returned success: false', retryable: false });
  });

  it.each([200, 400, 429])('treats a RATELIMITED error with HTTP %i as retryable', async (status) => {
    linear.script = [{ status, body: { errors: [{ message: 'Too many requests', extensions: { code: 'RATELIMITED' } }] } }];
    const result = await opener().open(TICKET);

    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(true);
    expect(result.http_status).toBe(status);
    expect(result.error).toContain('Too many requests');
  });

  it('removes the API key even when an error quotes it', async () => {
    linear.script = [{ status: 200, body: { errors: [{ message: `key ${LINEAR_KEY} lacks access` }] } }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: 200, error: 'GraphQL key [redacted] lacks access', retryable: false });
  });

  it.each([
    { status: 500, retryable: true },
    { status: 503, retryable: true },
    { status: 401, retryable: false },
  ])('maps HTTP $status without GraphQL errors to retryable=$retryable', async ({ status, retryable }) => {
    linear.script = [{ status, body: 'upstream says no' }];
    const result = await opener().open(TICKET);

    expect(result).toEqual({ ok: false, http_status: status, error: `HTTP ${status} upstream says no`, retryable });
  });

  it('reports network failures and timeouts as retryable', async () => {
    linear.script = ['hang'];
    const hung = await opener({ timeoutMs: 200 }).open(TICKET);
    const refused = await opener({ endpoint: `http://127.0.0.1:${await closedPort()}/graphql` }).open(TICKET);

    expect(hung).toEqual({ ok: false, http_status: null, error: 'timeout after 200 ms', retryable: true });
    expect(refused).toEqual({ ok: false, http_status: null, error: 'ECONNREFUSED', retryable: true });
  });

  it('rejects bad configuration without quoting the key', () => {
    for (const [over, why] of [
      [{ apiKey: '' }, /apiKey must be a non-empty string/],
      [{ teamId: ' ' }, /teamId must be a non-empty string/],
      [{ endpoint: 'http://api.linear.app/graphql' }, /must use https/],
    ] as const) {
      expect(() => opener(over)).toThrow(why);
    }
    expect(linearTicketer({ apiKey: LINEAR_KEY, teamId: LINEAR_TEAM }).channel).toBe('linear');
  });
});

// --------------------------------------------------------------------------------- webhook

describe('webhookTicketer', () => {
  const opener = (over: Partial<Parameters<typeof webhookTicketer>[0]> = {}) =>
    webhookTicketer({ url: `${hook.base}${WEBHOOK_PATH}`, secret: WEBHOOK_SECRET, ...over });

  it('posts the version-1 body, signed with the shared secret', async () => {
    const result = await opener().open({ ...TICKET, cluster: 'ops', extra: 'must not leak' } as TicketRequest);

    expect(result).toEqual({ ok: true, http_status: 202, error: null, retryable: false });
    const req = hook.seen[0]!;
    expect(JSON.parse(req.raw)).toEqual({
      type: 'summary_needs_review',
      version: 1,
      org_id: 'org_acme',
      summary_id: 'sum_2026_03_all_v1',
      period: '2026-03',
      cluster: 'ops',
      title: TICKET.title,
      description: TICKET.description,
    });
    expect(req.headers['x-spendtrail-signature']).toBe(`sha256=${createHmac('sha256', WEBHOOK_SECRET).update(req.raw).digest('hex')}`);
  });

  it('is rejected by the receiver when signed with another secret, and sends no signature without one', async () => {
    const wrong = await opener({ secret: 'another-secret' }).open(TICKET);
    const unsigned = await opener({ secret: undefined }).open(TICKET);

    expect(wrong).toEqual({ ok: false, http_status: 401, error: 'HTTP 401 bad signature', retryable: false });
    expect(unsigned.ok).toBe(true);
    expect(hook.seen[1]!.headers['x-spendtrail-signature']).toBeUndefined();
  });

  it('maps statuses like the webhook sender and never puts the URL in the error', async () => {
    hook.script = [
      { status: 500, body: `failed to handle ${hook.base}${WEBHOOK_PATH}` },
      { status: 410, body: { error: `gone: ${WEBHOOK_PATH}` } },
    ];
    const server = await opener().open(TICKET);
    const gone = await opener().open(TICKET);

    expect(server).toMatchObject({ ok: false, http_status: 500, retryable: true });
    expect(gone).toMatchObject({ ok: false, http_status: 410, retryable: false });
    for (const r of [server, gone]) {
      expect(r.error).not.toContain('super-secret-path-token');
      expect(r.error).not.toContain('127.0.0.1');
    }
  });

  it('rejects a non-https URL for a remote host and an empty secret', () => {
    expect(() => webhookTicketer({ url: 'http://hooks.example.com/x' })).toThrow(/must use https/);
    expect(() => webhookTicketer({ url: `${hook.base}${WEBHOOK_PATH}`, secret: '' })).toThrow(/secret must not be empty/);
  });
});

describe('markdownLine', () => {
  it.each([
    ['1. not a list', '1\\. not a list'],
    ['# not a heading', '\\# not a heading'],
    ['> not a quote', '\\> not a quote'],
    ['plain 12.50 EUR', 'plain 12.50 EUR'],
    ['![img](x) `code` *b* _i_ ~s~ a|b', '!\\[img\\](x) \\`code\\` \\*b\\* \\_i\\_ \\~s\\~ a\\|b'],
  ])('escapes %j', (input, want) => {
    expect(markdownLine(input)).toBe(want);
  });
});
