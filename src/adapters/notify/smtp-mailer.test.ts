import { randomBytes } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import { simpleParser } from 'mailparser';
import type { SMTPServerOptions } from 'smtp-server';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { MailMessage } from '../../app/ports/mailer.ts';
import { smtpMailer } from './smtp-mailer.ts';

// Loopback only, so anything near the project-wide 60 s default means a hang, not slowness.
vi.setConfig({ testTimeout: 5_000, hookTimeout: 5_000 });

const USER = 'finance-bot@example.com';
// Every character that must be percent-encoded in a URL's userinfo, so decoding is exercised.
const PASS = 'p@ss:w/rd%S3cr3t?#';
const url = (scheme: 'smtp' | 'smtps', port: number, pass = PASS): string =>
  `${scheme}://${encodeURIComponent(USER)}:${encodeURIComponent(pass)}@127.0.0.1:${port}`;
// smtp-server's built-in certificate is self-signed (and by now expired): tests, only, accept it.
const TEST_TLS = { rejectUnauthorized: false } as const;
const FROM = 'Spendtrail <spend@example.com>';

interface Received {
  readonly raw: Buffer;
  /** Whether the session was encrypted when the message was sent. */
  readonly secure: boolean;
  readonly authedAs: unknown;
  readonly mailFrom: string | null;
  readonly rcptTo: readonly string[];
}

interface FakeSmtp {
  readonly port: number;
  readonly received: Received[];
  /** Every AUTH attempt the server saw: if the password was ever sent, it is here. */
  readonly authAttempts: { username: string | undefined; password: string | null | undefined; secure: boolean }[];
  /** Sessions that completed a TLS handshake (STARTTLS or implicit), via the onSecure hook. */
  readonly secured: string[];
}

type ReplyError = Error & { responseCode?: number };
const reply = (responseCode: number, message: string): ReplyError => Object.assign(new Error(message), { responseCode });

const servers: { close(cb: () => void): void }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(resolve))));
});

/**
 * A real SMTP server on 127.0.0.1 that behaves like a submission server: STARTTLS offered, AUTH
 * PLAIN/LOGIN required, and (smtp-server's default) AUTH refused until the session is encrypted.
 * `overrides` changes options or scripts replies for a test.
 */
async function startSmtp(overrides: Partial<SMTPServerOptions> = {}): Promise<FakeSmtp> {
  const received: Received[] = [];
  const authAttempts: FakeSmtp['authAttempts'] = [];
  const secured: string[] = [];
  const server = new SMTPServer({
    authMethods: ['PLAIN', 'LOGIN'],
    // `false` also silences the warning about the built-in test certificate.
    logger: false,
    closeTimeout: 500,
    onAuth(auth, session, callback) {
      authAttempts.push({ username: auth.username, password: auth.password, secure: session.secure });
      if (auth.username === USER && auth.password === PASS) callback(null, { user: auth.username });
      else callback(reply(535, 'Authentication failed: invalid user name or password'));
    },
    onSecure(_socket, session, callback) {
      secured.push(session.id);
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          raw: Buffer.concat(chunks),
          secure: session.secure,
          authedAs: session.user,
          mailFrom: session.envelope.mailFrom === false ? null : session.envelope.mailFrom.address,
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
        });
        callback();
      });
    },
    ...overrides,
  });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.on('error', reject);
    const listener = server.listen(0, '127.0.0.1', () => resolve((listener.address() as AddressInfo).port));
  });
  return { port, received, authAttempts, secured };
}

// A PDF header followed by every byte value: any text-mode mangling (CRLF, 8-bit, dot-stuffing) shows.
const PDF = Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.from(Array.from({ length: 256 }, (_, i) => i)), Buffer.from('\r\n.\r\n'), randomBytes(64 * 1024)]);

const message = (to: readonly string[] = ['cfo@example.com', 'controller@example.com']): MailMessage => ({
  to,
  subject: '[NEEDS REVIEW] Agent spend März 2026, all agents: 12 345.67 EUR',
  text: 'Status: NEEDS REVIEW\n.\nA line with only a dot above must survive.\n',
  attachments: [{ filename: 'spend-summary-2026-03-all-v1.pdf', content: PDF, contentType: 'application/pdf' }],
});

describe('smtpMailer delivering to a real SMTP server', () => {
  it('delivers To, Subject, text and a byte-identical PDF attachment after STARTTLS and AUTH', async () => {
    const smtp = await startSmtp();
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message());

    expect(result).toEqual({ ok: true, http_status: 250, error: null, retryable: false });
    expect(smtp.received).toHaveLength(1);
    const got = smtp.received[0]!;
    // AUTH with the percent-decoded credentials, only once the session was encrypted.
    expect(got.authedAs).toBe(USER);
    expect(got.secure).toBe(true);
    expect(got.mailFrom).toBe('spend@example.com');
    expect(got.rcptTo).toEqual(['cfo@example.com', 'controller@example.com']);

    const parsed = await simpleParser(got.raw);
    expect(parsed.subject).toBe('[NEEDS REVIEW] Agent spend März 2026, all agents: 12 345.67 EUR');
    const to = Array.isArray(parsed.to) ? parsed.to : [parsed.to];
    expect(to.flatMap((a) => a?.value.map((v) => v.address))).toEqual(['cfo@example.com', 'controller@example.com']);
    expect(parsed.from?.value[0]).toMatchObject({ name: 'Spendtrail', address: 'spend@example.com' });
    expect(parsed.text).toBe('Status: NEEDS REVIEW\n.\nA line with only a dot above must survive.\n');
    expect(parsed.attachments).toHaveLength(1);
    const pdf = parsed.attachments[0]!;
    expect(pdf.contentType).toBe('application/pdf');
    expect(pdf.filename).toBe('spend-summary-2026-03-all-v1.pdf');
    expect(pdf.content.equals(PDF)).toBe(true);
  });

  it('sends an html alternative when the message has one', async () => {
    const smtp = await startSmtp();
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send({ ...message(['cfo@example.com']), html: '<p>Status: <b>NEEDS REVIEW</b></p>' });

    expect(result.ok).toBe(true);
    const parsed = await simpleParser(smtp.received[0]!.raw);
    expect(parsed.html).toContain('<b>NEEDS REVIEW</b>');
    expect(parsed.text).toContain('Status: NEEDS REVIEW');
  });

  it('uses implicit TLS for smtps:// URLs', async () => {
    const smtp = await startSmtp({ secure: true });
    const mailer = smtpMailer({ url: url('smtps', smtp.port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(true);
    expect(smtp.received[0]?.secure).toBe(true);
    expect(smtp.secured).toHaveLength(1);
  });
});

describe('smtpMailer with requireTls', () => {
  it('upgrades with STARTTLS when the server offers it', async () => {
    const smtp = await startSmtp();
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, requireTls: true, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(true);
    expect(smtp.secured).toHaveLength(1);
    expect(smtp.received[0]?.secure).toBe(true);
    expect(smtp.authAttempts.every((a) => a.secure)).toBe(true);
  });

  it('still upgrades when the server does not advertise STARTTLS, where the default sends in clear text', async () => {
    // The server supports STARTTLS but hides it, and allows AUTH in clear text: the situation
    // (e.g. a stripped EHLO reply) that requireTls exists for.
    const smtp = await startSmtp({ hideSTARTTLS: true, allowInsecureAuth: true });

    const plain = await smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS }).send(message(['cfo@example.com']));
    const required = await smtpMailer({ url: url('smtp', smtp.port), from: FROM, requireTls: true, tls: TEST_TLS }).send(
      message(['cfo@example.com']),
    );

    expect(plain.ok).toBe(true);
    expect(required.ok).toBe(true);
    expect(smtp.received.map((r) => r.secure)).toEqual([false, true]);
    expect(smtp.secured).toHaveLength(1);
  });

  it('fails without sending the password or the message when the server cannot do STARTTLS', async () => {
    const smtp = await startSmtp({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, requireTls: true, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(false);
    // A server without STARTTLS will not grow it before the next attempt.
    expect(result.retryable).toBe(false);
    expect(result.http_status).toBeGreaterThanOrEqual(500);
    expect(result.error).toMatch(/^SMTP 5\d\d .*STARTTLS/);
    expect(smtp.authAttempts).toEqual([]);
    expect(smtp.received).toEqual([]);
  });
});

describe('smtpMailer failures', () => {
  it('reports a wrong password as a non-retryable auth error that does not quote the password', async () => {
    const smtp = await startSmtp();
    const wrong = 'Wr0ng-But-Secret-Passw0rd';
    const mailer = smtpMailer({ url: url('smtp', smtp.port, wrong), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(false);
    expect(result.http_status).toBe(535);
    expect(result.error).toMatch(/^SMTP 535 .*auth/i);
    // The server did receive the wrong password, so it was really tried…
    expect(smtp.authAttempts.map((a) => a.password)).toContain(wrong);
    // …but no form of it reaches the recorded error.
    for (const form of [wrong, encodeURIComponent(wrong), Buffer.from(wrong).toString('base64'), PASS]) {
      expect(result.error).not.toContain(form);
    }
    expect(smtp.received).toEqual([]);
  });

  it('removes the password from the error even when the server quotes it back', async () => {
    const wrong = 'Quoted-Back-Secret-42';
    const smtp = await startSmtp({
      // A misbehaving server that echoes what it got, in clear and as AUTH PLAIN's base64 token.
      onAuth(auth, _session, callback) {
        const token = Buffer.from(`\u0000${auth.username ?? ''}\u0000${auth.password ?? ''}`).toString('base64');
        callback(reply(535, `bad credentials ${auth.password ?? ''} token ${token}`));
      },
    });
    const mailer = smtpMailer({ url: url('smtp', smtp.port, wrong), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result).toMatchObject({ ok: false, http_status: 535, retryable: false });
    expect(result.error).toMatch(/^SMTP 535 bad credentials \[redacted\] token \[redacted\]/);
    expect(result.error).not.toContain(wrong);
  });

  it.each([
    { hook: 'onMailFrom', code: 421, text: 'Service shutting down', retryable: true },
    { hook: 'onRcptTo', code: 450, text: 'Mailbox busy', retryable: true },
    { hook: 'onRcptTo', code: 451, text: 'Local error in processing, try again later', retryable: true },
    { hook: 'onRcptTo', code: 452, text: 'Insufficient system storage', retryable: true },
    { hook: 'onRcptTo', code: 550, text: 'Mailbox unavailable', retryable: false },
    { hook: 'onMailFrom', code: 553, text: 'Sender address rejected', retryable: false },
  ] as const)('maps $code to $hook as retryable=$retryable', async ({ hook, code, text, retryable }) => {
    const smtp = await startSmtp({
      [hook]: (_address: unknown, _session: unknown, callback: (err?: Error | null) => void) => callback(reply(code, text)),
    });
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(retryable);
    expect(result.http_status).toBe(code);
    expect(result.error).toMatch(new RegExp(`^SMTP ${code} .*${text}`));
    expect(smtp.received).toEqual([]);
  });

  it('maps a 554 rejection of the message content after DATA to not retryable', async () => {
    const smtp = await startSmtp({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(reply(554, 'Message rejected as spam')));
      },
    });
    const result = await smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS }).send(message(['cfo@example.com']));

    expect(result).toMatchObject({ ok: false, http_status: 554, retryable: false });
    expect(result.error).toMatch(/^SMTP 554 .*Message rejected as spam/);
  });

  it('treats a partly rejected recipient list as a non-retryable failure, since the others already got it', async () => {
    const smtp = await startSmtp({
      onRcptTo: (address, _session, callback) =>
        callback(address.address === 'gone@example.com' ? reply(550, 'Mailbox unavailable') : null),
    });
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com', 'gone@example.com']));

    expect(result).toMatchObject({ ok: false, http_status: 550, retryable: false });
    expect(result.error).toMatch(/^1 of 2 recipients rejected.*SMTP 550 .*Mailbox unavailable/);
    expect(smtp.received.map((r) => r.rcptTo)).toEqual([['cfo@example.com']]);
  });

  it('reports ECONNREFUSED as retryable when nothing listens', async () => {
    // Take a free port, then close it again so that nothing is listening there.
    const probe = createNetServer();
    const port = await new Promise<number>((resolve) => probe.listen(0, '127.0.0.1', () => resolve((probe.address() as AddressInfo).port)));
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const mailer = smtpMailer({ url: url('smtp', port), from: FROM, tls: TEST_TLS });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result).toEqual({ ok: false, http_status: null, error: 'ECONNREFUSED', retryable: true });
  });

  it('gives up on a server that accepts the connection but never greets, within timeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent = createNetServer((s) => sockets.push(s));
    servers.push({ close: (cb) => (sockets.forEach((s) => s.destroy()), silent.close(() => cb())) });
    const port = await new Promise<number>((resolve) => silent.listen(0, '127.0.0.1', () => resolve((silent.address() as AddressInfo).port)));
    const mailer = smtpMailer({ url: url('smtp', port), from: FROM, timeoutMs: 300, tls: TEST_TLS });

    const started = Date.now();
    const result = await mailer.send(message(['cfo@example.com']));

    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(true);
    expect(result.http_status).toBeNull();
    expect(result.error).toMatch(/timeout|ETIMEDOUT/i);
  });

  it('refuses an untrusted certificate by default, before sending the password', async () => {
    const smtp = await startSmtp();
    // No `tls` override: the built-in test certificate (self-signed, expired) must be rejected.
    const mailer = smtpMailer({ url: url('smtp', smtp.port), from: FROM });

    const result = await mailer.send(message(['cfo@example.com']));

    expect(result.ok).toBe(false);
    expect(result.retryable).toBe(false);
    expect(result.error).toMatch(/certificate|CERT/i);
    expect(result.error).not.toContain(PASS);
    expect(smtp.authAttempts).toEqual([]);
    expect(smtp.received).toEqual([]);
  });
});

describe('smtpMailer configuration', () => {
  it.each([
    ['not a URL', 'not a valid absolute URL'],
    [`http://${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}@mail.example.com`, 'must start with smtp:// or smtps://'],
    [`smtp://${encodeURIComponent(USER)}@mail.example.com:587`, 'user name but no password'],
    [`smtp://:${encodeURIComponent(PASS)}@mail.example.com:587`, 'password but no user name'],
    [`smtp://${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}%zz@mail.example.com:587`, 'password is not validly percent-encoded'],
    [`smtp://${encodeURIComponent(USER)}:${encodeURIComponent(PASS)}@mail.example.com:587/?pool=true`, 'must not have a path, query or fragment'],
  ])('rejects the URL %s without quoting the password', (bad, why) => {
    let thrown: unknown;
    try {
      smtpMailer({ url: bad, from: FROM });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    const text = (thrown as Error).message;
    expect(text).toContain(why);
    expect(text).not.toContain(PASS);
    expect(text).not.toContain(encodeURIComponent(PASS));
  });

  it.each(['', 'finance', 'a@example.com, b@example.com', 'Spendtrail <spend@example.com>\r\nBcc: x@evil.test'])(
    'rejects the from address %j',
    (from) => {
      expect(() => smtpMailer({ url: url('smtp', 2525), from })).toThrow(/from must be exactly one e-mail address/);
    },
  );

  it('accepts a URL without credentials (an internal relay) and checks timeoutMs', () => {
    expect(smtpMailer({ url: 'smtp://relay.internal:25', from: 'spend@example.com' }).channel).toBe('email');
    expect(() => smtpMailer({ url: 'smtp://relay.internal:25', from: 'spend@example.com', timeoutMs: 0 })).toThrow(RangeError);
  });
});
