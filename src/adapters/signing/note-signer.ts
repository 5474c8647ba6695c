import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { signCheckpoint } from '../../domain/checkpoint/checkpoint.ts';
import type { NoteSigner } from '../../domain/checkpoint/note-key.ts';
import { generateNoteSigner, parseSignerKey } from '../../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { CheckpointSigner } from '../../app/ports/signer.ts';

export interface LoadedSigner extends CheckpointSigner {
  readonly note: NoteSigner;
  readonly keyFile: string | null;
}

function fromText(signerKey: string, verifierKey: string, keyFile: string | null): LoadedSigner {
  const note = parseSignerKey(signerKey.trim());
  return { verifierKey, note, keyFile, sign: (cp) => signCheckpoint(cp, note) };
}

/** Derives the verifier key text from a signer key (same name, hash and public key). */
function verifierOf(signerKey: string): string {
  const note = parseSignerKey(signerKey.trim());
  const raw = note.publicKey.export({ format: 'jwk' }).x ?? '';
  const pub = Buffer.concat([Buffer.from([1]), Buffer.from(raw, 'base64url')]);
  return `${note.name}+${note.keyId.toString('hex')}+${pub.toString('base64')}`;
}

/**
 * The checkpoint key, kept outside the database: `SPENDTRAIL_SIGNING_KEY` (the key text) if
 * set, else the key file, created with mode 0600 on first use when `create` is true.
 */
export function loadSigner(options: { keyFile: string; name: string; create: boolean; env?: NodeJS.ProcessEnv }): LoadedSigner {
  const fromEnv = options.env?.SPENDTRAIL_SIGNING_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromText(fromEnv, verifierOf(fromEnv), null);
  if (existsSync(options.keyFile)) {
    const text = readFileSync(options.keyFile, 'utf8');
    return fromText(text, verifierOf(text), options.keyFile);
  }
  if (!options.create) {
    throw new SpendtrailError('SIGNING_KEY_MISSING', `no checkpoint signing key at ${options.keyFile} (or SPENDTRAIL_SIGNING_KEY)`);
  }
  const { signerKey, verifierKey } = generateNoteSigner(options.name);
  mkdirSync(dirname(options.keyFile), { recursive: true });
  writeFileSync(options.keyFile, `${signerKey}\n`, { mode: 0o600 });
  chmodSync(options.keyFile, 0o600);
  return fromText(signerKey, verifierKey, options.keyFile);
}

/** An in-memory key, for tests and benchmarks. */
export function ephemeralSigner(name = 'spendtrail.test'): LoadedSigner {
  const { signerKey, verifierKey } = generateNoteSigner(name);
  return fromText(signerKey, verifierKey, null);
}
