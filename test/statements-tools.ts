import { execFile, spawnSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

/**
 * What the statement tests drive outside Node: LibreOffice (the XLSX opened as a spreadsheet
 * would open it) and poppler's pdftotext/pdfinfo. Absent, they are skipped loudly; under CI
 * their absence fails the run, as a missing PostgreSQL does.
 */
const run = promisify(execFile);

const checked = new Map<string, boolean>();

function available(tool: string, probe: string[], purpose: string): boolean {
  const known = checked.get(tool);
  if (known !== undefined) return known;
  const ok = spawnSync(tool, probe, { stdio: 'ignore' }).error === undefined;
  if (!ok && process.env.CI === 'true') throw new Error(`${tool} is required under CI to check ${purpose}`);
  if (!ok) console.warn(`\n!!! SKIPPED: ${tool} not installed: ${purpose} not checked.\n`);
  checked.set(tool, ok);
  return ok;
}

export const libreOfficeAvailable = (): boolean => available('soffice', ['--version'], 'the statement XLSX in a real spreadsheet');
export const popplerAvailable = (): boolean =>
  available('pdftotext', ['-v'], 'the statement PDF text') && available('pdfinfo', ['-v'], 'the statement PDF pages');

/** Collects what a writer puts into a stream it ends. */
export async function collect(write: (out: NodeJS.WritableStream) => Promise<void>): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => sink.once('end', () => resolve()));
  await write(sink);
  await ended;
  return Buffer.concat(chunks);
}

export const parseCsv = (text: string): Record<string, string>[] => parse<Record<string, string>>(text, { columns: true });
export const parseRows = (text: string): string[][] => parse(text, { relax_column_count: true });

/** A cell's text, or '' when it holds something else (a number, a date, a formula). */
export const cellText = (v: unknown): string => (typeof v === 'string' ? v : '');

/**
 * Every sheet of a workbook as LibreOffice shows it (cells "as shown", en-US, UTF-8), by sheet
 * name. A fresh profile per call: a shared one is locked by any other soffice running.
 */
export async function libreOfficeSheets(xlsx: string, dir: string): Promise<Map<string, string[][]>> {
  const base = xlsx.replace(/^.*\//, '').replace(/\.xlsx$/, '');
  const profile = pathToFileURL(join(dir, `lo-profile-${base}`)).href;
  // Tokens: comma, double quote, UTF-8, first line 1, no column formats, en-US, quote text off,
  // detect numbers, save as shown, export formulas off, no BOM, sheet -1 = every sheet to its own file.
  const filter = 'csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,true,false,false,-1';
  await run('soffice', [`-env:UserInstallation=${profile}`, '--headless', '--convert-to', filter, '--outdir', dir, xlsx], {
    timeout: 100_000,
    env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8', LANGUAGE: '' },
  });
  const out = new Map<string, string[][]>();
  for (const f of await readdir(dir)) {
    if (f.startsWith(`${base}-`) && f.endsWith('.csv')) out.set(f.slice(base.length + 1, -4), parseRows(await readFile(join(dir, f), 'utf8')));
  }
  return out;
}

/**
 * A copy of the workbook with every formula's cached result removed, so LibreOffice must compute
 * the formulas itself: what it then shows is what the formulas say, not what the writer cached.
 */
export async function withoutCachedResults(xlsx: Buffer, file: string): Promise<number> {
  const files = unzipSync(new Uint8Array(xlsx));
  let formulas = 0;
  for (const name of Object.keys(files)) {
    if (!/^xl\/worksheets\/sheet\d+\.xml$/.test(name)) continue;
    const xml = strFromU8(files[name] ?? new Uint8Array());
    files[name] = strToU8(
      xml.replace(/(<f>[^<]*<\/f>)<v>[^<]*<\/v>/g, (_m, f: string) => {
        formulas += 1;
        return f;
      }),
    );
  }
  await writeFile(file, zipSync(files));
  return formulas;
}

export async function pdfText(file: string): Promise<{ text: string; pages: number }> {
  const text = (await run('pdftotext', ['-enc', 'UTF-8', file, '-'], { maxBuffer: 16 << 20 })).stdout;
  const info = (await run('pdfinfo', [file])).stdout;
  return { text, pages: Number(/^Pages:\s+(\d+)/m.exec(info)?.[1] ?? 0) };
}

/** "1234567.80" → "1,234,567.80", as the PDF prints amounts; computed on the text. */
export function grouped(amount: string): string {
  const [int = '', frac] = amount.replace('-', '').split('.');
  const g = int.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${amount.startsWith('-') ? '-' : ''}${g}${frac === undefined ? '' : `.${frac}`}`;
}
