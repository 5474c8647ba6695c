import type { TransactionRecord } from '../../domain/ledger/transaction.ts';

/**
 * A bulk reader of transactions for the audit export: the rows of a segment are handed over one
 * at a time as they arrive, so the exporter writes each line straight into its output instead
 * of holding the segment as row objects first. On PostgreSQL this is a COPY stream
 * (src/adapters/store/export-rows.ts); without one the exporter reads pages through the store.
 */
export interface TransactionRowSource {
  /**
   * Calls `row` for every transaction of `orgId` with `from <= seq < to`, in seq order, with the
   * record exactly as `transactionsPage` returns it and its leaf hash in base64. Resolves once
   * the last row was handed over.
   */
  eachTransaction(orgId: string, from: number, to: number, row: (record: TransactionRecord, leafHashBase64: string) => void): Promise<void>;
}
