import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionInput } from '../domain/ledger/transaction.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import type { RecordResult } from './record-transactions.ts';
import { recordFor } from './record-transactions.ts';

interface Pending {
  readonly by: Principal;
  readonly input: TransactionInput;
  readonly resolve: (r: RecordResult) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Group commit for single-transaction calls. While one unit of work for an organisation is
 * committing, new calls queue; when it finishes, everything queued goes in the next one. No
 * timer: an idle system commits a lone call at once, a busy one amortises the lock, the
 * sealing and the durable commit over many calls. Each call still gets its own result or
 * error, and is acknowledged only after its unit of work has committed.
 */
export class TransactionBatcher {
  private readonly queues = new Map<string, Pending[]>();
  private readonly draining = new Set<string>();

  constructor(
    private readonly deps: AppDeps,
    private readonly maxBatch = 2000,
  ) {}

  submit(by: Principal, input: TransactionInput): Promise<RecordResult> {
    return new Promise<RecordResult>((resolve, reject) => {
      const q = this.queues.get(by.org_id) ?? [];
      q.push({ by, input, resolve, reject });
      this.queues.set(by.org_id, q);
      if (!this.draining.has(by.org_id)) void this.drain(by.org_id);
    });
  }

  private settle(batch: readonly Pending[], outcomes: readonly { ok: boolean }[]): void {
    batch.forEach((p, i) => {
      const o = outcomes[i] as Awaited<ReturnType<typeof recordFor>>[number] | undefined;
      if (o === undefined) p.reject(new SpendtrailError('INTERNAL', 'no outcome for a queued transaction'));
      else if (o.ok) p.resolve(o.result);
      else p.reject(stripPrefix(o.error));
    });
  }

  private async drain(orgId: string): Promise<void> {
    this.draining.add(orgId);
    try {
      for (;;) {
        const q = this.queues.get(orgId) ?? [];
        if (q.length === 0) break;
        const batch = q.splice(0, this.maxBatch);
        try {
          this.settle(batch, await recordFor(this.deps, orgId, batch, 'independent', () => 'transaction'));
        } catch (e) {
          if (batch.length === 1 || (e instanceof SpendtrailError && e.code === 'STORE_UNAVAILABLE') || !(e instanceof SpendtrailError)) {
            for (const p of batch) p.reject(e);
            continue;
          }
          // Something in the group failed the whole unit of work: one caller's input must not
          // fail the others, so each is tried on its own.
          for (const p of batch) {
            try {
              this.settle([p], await recordFor(this.deps, orgId, [p], 'independent', () => 'transaction'));
            } catch (err) {
              p.reject(err instanceof SpendtrailError ? stripPrefix(err) : err);
            }
          }
        }
      }
    } finally {
      this.draining.delete(orgId);
      this.queues.delete(orgId);
    }
  }
}

/** Single calls report fields relative to their own body ("amount", not "transaction.amount"). */
function stripPrefix(e: SpendtrailError): SpendtrailError {
  const field = e.field === 'transaction' ? undefined : e.field?.replace(/^transaction\./, '');
  return new SpendtrailError(e.code, e.message, { field, details: e.details, cause: e.cause });
}
