import { SpendtrailError } from '../errors.ts';
import { decodeBase64Strict } from './base64.ts';
import type { NoteSigner, NoteVerifier } from './note-key.ts';
import { openNote, signNote } from './signed-note.ts';

/** C2SP tlog-checkpoint: a signed commitment to the RFC 6962 tree head of a log. */
export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Buffer;
}

const ROOT_SIZE = 32;
const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const BAD_ORIGIN = /[\u0000-\u001f]/;

const invalid = (message: string): SpendtrailError => new SpendtrailError('CHECKPOINT_INVALID', message);

/** Origin, size and root lines; never extension lines, which monitors cannot audit. */
export function checkpointBody(cp: Checkpoint): string {
  if (cp.origin.length === 0 || BAD_ORIGIN.test(cp.origin)) {
    throw invalid('checkpoint origin must be a non-empty single line without control characters');
  }
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw invalid(`checkpoint size ${cp.size} is not a non-negative safe integer`);
  if (cp.root.length !== ROOT_SIZE) throw invalid(`checkpoint root is ${cp.root.length} bytes, expected ${ROOT_SIZE}`);
  return `${cp.origin}\n${cp.size}\n${cp.root.toString('base64')}\n`;
}

export function signCheckpoint(cp: Checkpoint, signer: NoteSigner): string {
  return signNote(checkpointBody(cp), signer);
}

/**
 * Verifies `note` against `verifier` and only then parses the body: an unverified text
 * means nothing. Rejects extension lines, since this log never signs any and a caller
 * given a Checkpoint would not see them.
 */
export function openCheckpoint(note: string, verifier: NoteVerifier): Checkpoint {
  const lines = openNote(note, verifier).slice(0, -1).split('\n');
  if (lines.length < 3) throw invalid(`checkpoint body has ${lines.length} lines, expected origin, size and root`);
  if (lines.length > 3) throw invalid('checkpoint has extension lines, which are not supported');
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin.length === 0) throw invalid('checkpoint origin is empty');
  if (!DECIMAL.test(sizeText)) throw invalid('checkpoint size must be a decimal number without leading zeros');
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw invalid(`checkpoint size ${sizeText} exceeds 2^53 - 1`);
  const root = decodeBase64Strict(rootText);
  if (root === undefined) throw invalid('checkpoint root is not canonical base64');
  if (root.length !== ROOT_SIZE) throw invalid(`checkpoint root is ${root.length} bytes, expected ${ROOT_SIZE}`);
  return { origin, size, root };
}
