import { exportStatus } from '../../../app/audit-export.ts';
import type { Role } from '../../../app/principal.ts';
import { monthBefore } from '../../../app/summaries.ts';
import { parseVerifierKey } from '../../../domain/checkpoint/note-key.ts';
import { SpendtrailError } from '../../../domain/errors.ts';
import type { Download, WebRequest, WebRoutes } from '../plugin.ts';
import type { ExportContext } from './exports-files.ts';
import { accounting, changeLog, evidenceZip, ledgerCsv, ledgerXlsx } from './exports-files.ts';
import { given } from './exports-period.ts';
import { renderExports } from './exports-view.ts';

/** Finance and auditors (and admins, who hold every role) export; the use cases check again. */
const EXPORTERS: readonly Role[] = ['finance', 'auditor'];

export function exportPages(r: WebRoutes): void {
  const verifier = parseVerifierKey(r.deps.signer.verifierKey);
  const context = async (req: WebRequest): Promise<ExportContext> => {
    const org = await r.deps.store.getOrg(req.session.principal.org_id);
    if (org === undefined) throw new SpendtrailError('ORG_NOT_FOUND', `no organisation ${req.session.principal.org_id}`);
    return { deps: r.deps, by: req.session.principal, org, query: given(req.query) };
  };
  const download = (path: string, make: (c: ExportContext) => Promise<Download>): void => {
    r.download(path, EXPORTERS, async (req) => make(await context(req)));
  };

  r.page('/exports', EXPORTERS, async (req) => {
    const c = await context(req);
    const status = r.options.exportSinkName === undefined ? null : await exportStatus(r.deps, c.by, r.options.exportSinkName);
    return { title: 'Exports', body: renderExports({ month: monthBefore(r.deps.clock.now(), c.org.timezone), status, timezone: c.org.timezone }) };
  });
  download('/exports/ledger.csv', ledgerCsv);
  download('/exports/ledger.xlsx', ledgerXlsx);
  download('/exports/policy-changes', changeLog);
  download('/exports/evidence.zip', (c) => evidenceZip(c, verifier));
  download('/exports/accounting', accounting);
}
