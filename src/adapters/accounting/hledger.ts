import type { AccountType, Journal, JournalEntry, JournalLine } from '../../domain/journal/journal.ts';
import type { ExportFile, WriteContext } from '../../app/accounting-export.ts';
import { major, oneLine, requireBookable, signed } from './common.ts';

/**
 * An hledger journal (plain-text accounting; Ledger reads the same syntax). Accounts and the
 * commodity are declared, so `hledger check --strict` can hold the file to them; each entry
 * carries its evidence as tags (`tx:`, `policy:`, `rollup:`) that `hledger reg tag:…` queries.
 */
const ROOT: Record<AccountType, string> = { asset: 'Assets', liability: 'Liabilities', expense: 'Expenses' };

/** The account's hledger name: a root by its type, then code and name (":" would open a sub-account). */
export const hledgerAccount = (l: Pick<JournalLine, 'account_type' | 'account_code' | 'account_name'>): string =>
  `${ROOT[l.account_type]}:${clean(`${l.account_code} ${l.account_name}`).replace(/:/g, '-')}`;

/** One space at most between words (two end an account name), no comment or payee separators. */
const clean = (s: string): string => oneLine(s).replace(/\s+/g, ' ').replace(/;/g, ',').replace(/\|/g, '/');

export function writeHledger(journal: Journal, ctx: WriteContext): ExportFile[] {
  requireBookable(journal, ctx, 'hledger', { maxExponent: null, fiatOnly: false });
  const symbol = /^[A-Za-z]+$/.test(journal.currency) ? journal.currency : `"${journal.currency}"`;
  const amount = (minor: bigint): string => `${major(minor, journal)} ${symbol}`;
  const accounts = new Set<string>();
  for (const e of journal.entries) for (const l of e.lines) accounts.add(hledgerAccount(l));
  const r = journal.report;
  const head = [
    `; Spendtrail journal: ${clean(ctx.org_name)} (${ctx.org_id}), scope ${ctx.scope}`,
    `; period ${ctx.period.from} to ${ctx.period.to} (exclusive); dates are days in ${journal.timezone}`,
    `; ${r.transactions} transactions: ${r.posted_individually} entries of one transaction, ${r.rollups} roll-ups of ${r.rolled_up} micro-payments` +
      (r.posted_to_suspense > 0 ? `, ${r.posted_to_suspense} uncoded in suspense` : '') +
      (r.zero_value > 0 ? `, ${r.zero_value} worth 0 not posted` : ''),
    ...(journal.rollups.length > 0 ? [`; roll-up drill-down: ${ctx.base_name}-rollups.csv`] : []),
    '',
    'decimal-mark .',
    `commodity ${major(10n ** BigInt(journal.exponent + 3), journal)} ${symbol}`,
    '',
    ...[...accounts].sort().map((a) => `account ${a}`),
    '',
  ];
  const body = journal.entries.map((e) => entry(e, amount)).join('\n');
  return [{ name: `${ctx.base_name}.journal`, media_type: 'text/plain; charset=utf-8', role: 'journal', bytes: Buffer.from(`${head.join('\n')}\n${body}`, 'utf8') }];
}

function entry(e: JournalEntry, amount: (minor: bigint) => string): string {
  const first = e.lines[0];
  const ev = first?.evidence;
  const tags =
    ev === undefined
      ? []
      : ev.kind === 'rollup'
        ? [`rollup:${ev.rollup_id}`, `transactions:${ev.tx_ids.length}`, ...e.policy_snapshot_ids.map((p) => `policy:${p}`)]
        : [`tx:${ev.tx_id}`, ...(ev.refund_of === null ? [] : [`refund_of:${ev.refund_of}`]), `policy:${ev.policy_snapshot_id ?? 'none'}`, `agent:${ev.agent_id}`];
  const width = Math.max(...e.lines.map((l) => hledgerAccount(l).length));
  return [
    `${e.date} * (${e.external_id}) ${clean(e.vendor)}`,
    `    ; ${tags.join(', ')}`,
    ...e.lines.map((l) => `    ${hledgerAccount(l).padEnd(width)}  ${amount(signed(l)).padStart(16)}`),
    '',
  ].join('\n');
}
