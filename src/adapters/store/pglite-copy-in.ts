/**
 * The data of a `COPY … FROM STDIN` on PGlite, as pieces of COPY text. The PGlite dialect
 * recognises it as the only parameter of a query and sends the statement and its data as one
 * wire-protocol exchange (see `copyInMessage`).
 */
export class CopyInData {
  constructor(readonly pieces: readonly string[]) {}
}

// Frontend message types of the PostgreSQL wire protocol.
const QUERY = 0x51; // 'Q'
const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'

/**
 * One buffer holding a simple Query (the COPY statement), one CopyData message per piece and
 * CopyDone. PGlite hands a protocol message to the engine with bulk copies into its memory,
 * whereas its '/dev/blob' device copies COPY input one byte at a time in JavaScript (and the
 * Blob is copied twice before that). The text is UTF-8 encoded once, straight into the buffer.
 *
 * One CopyData per piece keeps each message the engine buffers small: its WebAssembly memory
 * grows to the largest message it has read and never shrinks.
 *
 * If the COPY fails (a constraint, bad text), the engine answers with an error and, as the
 * protocol specifies for a COPY started by a simple Query, drops the remaining CopyData and
 * CopyDone; the error reaches the caller as for any other statement.
 */
export function copyInMessage(sql: string, pieces: readonly string[]): Uint8Array {
  if (sql.includes('\0')) throw new Error('a COPY statement cannot contain a NUL character');
  const sqlBytes = Buffer.byteLength(sql, 'utf8');
  const lengths = pieces.map((p) => Buffer.byteLength(p, 'utf8'));
  let total = 1 + 4 + sqlBytes + 1 + 1 + 4;
  for (const n of lengths) total += 1 + 4 + n;
  const buf = Buffer.allocUnsafe(total);
  let at = buf.writeUInt8(QUERY, 0);
  at = buf.writeInt32BE(4 + sqlBytes + 1, at);
  at += buf.write(sql, at, 'utf8');
  at = buf.writeUInt8(0, at);
  pieces.forEach((piece, i) => {
    const n = lengths[i] ?? 0;
    at = buf.writeUInt8(COPY_DATA, at);
    at = buf.writeInt32BE(4 + n, at);
    at += buf.write(piece, at, 'utf8');
  });
  at = buf.writeUInt8(COPY_DONE, at);
  at = buf.writeInt32BE(4, at);
  if (at !== total) throw new Error(`COPY message length mismatch: wrote ${at} of ${total} bytes`);
  return buf;
}

/** The row count of a `COPY n` command tag, or undefined for any other tag. */
export function copiedRows(commandTag: string): number | undefined {
  const m = /^COPY (\d+)$/.exec(commandTag);
  return m === null ? undefined : Number(m[1]);
}
