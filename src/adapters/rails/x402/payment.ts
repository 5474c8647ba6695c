import { z } from 'zod';
import { canonicalize } from '../../../domain/canonical/jcs.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import { findCurrency } from '../../../domain/money/currency.ts';
import type { Currency } from '../../../domain/money/currency.ts';
import { formatMinor } from '../../../domain/money/decimal.ts';
import type {
  ExactEvmPayload,
  PaymentPayloadV1,
  PaymentPayloadV2,
  RequirementsV1,
  RequirementsV2,
  SettlementResponse,
  Source,
} from './documents.ts';
import {
  decodeHeader,
  exactEvmPayload,
  paymentPayloadV1,
  paymentPayloadV2,
  paymentRequiredV2,
  paymentRequiredV1,
  readDocument,
  requirementsV1,
  settlementResponse,
} from './documents.ts';
import type { X402Asset, X402Network } from './registry.ts';
import { findAsset, findNetwork } from './registry.ts';

/**
 * The x402 documents of one payment as a client submits them: the header values exactly as
 * they were on the wire, and for v1 the requirements the 402 body offered (v1 has no
 * requirements header). v2's payload carries the requirements it accepted; PAYMENT-REQUIRED
 * is optional there and, when given, must have offered them.
 */
export interface X402Documents {
  readonly x_payment?: string | null | undefined;
  readonly x_payment_response?: string | null | undefined;
  readonly payment_requirements?: unknown;
  readonly payment_signature?: string | null | undefined;
  readonly payment_response?: string | null | undefined;
  readonly payment_required?: string | null | undefined;
}

/** What one x402 payment amounts to, normalised. */
export interface X402Payment {
  readonly version: 1 | 2;
  readonly network: X402Network;
  /** Token contract, lower case. */
  readonly asset: string;
  /** The ledger currency and the token's decimals from the registry. */
  readonly currency: Currency;
  readonly decimals: number;
  /** The authorized value in the token's atomic units (decimal text). */
  readonly atomic_amount: string;
  /** The same value in the ledger currency, exact, at its full exponent ("0.010000"). */
  readonly amount: string;
  /** `authorization.from`, lower case. */
  readonly payer: string;
  /** `payTo` exactly as the requirements give it (usually EIP-55 mixed case). */
  readonly pay_to: string;
  /** The EIP-3009 nonce as 0x + 64 lower-case hex digits. */
  readonly nonce: string;
  /** network/asset/payer/nonce: EIP-3009 nonces are single-use per authorizer and token, so this names one payment. */
  readonly source_id: string;
  readonly requirements: RequirementsV1 | RequirementsV2;
}

export interface X402Settlement {
  readonly success: boolean;
  /** The transaction hash, or null when settlement failed before one existed. */
  readonly transaction: string | null;
  /** Why it failed (errorReason and errorMessage), null on success. */
  readonly reason: string | null;
}

/** A submitted payment with its settlement and the exact bytes kept as its native record. */
export interface X402Settled extends X402Payment {
  readonly settlement: X402Settlement;
  /** RFC 8785 JSON of the decoded documents and the original header strings. */
  readonly payload: Buffer;
}

const HEADERS = {
  1: { payment: { field: 'x_payment', name: 'X-PAYMENT' }, settlement: { field: 'x_payment_response', name: 'X-PAYMENT-RESPONSE' } },
  2: { payment: { field: 'payment_signature', name: 'PAYMENT-SIGNATURE' }, settlement: { field: 'payment_response', name: 'PAYMENT-RESPONSE' } },
} as const;
const REQUIRED_V2: Source = { field: 'payment_required', name: 'PAYMENT-REQUIRED' };
const REQUIREMENTS_V1: Source = { field: 'payment_requirements', name: 'payment_requirements' };

const UINT256_MAX = 2n ** 256n - 1n;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TX_HASH = /^0x[0-9a-fA-F]{64}$/;

const given = (s: string | null | undefined): s is string => s !== undefined && s !== null;

/** The payment and its requirements, checked against each other (authorize uses this before settlement exists). */
export function readX402Payment(docs: X402Documents): X402Payment {
  return read(docs).payment;
}

/** The payment, its requirements and its settlement, with the native record to keep. */
export function readX402Settled(docs: X402Documents): X402Settled {
  const { payment, version, decoded, header: paymentHeader } = read(docs);
  const source = HEADERS[version].settlement;
  const header = version === 1 ? docs.x_payment_response : docs.payment_response;
  if (!given(header)) {
    throw new SpendtrailError('VALIDATION_FAILED', `a settled x402 v${version} payment comes with its ${source.name} header`, { field: source.field });
  }
  const settlementDoc = decodeHeader(header, source);
  const settlement = readSettlement(readDocument(settlementResponse, settlementDoc, source, 'SettlementResponse'), payment, source);
  const headers: Record<string, string> = { [HEADERS[version].payment.name]: paymentHeader, [source.name]: header };
  if (version === 2 && given(docs.payment_required)) headers[REQUIRED_V2.name] = docs.payment_required;
  let text: string;
  try {
    text = canonicalize({ x402Version: version, requirements: decoded.requirements, payment: decoded.payment, settlement: settlementDoc, headers });
  } catch (e) {
    // Only a lone UTF-16 surrogate escaped inside the JSON gets here: it has no canonical form.
    throw new SpendtrailError('MALFORMED_PAYLOAD', `the x402 documents cannot be kept canonically: ${(e as Error).message}`, { field: source.field });
  }
  return { ...payment, settlement, payload: Buffer.from(text, 'utf8') };
}

interface Read {
  readonly version: 1 | 2;
  readonly payment: X402Payment;
  /** The payment header exactly as received. */
  readonly header: string;
  /** The decoded documents as received, for the native record. */
  readonly decoded: { readonly requirements: unknown; readonly payment: unknown };
}

function read(docs: X402Documents): Read {
  const v1 = given(docs.x_payment) || given(docs.x_payment_response) || docs.payment_requirements !== undefined;
  const v2 = given(docs.payment_signature) || given(docs.payment_response) || given(docs.payment_required);
  if (v1 && v2) {
    throw new SpendtrailError('VALIDATION_FAILED', 'send the v1 documents (x_payment, x_payment_response, payment_requirements) or the v2 ones (payment_signature, payment_response, payment_required), not both', {
      field: given(docs.payment_signature) ? 'payment_signature' : 'x_payment',
    });
  }
  return v1 ? readV1(docs) : readV2(docs);
}

function readV1(docs: X402Documents): Read {
  const source = HEADERS[1].payment;
  if (!given(docs.x_payment)) throw new SpendtrailError('VALIDATION_FAILED', 'an x402 v1 payment is its X-PAYMENT header', { field: source.field });
  if (docs.payment_requirements === undefined || docs.payment_requirements === null) {
    throw new SpendtrailError('VALIDATION_FAILED', 'an x402 v1 payment needs the requirements it paid (the 402 body, or its accepted entry): v1 payloads do not carry payTo or asset', {
      field: REQUIREMENTS_V1.field,
    });
  }
  const paymentDoc = decodeHeader(docs.x_payment, source);
  const payload = readDocument(paymentPayloadV1, paymentDoc, source, 'v1 PaymentPayload');
  const offered = offeredV1(docs.payment_requirements);
  const network = networkOf(payload.network, `${source.field}.network`);
  const exact = exactPayload(payload.scheme, `${source.field}.scheme`, payload.payload, source);
  const requirements = chooseV1(offered, payload, network, exact);
  const payment = build(1, requirements, requirements.maxAmountRequired, exact, source, 'payment_requirements');
  return { version: 1, payment, header: docs.x_payment, decoded: { requirements: docs.payment_requirements, payment: paymentDoc } };
}

function readV2(docs: X402Documents): Read {
  const source = HEADERS[2].payment;
  if (!given(docs.payment_signature)) {
    throw new SpendtrailError('VALIDATION_FAILED', 'an x402 payment is its PAYMENT-SIGNATURE (v2) or X-PAYMENT (v1) header', { field: source.field });
  }
  const paymentDoc = decodeHeader(docs.payment_signature, source);
  const payload: PaymentPayloadV2 = readDocument(paymentPayloadV2, paymentDoc, source, 'v2 PaymentPayload');
  let requiredDoc: unknown = null;
  if (given(docs.payment_required)) {
    requiredDoc = decodeHeader(docs.payment_required, REQUIRED_V2);
    const offered = readDocument(paymentRequiredV2, requiredDoc, REQUIRED_V2, 'v2 PaymentRequired').accepts;
    // A client that says what it was offered must have paid one of those offers.
    if (!offered.some((o) => sameOffer(o, payload.accepted))) {
      throw new SpendtrailError('VALIDATION_FAILED', 'the requirements the payment accepted are not among those PAYMENT-REQUIRED offered', {
        field: `${source.field}.accepted`,
      });
    }
  }
  networkOf(payload.accepted.network, `${source.field}.accepted.network`);
  const exact = exactPayload(payload.accepted.scheme, `${source.field}.accepted.scheme`, payload.payload, source);
  const payment = build(2, payload.accepted, payload.accepted.amount, exact, source, `${source.field}.accepted`);
  return { version: 2, payment, header: docs.payment_signature, decoded: { requirements: requiredDoc, payment: paymentDoc } };
}

/** v1 requirements as a client may hold them: the whole 402 body, its `accepts` list, or the one entry it paid. */
function offeredV1(doc: unknown): readonly RequirementsV1[] {
  const what = 'v1 PaymentRequirements';
  if (Array.isArray(doc)) return readDocument(z.array(requirementsV1).min(1).max(100), doc, REQUIREMENTS_V1, what);
  if (typeof doc === 'object' && doc !== null && 'accepts' in doc) return readDocument(paymentRequiredV1, doc, REQUIREMENTS_V1, 'v1 402 body').accepts;
  return [readDocument(requirementsV1, doc, REQUIREMENTS_V1, what)];
}

const sameOffer = (a: RequirementsV2, b: RequirementsV2): boolean =>
  a.scheme === b.scheme &&
  findNetwork(a.network)?.caip2 === findNetwork(b.network)?.caip2 &&
  a.asset.toLowerCase() === b.asset.toLowerCase() &&
  a.payTo.toLowerCase() === b.payTo.toLowerCase() &&
  uint(a.amount) === uint(b.amount);

function networkOf(id: string, field: string): X402Network {
  const n = findNetwork(id);
  if (n === undefined) throw new SpendtrailError('UNKNOWN_ASSET', `x402 network ${id} is not in Spendtrail's asset registry`, { field });
  return n;
}

/** Only the exact scheme's EIP-3009 form moves a known amount to a known payee; other schemes are refused, not guessed at. */
function exactPayload(scheme: string, schemeField: string, payload: Record<string, unknown>, source: Source): ExactEvmPayload {
  if (scheme !== 'exact') {
    throw new SpendtrailError('UNSUPPORTED_EVENT', `x402 scheme ${scheme} is not supported: Spendtrail records the exact scheme`, { field: schemeField });
  }
  if (!('authorization' in payload) && 'permit2Authorization' in payload) {
    throw new SpendtrailError('UNSUPPORTED_EVENT', 'exact-scheme Permit2 payloads are not supported: Spendtrail records EIP-3009 transferWithAuthorization payments', {
      field: `${source.field}.payload`,
    });
  }
  return readDocument(exactEvmPayload, payload, { field: `${source.field}.payload`, name: source.name }, 'exact EVM payload');
}

/** v1 payloads name only scheme and network: the requirement paid is the offer on that network to the payload's recipient. */
function chooseV1(offered: readonly RequirementsV1[], payload: PaymentPayloadV1, network: X402Network, exact: ExactEvmPayload): RequirementsV1 {
  const onNetwork = offered.filter((r) => r.scheme === payload.scheme && findNetwork(r.network)?.caip2 === network.caip2);
  const first = onNetwork[0];
  if (first === undefined) {
    throw new SpendtrailError('VALIDATION_FAILED', `the requirements offer no ${payload.scheme} payment on ${payload.network}`, { field: REQUIREMENTS_V1.field });
  }
  if (onNetwork.length === 1) return first;
  const toPayee = onNetwork.filter((r) => r.payTo.toLowerCase() === exact.authorization.to.toLowerCase());
  // None to this payee: the first offer on the network reports the recipient mismatch.
  const chosen = toPayee[0] ?? first;
  if (toPayee.some((r) => r.asset.toLowerCase() !== chosen.asset.toLowerCase())) {
    throw new SpendtrailError('VALIDATION_FAILED', `the requirements offer several assets on ${payload.network} to this payee: send the one that was paid`, {
      field: REQUIREMENTS_V1.field,
    });
  }
  return chosen;
}

function build(
  version: 1 | 2,
  requirements: RequirementsV1 | RequirementsV2,
  required: string,
  exact: ExactEvmPayload,
  source: Source,
  reqField: string,
): X402Payment {
  const network = networkOf(requirements.network, `${reqField}.network`);
  const asset: X402Asset | undefined = findAsset(network.caip2, requirements.asset);
  if (asset === undefined) {
    throw new SpendtrailError('UNKNOWN_ASSET', `asset ${requirements.asset} on ${network.name} (${network.caip2}) is not in Spendtrail's asset registry`, {
      field: `${reqField}.asset`,
    });
  }
  const currency = findCurrency(asset.currency);
  if (currency === undefined) throw new SpendtrailError('INTERNAL', `the asset registry books in ${asset.currency}, which the ledger does not know`);
  if (!ADDRESS.test(requirements.payTo)) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', `payTo ${requirements.payTo} is not an EVM address`, { field: `${reqField}.payTo` });
  }
  const auth = exact.authorization;
  const authField = `${source.field}.payload.authorization`;
  if (auth.to.toLowerCase() !== requirements.payTo.toLowerCase()) {
    throw new SpendtrailError('VALIDATION_FAILED', `recipient mismatch: the payment authorizes a transfer to ${auth.to}, the requirements pay ${requirements.payTo}`, {
      field: `${authField}.to`,
    });
  }
  const value = uintField(auth.value, `${authField}.value`);
  const due = uintField(required, `${reqField}.${version === 1 ? 'maxAmountRequired' : 'amount'}`);
  if (value === 0n) throw new SpendtrailError('INVALID_AMOUNT', 'an x402 payment of zero is not a payment', { field: `${authField}.value` });
  // v1 names its price a maximum: a transfer of less is within it (and EIP-3009 moves exactly
  // `value`, which is what the ledger books). v2's exact scheme charges `amount`, no more, no less.
  if (version === 1 ? value > due : value !== due) {
    throw new SpendtrailError(
      'AMOUNT_NOT_EXACT',
      version === 1
        ? `the payment authorizes ${value} atomic units, more than maxAmountRequired ${due}`
        : `the payment authorizes ${value} atomic units; the exact scheme requires ${due}`,
      { field: `${authField}.value` },
    );
  }
  const nonce = uintField(auth.nonce, `${authField}.nonce`);
  const nonceHex = `0x${nonce.toString(16).padStart(64, '0')}`;
  const payer = auth.from.toLowerCase();
  const assetAddress = requirements.asset.toLowerCase();
  return {
    version,
    network,
    asset: assetAddress,
    currency,
    decimals: asset.decimals,
    atomic_amount: value.toString(),
    amount: atomicToAmount(value, asset.decimals, currency, `${authField}.value`),
    payer,
    pay_to: requirements.payTo,
    nonce: nonceHex,
    source_id: `${network.caip2}/${assetAddress}/${payer}/${nonceHex}`,
    requirements,
  };
}

function readSettlement(s: SettlementResponse, p: X402Payment, source: Source): X402Settlement {
  if (findNetwork(s.network)?.caip2 !== p.network.caip2) {
    throw new SpendtrailError('VALIDATION_FAILED', `the settlement is on ${s.network}, the payment on ${p.network.caip2}`, { field: `${source.field}.network` });
  }
  if (given(s.payer) && s.payer.toLowerCase() !== p.payer) {
    throw new SpendtrailError('VALIDATION_FAILED', `the settlement names payer ${s.payer}, the payment was signed by ${p.payer}`, { field: `${source.field}.payer` });
  }
  const tx = given(s.transaction) && s.transaction !== '' ? s.transaction : null;
  if (tx !== null && !TX_HASH.test(tx)) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', `${source.name} transaction ${tx.slice(0, 80)} is not a transaction hash`, { field: `${source.field}.transaction` });
  }
  if (!s.success) {
    const parts = [s.errorReason, s.errorMessage].filter((x): x is string => given(x) && x.trim() !== '');
    const reason = [...new Set(parts)].join(': ') || 'settlement failed (no reason given)';
    return { success: false, transaction: tx, reason: reason.slice(0, 1000) };
  }
  if (tx === null) throw new SpendtrailError('MALFORMED_PAYLOAD', `${source.name} reports success without a transaction hash`, { field: `${source.field}.transaction` });
  // The exact scheme settles the authorized value; a settlement of another amount is another payment.
  if (given(s.amount) && uintField(s.amount, `${source.field}.amount`).toString() !== p.atomic_amount) {
    throw new SpendtrailError('AMOUNT_NOT_EXACT', `the settlement reports ${s.amount} atomic units, the payment authorized ${p.atomic_amount}`, { field: `${source.field}.amount` });
  }
  return { success: true, transaction: tx.toLowerCase(), reason: null };
}

const uint = (text: string): bigint => BigInt(text);

function uintField(text: string, field: string): bigint {
  const n = uint(text);
  if (n > UINT256_MAX) throw new SpendtrailError('MALFORMED_PAYLOAD', `${text.slice(0, 80)} does not fit a uint256`, { field });
  return n;
}

/**
 * Atomic units → the ledger currency's decimal, exactly. A token with more decimals than the
 * currency's exponent can carry dust the ledger cannot hold; that is refused, never rounded.
 */
export function atomicToAmount(atomic: bigint, decimals: number, currency: Currency, field: string): string {
  let minor: bigint;
  if (decimals >= currency.exponent) {
    const scale = 10n ** BigInt(decimals - currency.exponent);
    if (atomic % scale !== 0n) {
      throw new SpendtrailError('AMOUNT_NOT_EXACT', `${atomic} atomic units (${decimals} decimals) is not a whole number of ${currency.code} minor units`, { field });
    }
    minor = atomic / scale;
  } else {
    minor = atomic * 10n ** BigInt(currency.exponent - decimals);
  }
  return formatMinor(minor, currency.exponent);
}
