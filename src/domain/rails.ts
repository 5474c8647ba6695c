/** Payment rails the ledger knows; a rail's natural id is unique per organisation. */
export const RAILS = ['stripe', 'x402', 'l402', 'ap2', 'ap4m', 'card', 'other'] as const;
export type Rail = (typeof RAILS)[number];
export const isRail = (s: string): s is Rail => (RAILS as readonly string[]).includes(s);
