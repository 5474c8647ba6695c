import { sha256Hex } from '../domain/hash.ts';

export const MANIFEST = 'MANIFEST.sha256';

/** `sha256sum` format, "<hex>  <name>\n" for every file but the manifest, sorted by name. */
export function manifestOf(files: ReadonlyMap<string, Buffer>): string {
  return [...files.keys()]
    .filter((n) => n !== MANIFEST)
    .sort()
    .map((n) => `${sha256Hex(files.get(n) as Buffer)}  ${n}\n`)
    .join('');
}

/** Parses a manifest into name → hex, with the line each came from. */
export function parseManifest(text: string): Map<string, { hex: string; line: number }> {
  const out = new Map<string, { hex: string; line: number }>();
  text.split('\n').forEach((l, i) => {
    const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(l);
    if (m !== null) out.set(m[2] as string, { hex: m[1] as string, line: i + 1 });
    else if (l !== '') out.set(`(line ${i + 1})`, { hex: '', line: i + 1 });
  });
  return out;
}
