import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretBox } from '../../app/qbo-ports.ts';
import { SpendtrailError } from '../../domain/errors.ts';

/**
 * Secrets at rest (the QuickBooks OAuth tokens): AES-256-GCM with a 96-bit random IV per
 * seal and the storage place (`qbo:<org>:<realm>:refresh_token`) as additional authenticated
 * data, so a ciphertext moved to another row or field does not open. Sealed text:
 *
 *   v1.<key id>.<iv>.<ciphertext>.<tag>      (base64url parts)
 *
 * The key id (first 8 hex digits of SHA-256 of the key) tells "stored under another key" apart
 * from "altered".
 *
 * The key: SPENDTRAIL_SECRET_KEY (32 bytes as 64 hex digits or base64) when set; otherwise
 * `<home>/secret.key`, created on first use with 32 random bytes and mode 0600. A key file
 * readable by group or others is refused, as ssh refuses such a private key.
 */

const KEY_BYTES = 32;
const IV_BYTES = 12;
export const SECRET_KEY_FILE = 'secret.key';

export interface LoadedSecretKey {
  readonly key: Buffer;
  readonly source: 'env' | 'file';
  readonly path: string | null;
}

function decodeKey(text: string, where: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (key.length !== KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(t) && !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t))) {
    throw new SpendtrailError('VALIDATION_FAILED', `${where}: a secret key is 32 bytes, as 64 hex digits or base64 (e.g. \`openssl rand -base64 32\`)`, {
      field: 'SPENDTRAIL_SECRET_KEY',
    });
  }
  return key;
}

export function loadSecretKey(env: NodeJS.ProcessEnv, home: string, options: { create?: boolean } = {}): LoadedSecretKey {
  const fromEnv = env.SPENDTRAIL_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return { key: decodeKey(fromEnv, 'SPENDTRAIL_SECRET_KEY'), source: 'env', path: null };
  const path = join(home, SECRET_KEY_FILE);
  if (!existsSync(path)) {
    if (options.create === false) throw new SpendtrailError('VALIDATION_FAILED', `no secret key: set SPENDTRAIL_SECRET_KEY or create ${path}`, { field: 'SPENDTRAIL_SECRET_KEY' });
    mkdirSync(home, { recursive: true });
    try {
      // "wx": never overwrite a key another process created meanwhile; tokens sealed with it would be lost.
      writeFileSync(path, `${randomBytes(KEY_BYTES).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const mode = statSync(path).mode & 0o077;
  if (mode !== 0 && process.platform !== 'win32') {
    throw new SpendtrailError('VALIDATION_FAILED', `${path} is readable by others (mode ${(statSync(path).mode & 0o777).toString(8)}): chmod 600 it`, { field: 'SPENDTRAIL_SECRET_KEY' });
  }
  return { key: decodeKey(readFileSync(path, 'utf8'), path), source: 'file', path };
}

const b64 = (b: Buffer): string => b.toString('base64url');
const keyId = (key: Buffer): string => createHash('sha256').update(key).digest('hex').slice(0, 8);

export function aesGcmSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new SpendtrailError('INTERNAL', 'AES-256-GCM needs a 32-byte key');
  const id = keyId(key);
  return {
    seal(plain, context) {
      const iv = randomBytes(IV_BYTES);
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return ['v1', id, b64(iv), b64(body), b64(c.getAuthTag())].join('.');
    },
    open(sealed, context) {
      const parts = sealed.split('.');
      const [version, kid, iv, body, tag] = parts;
      if (parts.length !== 5 || version !== 'v1' || kid === undefined || iv === undefined || body === undefined || tag === undefined) {
        throw new Error('not a sealed secret');
      }
      if (kid !== id) throw new Error(`sealed under key ${kid}, and this key is ${id}`);
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
      d.setAAD(Buffer.from(context, 'utf8'));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        return Buffer.concat([d.update(Buffer.from(body, 'base64url')), d.final()]).toString('utf8');
      } catch {
        throw new Error('the sealed secret was altered, or belongs elsewhere');
      }
    },
  };
}
