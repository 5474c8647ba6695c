import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { zipSync } from 'fflate';
import type { AppDeps } from '../../app/deps.ts';
import type { Principal } from '../../app/principal.ts';
import { exportAccounting } from '../../app/accounting-export.ts';
import { accountingExportRequest } from '../../app/accounting-export-schema.ts';
import { parseInput } from '../../app/schemas.ts';
import { writeAccountingFiles } from '../../adapters/accounting/index.ts';

type Doc = (summary: string, body?: z.ZodType, tags?: string[]) => { schema: Record<string, unknown> };

/** Fixed timestamp: the same export always zips to the same bytes. */
const MTIME = new Date('2000-01-01T00:00:00Z');

/**
 * Accounting exports over HTTP: the body is the CLI's request (format, period, scope, settings).
 * One file comes back as itself; several (a split Xero journal, a roll-up drill-down) as a ZIP.
 * `x-spendtrail-report` carries the export's counts and totals as JSON.
 */
export function registerAccountingRoutes(app: FastifyInstance, deps: AppDeps, who: (req: FastifyRequest) => Principal, doc: Doc): void {
  app.post(
    '/v1/accounting/exports',
    doc('A period as balanced journal entries for QuickBooks Desktop (iif), Xero, NetSuite or hledger', accountingExportRequest, ['accounting']),
    async (req, reply) => {
      const r = await exportAccounting(deps, who(req), parseInput(accountingExportRequest, req.body), writeAccountingFiles);
      const report = JSON.stringify({ format: r.format, currency: r.journal.currency, ...r.journal.report }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
      void reply.header('x-spendtrail-report', report);
      const [only] = r.files;
      if (r.files.length === 1 && only !== undefined) {
        return reply.type(only.media_type).header('content-disposition', `attachment; filename="${only.name}"`).send(only.bytes);
      }
      const zip = zipSync(Object.fromEntries(r.files.map((f) => [f.name, [new Uint8Array(f.bytes), { mtime: MTIME }]])), { level: 6 });
      return reply
        .type('application/zip')
        .header('content-disposition', `attachment; filename="${r.context.base_name}-${r.format}.zip"`)
        .send(Buffer.from(zip));
    },
  );
}
