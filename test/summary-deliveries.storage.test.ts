import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, describe, expect, it } from 'vitest';
import type { AppDeps } from '../src/app/deps.ts';
import { recordTransactions } from '../src/app/record-transactions.ts';
import { runDueSummaries } from '../src/app/summary-scheduler.ts';
import { deliverSummaries } from '../src/app/summary-deliveries.ts';
import { smtpMailer } from '../src/adapters/notify/smtp-mailer.ts';
import { webhookTicketer } from '../src/adapters/notify/ticket-openers.ts';
import { renderSummaryPdf } from '../src/adapters/reports/summary-pdf.ts';
import { ENGINES } from './support/engines.ts';
import type { TestEnv } from './support/engines.ts';
import { seededSuite, tx } from './support/fixtures.ts';
import type { Seeded } from './support/fixtures.ts';

/** A port nothing listens on yet: the SMTP server is "down" until it starts there. */
async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function hasPdftotext(): boolean {
  try {
    execFileSync('pdftotext', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe.each(ENGINES)('summaries emailed and ticketed on %s', (engine) => {
  let env: TestEnv;
  let org: Seeded;
  const suite = seededSuite(engine, (e, o) => {
    env = e;
    org = o;
  });
  const received: { raw: Buffer; rcpt: string[] }[] = [];
  const tickets: Record<string, unknown>[] = [];
  let smtp: SMTPServer | undefined;
  let rejectWith: number | null = null;
  const ticketServer = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      tickets.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(201, { 'content-type': 'application/json' }).end('{}');
    });
  });
  afterAll(async () => {
    await new Promise<void>((r) => (smtp === undefined ? r() : smtp.close(() => r())));
    await new Promise<void>((r) => ticketServer.close(() => r()));
  });

  const startSmtp = async (port: number): Promise<void> => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, cb) {
        if (rejectWith === null) return cb();
        const err = Object.assign(new Error('mailbox unavailable'), { responseCode: rejectWith });
        return cb(err);
      },
      onData(stream, session, cb) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          received.push({ raw: Buffer.concat(chunks), rcpt: session.envelope.rcptTo.map((r) => r.address) });
          cb();
        });
      },
    });
    await new Promise<void>((r) => smtp?.listen(port, '127.0.0.1', r));
  };

  it('queues the email while SMTP is down, records each failed attempt, and delivers the PDF when it is back', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const port = await freePort();
    await new Promise<void>((r) => ticketServer.listen(0, '127.0.0.1', r));
    const deps: AppDeps = {
      ...env.deps,
      mailer: smtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'spendtrail@acme.test', timeoutMs: 3000 }),
      summaryRecipients: ['cfo@acme.test', 'controller@acme.test'],
      ticketer: webhookTicketer({ url: `http://127.0.0.1:${(ticketServer.address() as AddressInfo).port}/tickets` }),
      renderSummaryPdf: (s) => renderSummaryPdf(s, { paper: 'a4' }),
    };
    env.clock.set('2026-03-20T10:00:00.000Z');
    await recordTransactions(deps, org.admin, [tx({ external_id: 'over', amount: '2600.00', approver: 'dave@acme.test', timestamp: '2026-03-20T09:00:00Z' })], 'atomic');
    env.clock.set('2026-04-01T06:00:00.000Z');
    const made = await runDueSummaries(deps, env.signer.note);
    expect(made.map((g) => g.cluster)).toEqual(['research', 'support']);
    const support = made.find((g) => g.cluster === 'support')?.summary_id ?? '';

    const noWait = { sleep: () => Promise.resolve(), attemptsPerRound: 2 };
    const first = await deliverSummaries(deps, noWait);
    expect(first.delivered).toBe(1); // the support ticket: only NEEDS_REVIEW summaries open one
    expect(tickets).toHaveLength(1);
    expect(tickets[0]).toMatchObject({ type: 'summary_needs_review', summary_id: support, period: '2026-03', cluster: 'support' });
    const pending = (await deps.store.listNotifications('acme', support)).find((n) => n.channel === 'email');
    expect(pending).toMatchObject({ status: 'pending', attempts: 2 });
    expect(pending?.last_error).toMatch(/ECONNREFUSED/);
    // The summary exists whatever happens to its email.
    expect((await deps.store.getSummaries('acme', { summary_id: support }))[0]?.summary_hash).toMatch(/^sha256:/);

    await startSmtp(port);
    const second = await deliverSummaries(deps, noWait);
    expect(second.delivered).toBe(2);
    expect(received).toHaveLength(2);
    const mails = await Promise.all(received.map((m) => simpleParser(m.raw)));
    const mail = mails.find((m) => (m.subject ?? '').includes('support'));
    expect(mail?.subject).toContain('NEEDS REVIEW');
    expect(mail?.subject).toContain('March 2026');
    expect(mail?.text).toContain('Over-limit transactions: 1');
    expect(received[0]?.rcpt.sort()).toEqual(['cfo@acme.test', 'controller@acme.test']);
    const pdf = mail?.attachments.find((a) => a.contentType === 'application/pdf');
    expect(pdf?.filename).toBe('spend-summary-2026-03-support-v1.pdf');
    expect(pdf?.content.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    if (hasPdftotext()) {
      const dir = mkdtempSync(join(tmpdir(), 'summary-mail-'));
      writeFileSync(join(dir, 's.pdf'), pdf?.content ?? Buffer.alloc(0));
      const text = execFileSync('pdftotext', ['-layout', join(dir, 's.pdf'), '-'], { encoding: 'utf8' });
      rmSync(dir, { recursive: true, force: true });
      expect(text).toContain('NEEDS REVIEW');
      expect(text).toContain('2,600.00');
    } else if (process.env.CI === 'true') {
      throw new Error('pdftotext (poppler-utils) is required under CI');
    } else {
      console.warn('SKIPPED: the emailed PDF text was not checked: pdftotext (poppler-utils) not installed');
    }
    const rows = await deps.store.listNotifications('acme', support);
    const email = rows.find((n) => n.channel === 'email');
    expect(email).toMatchObject({ status: 'delivered', attempts: 3 });
    const attempts = await deps.store.notificationAttempts(email?.notification_id ?? '');
    expect(attempts.map((a) => a.ok)).toEqual([false, false, true]);
  });

  it('marks an email the server refuses for good as failed, without retrying it', async (ctx) => {
    if (suite.skipped()) return ctx.skip();
    const port = (smtp?.server.address() as AddressInfo | null)?.port ?? 0;
    const deps: AppDeps = {
      ...env.deps,
      mailer: smtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'spendtrail@acme.test', timeoutMs: 3000 }),
      summaryRecipients: ['nobody@acme.test'],
      renderSummaryPdf: (s) => renderSummaryPdf(s),
    };
    rejectWith = 550;
    env.clock.set('2026-05-01T06:00:00.000Z');
    const made = await runDueSummaries(deps, env.signer.note);
    expect(made).toHaveLength(2);
    const out = await deliverSummaries(deps, { sleep: () => Promise.resolve() });
    expect(out.failed).toBe(2);
    const row = (await deps.store.listNotifications('acme', made[0]?.summary_id)).find((n) => n.channel === 'email');
    expect(row).toMatchObject({ status: 'failed', attempts: 1 });
    expect(row?.last_error).toContain('550');
    rejectWith = null;
  });
});
