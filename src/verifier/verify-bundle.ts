/**
 * Offline verification of an evidence bundle (see the README.md inside a bundle). No database,
 * no network: only the pure code of src/domain and node built-ins, so an auditor can read it.
 */
import { canonicalize } from '../domain/canonical/jcs.ts';
import { decodeBase64Strict } from '../domain/checkpoint/base64.ts';
import type { Checkpoint } from '../domain/checkpoint/checkpoint.ts';
import { openCheckpoint } from '../domain/checkpoint/checkpoint.ts';
import type { NoteVerifier } from '../domain/checkpoint/note-key.ts';
import { parseVerifierKey } from '../domain/checkpoint/note-key.ts';
import { sha256Hex, snapshotId } from '../domain/hash.ts';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import { CompactRange } from '../domain/merkle/compact-range.ts';
import { verifyConsistency, verifyInclusion } from '../domain/merkle/proofs.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import { findCurrency } from '../domain/money/currency.ts';
import { reevaluate } from '../domain/ledger/reevaluate.ts';
import type { CompiledPolicy, PolicyDocument } from '../domain/policy/policy.ts';
import { compilePolicy } from '../domain/policy/policy.ts';
import { MANIFEST, parseManifest } from './manifest.ts';

export interface BundleCheck {
  readonly check: string;
  readonly ok: boolean;
  readonly detail: string;
  readonly file?: string;
  readonly line?: number;
}

export interface BundleReport {
  readonly ok: boolean;
  readonly checks: BundleCheck[];
}

/** The checks, in the order they are reported. */
export const CHECKS = [
  'manifest',
  'format',
  'key',
  'checkpoint-signature',
  'entry-leaf-hash',
  'entry-fields',
  'entry-sequence',
  'inclusion-proof',
  'consistency-proof',
  'entries-complete',
  'known-checkpoint',
  'policy-snapshot-id',
  'transaction-evaluation',
  'summary-hash',
  'summary-entry',
  'rail-payload',
] as const;
type CheckName = (typeof CHECKS)[number];

const MAX_FAILURES_PER_CHECK = 50;

class Checks {
  readonly #failures = new Map<CheckName, BundleCheck[]>();
  readonly #passed = new Map<CheckName, number>();
  readonly #skipped = new Set<CheckName>();

  pass(check: CheckName): void {
    this.#passed.set(check, (this.#passed.get(check) ?? 0) + 1);
  }
  fail(check: CheckName, detail: string, file?: string, line?: number): void {
    const list = this.#failures.get(check) ?? [];
    if (list.length < MAX_FAILURES_PER_CHECK) list.push({ check, ok: false, detail, ...(file === undefined ? {} : { file }), ...(line === undefined ? {} : { line }) });
    this.#failures.set(check, list);
  }
  /** Not applicable (e.g. no known checkpoint given): not reported. */
  skip(check: CheckName): void {
    this.#skipped.add(check);
  }
  report(): BundleReport {
    const checks: BundleCheck[] = [];
    for (const c of CHECKS) {
      const failed = this.#failures.get(c);
      if (failed !== undefined) checks.push(...failed);
      else if (!this.#skipped.has(c)) checks.push({ check: c, ok: true, detail: `${this.#passed.get(c) ?? 0} checked` });
    }
    return { ok: checks.every((c) => c.ok), checks };
  }
}

interface Line<T> {
  readonly line: number;
  readonly value: T;
}

/** Parses an NDJSON file into objects, reporting lines that are not JSON objects. */
function ndjson<T>(files: ReadonlyMap<string, Buffer>, name: string, c: Checks): Line<Partial<T>>[] {
  const buf = files.get(name);
  if (buf === undefined) {
    c.fail('format', `${name} is missing`, name);
    return [];
  }
  const text = buf.toString('utf8');
  if (text.length > 0 && !text.endsWith('\n')) c.fail('format', `${name} does not end with a newline (truncated?)`, name);
  const out: Line<Partial<T>>[] = [];
  c.pass('format');
  text.split('\n').forEach((l, i) => {
    if (l === '') return;
    try {
      const v = JSON.parse(l) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
      out.push({ line: i + 1, value: v });
    } catch (e) {
      c.fail('format', `line is not a JSON object: ${(e as Error).message}`, name, i + 1);
    }
  });
  return out;
}

const b64 = (v: unknown): Buffer | undefined => (typeof v === 'string' ? decodeBase64Strict(v) : undefined);
const b64List = (v: unknown): Buffer[] | undefined => {
  if (!Array.isArray(v)) return undefined;
  const out = v.map(b64);
  return out.every((b) => b !== undefined) ? out : undefined;
};
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

interface EntryLine {
  seq: number;
  kind: string;
  leaf_hash: string;
  bytes: string;
}

/**
 * Log entries of the bundle's summaries and their sign-offs that lie outside its span (a month's
 * summary is made after the month), each with its own inclusion proof.
 */
export const SUMMARY_ENTRIES = 'summary-entries.ndjson';

/** The native records payment rails sent, for the rail_payload entries of the span. */
export const RAIL_PAYLOADS = 'rail-payloads.ndjson';

interface OutsideLine extends EntryLine {
  tree_size: number;
  audit_path: string[];
}

interface Entry {
  readonly line: number;
  readonly seq: number;
  readonly leaf: Buffer;
  readonly parsed: Record<string, unknown> | undefined;
}

/** An entry line of entries.ndjson or SUMMARY_ENTRIES: the leaf hash of the exact bytes, and the bytes' own seq and kind. */
function checkEntry(value: Partial<EntryLine>, line: number, file: string, c: Checks): Entry {
  const bytes = typeof value.bytes === 'string' ? value.bytes : '';
  const leaf = leafHash(bytes);
  const seq = isCount(value.seq) ? value.seq : -1;
  if (!leaf.equals(b64(value.leaf_hash) ?? Buffer.alloc(0))) c.fail('entry-leaf-hash', `entry ${value.seq}: its bytes do not hash to its leaf_hash`, file, line);
  else c.pass('entry-leaf-hash');
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(bytes) as Record<string, unknown>;
    if (canonicalize(parsed) !== bytes) throw new Error('its bytes are not RFC 8785 canonical JSON');
    if (parsed.seq !== seq || parsed.kind !== value.kind) throw new Error(`its bytes say seq ${String(parsed.seq)}, kind ${String(parsed.kind)}; the line says seq ${value.seq}, kind ${value.kind}`);
    c.pass('entry-fields');
  } catch (e) {
    c.fail('entry-fields', `entry ${value.seq}: ${(e as Error).message}`, file, line);
  }
  return { line, seq, leaf, parsed };
}

export function verifyBundle(files: ReadonlyMap<string, Buffer>, opts: { trustedKey?: string; knownCheckpoint?: string } = {}): BundleReport {
  const c = new Checks();

  // 1. Manifest: every other file, byte for byte.
  const manifest = files.get(MANIFEST);
  if (manifest === undefined) c.fail('manifest', `${MANIFEST} is missing`, MANIFEST);
  else {
    const listed = parseManifest(manifest.toString('utf8'));
    for (const [name, { hex, line }] of listed) {
      const buf = files.get(name);
      if (buf === undefined) c.fail('manifest', `${MANIFEST} lists ${name}, which is not in the bundle (or the line is malformed)`, MANIFEST, line);
      else if (sha256Hex(buf) !== hex) c.fail('manifest', `${name} does not have the SHA-256 listed in ${MANIFEST} (line ${line})`, name);
      else c.pass('manifest');
    }
    for (const name of files.keys()) if (name !== MANIFEST && !listed.has(name)) c.fail('manifest', `${name} is not listed in ${MANIFEST}`, name);
  }

  // 2. Key: the bundle's key, which must be the one the auditor trusts when given.
  const keyText = files.get('key.txt')?.toString('utf8') ?? '';
  const keyLine = /^verifier-key: (.*)$/m.exec(keyText)?.[1]?.trim();
  const origin = /^log-origin: (.*)$/m.exec(keyText)?.[1];
  let verifier: NoteVerifier | undefined;
  try {
    if (keyLine === undefined || origin === undefined) throw new Error('key.txt needs a verifier-key: line and a log-origin: line');
    verifier = parseVerifierKey(opts.trustedKey?.trim() ?? keyLine);
    if (opts.trustedKey !== undefined && opts.trustedKey.trim() !== keyLine) throw new Error('the bundle\'s key is not the trusted key');
    c.pass('key');
  } catch (e) {
    c.fail('key', (e as Error).message, 'key.txt');
  }

  // 3. Checkpoints: each signed by the key, for this log.
  const cps: (Checkpoint & { line: number })[] = [];
  for (const { line, value } of ndjson<{ tree_size: number; note: string }>(files, 'checkpoints.ndjson', c)) {
    try {
      if (verifier === undefined) throw new Error('no usable key');
      const cp = openCheckpoint(String(value.note), verifier);
      if (cp.origin !== origin) throw new Error(`checkpoint is for log "${cp.origin}", not "${origin}"`);
      if (cp.size !== value.tree_size) throw new Error(`tree_size ${value.tree_size} is not the signed size ${cp.size}`);
      if (cps.length > 0 && cp.size <= (cps[cps.length - 1] as Checkpoint).size) throw new Error('checkpoints are not in increasing size');
      cps.push({ ...cp, line });
      c.pass('checkpoint-signature');
    } catch (e) {
      c.fail('checkpoint-signature', (e as Error).message, 'checkpoints.ndjson', line);
    }
  }
  // The bundle's span ends at the checkpoint of consistency.json's to_size; one checkpoint after
  // it may follow, the later one that SUMMARY_ENTRIES are proved in.
  const consistency = parseJson(files, 'consistency.json', c) as Partial<{
    from_size: number;
    to_size: number;
    proof: string[];
    period_start: { tree_size: number; frontier: string[] };
    later: { from_size: number; to_size: number; proof: string[] };
  }>;
  const spanEnd = isCount(consistency.to_size) ? consistency.to_size : Infinity;
  const spanCps = cps.filter((cp) => cp.size <= spanEnd);
  const laterCps = cps.filter((cp) => cp.size > spanEnd);
  const firstCp = spanCps[0];
  const lastCp = spanCps[spanCps.length - 1];
  if (lastCp === undefined) c.fail('checkpoint-signature', 'no valid checkpoint in the bundle', 'checkpoints.ndjson');

  // 4. Entries, in log order from period_start.
  const start = isCount(consistency.period_start?.tree_size) ? consistency.period_start.tree_size : 0;
  const entries: Entry[] = [];
  const bySeq = new Map<number, Entry>();
  for (const { line, value } of ndjson<EntryLine>(files, 'entries.ndjson', c)) {
    const e = checkEntry(value, line, 'entries.ndjson', c);
    const want = start + entries.length;
    if (e.seq !== want) c.fail('entry-sequence', `expected entry ${want}, found ${value.seq}`, 'entries.ndjson', line);
    else c.pass('entry-sequence');
    entries.push(e);
    bySeq.set(e.seq, e);
  }

  // 5. Inclusion proofs: every entry in the tree of the last checkpoint.
  const proved = new Set<number>();
  for (const { line, value } of ndjson<{ seq: number; leaf_index: number; tree_size: number; audit_path: string[] }>(files, 'proofs.ndjson', c)) {
    const e = isCount(value.seq) ? bySeq.get(value.seq) : undefined;
    const path = b64List(value.audit_path);
    const ok =
      e !== undefined && lastCp !== undefined && path !== undefined && value.leaf_index === e.seq && value.tree_size === lastCp.size &&
      verifyInclusion(e.leaf, e.seq, lastCp.size, path, lastCp.root);
    if (ok) {
      c.pass('inclusion-proof');
      proved.add(e.seq);
    } else c.fail('inclusion-proof', `the proof for entry ${value.seq} does not lead to the last checkpoint's root`, 'proofs.ndjson', line);
  }
  for (const e of entries) if (!proved.has(e.seq)) c.fail('inclusion-proof', `entry ${e.seq} has no valid inclusion proof`, 'entries.ndjson', e.line);

  // 6. Consistency: the standard proof, and every checkpoint root recomputed from the entries.
  if (firstCp !== undefined && lastCp !== undefined) {
    const proof = b64List(consistency.proof);
    if (consistency.from_size === firstCp.size && consistency.to_size === lastCp.size && proof !== undefined && verifyConsistency(firstCp.size, lastCp.size, firstCp.root, lastCp.root, proof)) c.pass('consistency-proof');
    else c.fail('consistency-proof', `no valid consistency proof from size ${firstCp.size} to ${lastCp.size}`, 'consistency.json');
  }
  // The later checkpoint must extend the span's last one: the same log, not a fork of it.
  if (laterCps.length > 0 || consistency.later !== undefined) {
    const later = consistency.later;
    const laterCp = laterCps[0];
    const proof = b64List(later?.proof);
    if (
      laterCps.length === 1 && laterCp !== undefined && lastCp !== undefined && later?.from_size === lastCp.size && later.to_size === laterCp.size &&
      proof !== undefined && verifyConsistency(lastCp.size, laterCp.size, lastCp.root, laterCp.root, proof)
    ) c.pass('consistency-proof');
    else c.fail('consistency-proof', `no valid consistency proof ("later") from the bundle's last checkpoint to the one checkpoint after it (${laterCps.length} found)`, 'consistency.json');
  }
  let known: Checkpoint | undefined;
  if (opts.knownCheckpoint === undefined) c.skip('known-checkpoint');
  else {
    try {
      if (verifier === undefined) throw new Error('no usable key');
      known = openCheckpoint(opts.knownCheckpoint, verifier);
      if (known.origin !== origin) throw new Error(`the known checkpoint is for log "${known.origin}", not "${origin}"`);
      const last = lastCp?.size ?? -1;
      if (known.size < start || known.size > last) throw new Error(`the known checkpoint (size ${known.size}) is outside the span of this bundle (${start} to ${last}): it cannot be checked`);
    } catch (e) {
      c.fail('known-checkpoint', `the known checkpoint: ${(e as Error).message}`);
      known = undefined;
    }
  }
  const frontier = b64List(consistency.period_start?.frontier);
  try {
    if (frontier === undefined) throw new Error('period_start.frontier is not a list of base64 hashes');
    const range = CompactRange.fromState(start, frontier);
    const roots = new Map<number, Buffer>([[start, range.root()]]);
    for (const e of entries) {
      range.append(e.leaf);
      roots.set(range.size, range.root());
    }
    for (const cp of spanCps) {
      const r = roots.get(cp.size);
      if (r === undefined) c.fail('entries-complete', `the entries (sizes ${start} to ${range.size}) do not reach the checkpoint at size ${cp.size}: entries are missing`, 'entries.ndjson');
      else if (!r.equals(cp.root)) c.fail('entries-complete', `the entries, appended to period_start in consistency.json, do not hash to the root signed at size ${cp.size}`, 'entries.ndjson');
      else c.pass('entries-complete');
    }
    if (known !== undefined) {
      if (roots.get(known.size)?.equals(known.root) === true) c.pass('known-checkpoint');
      else c.fail('known-checkpoint', `the known checkpoint at size ${known.size} is not consistent with this bundle: the log was rewritten or forked`);
    }
  } catch (e) {
    c.fail('entries-complete', `cannot rebuild the tree: ${(e as Error).message}`, 'consistency.json');
    if (known !== undefined) c.fail('known-checkpoint', 'cannot rebuild the tree to check the known checkpoint');
  }

  // 7. Policies: each document's snapshot id.
  const policies = new Map<string, CompiledPolicy>();
  for (const { line, value } of ndjson<{ policy_snapshot_id: string; document: string }>(files, 'policies.ndjson', c)) {
    try {
      const doc = String(value.document);
      if (snapshotId(doc) !== value.policy_snapshot_id) throw new Error(`its document does not hash to ${value.policy_snapshot_id}`);
      const parsed = JSON.parse(doc) as PolicyDocument;
      if (canonicalize(parsed) !== doc) throw new Error('its document is not RFC 8785 canonical JSON');
      policies.set(value.policy_snapshot_id, compilePolicy(parsed));
      c.pass('policy-snapshot-id');
    } catch (e) {
      c.fail('policy-snapshot-id', `policy ${value.policy_snapshot_id}: ${(e as Error).message}`, 'policies.ndjson', line);
    }
  }

  // 8. Transactions: re-evaluated against the policy they name, with their own spend_before.
  for (const e of entries) {
    if (e.parsed?.kind !== 'transaction') continue;
    const r = e.parsed as unknown as TransactionRecord;
    try {
      const policy = r.policy_snapshot_id === null ? null : policies.get(r.policy_snapshot_id);
      if (policy === undefined) throw new Error(`its policy ${r.policy_snapshot_id} is not in policies.ndjson (or fails its check)`);
      const exp = findCurrency(r.reporting_currency)?.exponent ?? 2;
      const again = reevaluate(r, policy, exp);
      if (again.join(',') !== r.violations.join(',')) throw new Error(`recorded violations [${r.violations.join(', ')}] but its policy gives [${again.join(', ')}]`);
      c.pass('transaction-evaluation');
    } catch (err) {
      c.fail('transaction-evaluation', `transaction ${String(r.tx_id)} (entry ${e.seq}): ${(err as Error).message}`, 'entries.ndjson', e.line);
    }
  }

  // 9. Entries of summaries logged outside the span: each proved in the checkpoint it names.
  const outside = new Map<number, Entry>();
  const outsideLines = files.has(SUMMARY_ENTRIES) ? ndjson<OutsideLine>(files, SUMMARY_ENTRIES, c) : [];
  for (const { line, value } of outsideLines) {
    const e = checkEntry(value, line, SUMMARY_ENTRIES, c);
    const cp = cps.find((x) => x.size === value.tree_size);
    const path = b64List(value.audit_path);
    if (cp !== undefined && path !== undefined && verifyInclusion(e.leaf, e.seq, cp.size, path, cp.root)) c.pass('inclusion-proof');
    else c.fail('inclusion-proof', `the proof for entry ${value.seq} does not lead to the root of a checkpoint of size ${value.tree_size} in checkpoints.ndjson`, SUMMARY_ENTRIES, line);
    if (e.seq >= start && e.seq < spanEnd) c.fail('summary-entry', `entry ${e.seq} is inside the span of entries.ndjson, where it belongs`, SUMMARY_ENTRIES, line);
    else if (outside.has(e.seq)) c.fail('summary-entry', `entry ${e.seq} appears twice`, SUMMARY_ENTRIES, line);
    outside.set(e.seq, e);
  }

  // 10. Summaries: the document's hash, as logged in its entry, in the span or outside it.
  const summaries = new Map<string, string>();
  for (const { line, value } of ndjson<{ summary_id: string; seq: number; summary_hash: string; document: string }>(files, 'summaries.ndjson', c)) {
    const entry = isCount(value.seq) ? (bySeq.get(value.seq) ?? outside.get(value.seq))?.parsed : undefined;
    const body = entry?.body as { summary_hash?: unknown } | undefined;
    if (snapshotId(String(value.document)) !== value.summary_hash) c.fail('summary-hash', `summary ${value.summary_id}: its document does not hash to its summary_hash`, 'summaries.ndjson', line);
    else if (entry?.kind !== 'summary' || entry.entity_id !== value.summary_id || body?.summary_hash !== value.summary_hash) {
      c.fail('summary-hash', `summary ${value.summary_id}: entry ${value.seq} does not log it with this hash`, 'summaries.ndjson', line);
    } else {
      c.pass('summary-hash');
      summaries.set(String(value.summary_id), String(value.summary_hash));
    }
  }

  // 11. Why each outside entry is there: a summary above, or the sign-off of exactly its hash.
  if (outsideLines.length === 0) c.skip('summary-entry');
  for (const e of outside.values()) {
    const body = e.parsed?.body as { summary_id?: unknown; summary_hash?: unknown } | undefined;
    const id = String(e.parsed?.entity_id);
    const ok =
      (e.parsed?.kind === 'summary' && summaries.has(id)) ||
      (e.parsed?.kind === 'summary_signoff' && body?.summary_id === id && summaries.get(id) === body.summary_hash);
    if (ok) c.pass('summary-entry');
    else c.fail('summary-entry', `entry ${e.seq} (${String(e.parsed?.kind)}) is not a summary in summaries.ndjson nor the sign-off of one with its summary_hash`, SUMMARY_ENTRIES, e.line);
  }

  // 12. Rail records: the bytes hash to what their entry logged, and every such entry has its bytes.
  const railEntries = entries.filter((e) => e.parsed?.kind === 'rail_payload');
  const payloadLines = files.has(RAIL_PAYLOADS) ? ndjson<{ seq: number; rail: string; source_id: string; payload_sha256: string; body: string }>(files, RAIL_PAYLOADS, c) : [];
  if (railEntries.length === 0 && payloadLines.length === 0) c.skip('rail-payload');
  const seen = new Set<number>();
  for (const { line, value } of payloadLines) {
    const entry = isCount(value.seq) ? bySeq.get(value.seq)?.parsed : undefined;
    const body = entry?.body as { payload_sha256?: unknown } | undefined;
    const bytes = b64(value.body);
    const id = `${String(value.rail)}:${String(value.source_id)}`;
    if (bytes === undefined || `sha256:${sha256Hex(bytes)}` !== value.payload_sha256) {
      c.fail('rail-payload', `rail record ${id}: its body does not hash to its payload_sha256`, RAIL_PAYLOADS, line);
    } else if (entry?.kind !== 'rail_payload' || entry.entity_id !== id || body?.payload_sha256 !== value.payload_sha256) {
      c.fail('rail-payload', `rail record ${id}: entry ${value.seq} does not log it with this hash`, RAIL_PAYLOADS, line);
    } else if (seen.has(value.seq as number)) {
      c.fail('rail-payload', `rail record ${id} appears twice`, RAIL_PAYLOADS, line);
    } else {
      seen.add(value.seq as number);
      c.pass('rail-payload');
    }
  }
  for (const e of railEntries) {
    if (!seen.has(e.seq)) c.fail('rail-payload', `entry ${e.seq} logs rail record ${String(e.parsed?.entity_id)}, whose bytes are not in ${RAIL_PAYLOADS}`, 'entries.ndjson', e.line);
  }

  return c.report();
}

function parseJson(files: ReadonlyMap<string, Buffer>, name: string, c: Checks): Record<string, unknown> {
  try {
    const v = JSON.parse(files.get(name)?.toString('utf8') ?? '') as unknown;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      c.pass('format');
      return v as Record<string, unknown>;
    }
    throw new Error('not a JSON object');
  } catch (e) {
    c.fail('format', `${name}: ${(e as Error).message}`, name);
    return {};
  }
}

