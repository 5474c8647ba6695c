import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakeLine, fakeRun, fakeStatement } from '../../../test/statements-fakes.ts';
import { collect, pdfText, popplerAvailable } from '../../../test/statements-tools.ts';
import { writeStatementPdf } from './statement-pdf.ts';

const LONG = 'https://very-long-merchant-name.example.com/path/that/never/ends/at/all';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'statement-pdf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('statement PDF', () => {
  it('wraps long text instead of cutting it, prints what WinAnsi lacks as "?", and numbers every page', async (ctx) => {
    if (!popplerAvailable()) return ctx.skip();
    const lines = Array.from({ length: 80 }, (_, i) => fakeLine(i + 1, { merchant: i === 3 ? LONG : i === 5 ? 'Zürich 東京 Store' : 'AWS' }));
    const run = fakeRun(fakeStatement('bot-a', lines), fakeStatement('bot-b', []));
    const file = join(dir, 'wrap.pdf');
    await writeFile(file, await collect((out) => writeStatementPdf(run, out)));
    const { text, pages } = await pdfText(file);
    // The long name is all there, across lines of its column; in reading order the MCC beside
    // its first line comes between the pieces.
    expect(text.replace(/\s+/g, '').replace(/4816/g, '')).toContain(LONG);
    expect(text).toContain('Zürich ?? Store');
    expect(pages).toBeGreaterThan(2);
    const perPage = text.split('\f').filter((p) => p.trim() !== '');
    perPage.forEach((p, i) => expect(p).toContain(`Page ${i + 1} of ${pages}`));
    // bot-b starts on its own page and says it has nothing; the cluster page comes last.
    expect(perPage.find((p) => p.includes('bot-b - bot-b'))).toContain('No transactions in this period.');
    expect(perPage[pages - 1]).toContain('Cluster total (2 agents)');
    expect(perPage[pages - 1]).toContain('80.00');
  });

  it('rejects, rather than hanging, when the output fails', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk full'));
      },
    });
    await expect(writeStatementPdf(fakeRun(fakeStatement('x', [fakeLine(1, {})])), failing)).rejects.toThrow('disk full');
  });
});
