import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverPendingNotices, MAX_ATTEMPTS } from '../src/app/change-notices.ts';
import type { AppDeps } from '../src/app/deps.ts';
import { proposePolicyChange, setChangeControl } from '../src/app/policy-changes.ts';
import type { Principal } from '../src/app/principal.ts';
import { slackSender, webhookSender } from '../src/adapters/notify/http-sender.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/** A Slack-like receiver: answers requests to `planned` with the statuses queued in `plan`, then 200 "ok". */
class Receiver {
  readonly bodies: { path: string; body: Record<string, unknown> }[] = [];
  plan: number[] = [];
  planned = '';
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let raw = '';
      req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
      req.on('end', () => {
        this.bodies.push({ path: req.url ?? '', body: JSON.parse(raw) as Record<string, unknown> });
        const status = (req.url === this.planned ? this.plan.shift() : undefined) ?? 200;
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : status === 404 ? 'no_service' : 'internal_error');
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}

describe.each(ENGINES)('policy change notices on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const receiver = new Receiver();
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  beforeAll(async () => {
    await receiver.start();
    receiver.planned = secretPath;
  });
  afterAll(() => receiver.stop());

  const secretPath = '/services/T000/B000/XXXXsecretXXXX';
  const carol: Principal = { org_id: 'acme', principal: 'carol@acme.test', roles: ['policy_admin'], agent_id: null, key_id: null };
  const withChannels = (): AppDeps => ({
    ...env.deps,
    channels: [slackSender(`${receiver.url}${secretPath}`), webhookSender(`${receiver.url}/generic`, { secret: 'shh' })],
  });
  const noSleep = { sleep: () => Promise.resolve() };

  it('tells Slack and the webhook about a change without a ticket, retrying a failure and recording every attempt', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const deps = withChannels();
    await setChangeControl(deps, org.admin, { approval: 'widening', fields: {}, ticket_required: false, notify: 'unticketed' });
    // With a ticket: not announced under the default "unticketed" setting.
    await proposePolicyChange(deps, carol, { agent_id: 'research-bot', changes: { daily_limit: '900.00' }, justification: 'Tighter', approval_ticket: 'FIN-9' });
    expect(await deps.store.listNotifications('acme')).toHaveLength(0);

    const r = await proposePolicyChange(deps, carol, {
      agent_id: 'research-bot',
      changes: { per_transaction_limit: '400.00' },
      justification: 'Smaller <!channel> purchases & fewer surprises',
    });
    const queued = await deps.store.listNotifications('acme', r.change.change_id);
    expect(queued.map((n) => [n.channel, n.status]).sort()).toEqual([
      ['slack', 'pending'],
      ['webhook', 'pending'],
    ]);
    receiver.plan = [500];
    const out = await deliverPendingNotices(deps, noSleep);
    expect(out).toEqual({ delivered: 2, failed: 0 });

    const slack = receiver.bodies.filter((b) => b.path === secretPath);
    expect(slack).toHaveLength(2); // the 500, then the retry
    const text = JSON.stringify(slack[1]?.body);
    expect(text).toContain('research-bot');
    expect(text).toContain('per_transaction_limit');
    expect(text).toContain('500.00');
    expect(text).toContain('400.00');
    expect(text).toContain('carol@acme.test');
    // Escaped: the justification cannot ping the whole channel.
    expect(text).not.toContain('<!channel>');
    const generic = receiver.bodies.find((b) => b.path === '/generic')?.body;
    expect(generic).toMatchObject({ type: 'policy_change', change_id: r.change.change_id, ticket_missing: true, changed_by: 'carol@acme.test' });

    const rows = await deps.store.listNotifications('acme', r.change.change_id);
    const slackRow = rows.find((n) => n.channel === 'slack');
    expect(slackRow?.status).toBe('delivered');
    const attempts = await deps.store.notificationAttempts(slackRow?.notification_id ?? '');
    expect(attempts.map((a) => [a.attempt, a.ok, a.http_status])).toEqual([
      [1, false, 500],
      [2, true, 200],
    ]);
    // The hook URL is a secret: it is in no stored row.
    expect(JSON.stringify({ rows, attempts })).not.toContain('secret');
    expect(await deliverPendingNotices(deps, noSleep)).toEqual({ delivered: 0, failed: 0 });
  });

  it('gives up on a permanent failure at once and keeps the notice as failed', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const deps = withChannels();
    const r = await proposePolicyChange(deps, carol, { agent_id: 'research-bot', changes: { per_transaction_limit: '350.00' }, justification: 'Smaller again' });
    receiver.plan = [404];
    const out = await deliverPendingNotices(deps, noSleep);
    expect(out.failed).toBe(1);
    const slackRow = (await deps.store.listNotifications('acme', r.change.change_id)).find((n) => n.channel === 'slack');
    expect(slackRow).toMatchObject({ status: 'failed', attempts: 1 });
    expect(slackRow?.last_error).toContain('404');
    expect(MAX_ATTEMPTS).toBeGreaterThan(1);
  });

  it('keeps a notice pending while a channel is down, and delivers it on a later round', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const deps = withChannels();
    const r = await proposePolicyChange(deps, carol, { agent_id: 'research-bot', changes: { per_transaction_limit: '300.00' }, justification: 'Smaller still' });
    receiver.plan = [503, 503, 503];
    await deliverPendingNotices(deps, { ...noSleep, attemptsPerRound: 3 });
    const pending = (await deps.store.listNotifications('acme', r.change.change_id)).find((n) => n.channel === 'slack');
    expect(pending).toMatchObject({ status: 'pending', attempts: 3 });
    await deliverPendingNotices(deps, noSleep);
    const done = (await deps.store.listNotifications('acme', r.change.change_id)).find((n) => n.channel === 'slack');
    expect(done).toMatchObject({ status: 'delivered', attempts: 4 });
  });
});
