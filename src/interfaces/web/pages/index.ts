import type { PageModule } from '../plugin.ts';
import { overviewPages } from './overview.ts';
import { ledgerPages } from './ledger.ts';
import { transactionPages } from './transaction.ts';
import { userPages } from './users.ts';
import { policyPages } from './policies.ts';
import { approvalPages } from './approvals.ts';
import { summaryPages } from './summaries.ts';
import { exportPages } from './exports.ts';

/** Every dashboard page module, in nav order. */
export const WEB_PAGES: readonly PageModule[] = [
  overviewPages,
  ledgerPages,
  transactionPages,
  policyPages,
  approvalPages,
  summaryPages,
  exportPages,
  userPages,
];
