import type { JournalEntry } from '../domain/journal/journal.ts';

/**
 * What the QuickBooks Online use cases need from the outside: Intuit's OAuth 2.0 server, one
 * company's Accounting API v3, and a sealed box for the tokens. Adapters in src/adapters/qbo/
 * implement them over fetch; tests point those at a local fake.
 */

export type QboEntity = 'JournalEntry' | 'Purchase';

/** An answer of Intuit's token endpoint. */
export interface QboTokenGrant {
  readonly access_token: string;
  /** Intuit may rotate it on any refresh: the one returned is the one to keep. */
  readonly refresh_token: string;
  /** Seconds the access token lives (Intuit: 3600). */
  readonly expires_in: number;
  /** Seconds the refresh token lives (`x_refresh_token_expires_in`), when given. */
  readonly refresh_expires_in: number | null;
}

export interface QboAuthServer {
  readonly redirect_uri: string;
  /** Where the user consents: Intuit's authorization endpoint with client id, scope, redirect URI and state. */
  authorizationUrl(state: string): string;
  exchangeCode(code: string): Promise<QboTokenGrant>;
  /** Errors: QBO_REAUTHORIZE when Intuit answers invalid_grant (revoked, expired or already rotated away). */
  refresh(refreshToken: string): Promise<QboTokenGrant>;
}

/** A source of valid access tokens for one company (refreshing, rotating and storing as needed). */
export interface AccessTokens {
  current(): Promise<string>;
  /** The API refused `rejected` as expired or revoked: a fresh one (refreshed unless another caller already did). */
  renew(rejected: string): Promise<string>;
}

export interface QboAccount {
  readonly id: string;
  readonly name: string;
  /** The account number, when the company uses them. */
  readonly acct_num: string | null;
  /** QuickBooks' AccountType: "Expense", "Bank", "Credit Card", "Other Current Liability", … */
  readonly account_type: string;
  readonly active: boolean;
}

export interface QboVendor {
  readonly id: string;
  readonly display_name: string;
  readonly active: boolean;
}

/** One journal entry with everything QuickBooks needs resolved to its ids. */
export interface QboPosting {
  readonly entity: QboEntity;
  readonly entry: JournalEntry;
  /** Decimals of the journal's currency (≤ 2: QuickBooks amounts have two). */
  readonly exponent: number;
  readonly doc_number: string;
  /** Journal account code → QuickBooks Account Id, for every line of the entry. */
  readonly account_ids: ReadonlyMap<string, string>;
  readonly vendor_id: string | null;
  /** Purchase only: the payment type its funding account allows (Bank → Cash, Credit Card → CreditCard). */
  readonly payment_type: 'Cash' | 'CreditCard' | null;
}

export type QboWriteOutcome =
  | { readonly kind: 'created'; readonly id: string; readonly sync_token: string }
  /** A definitive refusal (a validation fault): nothing was created. */
  | { readonly kind: 'rejected'; readonly http_status: number; readonly code: string; readonly message: string };

/** One QuickBooks company (realm). Throttling and server errors are retried inside; what is left is thrown (QBO_UNAVAILABLE, QBO_REAUTHORIZE). */
export interface QboCompany {
  readonly realm_id: string;
  create(posting: QboPosting, requestId: string): Promise<QboWriteOutcome>;
  findByDocNumber(entity: QboEntity, docNumber: string): Promise<{ readonly id: string; readonly sync_token: string; readonly private_note: string }[]>;
  accounts(): Promise<QboAccount[]>;
  vendors(): Promise<QboVendor[]>;
}

export interface QboConnector {
  readonly auth: QboAuthServer;
  company(realmId: string, tokens: AccessTokens): QboCompany;
}

/** Authenticated encryption for secrets at rest; `context` binds a ciphertext to where it is stored. */
export interface SecretBox {
  seal(plain: string, context: string): string;
  /** Throws when the ciphertext was sealed with another key or context, or was altered. */
  open(sealed: string, context: string): string;
}

export interface QboPorts {
  readonly connector: QboConnector;
  readonly secrets: SecretBox;
}
