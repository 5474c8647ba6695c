import type { NoteVerifier } from '../domain/checkpoint/note-key.ts';
import { dayAfterMonth } from '../domain/summary/rollup.ts';
import { monthBounds } from '../domain/time.ts';
import type { AppDeps } from './deps.ts';
import type { Principal } from './principal.ts';
import { generateSummary, monthBefore } from './summaries.ts';

/** The identity scheduled summaries are made under: it reads with the finance role, nothing else. */
export const scheduler = (orgId: string): Principal => ({
  org_id: orgId,
  principal: 'scheduler@spendtrail',
  roles: ['finance'],
  agent_id: null,
  key_id: null,
});

export interface Generated {
  readonly org_id: string;
  readonly period: string;
  readonly cluster: string;
  readonly summary_id: string;
}

/**
 * Makes the previous month's summary for every cluster of every organisation that does not
 * have one yet. Run at start (catching up after downtime on the 1st) and periodically: it is
 * idempotent, and the check inside the log append makes concurrent runs in several processes
 * produce one summary per cluster and month.
 */
export async function runDueSummaries(deps: AppDeps, verifier: NoteVerifier): Promise<Generated[]> {
  const now = deps.clock.now();
  const out: Generated[] = [];
  for (const org of await deps.store.listOrgs()) {
    const month = monthBefore(now, org.timezone);
    // An organisation created after that month ended has nothing to report for it, unless
    // history was recorded for it (an import of the months before).
    const { end } = monthBounds(month, org.timezone);
    if (org.created_at.getTime() >= Date.parse(end)) {
      const groups = await deps.store.rollupGroups(org.org_id, `${month}-01`, dayAfterMonth(month), null);
      if ((groups.find((g) => g.by === 'total')?.transactions ?? 0) === 0) continue;
    }
    const clusters = [...new Set((await deps.store.getAgents(org.org_id)).map((a) => a.cluster))].sort();
    for (const cluster of clusters) {
      const r = await generateSummary(deps, scheduler(org.org_id), { month, cluster }, { verifier, scheduled: true });
      if (r.created) out.push({ org_id: org.org_id, period: month, cluster, summary_id: r.summary.document.summary_id });
    }
  }
  return out;
}

/** Runs `runDueSummaries` at start and then every `everyMs`, one round at a time. */
export class SummaryScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly deps: AppDeps,
    private readonly verifier: NoteVerifier,
    private readonly onRound: (generated: Generated[]) => void,
    private readonly onError: (e: unknown) => void,
    private readonly everyMs = 10 * 60 * 1000,
  ) {}

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.everyMs);
    this.timer.unref();
  }

  tick(): void {
    if (this.running !== null) return;
    this.running = runDueSummaries(this.deps, this.verifier)
      .then((g) => this.onRound(g))
      .catch((e: unknown) => this.onError(e))
      .finally(() => {
        this.running = null;
      });
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
