/**
 * The networks and assets Spendtrail records x402 payments in. An x402 amount is a count of the
 * token's atomic units; how many make one unit is a property of the token contract on one
 * network, so decimals are looked up by (network, contract) and never assumed per symbol (USDC
 * has 6 decimals on the chains below but 18 on some others).
 */

export interface X402Network {
  /** CAIP-2 id, the form x402 v2 uses ("eip155:84532"). */
  readonly caip2: string;
  /** The x402 v1 name ("base-sepolia"). */
  readonly name: string;
}

export interface X402Asset {
  /** The ledger currency code the amount is booked in (src/domain/money/currency.ts). */
  readonly currency: string;
  /** Token decimals: atomic units per unit is 10^decimals. */
  readonly decimals: number;
}

// x402 v1 §11.1 lists these four with their chain ids; v1 sends the name, v2 the CAIP-2 id.
const NETWORKS: readonly X402Network[] = [
  { caip2: 'eip155:8453', name: 'base' },
  { caip2: 'eip155:84532', name: 'base-sepolia' },
  { caip2: 'eip155:43114', name: 'avalanche' },
  { caip2: 'eip155:43113', name: 'avalanche-fuji' },
];

// Circle's USDC contracts (FiatTokenV2, EIP-3009, 6 decimals). Base, Base Sepolia and Avalanche
// match the default asset table of the reference x402 EVM package (@x402/evm 2.27); Fuji is
// Circle's published testnet deployment. Keys are lower case: addresses arrive EIP-55
// mixed-case or not, and are compared case-insensitively.
const ASSETS: ReadonlyMap<string, X402Asset> = new Map([
  ['eip155:8453/0x833589fcd6edb6e08f4c7c32d4f71b54bda02913', { currency: 'USDC', decimals: 6 }],
  ['eip155:84532/0x036cbd53842c5426634e7929541ec2318f3dcf7e', { currency: 'USDC', decimals: 6 }],
  ['eip155:43114/0xb97ef9ef8734c71904d8002f8b6bc66dd9c48a6e', { currency: 'USDC', decimals: 6 }],
  ['eip155:43113/0x5425890298aed601595a70ab815c96711a31bc65', { currency: 'USDC', decimals: 6 }],
]);

/** A network by its v1 name or its CAIP-2 id, or undefined when Spendtrail does not know it. */
export function findNetwork(id: string): X402Network | undefined {
  const key = id.trim().toLowerCase();
  return NETWORKS.find((n) => n.caip2 === key || n.name === key);
}

/** The asset of a token contract on a network (CAIP-2), or undefined. */
export const findAsset = (caip2: string, address: string): X402Asset | undefined => ASSETS.get(`${caip2}/${address.toLowerCase()}`);

/** Every registered (network, contract) pair, for documentation and error messages. */
export const registeredAssets = (): readonly { network: X402Network; address: string; asset: X402Asset }[] =>
  [...ASSETS].map(([key, asset]) => {
    const [caip2 = '', address = ''] = key.split('/');
    const network = NETWORKS.find((n) => n.caip2 === caip2) as X402Network;
    return { network, address, asset };
  });
