import { createTransport } from 'nodemailer';
import addressparser from 'nodemailer/lib/addressparser';
import type { MailMessage, Mailer } from '../../app/ports/mailer.ts';
import type { SendResult } from '../../app/ports/notifier.ts';
import { redactor } from './http-post.ts';

export interface SmtpMailerOptions {
  /**
   * `smtp://user:pass@host:587` (plain connection, upgraded with STARTTLS when the server offers
   * it) or `smtps://user:pass@host:465` (TLS from the first byte). User name and password are
   * percent-decoded, so a password containing `@`, `:` or `/` is written `%40`, `%3A`, `%2F`.
   * Without credentials (`smtp://relay:25`) no AUTH is attempted. The port defaults to 587 / 465.
   */
  readonly url: string;
  /** The From header and envelope sender: one address, optionally with a display name. */
  readonly from: string;
  /**
   * For `smtp://`: refuse to send unless the STARTTLS upgrade succeeds. Without it a server that
   * does not offer STARTTLS gets the message, and the AUTH credentials, in clear text.
   */
  readonly requireTls?: boolean;
  /** Budget for one whole `send` (connect, TLS, AUTH, upload); default 30000 ms. */
  readonly timeoutMs?: number;
  /** Only for tests against a server with a self-signed certificate; never turn it off in production. */
  readonly tls?: { readonly rejectUnauthorized?: boolean };
}

/**
 * 30 s rather than the 5–10 s of the HTTP senders: an SMTP send is several round trips plus
 * the PDF upload, and some relays deliberately delay their greeting by several seconds.
 */
const DEFAULT_TIMEOUT_MS = 30_000;

/** Socket failures and timeouts say nothing about the message: the next attempt may well work. */
const TRANSIENT_CODES = new Set(['ECONNECTION', 'ESOCKET', 'ETIMEDOUT', 'EDNS', 'EPROTOCOL', 'EMAXLIMIT']);

/**
 * OpenSSL's verdicts on the server certificate. A retry meets the same certificate, so these
 * need a person (wrong host name, expired or private CA), unlike a reset during the handshake.
 */
const CERT_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|HOSTNAME_MISMATCH/;

interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly secure: boolean;
  readonly auth: { readonly user: string; readonly pass: string } | undefined;
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    // decodeURIComponent's URIError quotes nothing, but say which part is wrong, never its value.
    throw new Error(`SMTP URL ${what} is not validly percent-encoded`);
  }
}

/**
 * Parses the URL once, at construction, so a misconfiguration fails at start-up rather than on
 * the first monthly summary. No message quotes the URL: it carries the password.
 */
function parseSmtpUrl(raw: string): Endpoint {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Node's TypeError carries the input in `.input`; a fresh error keeps it out of logs.
    throw new Error('SMTP URL is not a valid absolute URL (expected smtp://user:password@host:587 or smtps://…:465)');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`SMTP URL must start with smtp:// or smtps:// (got ${url.protocol}//)`);
  }
  const secure = url.protocol === 'smtps:';
  // For non-special schemes the WHATWG parser keeps IPv6 brackets in `hostname`; sockets want them off.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new Error('SMTP URL has no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    // nodemailer would read query parameters as transport options; everything configurable is
    // an explicit option here, so silently ignoring or honouring them would both surprise.
    throw new Error(`SMTP URL for host ${url.host} must not have a path, query or fragment; pass options explicitly`);
  }
  const port = url.port === '' ? (secure ? 465 : 587) : Number(url.port);
  const user = decode(url.username, 'user name');
  const pass = decode(url.password, 'password');
  if (user === '' && pass !== '') throw new Error(`SMTP URL for host ${url.host} has a password but no user name`);
  if (user !== '' && pass === '') throw new Error(`SMTP URL for host ${url.host} has a user name but no password`);
  return { host, port, secure, auth: user === '' ? undefined : { user, pass } };
}

/** One mailbox, no group, no line breaks (a header-injection attempt or a pasting accident). */
function checkFrom(from: string): void {
  const parsed = /[\r\n]/.test(from) ? [] : addressparser(from, { flatten: true });
  const only = parsed.length === 1 ? parsed[0] : undefined;
  if (only === undefined || !/^[^\s@]+@[^\s@]+$/.test(only.address)) {
    throw new Error(`SMTP from must be exactly one e-mail address such as "Spendtrail <spend@example.com>" (got ${JSON.stringify(from)})`);
  }
}

/**
 * Removes the password in every form it could take in a reply or error text: as configured,
 * percent-encoded as in the URL, and base64-encoded as AUTH LOGIN and AUTH PLAIN send it (a
 * server that echoes a bad line back would otherwise quote it). Then shortens to one line.
 */
function scrubber(auth: Endpoint['auth']): (text: string) => string {
  // `redactor` leaves a 1–3 character password in: it cannot be removed without mangling every
  // reply, and such a password is not worth protecting anyway.
  return redactor(
    auth === undefined
      ? []
      : [
          auth.pass,
          encodeURIComponent(auth.pass),
          Buffer.from(auth.pass, 'utf8').toString('base64'),
          Buffer.from(`\u0000${auth.user}\u0000${auth.pass}`, 'utf8').toString('base64'),
        ],
  );
}

/** What nodemailer attaches to the errors it hands back (see its `NodemailerError`). */
interface SmtpError {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly originalCode?: unknown;
  readonly response?: unknown;
  readonly responseCode?: unknown;
  readonly command?: unknown;
  readonly timeoutType?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Maps a failed send to a result. An SMTP reply decides by its class (RFC 5321 §4.2.1): 4yz is
 * transient (421 shutting down, 450/451/452 try later) and retryable, 5yz is permanent (550
 * mailbox unavailable, 535 authentication failed, 554 rejected) and not; that includes 503,
 * because a fresh connection replays the same command sequence. Without a reply, network
 * failures and timeouts are retryable; anything the message or configuration causes is not.
 */
function failure(err: unknown, timedOut: boolean, timeoutMs: number, scrub: (t: string) => string): SendResult {
  const e: SmtpError = err !== null && typeof err === 'object' ? err : { message: String(err) };
  const reply = str(e.response);
  const replyCode = typeof e.responseCode === 'number' ? e.responseCode : null;
  if (replyCode !== null && reply !== undefined) {
    // The reply starts with its code; the command says which step failed (AUTH PLAIN, RCPT TO, …).
    const command = str(e.command);
    const text = `SMTP ${reply}${command === undefined ? '' : ` (${command})`}`;
    return { ok: false, http_status: replyCode, error: scrub(text), retryable: replyCode < 500 };
  }
  const code = str(e.code);
  if (timedOut || code === 'EABORT') {
    return { ok: false, http_status: null, error: `timeout after ${timeoutMs} ms`, retryable: true };
  }
  if (code === 'ETIMEDOUT') {
    const phase = str(e.timeoutType);
    return { ok: false, http_status: null, error: phase === undefined ? 'ETIMEDOUT' : `ETIMEDOUT (${phase})`, retryable: true };
  }
  const message = str(e.message) ?? 'unknown error';
  // nodemailer replaces a system error's code with its own (ESOCKET) and keeps the original:
  // ECONNREFUSED or ENOTFOUND tells an operator more than "socket error".
  const original = str(e.originalCode);
  if (original !== undefined) {
    if (CERT_CODE.test(original)) return { ok: false, http_status: null, error: scrub(`TLS ${original}: ${message}`), retryable: false };
    return { ok: false, http_status: null, error: original, retryable: true };
  }
  if (code === 'ETLS') {
    // A failed STARTTLS handshake only reports OpenSSL's verdict in the message text.
    const certificate = CERT_CODE.test(message) || /certificate/i.test(message);
    return { ok: false, http_status: null, error: scrub(`ETLS ${message}`), retryable: !certificate };
  }
  const retryable = code !== undefined && TRANSIENT_CODES.has(code);
  return { ok: false, http_status: null, error: scrub(code === undefined ? message : `${code} ${message}`), retryable };
}

/** The final reply to DATA, e.g. `250 2.0.0 OK: queued as …`, gives the code recorded on success. */
function replyCodeOf(response: unknown): number | null {
  const m = typeof response === 'string' ? /^(\d{3})\b/.exec(response) : null;
  return m?.[1] === undefined ? null : Number(m[1]);
}

interface SentInfo {
  readonly response?: unknown;
  readonly rejected?: readonly unknown[];
  readonly accepted?: readonly unknown[];
  readonly rejectedErrors?: readonly unknown[];
}

/**
 * Sends mail over SMTP with nodemailer. Each `send` opens its own connection (no pool: a
 * monthly summary does not need one, and a fresh connection per attempt means a retry never
 * inherits a broken session).
 *
 * `http_status` carries the SMTP reply code when there is one (250 on success, 451, 550, …),
 * since the port's field is the only numeric status it records; it is null for failures
 * without a reply (connection refused, timeouts, TLS failures). `error` is a short reason such
 * as `SMTP 550 5.1.1 mailbox unavailable (RCPT TO)` or `ECONNREFUSED`; it never contains the
 * password or the URL.
 *
 * When the server accepts some recipients and rejects others, the result is a failure that is
 * NOT retryable, whatever the reply class: the message has already been delivered to the
 * accepted ones, and a retry would send it to them again. The error names how many were
 * rejected so someone can fix the recipient list.
 */
export function smtpMailer(opts: SmtpMailerOptions): Mailer {
  const endpoint = parseSmtpUrl(opts.url);
  checkFrom(opts.from);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be > 0 (got ${timeoutMs})`);
  const scrub = scrubber(endpoint.auth);
  // Explicit options rather than the URL string: nodemailer would otherwise parse (and could
  // quote) the URL itself, and query parameters would become options nobody reviewed.
  const transport = createTransport({
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.secure,
    requireTLS: opts.requireTls === true,
    auth: endpoint.auth === undefined ? undefined : { user: endpoint.auth.user, pass: endpoint.auth.pass },
    // Each phase gets the whole budget; the AbortSignal below bounds their sum.
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    tls: opts.tls?.rejectUnauthorized === undefined ? undefined : { rejectUnauthorized: opts.tls.rejectUnauthorized },
    // Attachments are buffers we made; content that names a file or URL would be read by the
    // sender and mailed out, so refuse it outright.
    disableFileAccess: true,
    disableUrlAccess: true,
    // nodemailer's debug log would include the AUTH exchange.
    logger: false,
    debug: false,
  });
  return {
    channel: 'email',
    async send(message: MailMessage): Promise<SendResult> {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const info = (await transport.sendMail({
          from: opts.from,
          to: [...message.to],
          subject: message.subject,
          text: message.text,
          ...(message.html === undefined ? {} : { html: message.html }),
          attachments: message.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
          signal,
        })) as SentInfo;
        const rejected = info.rejected ?? [];
        if (rejected.length > 0) {
          const first = failure(info.rejectedErrors?.[0], false, timeoutMs, scrub);
          const total = rejected.length + (info.accepted?.length ?? 0);
          return {
            ok: false,
            http_status: first.http_status,
            error: scrub(`${rejected.length} of ${total} recipients rejected, the others received the message: ${first.error ?? ''}`),
            retryable: false,
          };
        }
        return { ok: true, http_status: replyCodeOf(info.response), error: null, retryable: false };
      } catch (err) {
        return failure(err, signal.aborted, timeoutMs, scrub);
      }
    },
  };
}
