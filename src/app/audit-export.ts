import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { encodeTransactionAsJsonString } from '../domain/ledger/transaction-json-string.ts';
import { SpendtrailError } from '../domain/errors.ts';
import type { NodeAt } from '../domain/merkle/proofs.ts';
import { inclusionProof, verifyInclusion } from '../domain/merkle/proofs.ts';
import { nodeHash } from '../domain/merkle/tree-hash.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import type { BlobSink } from './ports/blob-sink.ts';
import type { TransactionRowSource } from './ports/export-rows.ts';
import type { CheckpointRow, ExportState, LogEntryRow, OrgRow, RailPayloadRow, StoreReads } from './ports/store.ts';
import type { Subtree } from './tree-reader.ts';
import { storedFrontier } from './tree-reader.ts';

export interface ExportOptions {
  /** A name for the destination, so several sinks keep their own progress. */
  readonly sinkName: string;
  /** At most this many entries per segment (a single signed append larger than it is one segment). */
  readonly maxEntries?: number;
  /**
   * Also write each transaction as its own object, `audit/<org>/agent-txns/YYYY-MM-DD/<tx_id>.json`,
   * carrying its inclusion proof and the signed checkpoint, for stores and reviewers that work
   * one record at a time. Off by default: it multiplies the number of objects.
   */
  readonly records?: boolean;
  /**
   * Reads a segment's transactions in bulk (COPY on PostgreSQL: copyTransactionSource). Without
   * it they are read a page at a time through the store; the bytes exported are the same.
   */
  readonly transactions?: TransactionRowSource;
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

/** Transactions read a page at a time through the store: the path for engines without COPY. */
const pagedTransactions = (store: StoreReads): TransactionRowSource => ({
  async eachTransaction(orgId, from, to, row) {
    for (const t of await store.transactionsPage(orgId, from, to)) row(t.record, t.leaf_hash.toString('base64'));
  },
});

/** First allocation of a kind's NDJSON output; it doubles as it fills. */
const FIRST_CAPACITY = 256 * 1024;

/**
 * The NDJSON of one kind of entry, encoded into a Buffer line by line as the rows arrive, so a
 * segment is never held as row objects, line strings and one joined string before its bytes.
 */
class NdjsonOut {
  private buf = Buffer.allocUnsafe(FIRST_CAPACITY);
  private len = 0;
  entries = 0;

  push(line: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8: with that much room the whole line fits.
    if (this.buf.length - this.len < line.length * 3) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + line.length * 3));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    this.len += this.buf.write(line, this.len, 'utf8');
    this.entries += 1;
  }

  body(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

const scratch = Buffer.allocUnsafe(64);

/**
 * The base64 of the bytes `b64` stands for, as Buffer#toString writes it (what the paged path
 * exports), in a string of its own: a substring of a large text read from the database would keep
 * that whole text alive for as long as the segment keeps the leaf hash.
 */
function canonicalBase64(b64: string): string {
  if (b64.length > 84) return Buffer.from(b64, 'base64').toString('base64');
  const n = scratch.write(b64, 0, 'base64');
  return scratch.toString('base64', 0, n);
}

/** A segment's NDJSON per kind, its leaf hashes in order, and what names it. */
interface BuiltSegment {
  readonly first_seq: number;
  readonly last_seq: number;
  /** recorded_at of the first entry (names the segment's day). */
  readonly first_recorded_at: string | undefined;
  readonly kinds: ReadonlyMap<string, NdjsonOut>;
  readonly leaf_hashes: readonly string[];
  /** The lines themselves, kept only for per-record mode. */
  readonly lines: readonly ExportLine[] | null;
}

/**
 * Writes each entry of a segment, in seq order, as its NDJSON line. A line is what
 * `JSON.stringify(line)` of the ExportLine {seq, kind, entity_id, recorded_at, leaf_hash, data}
 * gives. Log entries (a handful per segment, data as stored) go through exactly that; a
 * transaction's line is concatenated in the same key order from values that are all strings
 * but seq (a safe integer, which JSON writes as String does), which gives the same bytes
 * without building the object.
 */
class SegmentWriter {
  private readonly kinds = new Map<string, NdjsonOut>();
  readonly leaf_hashes: string[] = [];
  readonly lines: ExportLine[] | null;
  private first: number | undefined;
  private last = 0;
  private firstRecordedAt: string | undefined;
  count = 0;

  constructor(keepLines: boolean) {
    this.lines = keepLines ? [] : null;
  }

  private out(kind: string): NdjsonOut {
    let o = this.kinds.get(kind);
    if (o === undefined) {
      o = new NdjsonOut();
      this.kinds.set(kind, o);
    }
    return o;
  }

  private seen(seq: number, recordedAt: string | undefined, leafHash: string): void {
    if (this.first === undefined) {
      this.first = seq;
      this.firstRecordedAt = recordedAt;
    }
    this.last = seq;
    this.leaf_hashes.push(leafHash);
    this.count += 1;
  }

  entry(e: LogEntryRow): void {
    const d = JSON.parse(e.data) as { recorded_at: string };
    const l: ExportLine = { seq: e.seq, kind: e.kind, entity_id: e.entity_id, recorded_at: d.recorded_at, leaf_hash: e.leaf_hash.toString('base64'), data: e.data };
    this.seen(l.seq, l.recorded_at, l.leaf_hash);
    this.out(l.kind).push(`${JSON.stringify(l)}\n`);
    this.lines?.push(l);
  }

  transaction(r: TransactionRecord, leafHashBase64: string): void {
    const leafHash = canonicalBase64(leafHashBase64);
    this.seen(r.seq, r.recorded_at, leafHash);
    // encodeTransactionAsJsonString(r) is JSON.stringify(encodeTransaction(r)), in one pass.
    this.out('transaction').push(
      '{"seq":' +
        String(r.seq) +
        ',"kind":"transaction","entity_id":' +
        JSON.stringify(r.tx_id) +
        ',"recorded_at":' +
        JSON.stringify(r.recorded_at) +
        ',"leaf_hash":' +
        JSON.stringify(leafHash) +
        ',"data":' +
        encodeTransactionAsJsonString(r) +
        '}\n',
    );
    this.lines?.push({ seq: r.seq, kind: 'transaction', entity_id: r.tx_id, recorded_at: r.recorded_at, leaf_hash: leafHash, data: encodeTransaction(r) });
  }

  done(): BuiltSegment {
    return { first_seq: this.first ?? 0, last_seq: this.last, first_recorded_at: this.firstRecordedAt, kinds: this.kinds, leaf_hashes: this.leaf_hashes, lines: this.lines };
  }
}

/**
 * Reads entries [first, end) and writes them into a segment's NDJSON as they arrive: the log
 * entries of the range first (few), then the transactions streamed in seq order, the two merged
 * by seq.
 */
async function buildSegment(store: StoreReads, txs: TransactionRowSource, orgId: string, first: number, end: number, keepLines: boolean): Promise<BuiltSegment> {
  const entries = await store.logEntriesPage(orgId, first, end);
  const w = new SegmentWriter(keepLines);
  let ei = 0;
  await txs.eachTransaction(orgId, first, end, (r, leafHash) => {
    while (ei < entries.length && (entries[ei] as LogEntryRow).seq < r.seq) w.entry(entries[ei++] as LogEntryRow);
    w.transaction(r, leafHash);
  });
  while (ei < entries.length) w.entry(entries[ei++] as LogEntryRow);
  if (w.count !== end - first) throw new Error(`entries ${first}..${end - 1} are not all in the log (${w.count} of ${end - first})`);
  return w.done();
}

/**
 * SHA-256 (hex) computed by Web Crypto, which hashes on libuv's thread pool: a segment's ~13 MB
 * of NDJSON is hashed while this thread encodes the next segment. Same digest as sha256Hex.
 */
async function sha256HexOffThread(body: Buffer): Promise<string> {
  return Buffer.from(await globalThis.crypto.subtle.digest('SHA-256', body)).toString('hex');
}

interface SegmentObject {
  readonly key: string;
  readonly body: Buffer;
  readonly type: string;
}

/** `<YYYY/MM/DD of the first entry>/<first>-<last>`: where a segment's objects are named. */
function segmentName(seg: BuiltSegment): string {
  const day = (seg.first_recorded_at ?? '').slice(0, 10).replaceAll('-', '/');
  return `${day}/${pad(seg.first_seq)}-${pad(seg.last_seq)}`;
}

const manifestKey = (org: OrgRow, seg: BuiltSegment): string => `audit/${org.org_id}/manifests/${segmentName(seg)}.json`;

/**
 * The objects of one segment: an NDJSON file per kind of entry, the per-record objects when
 * asked for, and a manifest written last (its presence says the segment is complete) with every
 * object's SHA-256, every entry's leaf hash, and the signed checkpoint at the segment's end.
 * Everything here is derived from immutable rows, so the same segment always yields the same
 * bytes. Without records the manifest has no `records` field, so it stays byte for byte what
 * exporters before per-record mode wrote.
 */
async function segmentObjects(
  org: OrgRow,
  seg: BuiltSegment,
  cp: CheckpointRow,
  records?: readonly SegmentObject[],
  payloads: readonly RailPayloadRow[] = [],
): Promise<SegmentObject[]> {
  const name = segmentName(seg);
  // What each rail sent, byte for byte (base64), beside the rail_payload entries that log its
  // hash: write-once storage keeps the evidence itself, not only its fingerprint.
  const bodies =
    payloads.length === 0
      ? null
      : {
          key: `audit/${org.org_id}/rail_payload_bodies/${name}.ndjson`,
          body: Buffer.from(
            payloads
              .map((p) => `${JSON.stringify({ seq: p.seq, rail: p.rail, source_id: p.source_id, payload_sha256: p.payload_sha256, content_type: p.content_type, body: p.body.toString('base64') })}\n`)
              .join(''),
            'utf8',
          ),
          type: 'application/x-ndjson',
        };
  const objects = [...seg.kinds.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([kind, out]) => ({
      key: `audit/${org.org_id}/${kind}/${name}.ndjson`,
      body: out.body(),
      type: 'application/x-ndjson',
      entries: out.entries,
    }));
  const [objectHashes, recordHashes, bodiesHash] = await Promise.all([
    Promise.all(objects.map((o) => sha256HexOffThread(o.body))),
    Promise.all((records ?? []).map((r) => sha256HexOffThread(r.body))),
    bodies === null ? null : sha256HexOffThread(bodies.body),
  ]);
  const manifest = {
    format: 'spendtrail-audit-segment/1',
    org_id: org.org_id,
    log_origin: org.log_origin,
    verifier_key: org.verifier_key,
    first_seq: seg.first_seq,
    last_seq: seg.last_seq,
    tree_size: cp.tree_size,
    root: cp.root.toString('base64'),
    checkpoint: cp.note,
    objects: objects.map((o, i) => ({ key: o.key, sha256: objectHashes[i], entries: o.entries })),
    ...(records === undefined ? {} : { records: records.map((r, i) => ({ key: r.key, sha256: recordHashes[i] })) }),
    ...(bodies === null ? {} : { rail_payloads: { key: bodies.key, sha256: bodiesHash, count: payloads.length } }),
    leaf_hashes: seg.leaf_hashes,
  };
  return [
    ...objects.map(({ key, body, type }) => ({ key, body, type })),
    ...(records ?? []),
    ...(bodies === null ? [] : [bodies]),
    { key: manifestKey(org, seg), body: Buffer.from(`${JSON.stringify(manifest, null, 1)}\n`, 'utf8'), type: 'application/json' },
  ];
}

/**
 * NodeAt over a tree of `first + leaves.length` leaves, knowing the leaves before `first` only
 * by their compact range (`frontier`, from storedFrontier) and the leaves from `first` on
 * exactly. The proofs of leaves at or after `first` in that tree only ask for subtrees that are
 * frontier subtrees, lie at or after `first`, or straddle `first` (split into halves until they
 * are one of the other two): a dyadic subtree wholly before `first` whose parent reaches past
 * it is always exactly one frontier subtree. So nothing before the segment is read again, and,
 * memoised, the proofs of a whole segment hash each node once, about 2n hashes in all.
 */
export function segmentNodeAt(frontier: readonly Subtree[], first: number, leaves: readonly Buffer[]): NodeAt {
  const end = first + leaves.length;
  const known = new Map<string, Buffer>(frontier.map((n) => [`${n.level}:${n.index}`, n.hash]));
  const nodeAt: NodeAt = (level, index) => {
    if (level === 0 && index >= first && index < end) return leaves[index - first] as Buffer;
    const key = `${level}:${index}`;
    const hit = known.get(key);
    if (hit !== undefined) return hit;
    const width = 2 ** level;
    const lo = index * width;
    if (level === 0 || lo + width <= first || lo + width > end) {
      throw new SpendtrailError('INTERNAL', `subtree ${key} (leaves ${lo}..${lo + width - 1}) is not known from a segment of leaves ${first}..${end - 1}`);
    }
    const hash = nodeHash(nodeAt(level - 1, 2 * index), nodeAt(level - 1, 2 * index + 1));
    known.set(key, hash);
    return hash;
  };
  return nodeAt;
}

/** The UTC calendar day of an instant, YYYY-MM-DD. */
const utcDay = (instant: string): string => new Date(instant).toISOString().slice(0, 10);

/**
 * One object per transaction of the segment, each verifiable on its own with the
 * organisation's verifier key: the exported line (its `data` is the exact hashed bytes), the
 * signed checkpoint at the segment's end, and the RFC 6962 audit path of its leaf (index = seq)
 * in that checkpoint's tree. Fields in a fixed order, so a re-put is byte-identical.
 */
export function recordObjects(org: OrgRow, lines: readonly ExportLine[], cp: CheckpointRow, nodeAt: NodeAt): SegmentObject[] {
  const out: SegmentObject[] = [];
  for (const l of lines) {
    if (l.kind !== 'transaction') continue;
    const path = inclusionProof(l.seq, cp.tree_size, nodeAt);
    // These objects cannot be corrected once on write-once storage: a proof that does not lead
    // to the signed root (a damaged stored tile, say) stops the export instead.
    if (!verifyInclusion(Buffer.from(l.leaf_hash, 'base64'), l.seq, cp.tree_size, path, cp.root)) {
      throw new SpendtrailError('INTEGRITY_FAILURE', `the inclusion proof of entry ${l.seq} does not lead to the root signed at tree size ${cp.tree_size}`);
    }
    const record = {
      format: 'spendtrail-audit-record/1',
      org_id: org.org_id,
      seq: l.seq,
      kind: l.kind,
      entity_id: l.entity_id,
      recorded_at: l.recorded_at,
      leaf_hash: l.leaf_hash,
      data: l.data,
      tree_size: cp.tree_size,
      checkpoint: cp.note,
      audit_path: path.map((h) => h.toString('base64')),
    };
    out.push({
      key: `audit/${org.org_id}/agent-txns/${utcDay(l.recorded_at)}/${l.entity_id}.json`,
      body: Buffer.from(`${JSON.stringify(record, null, 1)}\n`, 'utf8'),
      type: 'application/json',
    });
  }
  return out;
}

/** The per-record objects of a segment [first, cp.tree_size), reading only the frontier before it. */
async function segmentRecords(store: StoreReads, org: OrgRow, lines: readonly ExportLine[], first: number, cp: CheckpointRow): Promise<SegmentObject[]> {
  if (!lines.some((l) => l.kind === 'transaction')) return [];
  const frontier = await storedFrontier(store, org.org_id, first);
  const nodeAt = segmentNodeAt(frontier, first, lines.map((l) => Buffer.from(l.leaf_hash, 'base64')));
  return recordObjects(org, lines, cp, nodeAt);
}

/** How many objects a written manifest accounts for, itself included. */
function objectsListed(manifest: Buffer): number {
  const m = JSON.parse(manifest.toString('utf8')) as { objects?: unknown[]; records?: unknown[]; rail_payloads?: unknown };
  return (m.objects?.length ?? 0) + (m.records?.length ?? 0) + (m.rail_payloads === undefined ? 0 : 1) + 1;
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
  // The next segment is read and encoded while the current one is written: the database, this
  // thread and the sink overlap instead of taking turns. Only reading runs ahead; the plan and
  // the cursor still move one segment at a time.
  const txs = opts.transactions ?? pagedTransactions(deps.store);
  const keepLines = opts.records === true;
  const build = (first: number, end: number): Promise<BuiltSegment> => buildSegment(deps.store, txs, org.org_id, first, end, keepLines);
  let ahead: { first: number; end: number; seg: Promise<BuiltSegment> } | null = null;
  const segmentOf = (first: number, end: number): Promise<BuiltSegment> =>
    ahead !== null && ahead.first === first && ahead.end === end ? ahead.seg : build(first, end);
  while (state.planned !== null || state.next_seq < size) {
    let planned = state.planned;
    const resumed = planned !== null;
    if (planned === null) {
      const cp = planEnd(cps, state.next_seq, max);
      if (cp === undefined) break;
      planned = { first: state.next_seq, end: cp.tree_size };
      await save({ ...state, planned, updated_at: deps.clock.now() });
    }
    const cp = cps.find((c) => c.tree_size === planned.end);
    if (cp === undefined) throw new Error(`no checkpoint at tree size ${planned.end} for the planned segment`);
    try {
      const seg = await segmentOf(planned.first, planned.end);
      const following = planEnd(cps, planned.end, max);
      ahead = following === undefined ? null : { first: planned.end, end: following.tree_size, seg: build(planned.end, following.tree_size) };
      ahead?.seg.catch(() => undefined);
      // A resumed segment whose manifest is already written was completed by an attempt that
      // stopped before saving progress, perhaps with per-record mode set the other way (a
      // different manifest): it stands as written, and re-putting it would only conflict.
      const written = resumed ? await sink.get(manifestKey(org, seg)) : null;
      const records = opts.records === true && written === null ? await segmentRecords(deps.store, org, seg.lines ?? [], planned.first, cp) : undefined;
      const payloads = await deps.store.railPayloadsPage(org.org_id, planned.first, planned.end);
      const objects = await segmentObjects(org, seg, cp, records, payloads);
      if (written === null) for (const o of objects) await sink.put(o.key, o.body, o.type);
      const count = written === null ? objects.length : objectsListed(written);
      await save({
        ...state,
        next_seq: planned.end,
        planned: null,
        objects_written: state.objects_written + count,
        last_object: objects[objects.length - 1]?.key ?? state.last_object,
        last_error: null,
        updated_at: deps.clock.now(),
      });
      segments += 1;
      entries += seg.leaf_hashes.length;
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
