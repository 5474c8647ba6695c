import { randomBytes } from 'node:crypto';

/** Injected id generation: time-ordered UUIDv7 keeps the unique indexes append-friendly. */
export interface IdSource {
  uuid(): string;
  secret(): string;
}

// Random bytes are drawn in blocks: one system call per 256 ids instead of one per id.
let pool = Buffer.alloc(0);
let offset = 0;
function random16(): Buffer {
  if (offset + 16 > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  const b = Buffer.from(pool.subarray(offset, offset + 16));
  offset += 16;
  return b;
}

export function uuidv7(nowMs: number): string {
  const b = random16();
  const ms = BigInt(nowMs);
  for (let i = 0; i < 6; i++) b[i] = Number((ms >> BigInt(8 * (5 - i))) & 0xffn);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x70;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const randomIds: IdSource = {
  uuid: () => uuidv7(Date.now()),
  secret: () => randomBytes(24).toString('base64url'),
};
