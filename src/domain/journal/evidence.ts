/**
 * The evidence a journal line carries into the accounting system: the ledger transaction id(s)
 * and the policy snapshot(s) that judged them, so an auditor in the ERP can walk back from a
 * posting to the policy that allowed the spend.
 */
export type Evidence =
  | {
      readonly kind: 'payment' | 'refund';
      readonly tx_id: string;
      /** For a refund: the original it reverses. */
      readonly refund_of: string | null;
      readonly policy_snapshot_id: string | null;
      readonly agent_id: string;
    }
  | {
      readonly kind: 'rollup';
      readonly rollup_id: string;
      /** Transactions the line covers, in ledger order. */
      readonly tx_ids: readonly string[];
      readonly policy_snapshot_ids: readonly string[];
    };

/** What a line's memo is fitted to when no target says otherwise; every target takes at least this. */
export const DEFAULT_MEMO_LIMIT = 255;

/**
 * The evidence as memo text of at most `limit` characters. Ids are never cut in the middle, so
 * the memo stays machine-readable: what does not fit is left out whole and counted, and a
 * roll-up always keeps its reference, which the drill-down file resolves to every transaction.
 *
 *   tx <tx_id> policy <sha256:…> agent <agent_id>
 *   refund <tx_id> of <original> policy <sha256:…> agent <agent_id>
 *   rollup <ru_…> <n> tx policy <sha256:…> … tx <id> <id> … +<k> more
 */
export function fitEvidence(e: Evidence, limit: number): string {
  if (e.kind !== 'rollup') {
    const parts = [
      e.kind === 'refund' ? `refund ${e.tx_id}` : `tx ${e.tx_id}`,
      ...(e.kind === 'refund' && e.refund_of !== null ? [`of ${e.refund_of}`] : []),
      `policy ${e.policy_snapshot_id ?? 'none'}`,
      `agent ${e.agent_id}`,
    ];
    return appendWhole(parts, limit);
  }
  let memo = `rollup ${e.rollup_id} ${e.tx_ids.length} tx`;
  if (memo.length > limit) return memo.slice(0, limit);
  const policies = e.policy_snapshot_ids.length === 0 ? ' policy none' : e.policy_snapshot_ids.map((p) => ` policy ${p}`).join('');
  const policyCount = ` ${e.policy_snapshot_ids.length} policies`;
  if (memo.length + policies.length <= limit) memo += policies;
  else if (memo.length + policyCount.length <= limit) memo += policyCount;
  const ids = e.tx_ids;
  const all = ` tx ${ids.join(' ')}`;
  if (memo.length + all.length <= limit) return memo + all;
  // Fill with whole ids while room remains for the "+k more" tail that counts the rest.
  let listed = 0;
  let list = ' tx';
  for (const id of ids) {
    const tail = ` +${ids.length - listed - 1} more`;
    if (memo.length + list.length + 1 + id.length + tail.length > limit) break;
    list += ` ${id}`;
    listed += 1;
  }
  // With no id listed, the head's count and the roll-up reference already say it all.
  return listed === 0 ? memo : `${memo}${list} +${ids.length - listed} more`;
}

function appendWhole(parts: readonly string[], limit: number): string {
  const [head = '', ...rest] = parts;
  let out = head.length > limit ? head.slice(0, limit) : head;
  for (const p of rest) {
    if (out.length + 1 + p.length > limit) break;
    out += ` ${p}`;
  }
  return out;
}
