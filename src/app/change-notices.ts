import type { ChangeControl } from '../domain/policy/change.ts';
import type { AppDeps } from './deps.ts';
import type { ChangeNotice } from './ports/notifier.ts';
import type { NotificationRow, StoreTx } from './ports/store.ts';
import { deliverWithRetry, shortReason } from './retry.ts';

/** Attempts per notice across all dispatch rounds before it is marked failed. */
export const MAX_ATTEMPTS = 8;

/**
 * Queues a notice for every configured channel in the same unit of work as the change: the
 * outbox row commits with the change or not at all, so a crash between the commit and the
 * POST delays a notice but never loses it.
 */
export async function queueChangeNotices(deps: AppDeps, tx: StoreTx, control: ChangeControl, notice: ChangeNotice): Promise<void> {
  const channels = deps.channels ?? [];
  if (channels.length === 0 || control.notify === 'none') return;
  if (control.notify === 'unticketed' && !notice.ticket_missing) return;
  const now = deps.clock.now();
  const payload = JSON.stringify(notice);
  const rows: NotificationRow[] = channels.map((c) => ({
    notification_id: deps.ids.uuid(),
    org_id: notice.org_id,
    change_id: notice.change_id,
    channel: c.channel,
    payload,
    status: 'pending',
    attempts: 0,
    last_error: null,
    created_at: now,
    updated_at: now,
  }));
  await tx.insertNotifications(rows);
}

export interface DispatchOptions {
  readonly attemptsPerRound?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * Delivers queued notices, recording every attempt. Delivery is at least once: a process that
 * dies after Slack accepted a message but before the attempt was recorded sends it again.
 */
export async function deliverPendingNotices(deps: AppDeps, opts: DispatchOptions = {}): Promise<{ delivered: number; failed: number }> {
  const senders = new Map((deps.channels ?? []).map((c) => [c.channel, c]));
  let delivered = 0;
  let failed = 0;
  const pending = await deps.store.pendingNotifications(100);
  for (const n of pending) {
    const sender = senders.get(n.channel);
    // A channel no longer configured keeps its notices pending for when it is configured again.
    if (sender === undefined) continue;
    const notice = JSON.parse(n.payload) as ChangeNotice;
    let attempt = n.attempts;
    const budget = Math.max(1, Math.min(opts.attemptsPerRound ?? 3, MAX_ATTEMPTS - n.attempts));
    const { result } = await deliverWithRetry(() => sender.send(notice), {
      attempts: budget,
      baseDelayMs: opts.baseDelayMs ?? 500,
      maxDelayMs: opts.maxDelayMs ?? 10_000,
      ...(opts.sleep === undefined ? {} : { sleep: opts.sleep }),
      onAttempt: async (_i, r) => {
        attempt += 1;
        const status: NotificationRow['status'] = r.ok ? 'delivered' : !r.retryable || attempt >= MAX_ATTEMPTS ? 'failed' : 'pending';
        const now = deps.clock.now();
        await deps.store.unitOfWork((tx) =>
          tx.recordNotificationAttempt(
            {
              notification_id: n.notification_id,
              attempt,
              at: now,
              ok: r.ok,
              http_status: r.http_status,
              error: r.error === null ? null : shortReason(r.error),
            },
            status,
            now,
          ),
        );
      },
    });
    if (result.ok) delivered += 1;
    else if (!result.retryable || attempt >= MAX_ATTEMPTS) failed += 1;
  }
  return { delivered, failed };
}

/**
 * Runs deliveries in the background one round at a time: a kick while a round runs schedules
 * one more round instead of a second concurrent one.
 */
export class NoticeDispatcher {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly deps: AppDeps,
    private readonly opts: DispatchOptions = {},
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  kick(): void {
    if ((this.deps.channels ?? []).length === 0) return;
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await deliverPendingNotices(this.deps, this.opts);
        } catch (e) {
          this.onError(e);
        }
      } while (this.again);
      this.running = null;
    })();
  }

  /** Waits for the round in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== null) await this.running;
  }
}
