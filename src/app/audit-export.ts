import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { sha256Hex } from '../domain/hash.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { BlobSink } from './ports/blob-sink.ts';
import type { CheckpointRow, ExportState, OrgRow, StoreReads } from './ports/store.ts';

export interface ExportOptions {
  /** A name for the destination, so several sinks keep their own progress. */
  readonly sinkName: string;
  /** At most this many entries per segment (a single signed append larger than it is one segment). */
  readonly maxEntries?: number;
}

export interface ExportRound {
  readonly org_id: string;
  readonly segments: number;
  readonly entries: number;
  readonly next_seq: number;
  readonly tree_size: number;
}

/** One exported line: the exact bytes that were hashed into the tree, with where they sit. */
interface ExportLine {
  readonly seq: number;
  readonly kind: string;
  readonly entity_id: string;
  readonly recorded_at: string;
  readonly leaf_hash: string;
  readonly data: string;
}

const pad = (n: number): string => String(n).padStart(12, '0');
const DEFAULT_MAX = 10_000;

async function readLines(store: StoreReads, orgId: string, first: number, end: number): Promise<ExportLine[]> {
  const [entries, txs] = [await store.logEntriesPage(orgId, first, end), await store.transactionsPage(orgId, first, end)];
  const out: ExportLine[] = [];
  for (const e of entries) {
    const d = JSON.parse(e.data) as { recorded_at: string };
    out.push({ seq: e.seq, kind: e.kind, entity_id: e.entity_id, recorded_at: d.recorded_at, leaf_hash: e.leaf_hash.toString('base64'), data: e.data });
  }
  for (const t of txs) {
    const r = t.record;
    out.push({ seq: r.seq, kind: 'transaction', entity_id: r.tx_id, recorded_at: r.recorded_at, leaf_hash: t.leaf_hash.toString('base64'), data: encodeTransaction(r) });
  }
  out.sort((a, b) => a.seq - b.seq);
  if (out.length !== end - first) throw new Error(`entries ${first}..${end - 1} are not all in the log (${out.length} of ${end - first})`);
  return out;
}

/**
 * The objects of one segment: an NDJSON file per kind of entry, and a manifest written last
 * (its presence says the segment is complete) with every object's SHA-256, every entry's leaf
 * hash, and the signed checkpoint at the segment's end. Everything here is derived from
 * immutable rows, so the same segment always yields the same bytes.
 */
export function segmentObjects(org: OrgRow, lines: readonly ExportLine[], cp: CheckpointRow): { key: string; body: Buffer; type: string }[] {
  const first = lines[0]?.seq ?? 0;
  const last = lines[lines.length - 1]?.seq ?? 0;
  const day = (lines[0]?.recorded_at ?? '').slice(0, 10).replaceAll('-', '/');
  const name = `${day}/${pad(first)}-${pad(last)}`;
  const byKind = new Map<string, ExportLine[]>();
  for (const l of lines) byKind.set(l.kind, [...(byKind.get(l.kind) ?? []), l]);
  const objects = [...byKind.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([kind, ls]) => ({
      key: `audit/${org.org_id}/${kind}/${name}.ndjson`,
      body: Buffer.from(ls.map((l) => `${JSON.stringify(l)}\n`).join(''), 'utf8'),
      type: 'application/x-ndjson',
      entries: ls.length,
    }));
  const manifest = {
    format: 'spendtrail-audit-segment/1',
    org_id: org.org_id,
    log_origin: org.log_origin,
    verifier_key: org.verifier_key,
    first_seq: first,
    last_seq: last,
    tree_size: cp.tree_size,
    root: cp.root.toString('base64'),
    checkpoint: cp.note,
    objects: objects.map((o) => ({ key: o.key, sha256: sha256Hex(o.body), entries: o.entries })),
    leaf_hashes: lines.map((l) => l.leaf_hash),
  };
  return [
    ...objects.map(({ key, body, type }) => ({ key, body, type })),
    { key: `audit/${org.org_id}/manifests/${name}.json`, body: Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8'), type: 'application/json' },
  ];
}

/** The end of the next segment: a signed tree size, so each manifest carries its checkpoint. */
function planEnd(cps: readonly CheckpointRow[], next: number, max: number): CheckpointRow | undefined {
  let best: CheckpointRow | undefined;
  for (const cp of cps) {
    if (cp.tree_size <= next) continue;
    if (cp.tree_size - next <= max) best = cp;
    else return best ?? cp;
  }
  return best;
}

/**
 * Exports every entry not yet confirmed written, segment by segment, for one organisation.
 * The segment is planned (saved) before its first object is put and the cursor moves only after
 * its manifest is written: a crash or a sink outage at any point re-puts the same bytes later,
 * which the sink recognises, so every entry ends up exported exactly once in effect.
 */
export async function exportOrg(
  deps: AppDeps,
  sink: BlobSink,
  org: OrgRow,
  opts: ExportOptions,
  onSegment?: (next: number, size: number) => void,
): Promise<ExportRound> {
  const max = opts.maxEntries ?? DEFAULT_MAX;
  let state: ExportState = (await deps.store.getExportState(org.org_id, opts.sinkName)) ?? {
    org_id: org.org_id,
    sink: opts.sinkName,
    next_seq: 0,
    planned: null,
    objects_written: 0,
    last_object: null,
    last_error: null,
    failed_attempts: 0,
    updated_at: deps.clock.now(),
  };
  const cps = await deps.store.listCheckpoints(org.org_id);
  const size = cps[cps.length - 1]?.tree_size ?? 0;
  let segments = 0;
  let entries = 0;
  const save = async (s: ExportState): Promise<void> => {
    await deps.store.unitOfWork((tx) => tx.saveExportState(s));
    state = s;
  };
  while (state.planned !== null || state.next_seq < size) {
    let planned = state.planned;
    if (planned === null) {
      const cp = planEnd(cps, state.next_seq, max);
      if (cp === undefined) break;
      planned = { first: state.next_seq, end: cp.tree_size };
      await save({ ...state, planned, updated_at: deps.clock.now() });
    }
    const cp = cps.find((c) => c.tree_size === planned.end);
    if (cp === undefined) throw new Error(`no checkpoint at tree size ${planned.end} for the planned segment`);
    try {
      const lines = await readLines(deps.store, org.org_id, planned.first, planned.end);
      const objects = segmentObjects(org, lines, cp);
      for (const o of objects) await sink.put(o.key, o.body, o.type);
      await save({
        ...state,
        next_seq: planned.end,
        planned: null,
        objects_written: state.objects_written + objects.length,
        last_object: objects[objects.length - 1]?.key ?? state.last_object,
        last_error: null,
        updated_at: deps.clock.now(),
      });
      segments += 1;
      entries += lines.length;
      onSegment?.(state.next_seq, size);
    } catch (e) {
      // The plan stays: the next round re-puts exactly this segment.
      await save({ ...state, last_error: (e instanceof Error ? e.message : String(e)).slice(0, 500), failed_attempts: state.failed_attempts + 1, updated_at: deps.clock.now() });
      throw e;
    }
  }
  return { org_id: org.org_id, segments, entries, next_seq: state.next_seq, tree_size: size };
}

/** Exports every organisation; one that fails does not hold the others back. */
export async function exportAll(deps: AppDeps, sink: BlobSink, opts: ExportOptions): Promise<{ rounds: ExportRound[]; errors: { org_id: string; error: string }[] }> {
  const rounds: ExportRound[] = [];
  const errors: { org_id: string; error: string }[] = [];
  for (const org of await deps.store.listOrgs()) {
    try {
      rounds.push(await exportOrg(deps, sink, org, opts));
    } catch (e) {
      errors.push({ org_id: org.org_id, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { rounds, errors };
}

export interface ExportStatus {
  readonly sink: string;
  readonly tree_size: number;
  readonly exported_through: number;
  /** Entries in the log not yet confirmed written. */
  readonly behind: number;
  readonly objects_written: number;
  readonly last_object: string | null;
  readonly last_error: string | null;
  readonly failed_attempts: number;
  readonly updated_at: string | null;
}

export async function exportStatus(deps: AppDeps, by: Principal, sinkName: string): Promise<ExportStatus> {
  requireRole(by, 'auditor', 'finance');
  const s = await deps.store.getExportState(by.org_id, sinkName);
  const size = (await deps.store.latestCheckpoint(by.org_id))?.tree_size ?? 0;
  const next = s?.next_seq ?? 0;
  return {
    sink: sinkName,
    tree_size: size,
    exported_through: next,
    behind: Math.max(0, size - next),
    objects_written: s?.objects_written ?? 0,
    last_object: s?.last_object ?? null,
    last_error: s?.last_error ?? null,
    failed_attempts: s?.failed_attempts ?? 0,
    updated_at: s?.updated_at.toISOString() ?? null,
  };
}
