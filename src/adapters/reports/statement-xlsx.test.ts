import ExcelJS from 'exceljs';
import { Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { StatementRun } from '../../app/agent-statements.ts';
import { fakeLine as line, fakeRun as runOf, fakeStatement as statement } from '../../../test/statements-fakes.ts';
import { sheetNames, writeStatementXlsx } from './statement-xlsx.ts';

async function workbook(run: StatementRun): Promise<ExcelJS.Workbook> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await writeStatementXlsx(run, sink);
  const wb = new ExcelJS.Workbook();
  await wb.xlsx.load(Buffer.concat(chunks) as unknown as ExcelJS.Buffer);
  return wb;
}

/** The reporting-amount cell (column K) of the row whose first cell starts with `label`. */
function figure(ws: ExcelJS.Worksheet | undefined, match: (first: string, row: ExcelJS.Row) => boolean): ExcelJS.CellValue {
  let found: ExcelJS.CellValue = null;
  ws?.eachRow((r) => {
    const first = r.getCell(1).value;
    if (match(typeof first === 'string' ? first : '', r)) found = r.getCell(11).value;
  });
  return found;
}

describe('statement XLSX', () => {
  it('names sheets as Excel requires: 31 characters, no []:*?/\\, unique ignoring case, not History', () => {
    const names = sheetNames(['a/b:c*d?e[f]g\\h', 'History', "'quoted'", 'x'.repeat(40), 'X'.repeat(40), 'Bot', 'bot']);
    expect(names).toEqual(['a_b_c_d_e_f_g_h', 'History_', 'quoted', 'x'.repeat(31), `${'X'.repeat(29)}~2`, 'Bot', 'bot~2']);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(31);
  });

  it('writes totals as exact values, not formulas, when an amount is beyond what a number cell holds', async () => {
    const wb = await workbook(runOf(statement('big', [line(1, { reporting_amount: '12345678901234567.89' }), line(2, { reporting_amount: '0.01' })])));
    const ws = wb.worksheets[0];
    expect(figure(ws, (a) => a.startsWith('Net ('))).toBe('12345678901234567.90');
    expect(figure(ws, (a) => a.startsWith('Payments ('))).toBe('12345678901234567.90');
    // The line itself is exact text; the small one beside it is still a number.
    expect(figure(ws, (_a, r) => r.getCell(15).value === 'tx-1')).toBe('12345678901234567.89');
    expect(figure(ws, (_a, r) => r.getCell(15).value === 'tx-2')).toBe(0.01);
  });

  it('keeps a GL total a value where SUMIF would match loosely (wildcards, codes equal but for case)', async () => {
    const wb = await workbook(
      runOf(
        statement('gl', [
          line(1, { gl_account: '64*', reporting_amount: '1.00' }),
          line(2, { gl_account: '6400', reporting_amount: '2.00' }),
          line(3, { gl_account: 'abc', reporting_amount: '3.00' }),
          line(4, { gl_account: 'ABC', reporting_amount: '4.00' }),
          line(5, { gl_account: null, reporting_amount: '5.00' }),
        ]),
      ),
    );
    const ws = wb.worksheets[0];
    const gl = (code: string): ExcelJS.CellValue => figure(ws, (a, r) => /transactions?$/.test(a) && r.getCell(5).value === code);
    expect(gl('64*')).toBe(1);
    expect(gl('abc')).toBe(3);
    expect(gl('ABC')).toBe(4);
    expect(gl('6400')).toMatchObject({ formula: expect.stringMatching(/^SUMIF\(E\$\d+:E\$\d+,E\d+,K\$\d+:K\$\d+\)$/) as unknown, result: 2 });
    expect(gl('(uncoded)')).toMatchObject({ formula: expect.stringMatching(/^SUMIF\(E\$\d+:E\$\d+,"",K\$\d+:K\$\d+\)$/) as unknown, result: 5 });
  });

  it('rejects, rather than hanging, when the output fails', async () => {
    const failing = new Writable({
      write(_chunk, _enc, cb) {
        cb(new Error('disk full'));
      },
    });
    await expect(writeStatementXlsx(runOf(statement('x', [line(1, {})])), failing)).rejects.toThrow('disk full');
  });
});
