import type { Command } from 'commander';
import type { Principal } from '../../app/principal.ts';
import type { RailEndpointView } from '../../app/rail-endpoints.ts';
import { addRailEndpoint, listRailEndpoints, revokeRailEndpoint } from '../../app/rail-endpoints.ts';
import { parseInput, text } from '../../app/schemas.ts';
import type { Runtime } from '../runtime.ts';
import { railEndpointInput } from '../http/stripe-routes.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

/** Where the rail posts to, relative to the server's URL (the server's address is the operator's to know). */
const pathOf = (e: RailEndpointView): string => `/v1/rails/${e.rail}/${e.endpoint_id}`;

export function registerRailCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const rails = program.command('rails').description('payment rails: the endpoints a rail calls (a Stripe webhook endpoint) and the secrets they are signed with');
  const endpoint = rails.command('endpoint').description('rail endpoints: add one per Stripe webhook endpoint, list, revoke');
  endpoint
    .command('add')
    .description('register an endpoint with the signing secret the rail shows for it (Stripe: the endpoint\'s whsec_… secret)')
    .requiredOption('--rail <rail>', 'the rail that calls it, e.g. stripe')
    .requiredOption('--secret <secret>', 'the signing secret (stored to verify signatures; never logged or shown again)')
    .option('--label <label>', 'a name for people, e.g. "Stripe live, issuing"')
    .option('--json')
    .action(async (o: { rail: string; secret: string; label?: string; json?: boolean }) => {
      await withRuntime(async (rt) => {
        const e = await addRailEndpoint(rt.deps, await actor(rt), parseInput(railEndpointInput, { rail: o.rail, secret: o.secret, label: o.label ?? null }));
        if (o.json === true) return out(json({ ...e, path: pathOf(e) }));
        out(`rail endpoint ${e.endpoint_id} (${e.rail}) added`);
        out(`point the rail at: <server URL>${pathOf(e)}`);
      });
    });
  endpoint
    .command('list')
    .description('the endpoints of the organisation, revoked ones included (secrets are never shown)')
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const list = await listRailEndpoints(rt.deps, await actor(rt));
        if (o.json === true) return out(json(list.map((e) => ({ ...e, path: pathOf(e) }))));
        out(table(
          ['endpoint', 'rail', 'label', 'created', 'by', 'revoked', 'path'],
          list.map((e) => [e.endpoint_id, e.rail, e.label ?? '', e.created_at, e.created_by, e.revoked_at ?? '', pathOf(e)]),
        ));
      });
    });
  endpoint
    .command('revoke <endpoint_id>')
    .description('revoke an endpoint: the rail\'s calls to it are refused from now on (404)')
    .action(async (id: string) => {
      await withRuntime(async (rt) => {
        const e = await revokeRailEndpoint(rt.deps, await actor(rt), parseInput(text(64).min(1), id, 'endpoint_id'));
        out(`rail endpoint ${e.endpoint_id} (${e.rail}) revoked at ${e.revoked_at ?? ''}`);
      });
    });
}
