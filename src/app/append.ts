import { SpendtrailError } from '../domain/errors.ts';
import type { AppDeps } from './deps.ts';
import { LogSealer } from './log-sealer.ts';
import type { CheckpointRow, OrgRow, StoreTx, TreeHead } from './ports/store.ts';

export interface AppendContext {
  readonly tx: StoreTx;
  readonly org: OrgRow;
  readonly sealer: LogSealer;
  readonly now: Date;
  /** The head as locked, before this append. */
  readonly head: TreeHead;
}

export interface Appended<T> {
  readonly result: T;
  readonly checkpoint: CheckpointRow | null;
}

// An organisation's row is written once, when it is created, and never updated (its settings
// and keys live elsewhere), so the write path reads it once per store instead of once per unit
// of work. Verify and every read path still read it from the database.
const orgs = new WeakMap<object, Map<string, OrgRow>>();

async function orgOf(deps: AppDeps, tx: StoreTx, orgId: string): Promise<OrgRow> {
  let known = orgs.get(deps.store);
  if (known === undefined) {
    known = new Map();
    orgs.set(deps.store, known);
  }
  const cached = known.get(orgId);
  if (cached !== undefined) return cached;
  const org = await tx.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  known.set(orgId, org);
  return org;
}

/**
 * Appends to an organisation's log inside a unit of work the caller opened: lock the tree,
 * let `fn` add entries and write its projections, then seal and sign.
 */
export async function appendWithin<T>(
  deps: AppDeps,
  tx: StoreTx,
  orgId: string,
  fn: (ctx: AppendContext) => Promise<T>,
): Promise<Appended<T>> {
  const head = await tx.lockTree(orgId);
  const org = await orgOf(deps, tx, orgId);
  const now = deps.clock.now();
  const sealer = new LogSealer(orgId, head);
  const result = await fn({ tx, org, sealer, now, head });
  const checkpoint = await sealer.finish(tx, org.log_origin, deps.signer, now);
  return { result, checkpoint };
}

/** One unit of work that appends to a log: everything commits together or not at all. */
export function appendToLog<T>(deps: AppDeps, orgId: string, fn: (ctx: AppendContext) => Promise<T>): Promise<Appended<T>> {
  return deps.store.unitOfWork((tx) => appendWithin(deps, tx, orgId, fn));
}
