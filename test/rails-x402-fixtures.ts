import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { x402Client, x402HTTPClient } from '@x402/core/client';
import {
  decodePaymentSignatureHeader,
  encodePaymentRequiredHeader,
  encodePaymentResponseHeader,
  encodePaymentSignatureHeader,
} from '@x402/core/http';
import type { PaymentPayload, PaymentRequired, PaymentRequirements, PaymentRequirementsV1, SettleResponse } from '@x402/core/types';
import { registerExactEvmScheme } from '@x402/evm/exact/client';
import { getAddress, verifyTypedData } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';

/**
 * Real x402 documents for tests: payloads signed (EIP-712, EIP-3009 transferWithAuthorization)
 * by a throwaway key through the official x402 client packages, headers encoded by their
 * encoders, and a resource server that checks the signature the way a facilitator does before
 * it answers with a settlement.
 */

export const USDC_BASE_SEPOLIA = '0x036CbD53842c5426634e7929541eC2318f3dCF7e';
export const USDC_BASE = '0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913';
export const PAY_TO = '0x209693Bc6afc0C5328bA36FaF03C514EF312287C';
export const OTHER_ADDRESS = '0x1111111111111111111111111111111111111111';

export const account = privateKeyToAccount(generatePrivateKey());
// The client's own spend controls (default assets only, $1 cap) are off: these tests sign
// payments of any size, and in assets Spendtrail must refuse, to see what Spendtrail does.
const client = new x402Client().setSpendControls(false);
registerExactEvmScheme(client, { signer: account });
export const httpClient = new x402HTTPClient(client);

export const txHash = (): string => `0x${randomBytes(32).toString('hex')}`;

/** v2 requirements (CAIP-2 network, `amount`). */
export const offerV2 = (over: Partial<PaymentRequirements> = {}): PaymentRequirements => ({
  scheme: 'exact',
  network: 'eip155:84532',
  asset: USDC_BASE_SEPOLIA,
  amount: '10000',
  payTo: PAY_TO,
  maxTimeoutSeconds: 60,
  extra: { name: 'USDC', version: '2' },
  ...over,
});

/** v1 requirements: the package types v1 networks as CAIP-2 strings, but v1 sends names ("base-sepolia"). */
export type OfferV1 = Omit<PaymentRequirementsV1, 'network'> & { network: string };

/** v1 requirements (network name, `maxAmountRequired`). */
export const offerV1 = (over: Partial<OfferV1> = {}): OfferV1 => ({
  scheme: 'exact',
  network: 'base-sepolia',
  maxAmountRequired: '10000',
  resource: 'https://api.example.test/report',
  description: 'A research report',
  mimeType: 'application/json',
  outputSchema: {},
  payTo: PAY_TO,
  maxTimeoutSeconds: 60,
  asset: USDC_BASE_SEPOLIA,
  extra: { name: 'USDC', version: '2' },
  ...over,
});

export const challengeV2 = (offers: PaymentRequirements[]): PaymentRequired => ({
  x402Version: 2,
  error: 'Payment required',
  resource: { url: 'https://api.example.test/report', description: 'A research report', mimeType: 'application/json' },
  accepts: offers,
});

export const challengeV1 = (offers: OfferV1[]): { x402Version: 1; error: string; accepts: OfferV1[] } => ({
  x402Version: 1,
  error: 'X-PAYMENT header is required',
  accepts: offers,
});

/** Signs a payment for the first offer of a challenge, as an x402 client does; returns the payload and its header value. */
export async function sign(challenge: PaymentRequired | ReturnType<typeof challengeV1>): Promise<{ payload: PaymentPayload; header: string }> {
  const payload = await client.createPaymentPayload(challenge as PaymentRequired);
  return { payload, header: encodePaymentSignatureHeader(payload) };
}

/** Pays a challenge with the test wallet: the headers an x402 client retries with (PAYMENT-SIGNATURE or X-PAYMENT). */
export async function payWithTestWallet(challenge: unknown): Promise<Record<string, string>> {
  return httpClient.encodePaymentSignatureHeader(await client.createPaymentPayload(challenge as PaymentRequired));
}

export const settlementHeader = (s: SettleResponse): string => encodePaymentResponseHeader(s);

/** Re-encodes a signed payload after `edit` changes its decoded JSON (a tampered or re-encoded document). */
export function reencode(header: string, edit: (doc: Record<string, unknown> & { payload: { authorization: Record<string, string> } }) => void): string {
  const doc = structuredClone(decodePaymentSignatureHeader(header)) as unknown as Record<string, unknown> & { payload: { authorization: Record<string, string> } };
  edit(doc);
  return encodePaymentSignatureHeader(doc as unknown as PaymentPayload);
}

/** A complete v2 submission: PAYMENT-REQUIRED, PAYMENT-SIGNATURE and a settled PAYMENT-RESPONSE. */
export async function v2Documents(over: Partial<PaymentRequirements> = {}, settle: Partial<SettleResponse> = {}) {
  const offer = offerV2(over);
  const required = challengeV2([offer]);
  const { payload, header } = await sign(required);
  const settlement: SettleResponse = { success: true, transaction: txHash(), network: offer.network, payer: account.address, ...settle };
  return {
    payload,
    documents: { payment_required: encodePaymentRequiredHeader(required), payment_signature: header, payment_response: settlementHeader(settlement) },
  };
}

/** A complete v1 submission: the 402 body, X-PAYMENT and a settled X-PAYMENT-RESPONSE. */
export async function v1Documents(over: Partial<OfferV1> = {}, settle: Partial<SettleResponse> = {}) {
  const offer = offerV1(over);
  const body = challengeV1([offer]);
  const { payload, header } = await sign(body);
  const settlement = { success: true, transaction: txHash(), network: offer.network, payer: account.address, ...settle } as SettleResponse;
  return { payload, documents: { payment_requirements: body, x_payment: header, x_payment_response: settlementHeader(settlement) } };
}

export interface ResourceServer {
  readonly url: string;
  /** Paid requests that reached the server (with a payment header), whatever the answer. */
  readonly paidRequests: number;
  /** Settlements the server reported, in order. */
  readonly settlements: SettleResponse[];
  /** Makes the next settlements fail with this reason (null: succeed). */
  failWith(reason: string | null): void;
  close(): Promise<void>;
}

/**
 * A minimal x402 resource server on 127.0.0.1. `/v2/<atomic>` answers 402 with a PAYMENT-REQUIRED
 * header, `/v1/<atomic>` with a v1 JSON body; a paid retry is checked like a facilitator checks it
 * (EIP-712 signature by `from`, recipient, value) and answered 200 with a settlement header, or
 * 402 with a failed settlement. There is no chain: the transaction hash is random.
 */
export async function startResourceServer(): Promise<ResourceServer> {
  let paid = 0;
  let failure: string | null = null;
  const settlements: SettleResponse[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const m = /^\/(v1|v2)\/([0-9]+)$/.exec(req.url ?? '');
    if (m === null) {
      res.writeHead(404).end();
      return;
    }
    const [, version, atomic = '0'] = m;
    const url = `http://${req.headers.host}${req.url}`;
    const v2Offer = offerV2({ amount: atomic });
    const v1Offer = offerV1({ maxAmountRequired: atomic, resource: url });
    const paymentHeader = version === 'v2' ? req.headers['payment-signature'] : req.headers['x-payment'];
    if (typeof paymentHeader !== 'string') {
      if (version === 'v2') {
        res.writeHead(402, { 'PAYMENT-REQUIRED': encodePaymentRequiredHeader({ ...challengeV2([v2Offer]), resource: { url } }), 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(402, { 'content-type': 'application/json' }).end(JSON.stringify(challengeV1([v1Offer])));
      }
      return;
    }
    paid += 1;
    const payload = decodePaymentSignatureHeader(paymentHeader) as PaymentPayload & { network?: string };
    const auth = (payload.payload as { authorization: { from: string; to: string; value: string; validAfter: string; validBefore: string; nonce: `0x${string}` } }).authorization;
    const signature = (payload.payload as { signature: `0x${string}` }).signature;
    const chainId = 84532;
    const valid =
      getAddress(auth.to) === getAddress(PAY_TO) &&
      auth.value === atomic &&
      (await verifyTypedData({
        address: getAddress(auth.from),
        domain: { name: 'USDC', version: '2', chainId, verifyingContract: getAddress(USDC_BASE_SEPOLIA) },
        types: {
          TransferWithAuthorization: [
            { name: 'from', type: 'address' },
            { name: 'to', type: 'address' },
            { name: 'value', type: 'uint256' },
            { name: 'validAfter', type: 'uint256' },
            { name: 'validBefore', type: 'uint256' },
            { name: 'nonce', type: 'bytes32' },
          ],
        },
        primaryType: 'TransferWithAuthorization',
        message: { ...auth, from: getAddress(auth.from), to: getAddress(auth.to), value: BigInt(auth.value), validAfter: BigInt(auth.validAfter), validBefore: BigInt(auth.validBefore) },
        signature,
      }));
    const network = version === 'v2' ? 'eip155:84532' : 'base-sepolia';
    const settlementName = version === 'v2' ? 'PAYMENT-RESPONSE' : 'X-PAYMENT-RESPONSE';
    if (!valid || failure !== null) {
      const s = { success: false, errorReason: valid ? (failure ?? '') : 'invalid_exact_evm_payload_signature', transaction: '', network, payer: auth.from } as SettleResponse;
      settlements.push(s);
      res.writeHead(402, { [settlementName]: settlementHeader(s), 'content-type': 'application/json' }).end('{}');
      return;
    }
    const s = { success: true, transaction: txHash(), network, payer: auth.from } as SettleResponse;
    settlements.push(s);
    res.writeHead(200, { [settlementName]: settlementHeader(s), 'content-type': 'application/json' }).end(JSON.stringify({ report: 'paid content', atomic }));
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get paidRequests() {
      return paid;
    },
    settlements,
    failWith: (reason) => {
      failure = reason;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
