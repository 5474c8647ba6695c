/**
 * The one error type of the product. `code` is stable and documented; the HTTP layer maps
 * codes to statuses in one table and the CLI prints `code: message`. `field` is the path of
 * the offending input (e.g. `transactions[3].amount`) when the error is about input.
 */
export const ERROR_CODES = [
  'VALIDATION_FAILED',
  'INVALID_AMOUNT',
  'INVALID_TIMESTAMP',
  'UNKNOWN_CURRENCY',
  'CURRENCY_MISMATCH',
  'FX_RATE_REQUIRED',
  'UNKNOWN_FIELD',
  'PAYLOAD_TOO_LARGE',
  'ORG_NOT_FOUND',
  'ORG_EXISTS',
  'AGENT_NOT_FOUND',
  'API_KEY_NOT_FOUND',
  'ACCOUNT_NOT_FOUND',
  'RULE_NOT_FOUND',
  'POLICY_NOT_FOUND',
  'POLICY_INVALID',
  'NO_CHANGE',
  'JUSTIFICATION_REQUIRED',
  'INVALID_TICKET',
  'TICKET_REQUIRED',
  'CHANGE_NOT_FOUND',
  'CHANGE_NOT_PENDING',
  'CHANGE_STALE',
  'SEGREGATION_OF_DUTIES',
  'APPROVAL_NOT_PENDING',
  'CLUSTER_NOT_FOUND',
  'SUMMARY_NOT_FOUND',
  'SUMMARY_ALREADY_SIGNED',
  'SUMMARY_SUPERSEDED',
  'EXPORT_CONFLICT',
  'SINK_UNAVAILABLE',
  'OBJECT_LOCK_REQUIRED',
  'RETENTION_TOO_SHORT',
  'BUNDLE_INVALID',
  'NOTHING_TO_EXPORT',
  'UNCODED_TRANSACTIONS',
  'ACCOUNT_NOT_MAPPED',
  'UNSUPPORTED_CURRENCY',
  'VENDOR_NOT_MAPPED',
  'QBO_NOT_CONFIGURED',
  'QBO_NOT_CONNECTED',
  'QBO_REAUTHORIZE',
  'QBO_REJECTED',
  'QBO_UNAVAILABLE',
  'TRANSACTION_NOT_FOUND',
  'REFUND_TARGET_NOT_FOUND',
  'REFUND_EXCEEDS_ORIGINAL',
  'AUTHORIZATION_NOT_FOUND',
  'AUTHORIZATION_NOT_USABLE',
  'IDEMPOTENCY_CONFLICT',
  'DUPLICATE_IN_BATCH',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'RATE_LIMITED',
  'INVALID_SIGNATURE',
  'ENDPOINT_NOT_FOUND',
  'SIGNATURE_EXPIRED',
  'MALFORMED_PAYLOAD',
  'UNSUPPORTED_EVENT',
  'UNKNOWN_ASSET',
  'PREIMAGE_MISMATCH',
  'AMOUNT_NOT_EXACT',
  'PAYMENT_FAILED',
  'PAYMENT_NOT_SETTLED',
  'CHECKPOINT_INVALID',
  'INTEGRITY_FAILURE',
  'SIGNING_KEY_MISSING',
  'STORE_UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorOptions {
  readonly field?: string | undefined;
  readonly details?: Readonly<Record<string, unknown>> | undefined;
  readonly cause?: unknown;
}

export class SpendtrailError extends Error {
  readonly code: ErrorCode;
  readonly field: string | undefined;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SpendtrailError';
    this.code = code;
    this.field = options.field;
    this.details = options.details;
  }

  /** The same error with its field path placed under a prefix, e.g. `transactions[3]`. */
  under(prefix: string): SpendtrailError {
    const field = this.field === undefined ? prefix : `${prefix}.${this.field}`;
    return new SpendtrailError(this.code, this.message, { field, details: this.details, cause: this.cause });
  }

  toJSON(): { code: ErrorCode; message: string; field?: string; details?: Record<string, unknown> } {
    return {
      code: this.code,
      message: this.message,
      ...(this.field === undefined ? {} : { field: this.field }),
      ...(this.details === undefined ? {} : { details: { ...this.details } }),
    };
  }
}

export const isSpendtrailError = (e: unknown): e is SpendtrailError => e instanceof SpendtrailError;
