export { checkpointBody, openCheckpoint, signCheckpoint } from './checkpoint.ts';
export type { Checkpoint } from './checkpoint.ts';
export { generateNoteSigner, isValidKeyName, noteKeyId, parseSignerKey, parseVerifierKey } from './note-key.ts';
export type { NoteSigner, NoteVerifier } from './note-key.ts';
export { openNote, signNote } from './signed-note.ts';
