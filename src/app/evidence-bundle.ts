import { openCheckpoint } from '../domain/checkpoint/checkpoint.ts';
import type { NoteVerifier } from '../domain/checkpoint/note-key.ts';
import { parseVerifierKey } from '../domain/checkpoint/note-key.ts';
import { canonicalize } from '../domain/canonical/jcs.ts';
import { SpendtrailError } from '../domain/errors.ts';
import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { CompactRange } from '../domain/merkle/compact-range.ts';
import { consistencyProof, inclusionProof, verifyConsistency, verifyInclusion } from '../domain/merkle/proofs.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import { instantMs, monthBounds } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import type { CheckpointRow, LogEntryRow, StoreReads } from './ports/store.ts';
import type { Principal } from './principal.ts';
import { requireRole } from './principal.ts';
import { segmentNodeAt } from './audit-export.ts';
import { storedConsistencyProof, storedFrontier, storedInclusionProof } from './tree-reader.ts';
import { manifestOf } from '../verifier/manifest.ts';
import { RAIL_PAYLOADS, SUMMARY_ENTRIES } from '../verifier/verify-bundle.ts';

// The verifier names the file, so that it reads bundles without depending on the app.
export { RAIL_PAYLOADS, SUMMARY_ENTRIES };

/**
 * The files of a bundle, in the order they are written (MANIFEST.sha256 last);
 * SUMMARY_ENTRIES only when there are such entries.
 */
export const BUNDLE_FILES = [
  'README.md',
  'key.txt',
  'checkpoints.ndjson',
  'entries.ndjson',
  'proofs.ndjson',
  'consistency.json',
  'policies.ndjson',
  'summaries.ndjson',
  SUMMARY_ENTRIES,
  RAIL_PAYLOADS,
] as const;

/**
 * An evidence bundle for the entries recorded in [from, to): the exact bytes of every entry in
 * that stretch of the log, the policies they refer to, the summaries logged in it or made for a
 * month of the period (with their sign-offs, even when logged later), the signed checkpoints
 * around them and the proofs tying each entry to them, for an auditor to check offline.
 */
export async function buildEvidenceBundle(
  deps: AppDeps,
  by: Principal,
  period: { from: Date; to: Date },
  verifier: NoteVerifier,
): Promise<Map<string, Buffer>> {
  requireRole(by, 'auditor', 'finance', 'admin');
  if (!(period.from.getTime() < period.to.getTime())) {
    throw new SpendtrailError('VALIDATION_FAILED', 'the period must end after it starts', { field: 'to' });
  }
  return deps.store.readSnapshot((store) => build(store, by.org_id, period.from.getTime(), period.to.getTime(), verifier));
}

interface Entry {
  readonly seq: number;
  readonly kind: string;
  readonly bytes: string;
  readonly recordedMs: number;
  readonly policy: string | null;
}

async function build(store: StoreReads, orgId: string, fromMs: number, toMs: number, verifier: NoteVerifier): Promise<Map<string, Buffer>> {
  const org = await store.getOrg(orgId);
  if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${orgId}`);
  if (!sameKey(org.verifier_key, verifier)) {
    throw new SpendtrailError('BUNDLE_INVALID', 'the verifier key recorded for the organisation is not the pinned key: run verify first');
  }

  // 1. The stretch of the log recorded in the period: [first, end), found in the database
  //    rather than by reading the whole log.
  const span = await store.seqSpanRecorded(orgId, new Date(fromMs), new Date(toMs));
  const first = span?.first ?? -1;
  let end = span === null ? -1 : span.last + 1;
  if (first < 0) throw new SpendtrailError('VALIDATION_FAILED', 'no entries were recorded in that period', { field: 'from' });

  // 2. Checkpoints: the first one containing the period's first entry, and the first one
  //    containing its last entry (the bundle runs up to it, so its root can be recomputed).
  const cps = (await store.listCheckpoints(orgId)).sort((a, b) => a.tree_size - b.tree_size);
  const firstCp = cps.find((c) => c.tree_size > first);
  const lastCp = cps.find((c) => c.tree_size >= end);
  if (firstCp === undefined || lastCp === undefined) {
    throw new SpendtrailError('BUNDLE_INVALID', 'the end of the period is not covered by a signed checkpoint yet');
  }
  end = lastCp.tree_size;
  const chosen = firstCp === lastCp ? [firstCp] : [firstCp, lastCp];
  for (const c of chosen) checkOpen(c, verifier, org.log_origin);

  // 3. The tree up to the last checkpoint: the compact range before the bundle (from stored
  //    tiles, so nothing before it is read leaf by leaf) and the bundle's own leaves.
  const frontier = await storedFrontier(store, orgId, first);
  const leaves = first === end ? [] : await store.leafHashes(orgId, first, end);
  if (leaves.length !== end - first) throw new SpendtrailError('BUNDLE_INVALID', `the tree storage holds ${leaves.length} leaves from ${first}, expected ${end - first}`);
  const before = CompactRange.fromState(first, frontier.map((n) => n.hash));
  const whole = CompactRange.fromState(first, before.frontier());
  whole.appendMany(leaves);
  if (!whole.root().equals(lastCp.root)) throw new SpendtrailError('BUNDLE_INVALID', `stored leaves do not hash to the root signed at size ${end}: run verify`);
  const nodeAt = segmentNodeAt(frontier, first, leaves);
  const leafAt = (seq: number): Buffer => leaves[seq - first] as Buffer;
  const spanProof = consistencyProof(firstCp.tree_size, lastCp.tree_size, nodeAt);
  if (firstCp !== lastCp && !verifyConsistency(firstCp.tree_size, lastCp.tree_size, firstCp.root, lastCp.root, spanProof)) {
    throw new SpendtrailError('BUNDLE_INVALID', `the stored tree does not prove size ${firstCp.tree_size} consistent with size ${lastCp.tree_size}: run verify`);
  }

  // 4. Entries, proofs, policies and summaries.
  const entries = await readEntries(store, orgId, first, end);
  const entryLines: string[] = [];
  const proofLines: string[] = [];
  const policyIds = new Set<string>();
  for (const e of entries) {
    const leaf = leafAt(e.seq);
    entryLines.push(canonicalize({ seq: e.seq, kind: e.kind, leaf_hash: b64(leaf), bytes: e.bytes }));
    proofLines.push(canonicalize({ seq: e.seq, leaf_index: e.seq, tree_size: end, audit_path: inclusionProof(e.seq, end, nodeAt).map(b64) }));
    if (e.policy !== null) policyIds.add(e.policy);
  }
  const policyLines = (await store.getPolicyVersions(orgId))
    .filter((p) => policyIds.has(p.snapshot_id))
    .sort((a, b) => a.seq - b.seq)
    .map((p) => canonicalize({ policy_snapshot_id: p.snapshot_id, agent_id: p.agent_id, version: p.version, document: p.document }));
  // Summaries logged in the span, and every summary of a month of the period wherever it was
  // logged: an auditor asks for the period's summaries, which are made once each month is over.
  const inSpan = (seq: number): boolean => seq >= first && seq < end;
  const summaries = (await store.getSummaries(orgId))
    .filter((s) => inSpan(s.seq) || monthWithin(s.period, org.timezone, fromMs, toMs))
    .sort((a, b) => a.seq - b.seq);
  const summaryLines = summaries.map((s) => canonicalize({ summary_id: s.summary_id, seq: s.seq, summary_hash: s.summary_hash, document: s.document }));
  // Their entries and sign-offs outside the span are proved in the latest checkpoint instead.
  const outsideRows =
    summaries.length === 0
      ? []
      : (await store.logEntriesOfKinds(orgId, ['summary', 'summary_signoff'], summaries.map((s) => s.summary_id))).filter((e) => !inSpan(e.seq));
  const outside = outsideRows.length === 0 ? null : await proveOutsideSpan(store, orgId, outsideRows, lastCp, cps[cps.length - 1] as CheckpointRow, verifier, org.log_origin);
  const consistency = canonicalize({
    from_size: firstCp.tree_size,
    to_size: lastCp.tree_size,
    proof: spanProof.map(b64),
    period_start: { tree_size: first, frontier: before.frontier().map(b64) },
    ...(outside?.later == null ? {} : { later: outside.later.consistency }),
  });

  const files = new Map<string, Buffer>();
  const put = (name: string, text: string): void => {
    files.set(name, Buffer.from(text, 'utf8'));
  };
  const ndjson = (lines: readonly string[]): string => lines.map((l) => `${l}\n`).join('');
  put('README.md', readme(org.log_origin, org.org_id, new Date(fromMs), new Date(toMs), first, end, outside?.lines.length ?? 0));
  put('key.txt', `verifier-key: ${org.verifier_key.trim()}\nlog-origin: ${org.log_origin}\n`);
  const withLater = outside?.later == null ? chosen : [...chosen, outside.later.cp];
  put('checkpoints.ndjson', ndjson(withLater.map((c) => canonicalize({ tree_size: c.tree_size, note: c.note }))));
  put('entries.ndjson', ndjson(entryLines));
  put('proofs.ndjson', ndjson(proofLines));
  put('consistency.json', `${consistency}\n`);
  put('policies.ndjson', ndjson(policyLines));
  put('summaries.ndjson', ndjson(summaryLines));
  if (outside !== null) put(SUMMARY_ENTRIES, ndjson(outside.lines));
  // What each rail said, byte for byte, for the rail records logged in the span.
  const payloads = await store.railPayloadsPage(orgId, first, end);
  if (payloads.length > 0) {
    put(
      RAIL_PAYLOADS,
      ndjson(payloads.map((p) => canonicalize({ seq: p.seq, rail: p.rail, source_id: p.source_id, payload_sha256: p.payload_sha256, content_type: p.content_type, body: p.body.toString('base64') }))),
    );
  }
  put('MANIFEST.sha256', manifestOf(files));
  return files;
}

const DAY_MS = 86_400_000;

/**
 * Whether a summary's month lies within [from, to), give or take a day: months are bounded in
 * the organisation's time zone while a period is often given in UTC (the CLI reads a bare date
 * as midnight UTC), so a Q1 bundle of an organisation in New York still gets March.
 */
function monthWithin(period: string, timeZone: string, fromMs: number, toMs: number): boolean {
  const { start, end } = monthBounds(period, timeZone);
  return instantMs(start) >= fromMs - DAY_MS && instantMs(end) <= toMs + DAY_MS;
}

interface OutsideSpan {
  readonly lines: string[];
  /** The latest checkpoint and the proof that it extends the bundle's last one; null when that is the latest. */
  readonly later: { readonly cp: CheckpointRow; readonly consistency: { from_size: number; to_size: number; proof: string[] } } | null;
}

/**
 * Lines of SUMMARY_ENTRIES: each entry with its inclusion proof in the latest checkpoint, built
 * from stored nodes (a few small reads per proof, not the whole log). Each proof is checked
 * against the signed root here, so damaged tree storage fails the build rather than the audit.
 */
async function proveOutsideSpan(
  store: StoreReads,
  orgId: string,
  rows: readonly LogEntryRow[],
  lastCp: CheckpointRow,
  latest: CheckpointRow,
  verifier: NoteVerifier,
  origin: string,
): Promise<OutsideSpan> {
  const top = Math.max(...rows.map((r) => r.seq));
  if (latest.tree_size <= top) throw new SpendtrailError('BUNDLE_INVALID', `summary entry ${top} is not covered by a signed checkpoint yet`);
  checkOpen(latest, verifier, origin);
  const size = latest.tree_size;
  const lines: string[] = [];
  for (const r of rows) {
    const leaf = leafHash(r.data);
    const path = await storedInclusionProof(store, orgId, r.seq, size);
    if (!verifyInclusion(leaf, r.seq, size, path, latest.root)) {
      throw new SpendtrailError('BUNDLE_INVALID', `the stored tree does not prove entry ${r.seq} in the checkpoint at size ${size}: run verify`);
    }
    lines.push(canonicalize({ seq: r.seq, kind: r.kind, leaf_hash: b64(leaf), bytes: r.data, tree_size: size, audit_path: path.map(b64) }));
  }
  if (size === lastCp.tree_size) return { lines, later: null };
  const proof = await storedConsistencyProof(store, orgId, lastCp.tree_size, size);
  if (!verifyConsistency(lastCp.tree_size, size, lastCp.root, latest.root, proof)) {
    throw new SpendtrailError('BUNDLE_INVALID', `the stored tree does not prove the checkpoint at size ${size} consistent with the one at ${lastCp.tree_size}: run verify`);
  }
  return { lines, later: { cp: latest, consistency: { from_size: lastCp.tree_size, to_size: size, proof: proof.map(b64) } } };
}

async function readEntries(store: StoreReads, orgId: string, from: number, to: number): Promise<Entry[]> {
  const [logs, txs] = await Promise.all([store.logEntriesPage(orgId, from, to), store.transactionsPage(orgId, from, to)]);
  const out: Entry[] = [];
  for (const e of logs) {
    const recorded = (JSON.parse(e.data) as { recorded_at?: unknown }).recorded_at;
    out.push({ seq: e.seq, kind: e.kind, bytes: e.data, recordedMs: typeof recorded === 'string' ? Date.parse(recorded) : NaN, policy: null });
  }
  for (const t of txs) {
    const r = t.record;
    out.push({ seq: r.seq, kind: 'transaction', bytes: encodeTransaction(r), recordedMs: Date.parse(r.recorded_at), policy: r.policy_snapshot_id });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

function checkOpen(c: CheckpointRow, verifier: NoteVerifier, origin: string): void {
  const opened = openCheckpoint(c.note, verifier);
  if (opened.origin !== origin || opened.size !== c.tree_size || !opened.root.equals(c.root)) {
    throw new SpendtrailError('BUNDLE_INVALID', `the checkpoint at size ${c.tree_size} does not match its signed note: run verify`);
  }
}

function sameKey(text: string, pinned: NoteVerifier): boolean {
  try {
    const k = parseVerifierKey(text.trim());
    return k.name === pinned.name && k.keyId.equals(pinned.keyId) && k.publicKey.equals(pinned.publicKey);
  } catch {
    return false;
  }
}

const b64 = (b: Buffer): string => b.toString('base64');

function readme(origin: string, orgId: string, from: Date, to: Date, first: number, end: number, outside: number): string {
  return `# Spendtrail evidence bundle

Organisation \`${orgId}\`, log \`${origin}\`.
Period: entries recorded from ${from.toISOString()} (inclusive) to ${to.toISOString()} (exclusive).
This bundle holds log entries ${first} to ${end - 1} (tree sizes ${first} to ${end}): the period's
entries, extended to the first signed checkpoint that contains the period's last entry.${
    outside === 0 ? '' : `\n${SUMMARY_ENTRIES} adds ${outside} entries of its summaries and sign-offs logged outside that span.`
  }

Run \`spendtrail verify-bundle <this bundle> --trusted-key '<the key you hold>'\` to check all
of the below; every check can also be done by hand as described.

## Files

- \`key.txt\`: \`verifier-key:\` the log's Ed25519 verifier key in Go's note format
  (name+keyid+base64), and \`log-origin:\`, the first line of every checkpoint of this log.
  Compare the key with the one you were given out of band: everything else rests on it.
- \`checkpoints.ndjson\`: one JSON object per line, \`{ note, tree_size }\`; \`note\` is a C2SP
  signed note (tlog-checkpoint): origin, tree size, base64 root, a blank line, and a
  signature line. The first line is the first checkpoint containing the period's first
  entry, then the checkpoint containing the bundle's last entry (\`to_size\` in
  consistency.json). When ${SUMMARY_ENTRIES} holds entries logged after that, one more line
  follows: the latest checkpoint when the bundle was built, which contains them. Any C2SP
  note implementation (e.g. golang.org/x/mod/sumdb/note) verifies them with key.txt.
- \`entries.ndjson\`: one log entry per line, in log order, \`{ bytes, kind, leaf_hash, seq }\`.
  \`bytes\` is the exact RFC 8785 (JCS) text that was hashed; \`leaf_hash\` is base64 of the
  RFC 6962 leaf hash SHA-256(0x00 || bytes). By hand:
  \`jq -j .bytes <<< "$line" | (printf '\\0'; cat) | sha256sum\` equals the hex of leaf_hash,
  and any RFC 8785 implementation reproduces \`bytes\` from its parsed value. Its \`seq\` and
  \`kind\` must equal the line's. Transactions carry everything that judged them:
  \`policy_snapshot_id\`, \`violations\`, \`spend_before_daily\` and \`spend_before_monthly\`.
- \`proofs.ndjson\`: \`{ audit_path, leaf_index, seq, tree_size }\` per entry: an RFC 6962 / RFC 9162
  inclusion proof (audit path, base64) of the entry's leaf hash in the tree of the last checkpoint.
- \`consistency.json\`: \`proof\`, an RFC 9162 consistency proof from the first checkpoint's tree
  (\`from_size\`) to the last one's (\`to_size\`); and \`period_start\`, the roots of the perfect
  subtrees covering the entries before the bundle (the compact range of size \`tree_size\`,
  left to right). Appending the bundle's leaf hashes to them must give the root of every
  checkpoint in the bundle: this shows that the bundle holds every entry in between,
  nothing left out or added, and lets you check any checkpoint you kept of a size in that span.
  \`later\`, only with the extra checkpoint: \`{ from_size, proof, to_size }\`, the consistency
  proof from the bundle's last checkpoint to the later one, showing it extends the same log.
- \`policies.ndjson\`: \`{ agent_id, document, policy_snapshot_id, version }\`: every policy version
  a transaction in the bundle names. \`document\` is the RFC 8785 text of the policy;
  \`policy_snapshot_id\` is "sha256:" + hex SHA-256 of it (\`jq -j .document | sha256sum\`).
  Re-evaluating a transaction against it, with the spend_before values of the transaction,
  must give the violations recorded in the transaction.
- \`summaries.ndjson\`: \`{ document, seq, summary_hash, summary_id }\`: the compliance summaries
  logged in the bundle's span, and every summary of a month lying within the period (give or
  take a day, for time zones) wherever it was logged: a month's summary is made after the
  month, so usually after the span. \`summary_hash\` is "sha256:" + hex SHA-256 of \`document\`,
  and must equal the \`summary_hash\` in the body of log entry \`seq\` (kind "summary"), which is
  in entries.ndjson or ${SUMMARY_ENTRIES}. A summary made after the bundle was built is not
  in it: build the bundle again to include it.
- \`${SUMMARY_ENTRIES}\` (only when there are such entries):
  \`{ audit_path, bytes, kind, leaf_hash, seq, tree_size }\` per line, in log order: the log
  entries of summaries in summaries.ndjson, and of their sign-offs (kind "summary_signoff": who
  signed off, when, and the \`summary_hash\` they signed), that lie outside the span of
  entries.ndjson. \`bytes\` and \`leaf_hash\` are checked as in entries.ndjson; \`audit_path\` is an
  inclusion proof of the leaf at index \`seq\` in the tree of the checkpoint of size
  \`tree_size\` in checkpoints.ndjson. Each line must be a summary in summaries.ndjson, or the
  sign-off of one with the same \`summary_hash\`.
- \`${RAIL_PAYLOADS}\` (only when the span holds rail records):
  \`{ body, content_type, payload_sha256, rail, seq, source_id }\` per line: the native record a
  payment rail sent (a Stripe event, an x402 settlement, an LND payment, AP2 mandates), \`body\`
  in base64, exactly as received. \`payload_sha256\` is "sha256:" + hex SHA-256 of the decoded
  body (\`jq -r .body | base64 -d | sha256sum\`) and must equal the \`payload_sha256\` in the body
  of log entry \`seq\` (kind "rail_payload", entity_id "<rail>:<source_id>"), whose \`tx_ids\`
  name the transactions made from it. Every rail_payload entry in entries.ndjson has its line.
- \`MANIFEST.sha256\`: SHA-256 of every other file; check with \`sha256sum -c MANIFEST.sha256\`.
  It only detects accidental damage: the checks above are what an altered bundle cannot pass.
`;
}
