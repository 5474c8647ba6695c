import type { QboPosting } from '../../app/qbo-ports.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import { fitEvidence } from '../../domain/journal/evidence.ts';
import { formatMinor } from '../../domain/money/decimal.ts';

/**
 * QuickBooks Online Accounting API v3 request bodies for a journal entry.
 *
 * JournalEntry: `Line[]` of `DetailType: "JournalEntryLineDetail"` with `Amount`, `Description`
 * and `JournalEntryLineDetail { PostingType: "Debit" | "Credit", AccountRef { value } }`, the
 * vendor as `Entity { Type: "Vendor", EntityRef { value } }`; debits must equal credits.
 * Purchase: `PaymentType`, `AccountRef` (the Bank or Credit Card account paid from), `EntityRef`
 * (vendor), `Credit` (a credit-card refund) and `Line[]` of `DetailType:
 * "AccountBasedExpenseLineDetail"` with `AccountBasedExpenseLineDetail { AccountRef }`.
 *
 * Amounts are major units written as JSON number literals with the currency's decimals
 * ("2100.00"), straight from bigint minor units: no float ever holds an amount.
 */

/** QuickBooks' sizes for the free-text fields used (Line.Description, PrivateNote). */
export const DESCRIPTION_LIMIT = 4000;
export const PRIVATE_NOTE_LIMIT = 4000;

/** A number written exactly as given: JSON.stringify would turn 2100.00 into 2100 and 0.1 + 0.2 into 0.30000000000000004. */
export class DecimalLiteral {
  constructor(readonly text: string) {
    if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)) throw new SpendtrailError('INVALID_AMOUNT', `${text} is not a decimal`);
  }
}

/** JSON with DecimalLiteral values written verbatim; everything else as JSON.stringify writes it. */
export function writeJson(value: unknown): string {
  if (value instanceof DecimalLiteral) return value.text;
  if (Array.isArray(value)) return `[${value.map(writeJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value)) if (v !== undefined) parts.push(`${JSON.stringify(k)}:${writeJson(v)}`);
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value);
}

const amount = (minor: bigint, exponent: number): DecimalLiteral => new DecimalLiteral(formatMinor(minor, exponent));

function accountId(p: QboPosting, code: string): string {
  const id = p.account_ids.get(code);
  // The sync refuses unmapped accounts before posting; reaching here without one is a bug.
  if (id === undefined || id === '') throw new SpendtrailError('INTERNAL', `account ${code} of ${p.entry.external_id} has no QuickBooks id`);
  return id;
}

/** The entry's own note: its external id and narration first, then its evidence as far as it fits. */
function privateNote(p: QboPosting): string {
  const head = p.entry.narration;
  const [first] = p.entry.lines;
  if (first === undefined) return head.slice(0, PRIVATE_NOTE_LIMIT);
  const room = PRIVATE_NOTE_LIMIT - head.length - 3;
  return room < 40 ? head.slice(0, PRIVATE_NOTE_LIMIT) : `${head} | ${fitEvidence(first.evidence, room)}`;
}

export function journalEntryBody(p: QboPosting): Record<string, unknown> {
  return {
    TxnDate: p.entry.date,
    DocNumber: p.doc_number,
    PrivateNote: privateNote(p),
    Line: p.entry.lines.map((l) => {
      const debit = l.debit_minor > 0n;
      return {
        Description: fitEvidence(l.evidence, DESCRIPTION_LIMIT),
        Amount: amount(debit ? l.debit_minor : l.credit_minor, p.exponent),
        DetailType: 'JournalEntryLineDetail',
        JournalEntryLineDetail: {
          PostingType: debit ? 'Debit' : 'Credit',
          AccountRef: { value: accountId(p, l.account_code), name: l.account_name },
          // The vendor goes on the lines that book the spend; funding lines move the company's own money.
          Entity: p.vendor_id !== null && l.role !== 'funding' ? { Type: 'Vendor', EntityRef: { value: p.vendor_id } } : undefined,
        },
      };
    }),
  };
}

export function purchaseBody(p: QboPosting): Record<string, unknown> {
  const funding = p.entry.lines.find((l) => l.role === 'funding');
  if (funding === undefined || p.payment_type === null) throw new SpendtrailError('INTERNAL', `${p.entry.external_id} has no shape of a Purchase`);
  const refund = funding.debit_minor > 0n;
  return {
    TxnDate: p.entry.date,
    DocNumber: p.doc_number,
    PrivateNote: privateNote(p),
    PaymentType: p.payment_type,
    AccountRef: { value: accountId(p, funding.account_code), name: funding.account_name },
    EntityRef: p.vendor_id === null ? undefined : { value: p.vendor_id, type: 'Vendor' },
    // A refund of a card payment: the same expense lines, credited back to the card.
    Credit: refund ? true : undefined,
    Line: p.entry.lines
      .filter((l) => l.role !== 'funding')
      .map((l) => ({
        Description: fitEvidence(l.evidence, DESCRIPTION_LIMIT),
        Amount: amount(refund ? l.credit_minor : l.debit_minor, p.exponent),
        DetailType: 'AccountBasedExpenseLineDetail',
        AccountBasedExpenseLineDetail: { AccountRef: { value: accountId(p, l.account_code), name: l.account_name } },
      })),
  };
}

/** The request body of a posting, as bytes on the wire. */
export const postingBody = (p: QboPosting): string => writeJson(p.entity === 'Purchase' ? purchaseBody(p) : journalEntryBody(p));
