import { sha256Hex } from '../domain/hash.ts';
import type { JournalEntry, JournalLine } from '../domain/journal/journal.ts';
import type { QboAccount, QboEntity, QboPosting } from './qbo-ports.ts';

/**
 * How a journal entry becomes a QuickBooks posting: which object, which ids, and the keys that
 * make posting it idempotent. Pure functions, so every decision can be checked without a server.
 */

/**
 * QuickBooks replays its original answer for a repeated requestid (at most 50 characters,
 * unique per company). Derived from the company, the entry's external id and the number of
 * definitive refusals so far: a retry after a crash or a lost answer sends the same id (and gets
 * the object created the first time), while a retry after QuickBooks refused the entry sends a
 * new one (the same id would only replay the refusal).
 */
export const requestIdFor = (realmId: string, externalId: string, generation: number): string =>
  sha256Hex(`spendtrail-qbo-request\n${realmId}\n${externalId}\n${generation}`).slice(0, 32);

/**
 * The DocNumber (at most 21 characters in QuickBooks): "ST" + 19 hex digits of the entry's
 * external id, the same on every run. A company that refuses duplicate numbers then refuses a
 * second copy of an entry even once QuickBooks no longer remembers the requestid, and the sync
 * finds the first copy by it. The full external id is in the PrivateNote.
 */
export const docNumberFor = (externalId: string): string => `ST${sha256Hex(externalId).slice(0, 19)}`;

/** What an entry is, for telling whether what QuickBooks holds is still what the ledger says. */
export function entryHash(e: JournalEntry): string {
  return sha256Hex(
    JSON.stringify({
      date: e.date,
      lines: e.lines.map((l) => [l.account_code, l.debit_minor.toString(), l.credit_minor.toString()]),
      tx_ids: e.tx_ids,
    }),
  );
}

/**
 * The shape a Purchase can carry: one funding line on one side, every other line on the other.
 * A payment (funding credited) is a Purchase; a refund (funding debited) is a Purchase with
 * Credit = true, which QuickBooks takes on credit-card accounts only.
 */
export function purchaseShape(
  e: JournalEntry,
  qboAccount: (code: string) => QboAccount | undefined,
): { readonly payment_type: 'Cash' | 'CreditCard' } | { readonly reason: string } {
  const funding = e.lines.filter((l) => l.role === 'funding');
  const spend = e.lines.filter((l) => l.role !== 'funding');
  const [paidFrom] = funding;
  if (funding.length !== 1 || paidFrom === undefined) return { reason: `it moves ${funding.length} funding accounts; a Purchase is paid from one` };
  const refund = paidFrom.debit_minor > 0n;
  if (spend.some((l: JournalLine) => (refund ? l.credit_minor === 0n : l.debit_minor === 0n))) {
    return { reason: 'its expense lines do not all go the same way' };
  }
  const type = qboAccount(paidFrom.account_code)?.account_type;
  const paymentType = type === 'Credit Card' ? 'CreditCard' : type === 'Bank' ? 'Cash' : null;
  if (paymentType === null) return { reason: `it is paid from ${paidFrom.account_code}, a QuickBooks ${type ?? 'unknown'} account; a Purchase is paid from a Bank or Credit Card account` };
  if (refund && paymentType !== 'CreditCard') return { reason: 'it is a refund to a bank account; QuickBooks takes refunds as Purchases on credit-card accounts only' };
  return { payment_type: paymentType };
}

/**
 * The posting of one entry: a JournalEntry, or (when asked and the entry has the shape) a
 * Purchase. `fallback` says why an entry asked to be a Purchase is posted as a JournalEntry.
 */
export function planPosting(
  e: JournalEntry,
  as: QboEntity,
  ctx: {
    readonly exponent: number;
    readonly account_ids: ReadonlyMap<string, string>;
    readonly vendor_id: string | null;
    readonly qboAccount: (code: string) => QboAccount | undefined;
  },
): { readonly posting: QboPosting; readonly fallback: string | null } {
  const base = {
    entry: e,
    exponent: ctx.exponent,
    doc_number: docNumberFor(e.external_id),
    account_ids: new Map(e.lines.map((l) => [l.account_code, ctx.account_ids.get(l.account_code) ?? ''])),
    vendor_id: ctx.vendor_id,
  };
  if (as === 'Purchase') {
    const shape = purchaseShape(e, ctx.qboAccount);
    if ('payment_type' in shape) return { posting: { ...base, entity: 'Purchase', payment_type: shape.payment_type }, fallback: null };
    return { posting: { ...base, entity: 'JournalEntry', payment_type: null }, fallback: shape.reason };
  }
  return { posting: { ...base, entity: 'JournalEntry', payment_type: null }, fallback: null };
}
