import type { Command } from 'commander';
import type { Principal } from '../../app/principal.ts';
import { parseInput, valuationRulesInput } from '../../app/schemas.ts';
import { setValuationRules, valuationRulesOf } from '../../app/valuation-rules.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { Runtime } from '../runtime.ts';
import { table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

/** `ASSET/QUOTE=RATE` with a source, e.g. `USDC/USD=1`. */
function parseRule(spec: string, source: string): { asset: string; quote: string; rate: string; source: string } {
  const m = /^([A-Za-z]{2,10})\/([A-Za-z]{3,10})=(\S+)$/.exec(spec.trim());
  if (m === null) throw new SpendtrailError('VALIDATION_FAILED', `"${spec}" is not ASSET/QUOTE=RATE (e.g. USDC/USD=1)`, { field: 'rule' });
  return { asset: m[1] ?? '', quote: m[2] ?? '', rate: m[3] ?? '', source };
}

export function registerValuationCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const v = program.command('valuation').description('how crypto assets (USDC, SAT, …) are valued in the reporting currency');
  v.command('show')
    .description('the rules in force')
    .action(async () => {
      await withRuntime(async (rt) => {
        const by = await actor(rt);
        const rules = await valuationRulesOf(rt.store, by.org_id);
        out(table(['asset', 'quote', 'rate', 'source'], rules.map((r) => [r.asset, r.quote, r.rate, r.source])));
      });
    });
  v.command('set')
    .description('replace the rules: each --rule ASSET/QUOTE=RATE with its --source (same order)')
    .requiredOption('--rule <spec...>', 'e.g. USDC/USD=1 SAT/USD=0.00065')
    .requiredOption('--source <text...>', 'what the ledger records as the rate source, one per rule')
    .action(async (o: { rule: string[]; source: string[] }) => {
      if (o.rule.length !== o.source.length) throw new SpendtrailError('VALIDATION_FAILED', 'give one --source per --rule', { field: 'source' });
      const rules = parseInput(valuationRulesInput, { rules: o.rule.map((r, i) => parseRule(r, o.source[i] ?? '')) });
      await withRuntime(async (rt) => {
        const set = await setValuationRules(rt.deps, await actor(rt), rules.rules);
        out(table(['asset', 'quote', 'rate', 'source'], set.map((r) => [r.asset, r.quote, r.rate, r.source])));
      });
    });
}
