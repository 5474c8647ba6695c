import { CompactRange } from '../domain/merkle/compact-range.ts';
import { canonicalize } from '../domain/canonical/jcs.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import type { CheckpointSigner } from './ports/signer.ts';
import type { CheckpointRow, LogEntryRow, StoreTx, TileRow, TreeHead } from './ports/store.ts';

/** Levels whose complete subtrees are stored, so proofs never read more than 255 nodes a level. */
export const TILE_LEVELS: ReadonlySet<number> = new Set([8, 16, 24, 32]);

/**
 * Appends leaves to an organisation's tree inside one unit of work: hands out sequence numbers
 * in order, keeps the frontier, collects completed tiles, and signs one checkpoint for the
 * whole batch. The caller holds the tree lock (StoreTx.lockTree) for the unit of work, so
 * sealing is one ordered step per organisation and batches make it cheap per entry.
 */
export class LogSealer {
  private readonly range: CompactRange;
  private readonly tiles: TileRow[] = [];
  private readonly entries: LogEntryRow[] = [];

  private readonly configSeq: number;

  constructor(
    private readonly orgId: string,
    head: TreeHead,
  ) {
    this.configSeq = head.config_seq;
    this.range = CompactRange.deserialize(head.size, head.frontier, (level, idx, hash) => {
      if (TILE_LEVELS.has(level)) this.tiles.push({ level, idx, hash });
    });
  }

  get nextSeq(): number {
    return this.range.size;
  }

  get appended(): number {
    return this.entries.length + this.txCount;
  }

  private txCount = 0;

  /** Adds a transaction leaf (its row is written by the caller). */
  addTransactionLeaf(hash: Buffer): void {
    this.range.append(hash);
    this.txCount += 1;
  }

  /** Builds, hashes and queues a non-transaction entry. Returns it for projections. */
  addEntry(kind: string, entityId: string, recordedAt: string, recordedBy: string, body: unknown): LogEntryRow {
    const seq = this.range.size;
    const data = canonicalize({ body, entity_id: entityId, kind, org_id: this.orgId, recorded_at: recordedAt, recorded_by: recordedBy, seq });
    const row: LogEntryRow = { org_id: this.orgId, seq, kind, entity_id: entityId, data, leaf_hash: leafHash(data) };
    this.range.append(row.leaf_hash);
    this.entries.push(row);
    return row;
  }

  /** Writes queued entries, tiles, the new head and a signed checkpoint. */
  async finish(tx: StoreTx, origin: string, signer: CheckpointSigner, at: Date): Promise<CheckpointRow | null> {
    await tx.insertLogEntries(this.entries);
    const root = this.range.root();
    const lastEntry = this.entries[this.entries.length - 1];
    const head: TreeHead = {
      size: this.range.size,
      frontier: this.range.serialize(),
      root,
      config_seq: lastEntry === undefined ? this.configSeq : lastEntry.seq,
    };
    let cp: CheckpointRow | null = null;
    if (this.appended > 0) {
      const note = signer.sign({ origin, size: head.size, root });
      cp = { org_id: this.orgId, tree_size: head.size, root, note, created_at: at };
    }
    await tx.saveTree(this.orgId, head, this.tiles, cp, at);
    return cp;
  }
}
