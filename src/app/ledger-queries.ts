import { SpendtrailError } from '../domain/errors.ts';
import type { TransactionRecord } from '../domain/ledger/transaction.ts';
import type { PolicyDocument } from '../domain/policy/policy.ts';
import type { Violation } from '../domain/policy/violation.ts';
import type { Rail } from '../domain/rails.ts';
import { leafHash } from '../domain/merkle/tree-hash.ts';
import { encodeTransaction } from '../domain/ledger/transaction.ts';
import { parseInstant } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { requireActsFor, requireRole } from './principal.ts';
import { storedInclusionProof } from './tree-reader.ts';
import { documentOf } from './policy-changes.ts';

export interface LedgerQuery {
  readonly agent_id?: string | undefined;
  readonly cluster?: string | undefined;
  readonly from?: string | undefined;
  readonly to?: string | undefined;
  readonly accounting_code?: string | undefined;
  readonly payment_rail?: Rail | undefined;
  readonly violation?: Violation | undefined;
  readonly cursor?: string | undefined;
  readonly limit?: number | undefined;
  /** Oldest first (default) or newest first; a cursor continues in the order it was issued for. */
  readonly order?: 'asc' | 'desc' | undefined;
}

export interface LedgerPage {
  readonly transactions: TransactionRecord[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  readonly next_cursor: string | null;
}

const READERS = ['agent', 'finance', 'auditor', 'approver', 'policy_admin'] as const;

function decodeCursor(cursor: string): { ts: Date; seq: number } {
  const [ts, seq] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const d = new Date(ts ?? '');
  const n = Number(seq);
  if (Number.isNaN(d.getTime()) || !Number.isSafeInteger(n)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'cursor is not one this server issued', { field: 'cursor' });
  }
  return { ts: d, seq: n };
}

/** The agent's "card statement": keyset-paginated, so page 10,000 costs what page 1 does. */
export async function listLedger(deps: AppDeps, by: Principal, q: LedgerQuery): Promise<LedgerPage> {
  requireRole(by, ...READERS);
  if (by.agent_id !== null) {
    if (q.agent_id === undefined) throw new SpendtrailError('FORBIDDEN', 'an agent key reads its own agent: give agent_id', { field: 'agent_id' });
    requireActsFor(by, q.agent_id);
  }
  const limit = q.limit ?? 100;
  const rows = await deps.store.listTransactions({
    org_id: by.org_id,
    agent_id: q.agent_id,
    cluster: q.cluster,
    from: q.from === undefined ? undefined : new Date(parseInstant(q.from, 'from')),
    to: q.to === undefined ? undefined : new Date(parseInstant(q.to, 'to')),
    accounting_code: q.accounting_code,
    payment_rail: q.payment_rail,
    violation: q.violation,
    after: q.cursor === undefined ? undefined : decodeCursor(q.cursor),
    order: q.order,
    limit: limit + 1,
  });
  const page = rows.slice(0, limit).map((r) => r.record);
  const last = page[page.length - 1];
  const next = rows.length > limit && last !== undefined ? Buffer.from(`${last.timestamp}|${last.seq}`).toString('base64url') : null;
  return { transactions: page, next_cursor: next };
}

export interface InclusionProof {
  readonly leaf_index: number;
  readonly tree_size: number;
  readonly leaf_hash: string;
  readonly audit_path: string[];
  readonly root: string;
  /** The signed checkpoint (C2SP tlog-checkpoint) the proof is against. */
  readonly checkpoint: string;
}

export interface TransactionDetail {
  readonly transaction: TransactionRecord;
  readonly policy: PolicyDocument | null;
  readonly inclusion_proof: InclusionProof | null;
}

/** One transaction with the full policy text that judged it and its inclusion proof. */
export async function getTransaction(deps: AppDeps, by: Principal, txId: string): Promise<TransactionDetail> {
  requireRole(by, ...READERS);
  const [found] = await deps.store.findTransactionsById(by.org_id, [txId]);
  if (found === undefined) throw new SpendtrailError('TRANSACTION_NOT_FOUND', `no transaction ${txId}`, { field: 'tx_id' });
  requireActsFor(by, found.record.agent_id);
  const tx = found.record;
  const policyRow = tx.policy_snapshot_id === null ? undefined : await deps.store.getPolicyBySnapshot(by.org_id, tx.policy_snapshot_id);
  const cp = await deps.store.latestCheckpoint(by.org_id);
  let proof: InclusionProof | null = null;
  if (cp !== undefined && cp.tree_size > tx.seq) {
    const path = await storedInclusionProof(deps.store, by.org_id, tx.seq, cp.tree_size);
    proof = {
      leaf_index: tx.seq,
      tree_size: cp.tree_size,
      leaf_hash: leafHash(encodeTransaction(tx)).toString('base64'),
      audit_path: path.map((p) => p.toString('base64')),
      root: cp.root.toString('base64'),
      checkpoint: cp.note,
    };
  }
  return { transaction: tx, policy: policyRow === undefined ? null : documentOf(policyRow), inclusion_proof: proof };
}

export async function showPolicy(deps: AppDeps, by: Principal, agentId: string, version?: number): Promise<{ document: PolicyDocument; policy_snapshot_id: string }> {
  requireRole(by, ...READERS);
  requireActsFor(by, agentId);
  const versions = await deps.store.getPolicyVersions(by.org_id, [agentId]);
  const row = version === undefined ? versions[versions.length - 1] : versions.find((v) => v.version === version);
  if (row === undefined) throw new SpendtrailError('POLICY_NOT_FOUND', `no policy${version === undefined ? '' : ` version ${version}`} for ${agentId}`, { field: 'agent_id' });
  return { document: documentOf(row), policy_snapshot_id: row.snapshot_id };
}

export async function policyHistory(deps: AppDeps, by: Principal, agentId: string): Promise<{ document: PolicyDocument; policy_snapshot_id: string; seq: number }[]> {
  requireRole(by, ...READERS);
  requireActsFor(by, agentId);
  const versions = await deps.store.getPolicyVersions(by.org_id, [agentId]);
  return versions.map((v) => ({ document: documentOf(v), policy_snapshot_id: v.snapshot_id, seq: v.seq }));
}
