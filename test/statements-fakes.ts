import type { AgentStatement, StatementRun } from '../src/app/agent-statements.ts';
import { resolvePeriod } from '../src/domain/statement/period.ts';
import type { StatementHeader, StatementLine } from '../src/domain/statement/statement.ts';
import { StatementTotaller } from '../src/domain/statement/totals.ts';
import type { Instant } from '../src/domain/time.ts';

/** Statements built in memory for the writers' own tests: no database, read once like stored ones. */
const period = resolvePeriod({ month: '2026-03' }, 'UTC');
const org = { org_id: 'acme', name: 'Acme', reporting_currency: 'USD', timezone: 'UTC' };

/** Line n of a March statement (days cycle through 1–28). */
export function fakeLine(n: number, over: Partial<StatementLine>): StatementLine {
  const day = String(((n - 1) % 28) + 1).padStart(2, '0');
  return {
    tx_id: `tx-${n}`, seq: n, timestamp: `2026-03-${day}T10:00:00.000Z` as Instant, local_time: `2026-03-${day} 10:00:00`,
    type: 'payment', payment_rail: 'stripe', merchant: 'AWS', merchant_category: '4816', gl_account: '6400',
    gl_account_name: 'Cloud', business_purpose: 'x', approver: null, approved_after_the_fact: false, amount: '1.00',
    currency: 'USD', reporting_amount: '1.00', reporting_currency: 'USD', violations: [], refund_of: null, policy_snapshot_id: null,
    ...over,
  };
}

export function fakeStatement(agentId: string, lines: StatementLine[]): AgentStatement {
  const header: StatementHeader = {
    org, period, policies: [], generated_at: '2026-04-01T00:00:00.000Z' as Instant, as_of_tree_size: 1,
    agent: { agent_id: agentId, name: agentId, owner: 'o', cluster: 'c' },
  };
  const totaller = new StatementTotaller('USD', period, []);
  return {
    header,
    async *lines() {
      for (const l of lines) {
        totaller.add(l);
        yield await Promise.resolve(l);
      }
    },
    totals: () => totaller.totals(),
  };
}

export const fakeRun = (...statements: AgentStatement[]): StatementRun => ({
  org, period, cluster: statements.length > 1 ? 'c' : null, generated_at: '2026-04-01T00:00:00.000Z' as Instant, as_of_tree_size: 1, statements,
});

