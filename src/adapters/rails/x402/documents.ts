import { z } from 'zod';
import { SpendtrailError } from '../../../domain/errors.ts';

/**
 * The x402 documents as they travel: PaymentRequirements (v1 in the 402 JSON body, v2 in the
 * base64 `PAYMENT-REQUIRED` header), the PaymentPayload the client sends (`X-PAYMENT` /
 * `PAYMENT-SIGNATURE`) and the SettlementResponse it gets back (`X-PAYMENT-RESPONSE` /
 * `PAYMENT-RESPONSE`). Objects are loose: the protocol adds fields (extensions, extra,
 * outputSchema) that the ledger keeps in the raw payload but does not interpret.
 */

/** Where a document came from: the request field it was sent in and, for headers, the header's name. */
export interface Source {
  readonly field: string;
  readonly name: string;
}

// Spec: `value`, `validAfter`, `validBefore` and `nonce` are hex when they start with 0x,
// decimal otherwise. Bounds are those of a uint256.
export const uintText = z.string().regex(/^(0x[0-9a-fA-F]{1,64}|[0-9]{1,78})$/, 'a hex (0x…) or decimal unsigned integer');
const short = z.string().min(1).max(200);

const requirementsCommon = {
  scheme: short,
  network: short,
  asset: short,
  payTo: short,
  maxTimeoutSeconds: z.number().optional(),
  extra: z.record(z.string(), z.unknown()).nullish(),
};

export const requirementsV1 = z.looseObject({ ...requirementsCommon, maxAmountRequired: uintText });
export type RequirementsV1 = z.infer<typeof requirementsV1>;

export const requirementsV2 = z.looseObject({ ...requirementsCommon, amount: uintText });
export type RequirementsV2 = z.infer<typeof requirementsV2>;

export const paymentRequiredV1 = z.looseObject({ x402Version: z.literal(1), accepts: z.array(requirementsV1).min(1).max(100) });
export const paymentRequiredV2 = z.looseObject({ x402Version: z.literal(2), accepts: z.array(requirementsV2).min(1).max(100) });

/** The exact scheme on EVM: an EIP-3009 transferWithAuthorization and its signature. */
export const exactEvmPayload = z.looseObject({
  signature: z.string().regex(/^0x([0-9a-fA-F]{2})+$/, 'hex bytes'),
  authorization: z.looseObject({
    from: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 20-byte hex address'),
    to: z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'a 20-byte hex address'),
    value: uintText,
    validAfter: uintText,
    validBefore: uintText,
    nonce: uintText,
  }),
});
export type ExactEvmPayload = z.infer<typeof exactEvmPayload>;

export const paymentPayloadV1 = z.looseObject({
  x402Version: z.literal(1),
  scheme: short,
  network: short,
  payload: z.record(z.string(), z.unknown()),
});
export type PaymentPayloadV1 = z.infer<typeof paymentPayloadV1>;

export const paymentPayloadV2 = z.looseObject({
  x402Version: z.literal(2),
  accepted: requirementsV2,
  payload: z.record(z.string(), z.unknown()),
});
export type PaymentPayloadV2 = z.infer<typeof paymentPayloadV2>;

export const settlementResponse = z.looseObject({
  success: z.boolean(),
  errorReason: z.string().max(500).nullish(),
  errorMessage: z.string().max(2000).nullish(),
  payer: z.string().max(200).nullish(),
  // "" (or absent) when settlement failed before a transaction existed.
  transaction: z.string().max(200).nullish(),
  network: short,
  // v2: the amount actually settled, for schemes that settle less than authorized.
  amount: uintText.nullish(),
});
export type SettlementResponse = z.infer<typeof settlementResponse>;

const malformed = (source: Source, message: string, path = ''): SpendtrailError =>
  new SpendtrailError('MALFORMED_PAYLOAD', `${source.name} ${message}`, { field: `${source.field}${path}` });

// Standard base64 with padding, as x402's encoders (btoa / Buffer) write it. Node's decoder
// would skip stray characters silently; a header that is not exactly base64 is refused instead.
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Base64 → UTF-8 → JSON, each step refused with MALFORMED_PAYLOAD naming the header. */
export function decodeHeader(value: string, source: Source): unknown {
  if (!BASE64.test(value) || value.length % 4 !== 0) throw malformed(source, 'is not base64');
  let text: string;
  try {
    text = utf8.decode(Buffer.from(value, 'base64'));
  } catch {
    throw malformed(source, 'does not decode to UTF-8 text');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw malformed(source, 'does not decode to JSON');
  }
}

/** Checks a decoded document against its schema; the first issue becomes MALFORMED_PAYLOAD at its path. */
export function readDocument<S extends z.ZodType>(schema: S, doc: unknown, source: Source, what: string): z.output<S> {
  const r = schema.safeParse(doc);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = (issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  throw malformed(source, `is not an x402 ${what}: ${issue?.message ?? 'invalid'}${path === '' ? '' : ` at ${path.replace(/^\./, '')}`}`, path);
}
