import { join, resolve } from 'node:path';
import type { AppDeps } from '../app/deps.ts';
import { systemClock } from '../app/ports/clock.ts';
import { randomIds } from '../app/ports/id-source.ts';
import type { LoadedSigner } from '../adapters/signing/note-signer.ts';
import { loadSigner } from '../adapters/signing/note-signer.ts';
import { createStore } from '../adapters/store/create-store.ts';
import type { KyselyStore } from '../adapters/store/kysely-store.ts';
import type { ChannelSender } from '../app/ports/notifier.ts';
import { slackSender, webhookSender } from '../adapters/notify/http-sender.ts';
import { smtpMailer } from '../adapters/notify/smtp-mailer.ts';
import { jiraTicketer, linearTicketer, webhookTicketer } from '../adapters/notify/ticket-openers.ts';
import { filesystemSink } from '../adapters/sinks/filesystem-sink.ts';
import { s3Sink } from '../adapters/sinks/s3-sink.ts';
import { SpendtrailError } from '../domain/errors.ts';
import type { BlobSink } from '../app/ports/blob-sink.ts';
import type { Mailer } from '../app/ports/mailer.ts';
import type { TicketOpener } from '../app/ports/ticketer.ts';
import { copyTransactionSource } from '../adapters/store/export-rows.ts';
import type { TransactionRowSource } from '../app/ports/export-rows.ts';

export interface RuntimeOptions {
  /** postgres:// URL, or a PGlite directory; default: DATABASE_URL, else <home>/db. */
  readonly db?: string | undefined;
  /** Where the embedded database and the checkpoint key live; default SPENDTRAIL_HOME or ./.spendtrail. */
  readonly home?: string | undefined;
  readonly createKey?: boolean;
}

export interface Runtime {
  readonly deps: AppDeps;
  readonly store: KyselyStore;
  readonly signer: LoadedSigner;
  readonly home: string;
  readonly location: string;
  close(): Promise<void>;
}

/** The composition root: picks the engine, migrates, loads the checkpoint key. */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const home = resolve(options.home ?? process.env.SPENDTRAIL_HOME ?? '.spendtrail');
  // An empty DATABASE_URL means unset, as in most twelve-factor tools.
  const location = options.db ?? (process.env.DATABASE_URL || undefined) ?? join(home, 'db');
  const signer = loadSigner({
    keyFile: process.env.SPENDTRAIL_SIGNING_KEY_FILE ?? join(home, 'checkpoint.key'),
    name: process.env.SPENDTRAIL_LOG_NAME ?? 'spendtrail.local',
    create: options.createKey ?? true,
    env: process.env,
  });
  const channels = channelsFrom(process.env);
  const mailer = mailerFrom(process.env);
  const ticketer = ticketerFrom(process.env);
  const summaryRecipients = (process.env.SPENDTRAIL_SUMMARY_EMAIL_TO ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  const store = await createStore(location);
  const deps: AppDeps = {
    store,
    clock: systemClock,
    ids: randomIds,
    signer,
    channels,
    mailer,
    ticketer,
    summaryRecipients,
    // Loaded when a summary is first rendered: the PDF writer is not needed by most commands.
    renderSummaryPdf: async (s) =>
      (await import('../adapters/reports/summary-pdf.ts')).renderSummaryPdf(s, { paper: process.env.SPENDTRAIL_SUMMARY_PAPER === 'a4' ? 'a4' : 'letter' }),
  };
  return { deps, store, signer, home, location, close: () => store.close() };
}

/** A URL with its password masked, for printing. */
export const redactUrl = (u: string): string => u.replace(/(postgres(?:ql)?:\/\/[^:/@]+):[^@]*@/, '$1:***@');

/**
 * Where policy-change notices go, from the environment: a Slack incoming webhook and/or a
 * generic JSON webhook (optionally signed). The URLs are secrets and are kept out of the
 * database and the logs; a malformed one stops the start with a message naming the variable.
 */
export function channelsFrom(env: NodeJS.ProcessEnv): ChannelSender[] {
  const out: ChannelSender[] = [];
  const make = (name: string, build: (url: string) => ChannelSender): void => {
    const url = env[name];
    if (url === undefined || url === '') return;
    try {
      out.push(build(url));
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  };
  make('SPENDTRAIL_SLACK_WEBHOOK_URL', (u) => slackSender(u));
  make('SPENDTRAIL_WEBHOOK_URL', (u) => webhookSender(u, env.SPENDTRAIL_WEBHOOK_SECRET ? { secret: env.SPENDTRAIL_WEBHOOK_SECRET } : {}));
  return out;
}

const named = <T>(name: string, build: () => T): T => {
  try {
    return build();
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
};

/** The SMTP server summaries are emailed through, when SPENDTRAIL_SMTP_URL is set. */
export function mailerFrom(env: NodeJS.ProcessEnv): Mailer | undefined {
  const url = env.SPENDTRAIL_SMTP_URL;
  if (url === undefined || url === '') return undefined;
  return named('SPENDTRAIL_SMTP_URL', () =>
    smtpMailer({ url, from: env.SPENDTRAIL_SMTP_FROM ?? 'spendtrail@localhost', requireTls: env.SPENDTRAIL_SMTP_REQUIRE_TLS === 'true' }),
  );
}

/** Where a summary that needs review opens a ticket: Jira Cloud, Linear or a generic webhook. */
export function ticketerFrom(env: NodeJS.ProcessEnv): TicketOpener | undefined {
  if (env.SPENDTRAIL_JIRA_URL) {
    return named('SPENDTRAIL_JIRA_URL', () =>
      jiraTicketer({
        baseUrl: env.SPENDTRAIL_JIRA_URL ?? '',
        email: env.SPENDTRAIL_JIRA_EMAIL ?? '',
        apiToken: env.SPENDTRAIL_JIRA_API_TOKEN ?? '',
        projectKey: env.SPENDTRAIL_JIRA_PROJECT ?? '',
      }),
    );
  }
  if (env.SPENDTRAIL_LINEAR_API_KEY) {
    return named('SPENDTRAIL_LINEAR_API_KEY', () =>
      linearTicketer({ apiKey: env.SPENDTRAIL_LINEAR_API_KEY ?? '', teamId: env.SPENDTRAIL_LINEAR_TEAM_ID ?? '' }),
    );
  }
  if (env.SPENDTRAIL_TICKET_WEBHOOK_URL) {
    const secret = env.SPENDTRAIL_TICKET_WEBHOOK_SECRET;
    return named('SPENDTRAIL_TICKET_WEBHOOK_URL', () =>
      webhookTicketer({ url: env.SPENDTRAIL_TICKET_WEBHOOK_URL ?? '', ...(secret ? { secret } : {}) }),
    );
  }
  return undefined;
}

/** "7y", "90d" or a number of days → days. Years count 365.25 days so leap days are not lost. */
export function retentionDays(text: string, variable = 'SPENDTRAIL_EXPORT_RETENTION'): number {
  const m = /^([1-9][0-9]*)([dy]?)$/.exec(text.trim());
  if (m === null) throw new SpendtrailError('VALIDATION_FAILED', `${variable}: "${text}" is not a retention such as 7y or 2557d`, { field: variable });
  const n = Number(m[1]);
  return m[2] === 'y' ? Math.ceil(n * 365.25) : n;
}

/** The environment variable behind each S3 sink option, so a refused option names what to fix. */
const S3_OPTION_VARIABLES: Readonly<Record<string, string>> = {
  bucket: 'SPENDTRAIL_EXPORT_S3_BUCKET',
  prefix: 'SPENDTRAIL_EXPORT_S3_PREFIX',
  mode: 'SPENDTRAIL_EXPORT_LOCK_MODE',
  retentionDays: 'SPENDTRAIL_EXPORT_RETENTION',
  minRetentionDays: 'SPENDTRAIL_EXPORT_MIN_RETENTION',
};

/**
 * The audit export destination: S3 with Object Lock when SPENDTRAIL_EXPORT_S3_BUCKET is set
 * (credentials from the standard AWS chain; SPENDTRAIL_EXPORT_S3_ENDPOINT for S3-compatible
 * stores), otherwise a directory. A directory given on the command line wins. `records` is
 * SPENDTRAIL_EXPORT_RECORDS=true: also write one object per transaction (ExportOptions.records).
 * A retention below SPENDTRAIL_EXPORT_MIN_RETENTION is refused here, at start, with
 * RETENTION_TOO_SHORT naming SPENDTRAIL_EXPORT_RETENTION.
 */
/**
 * The audit export's bulk reader of transactions: COPY on PostgreSQL, where it halves the
 * export's CPU; on PGlite the export reads pages through the store (the same bytes either way).
 */
export function bulkReader(rt: Runtime): { transactions?: TransactionRowSource } {
  return rt.store.pool === undefined ? {} : { transactions: copyTransactionSource(rt.store.pool) };
}

export function exportSinkFrom(env: NodeJS.ProcessEnv, dir: string, dirGiven: boolean): { sink: BlobSink; name: string; records: boolean } {
  const records = env.SPENDTRAIL_EXPORT_RECORDS === 'true';
  const bucket = env.SPENDTRAIL_EXPORT_S3_BUCKET;
  if (!dirGiven && bucket !== undefined && bucket !== '') {
    const endpoint = env.SPENDTRAIL_EXPORT_S3_ENDPOINT || undefined;
    const prefix = env.SPENDTRAIL_EXPORT_S3_PREFIX ?? '';
    const mode = env.SPENDTRAIL_EXPORT_LOCK_MODE === 'GOVERNANCE' ? 'GOVERNANCE' : 'COMPLIANCE';
    const minText = env.SPENDTRAIL_EXPORT_MIN_RETENTION;
    const minRetentionDays = minText === undefined || minText === '' ? undefined : retentionDays(minText, 'SPENDTRAIL_EXPORT_MIN_RETENTION');
    let sink: BlobSink;
    try {
      sink = s3Sink({
        bucket,
        prefix,
        ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
        region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1',
        mode,
        retentionDays: retentionDays(env.SPENDTRAIL_EXPORT_RETENTION ?? '7y'),
        ...(minRetentionDays === undefined ? {} : { minRetentionDays }),
        legalHold: env.SPENDTRAIL_EXPORT_LEGAL_HOLD === 'true',
        requireObjectLock: env.SPENDTRAIL_EXPORT_ALLOW_UNLOCKED !== 'true',
        createBucket: env.SPENDTRAIL_EXPORT_S3_CREATE === 'true',
      });
    } catch (e) {
      if (!(e instanceof SpendtrailError)) throw new Error(`SPENDTRAIL_EXPORT_S3_BUCKET: ${(e as Error).message}`);
      const variable = e.field === undefined ? undefined : S3_OPTION_VARIABLES[e.field];
      if (variable === undefined) throw e;
      throw new SpendtrailError(e.code, `${variable}: ${e.message}`, { field: variable, details: e.details, cause: e });
    }
    return { sink, name: `s3://${bucket}/${prefix}`, records };
  }
  return { sink: filesystemSink(resolve(dir)), name: `file://${resolve(dir)}`, records };
}
