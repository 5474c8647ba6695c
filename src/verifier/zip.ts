import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unzipSync, zipSync } from 'fflate';

const isZip = (path: string): boolean => path.toLowerCase().endsWith('.zip');

/** Fixed timestamp: the same bundle always zips to the same bytes. */
const MTIME = new Date('2000-01-01T00:00:00Z');

/** Writes a bundle as a .zip file (when the path ends in .zip) or as files in a directory. */
export function writeBundle(path: string, files: ReadonlyMap<string, Buffer>): void {
  if (isZip(path)) {
    const entries: Record<string, [Uint8Array, { mtime: Date }]> = {};
    for (const [name, buf] of files) entries[name] = [new Uint8Array(buf), { mtime: MTIME }];
    writeFileSync(path, zipSync(entries, { level: 6 }));
    return;
  }
  mkdirSync(path, { recursive: true });
  for (const [name, buf] of files) writeFileSync(join(path, name), buf);
}

/** Reads a bundle from a .zip file or a directory (its regular files, not subdirectories). */
export function readBundle(path: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path).sort()) {
      if (statSync(join(path, name)).isFile()) files.set(name, readFileSync(join(path, name)));
    }
    return files;
  }
  for (const [name, data] of Object.entries(unzipSync(new Uint8Array(readFileSync(path))))) {
    if (!name.endsWith('/')) files.set(name, Buffer.from(data));
  }
  return files;
}
