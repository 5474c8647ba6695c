/**
 * The two drivers return the same SQL types differently (pg: int8 as string, bytea as Buffer;
 * PGlite: int8 as number or bigint, bytea as Uint8Array). Every row passes through here.
 */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') {
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new Error(`integer out of range: ${String(v)}`);
    return n;
  }
  throw new Error(`expected an integer, got ${typeof v}`);
}

export function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' || typeof v === 'string') return BigInt(v);
  if (v === null || v === undefined) return 0n;
  throw new Error(`expected an integer, got ${typeof v}`);
}

export function toBuffer(v: unknown): Buffer {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`expected bytes, got ${typeof v}`);
}

export function toDate(v: unknown): Date {
  if (v instanceof Date) return v;
  if (typeof v === 'string') return new Date(v);
  throw new Error(`expected a timestamp, got ${typeof v}`);
}

export const toDateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : toDate(v));
export const toStr = (v: unknown): string => (typeof v === 'string' ? v : String(v));
export const toStrOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : toStr(v));

export function toStringArray(v: unknown): string[] {
  if (Array.isArray(v)) return v.map(toStr);
  // pg without an array parser for a type returns the literal "{a,b}".
  if (typeof v === 'string') return v === '{}' ? [] : v.slice(1, -1).split(',');
  return [];
}
