import type { Command } from 'commander';
import type { Principal } from '../../app/principal.ts';
import { createUser, disableUser, listUsers } from '../../app/users.ts';
import type { Runtime } from '../runtime.ts';
import { json, table } from './output.ts';

interface Ctx {
  readonly withRuntime: <T>(fn: (rt: Runtime) => Promise<T>) => Promise<T>;
  readonly actor: (rt: Runtime) => Promise<Principal>;
  readonly out: (s: string) => void;
}

/** Reads a password from standard input (first line), so it never appears in the process list or shell history. */
async function readStdinPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

/** `spendtrail user add|list|disable`: dashboard users (each change is a log entry). */
export function registerUserCommands(program: Command, { withRuntime, actor, out }: Ctx): void {
  const user = program.command('user').description('dashboard users: people who sign in with an email and a password');
  user
    .command('add')
    .description('add a user; without --password-stdin a password is generated and printed once')
    .requiredOption('--email <email>', 'their email: also their identity for segregation of duties')
    .requiredOption('--roles <roles>', 'comma-separated: admin, policy_admin, approver, finance, auditor')
    .option('--password-stdin', 'read the initial password (at least 12 characters) from standard input')
    .action(async (o: { email: string; roles: string; passwordStdin?: boolean }) => {
      const password = o.passwordStdin === true ? await readStdinPassword() : undefined;
      await withRuntime(async (rt) => {
        const r = await createUser(rt.deps, await actor(rt), {
          email: o.email,
          roles: o.roles.split(',').map((s) => s.trim()).filter((s) => s !== ''),
          ...(password === undefined ? {} : { password }),
        });
        out(`user ${r.user.user_id} ${r.user.email} (${r.user.roles.join(', ')})`);
        if (r.password !== null) out(`password (shown once): ${r.password}`);
      });
    });
  user
    .command('list', { isDefault: true })
    .option('--json')
    .action(async (o: { json?: boolean }) => {
      await withRuntime(async (rt) => {
        const users = await listUsers(rt.deps, await actor(rt));
        if (o.json === true) return out(json(users));
        out(table(['user_id', 'email', 'roles', 'status', 'created'], users.map((u) => [u.user_id, u.email, u.roles.join(','), u.disabled_at === null ? 'active' : `disabled ${u.disabled_at.toISOString()}`, `${u.created_at.toISOString()} by ${u.created_by}`])));
      });
    });
  user
    .command('disable <user_id_or_email>')
    .description('disable a user for good and end their sessions')
    .action(async (who: string) => {
      await withRuntime(async (rt) => {
        const by = await actor(rt);
        const found = who.includes('@') ? await rt.store.getUserByEmail(who.trim().toLowerCase()) : await rt.store.getUser(who);
        const u = await disableUser(rt.deps, by, found?.user_id ?? who);
        out(`disabled ${u.email}`);
      });
    });
}
