import type { ChangeControl } from '../domain/policy/change.ts';
import type { AppDeps } from './deps.ts';
import type { ChangeNotice, SendResult } from './ports/notifier.ts';
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
  const payload = JSON.stringify(notice);
  await tx.insertNotifications(channels.map((c) => outboxRow(deps, notice.org_id, notice.change_id, c.channel, payload)));
}

/** A new outbox row: pending, no attempts yet. */
export function outboxRow(deps: AppDeps, orgId: string, subjectId: string, channel: string, payload: string): NotificationRow {
  const now = deps.clock.now();
  return {
    notification_id: deps.ids.uuid(),
    org_id: orgId,
    subject_id: subjectId,
    channel,
    payload,
    status: 'pending',
    attempts: 0,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

export interface DispatchOptions {
  readonly attemptsPerRound?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Sends one queued row; the channel's handler knows what its payload means. */
export type DeliveryHandler = (row: NotificationRow) => Promise<SendResult>;

/**
 * Delivers queued rows of the given channels, recording every attempt. Delivery is at least
 * once: a process that dies after the destination accepted a message but before the attempt was
 * recorded sends it again.
 */
export async function deliverPending(
  deps: AppDeps,
  handlers: ReadonlyMap<string, DeliveryHandler>,
  opts: DispatchOptions = {},
): Promise<{ delivered: number; failed: number }> {
  let delivered = 0;
  let failed = 0;
  if (handlers.size === 0) return { delivered, failed };
  const pending = await deps.store.pendingNotifications(100, [...handlers.keys()]);
  for (const n of pending) {
    const handler = handlers.get(n.channel);
    if (handler === undefined) continue;
    let attempt = n.attempts;
    const budget = Math.max(1, Math.min(opts.attemptsPerRound ?? 3, MAX_ATTEMPTS - n.attempts));
    const { result } = await deliverWithRetry(() => handler(n), {
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

/** Delivers queued policy-change notices to the configured chat and webhook channels. */
export function deliverPendingNotices(deps: AppDeps, opts: DispatchOptions = {}): Promise<{ delivered: number; failed: number }> {
  const handlers = new Map<string, DeliveryHandler>(
    (deps.channels ?? []).map((c) => [c.channel, (row: NotificationRow) => c.send(JSON.parse(row.payload) as ChangeNotice)]),
  );
  return deliverPending(deps, handlers, opts);
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
    private readonly round: (deps: AppDeps, opts: DispatchOptions) => Promise<unknown> = deliverPendingNotices,
  ) {}

  kick(): void {
    if (this.running !== null) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.round(this.deps, this.opts);
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
