import { SpendtrailError } from '../../domain/errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses bytes that must be one JSON document (a rail record as posted, a JSON export). Bytes
 * that are not UTF-8 are refused rather than decoded with replacement characters: the stored
 * payload and what was read from it must be the same text.
 */
export function parseJsonDocument(bytes: Uint8Array, what: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SpendtrailError('MALFORMED_PAYLOAD', `${what} is not UTF-8 text`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new SpendtrailError('MALFORMED_PAYLOAD', `${what} is not valid JSON: ${(e as Error).message}`);
  }
}
