import { SpendtrailError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import { LogSealer } from './log-sealer.ts';
import type { CheckpointRow, OrgRow, StoreTx } from './ports/store.ts';

export interface AppendContext {
  readonly tx: StoreTx;
  readonly org: OrgRow;
  readonly sealer: LogSealer;
  readonly now: Date;
}

/**
 * One unit of work that appends to an organisation's log: lock the tree, let `fn` add entries
 * and write its projections, then seal and sign. Everything commits together or not at all.
 */
export async function appendToLog<T>(
  deps: AppDeps,
  orgId: string,
  fn: (ctx: AppendContext) => Promise<T>,
): Promise<{ result: T; checkpoint: CheckpointRow | null }> {
  return deps.store.unitOfWork(async (tx) => {
    const head = await tx.lockTree(orgId);
    const org = await tx.getOrg(orgId);
    if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
    const now = deps.clock.now();
    const sealer = new LogSealer(orgId, head);
    const result = await fn({ tx, org, sealer, now });
    const checkpoint = await sealer.finish(tx, org.log_origin, deps.signer, now);
    return { result, checkpoint };
  });
}
