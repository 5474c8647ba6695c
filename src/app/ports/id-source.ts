import { randomBytes } from 'node:crypto';

/** Injected id generation: time-ordered UUIDv7 keeps the unique indexes append-friendly. */
export interface IdSource {
  uuid(): string;
  secret(): string;
}

function uuidv7(nowMs: number): string {
  const b = randomBytes(16);
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
