import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { BlobSink, PutResult, SinkStatus } from '../../app/ports/blob-sink.ts';
import { SpendtrailError } from '../../domain/errors.ts';

/** Temp files are written next to their target under this name prefix; keys may not use it. */
const TEMP_PREFIX = '.spendtrail-tmp-';

export const sha256Hex = (body: Buffer): string => createHash('sha256').update(body).digest('hex');

/**
 * The same digest from Web Crypto, which hashes on libuv's thread pool: a put hashes its body
 * while its file is written and synced, and the calling thread (the exporter encoding the next
 * segment) is not held up by it.
 */
const sha256HexAsync = async (body: Buffer): Promise<string> => Buffer.from(await globalThis.crypto.subtle.digest('SHA-256', body)).toString('hex');

/**
 * Refuses keys that could escape the sink's root or mean different things on different
 * stores: empty, absolute, backslashes, NUL, empty/`.`/`..` segments, our temp-file prefix.
 * With `prefix: true` an empty string and a trailing "/" are allowed (a listing prefix).
 */
export function assertSafeKey(key: string, opts: { prefix?: boolean; field?: string } = {}): void {
  const field = opts.field ?? 'key';
  const bad = (why: string): never => {
    throw new SpendtrailError('VALIDATION_FAILED', `invalid object ${opts.prefix === true ? 'prefix' : 'key'} ${JSON.stringify(key)}: ${why}`, { field });
  };
  if (typeof key !== 'string') bad('not a string');
  if (key === '') {
    if (opts.prefix === true) return;
    bad('empty');
  }
  if (key.includes('\\')) bad('backslashes are not allowed');
  if (key.includes('\0')) bad('NUL is not allowed');
  if (key.startsWith('/') || /^[A-Za-z]:/.test(key)) bad('absolute paths are not allowed');
  const segments = key.split('/');
  if (opts.prefix === true && segments.at(-1) === '') segments.pop();
  for (const s of segments) {
    if (s === '') bad('empty path segment');
    if (s === '.' || s === '..') bad('"." and ".." segments are not allowed');
    if (s.startsWith(TEMP_PREFIX)) bad(`segments may not start with ${TEMP_PREFIX}`);
  }
}

const isCode = (e: unknown, ...codes: string[]): boolean =>
  typeof e === 'object' && e !== null && codes.includes(String((e as { code?: unknown }).code));

async function readOrNull(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (e) {
    if (isCode(e, 'ENOENT')) return null;
    throw e;
  }
}

/** fsyncs a directory so a new entry in it survives a crash (best effort where unsupported). */
async function syncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } catch (e) {
    if (!isCode(e, 'EINVAL', 'EPERM', 'EISDIR')) throw e;
  } finally {
    await h.close();
  }
}

/**
 * Write-once objects as files under `dir`. Each put writes a temp file next to the target,
 * fsyncs it, makes it read-only (0444), and then links it into place: `link(2)` is atomic like
 * `rename(2)` (no partial object is ever visible, even after a crash) but, unlike rename, refuses
 * to replace an existing file, so of two racing writers the first one stands.
 */
export function filesystemSink(dir: string): BlobSink {
  const pathOf = (key: string): string => join(dir, ...key.split('/'));

  const existing = (key: string, body: Buffer, sha256: string, current: Buffer): PutResult => {
    const theirs = sha256Hex(current);
    if (theirs === sha256 && current.equals(body)) return { key, version_id: null, sha256, existed: true };
    throw new SpendtrailError('EXPORT_CONFLICT', `object ${key} already exists with different content`, {
      field: 'key',
      details: { key, existing_sha256: theirs, sha256 },
    });
  };

  const putFile = async (key: string, body: Buffer): Promise<PutResult> => {
    assertSafeKey(key);
    const digest = sha256HexAsync(body);
    // Awaited on every path below; until then a failure must not surface as unhandled.
    digest.catch(() => undefined);
    const target = pathOf(key);
    const current = await readOrNull(target);
    if (current !== null) return existing(key, body, await digest, current);

    const parent = dirname(target);
    await mkdir(parent, { recursive: true });
    const tmp = join(parent, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      const h = await open(tmp, 'wx', 0o600);
      try {
        await h.writeFile(body);
        await h.sync();
      } finally {
        await h.close();
      }
      await chmod(tmp, 0o444);
      try {
        await link(tmp, target);
      } catch (e) {
        if (!isCode(e, 'EEXIST')) throw e;
        // Someone else wrote the key between our read and our link: theirs stands.
        return existing(key, body, await digest, await readFile(target));
      }
      await syncDir(parent);
      return { key, version_id: null, sha256: await digest, existed: false };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  };

  return {
    async put(key, body) {
      try {
        return await putFile(key, body);
      } catch (e) {
        // A full or read-only disk is the destination being unavailable, not a bug: the export
        // keeps its plan and retries the same segment later (the temp file is already gone).
        if (isCode(e, 'ENOSPC', 'EDQUOT', 'EROFS', 'EIO')) {
          throw new SpendtrailError('SINK_UNAVAILABLE', `export directory ${dir}: ${(e as Error).message}`, { cause: e });
        }
        throw e;
      }
    },

    async get(key) {
      assertSafeKey(key);
      return readOrNull(pathOf(key));
    },

    async list(prefix) {
      assertSafeKey(prefix, { prefix: true, field: 'prefix' });
      // Walk only the deepest directory the prefix names, then filter by the full prefix.
      const slash = prefix.lastIndexOf('/');
      const base = slash < 0 ? '' : prefix.slice(0, slash);
      const keys: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(rel === '' ? dir : pathOf(rel), { withFileTypes: true });
        } catch (e) {
          if (isCode(e, 'ENOENT', 'ENOTDIR')) return;
          throw e;
        }
        for (const ent of entries) {
          if (ent.name.startsWith(TEMP_PREFIX)) continue;
          const k = rel === '' ? ent.name : `${rel}/${ent.name}`;
          if (ent.isDirectory()) await walk(k);
          else if (ent.isFile() && k.startsWith(prefix)) keys.push(k);
        }
      };
      await walk(base);
      return keys.sort();
    },

    async check(): Promise<SinkStatus> {
      try {
        await mkdir(dir, { recursive: true });
        await access(dir, constants.W_OK);
      } catch (e) {
        throw new SpendtrailError('SINK_UNAVAILABLE', `export directory ${dir} is not usable: ${(e as Error).message}`, { cause: e });
      }
      return { kind: 'filesystem', location: dir, object_lock: null };
    },
  };
}
