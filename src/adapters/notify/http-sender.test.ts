import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChangeNotice, SendResult } from '../../app/ports/notifier.ts';
import type { SendOutcome } from '../../app/retry.ts';
import { deliverWithRetry } from '../../app/retry.ts';
import { slackSender, webhookSender } from './http-sender.ts';

// Loopback only, so anything near the project-wide 60 s default means a hang, not slowness.
vi.setConfig({ testTimeout: 5_000, hookTimeout: 5_000 });

/**
 * A real HTTP receiver on 127.0.0.1 that checks the documented Slack incoming-webhook payload
 * rules and answers the way Slack does: 200 `ok`, or 400 `invalid_payload`. Tests can script
 * other answers (5xx, 404, 429, never answering) per request.
 */
interface Seen {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: string;
}
type Answer = { status: number; body: string; headers?: Record<string, string> } | 'hang';

const KNOWN_BLOCKS = new Set(['header', 'section', 'context', 'divider']);

/** Slack's shape rules for `{ text, blocks }`; returns why it is invalid, or null. */
function slackShapeProblem(headers: IncomingMessage['headers'], raw: string): string | null {
  if (!(headers['content-type'] ?? '').startsWith('application/json')) return 'content-type';
  let body: { text?: unknown; blocks?: unknown };
  try {
    body = JSON.parse(raw) as typeof body;
  } catch {
    return 'not JSON';
  }
  if (typeof body.text !== 'string' || body.text === '') return 'text';
  if (!Array.isArray(body.blocks) || body.blocks.length > 50) return 'blocks';
  for (const b of body.blocks as { type?: unknown; text?: { type?: unknown; text?: unknown }; fields?: unknown[] }[]) {
    if (typeof b.type !== 'string' || !KNOWN_BLOCKS.has(b.type)) return `block type ${String(b.type)}`;
    const t = b.text?.text;
    if (b.type === 'header' && (b.text?.type !== 'plain_text' || typeof t !== 'string' || t.length > 150)) return 'header';
    if (b.type === 'section') {
      if (t !== undefined && (typeof t !== 'string' || t.length > 3000)) return 'section text';
      if (b.fields !== undefined && b.fields.length > 10) return 'section fields';
    }
  }
  return null;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
let script: Answer[] = [];
const hanging: ServerResponse[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      seen.push({ path: req.url ?? '', headers: req.headers, raw });
      const scripted = script.shift();
      if (scripted === 'hang') {
        hanging.push(res);
        return;
      }
      if (scripted !== undefined) {
        res.writeHead(scripted.status, { 'content-type': 'text/plain', ...scripted.headers }).end(scripted.body);
        return;
      }
      // Unscripted: behave like Slack would for this body.
      const problem = req.url?.startsWith('/services/') ? slackShapeProblem(req.headers, raw) : null;
      if (problem !== null) res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid_payload');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  seen.length = 0;
  script = [];
});

/** The path is the secret part of a Slack hook URL; tests check it never leaks. */
const SECRET_PATH = '/services/T0000000/B0000000/XXXXsecretXXXX';
const hook = () => `${base}${SECRET_PATH}`;

const notice: ChangeNotice = {
  org_id: 'acme',
  change_id: 'chg_42',
  agent_id: 'buyer-bot',
  agent_name: 'Procurement bot',
  changed_by: 'alice@acme.test',
  justification: 'Quarter-end vendor payments',
  approval_ticket: 'FIN-7',
  ticket_missing: false,
  status: 'applied',
  currency: 'EUR',
  at: '2025-03-31T12:00:00.000Z',
  fields: [
    { field: 'daily_limit', old_value: '1000.00', new_value: '2500.00' },
    { field: 'allowed_merchants', old_value: null, new_value: ['acme', 'globex'] },
  ],
};

function expectNoUrl(result: SendResult): void {
  expect(result.error).not.toBeNull();
  expect(result.error).not.toContain('XXXXsecretXXXX');
  expect(result.error).not.toContain('/services/');
  expect(result.error).not.toContain('http://');
}

describe('the receiver enforces Slack’s payload rules', () => {
  it('rejects a payload Slack would reject (so acceptance below means something)', async () => {
    const bad = { text: 'x', blocks: [{ type: 'header', text: { type: 'plain_text', text: 'h'.repeat(151) } }] };
    const res = await fetch(hook(), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(bad) });
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('invalid_payload');
  });
});

describe('slackSender', () => {
  it('delivers a notice Slack accepts, naming the agent and each change old → new', async () => {
    const result = await slackSender(hook()).send(notice);
    expect(result).toEqual({ ok: true, http_status: 200, error: null, retryable: false });
    expect(seen).toHaveLength(1);
    const body = JSON.parse(seen[0]!.raw) as { text: string; blocks: unknown[] };
    const all = JSON.stringify(body.blocks);
    expect(all).toContain('Procurement bot (buyer-bot)');
    expect(all).toContain('*daily_limit*: 1000.00 EUR → 2500.00 EUR');
    expect(all).toContain('*allowed_merchants*: _any_ → acme, globex');
    expect(body.text).toContain('Policy change applied');
    expect(seen[0]!.path).toBe(SECRET_PATH);
  });

  it('stays within Slack’s limits for a 200-field notice', async () => {
    const big: ChangeNotice = {
      ...notice,
      justification: 'j'.repeat(50_000),
      fields: Array.from({ length: 200 }, (_, i) => ({ field: `f${i}`, old_value: null, new_value: 'v'.repeat(5000) })),
    };
    const result = await slackSender(hook()).send(big);
    expect(result.ok).toBe(true);
  });

  it('retries a 500 and records both attempts', async () => {
    script = [{ status: 500, body: 'rollup_error' }];
    const sender = slackSender(hook());
    const recorded: [number, SendResult][] = [];
    const sleeps: number[] = [];
    const out = await deliverWithRetry(() => sender.send(notice), {
      attempts: 4,
      baseDelayMs: 1000,
      maxDelayMs: 30_000,
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      random: () => 0.5,
      onAttempt: (n, r) => {
        recorded.push([n, r]);
      },
    });
    expect(out.attempts).toBe(2);
    expect(out.result.ok).toBe(true);
    expect(recorded).toEqual([
      [1, { ok: false, http_status: 500, error: 'HTTP 500 rollup_error', retryable: true }],
      [2, { ok: true, http_status: 200, error: null, retryable: false }],
    ]);
    expect(sleeps).toEqual([500]);
    expect(seen).toHaveLength(2);
  });

  it('does not retry a 404 no_service', async () => {
    script = [{ status: 404, body: 'no_service' }];
    const sender = slackSender(hook());
    const out = await deliverWithRetry(() => sender.send(notice), { attempts: 5, baseDelayMs: 1, maxDelayMs: 1, sleep: () => Promise.resolve() });
    expect(out).toEqual({ result: { ok: false, http_status: 404, error: 'HTTP 404 no_service', retryable: false }, attempts: 1 });
    expect(seen).toHaveLength(1);
  });

  it.each([
    [400, 'invalid_payload', false],
    [403, 'action_prohibited', false],
    [410, 'channel_is_archived', false],
    [408, 'request_timeout', true],
    [503, 'service_unavailable', true],
  ])('maps HTTP %i %s to retryable=%s', async (status, body, retryable) => {
    script = [{ status, body }];
    expect(await slackSender(hook()).send(notice)).toEqual({ ok: false, http_status: status, error: `HTTP ${status} ${body}`, retryable });
  });

  it('passes on a 429 Retry-After as retry_after_ms', async () => {
    script = [{ status: 429, body: '{"ok":false,"error":"rate_limited"}', headers: { 'retry-after': '7' } }];
    const result: SendOutcome = await slackSender(hook()).send(notice);
    expect(result).toEqual({ ok: false, http_status: 429, error: 'HTTP 429 rate_limited', retryable: true, retry_after_ms: 7000 });
  });

  it('reports a receiver that never answers as a retryable timeout', async () => {
    script = ['hang'];
    const started = Date.now();
    const result = await slackSender(hook(), { timeoutMs: 200 }).send(notice);
    expect(result).toEqual({ ok: false, http_status: null, error: 'timeout after 200 ms', retryable: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reports connection refused without the URL', async () => {
    // A port that was just free: bind, note it, close.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const result = await slackSender(`http://127.0.0.1:${port}${SECRET_PATH}`).send(notice);
    expect(result).toMatchObject({ ok: false, http_status: null, retryable: true, error: 'ECONNREFUSED' });
    expectNoUrl(result);
  });

  it('strips the URL from errors fetch throws and from response bodies that echo it', async () => {
    const throwing: typeof fetch = (input) => Promise.reject(new TypeError(`request to ${input as string} failed, reason: boom`));
    const thrown = await slackSender(hook(), { fetch: throwing }).send(notice);
    expect(thrown.retryable).toBe(true);
    expect(thrown.error).toContain('boom');
    expectNoUrl(thrown);

    // Even without a scheme, the secret path alone must not get through.
    const causeOnly: typeof fetch = () => Promise.reject(new TypeError('fetch failed', { cause: new Error(`cannot reach 127.0.0.1${SECRET_PATH}`) }));
    expectNoUrl(await slackSender(hook(), { fetch: causeOnly }).send(notice));

    script = [{ status: 404, body: `No hook at ${hook()} or ${SECRET_PATH}` }];
    const echoed = await slackSender(hook()).send(notice);
    expect(echoed).toMatchObject({ ok: false, http_status: 404, retryable: false });
    expectNoUrl(echoed);
  });

  it('does not follow redirects', async () => {
    script = [{ status: 302, body: '', headers: { location: `${base}/elsewhere` } }];
    const result = await slackSender(hook()).send(notice);
    expect(result).toEqual({ ok: false, http_status: 302, error: 'HTTP 302 redirect not followed', retryable: false });
    expect(seen.map((s) => s.path)).toEqual([SECRET_PATH]);
  });
});

describe('URL validation at construction', () => {
  it('requires https except on loopback, without echoing the path', () => {
    expect(() => slackSender('https://hooks.slack.com/services/T/B/abc')).not.toThrow();
    expect(() => webhookSender('http://localhost:8080/hook')).not.toThrow();
    const attempt = () => slackSender('http://hooks.example.com/services/T/B/topsecret');
    expect(attempt).toThrow(/must use https \(host hooks\.example\.com\)/);
    expect(attempt).not.toThrow(/topsecret/);
    expect(() => webhookSender('ftp://127.0.0.1/x')).toThrow(/https/);
    const invalid = () => slackSender('hooks.slack.com/services/T/B/topsecret');
    expect(invalid).toThrow(/not a valid absolute URL/);
    expect(invalid).not.toThrow(/topsecret/);
  });

  it('rejects a non-positive timeout and an empty secret', () => {
    expect(() => slackSender(hook(), { timeoutMs: 0 })).toThrow(RangeError);
    expect(() => webhookSender(hook(), { secret: '' })).toThrow(/secret/);
  });
});

describe('webhookSender', () => {
  it('posts the versioned JSON body with an HMAC the receiver can verify', async () => {
    const secret = 'shared-secret-123';
    const sender = webhookSender(`${base}/hook`, { secret });
    expect(sender.channel).toBe('webhook');
    const result = await sender.send({ ...notice, extra: 'must not leak' } as ChangeNotice);
    expect(result.ok).toBe(true);

    const req = seen[0]!;
    expect(req.headers['content-type']).toBe('application/json');
    const header = req.headers['x-spendtrail-signature'];
    expect(typeof header).toBe('string');
    // What a receiver does: recompute over the raw bytes and compare in constant time.
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(req.raw).digest('hex')}`);
    const got = Buffer.from(header as string);
    expect(got.length === expected.length && timingSafeEqual(got, expected)).toBe(true);
    const wrongKey = `sha256=${createHmac('sha256', 'other').update(req.raw).digest('hex')}`;
    expect(header).not.toBe(wrongKey);

    const body = JSON.parse(req.raw) as Record<string, unknown>;
    expect(body).toEqual({ type: 'policy_change', version: 1, ...notice });
    expect(body).not.toHaveProperty('extra');
  });

  it('sends no signature header without a secret, and maps failures like the Slack sender', async () => {
    script = [{ status: 502, body: 'bad gateway' }];
    const result = await webhookSender(`${base}/hook`).send(notice);
    expect(result).toEqual({ ok: false, http_status: 502, error: 'HTTP 502 bad gateway', retryable: true });
    expect(seen[0]!.headers['x-spendtrail-signature']).toBeUndefined();
  });
});
