import { randomBytes } from 'node:crypto';
import { createUser, disableUser, listUsers, PERSON_ROLES, setUserRoles } from '../../../app/users.ts';
import type { UserView } from '../../../app/users.ts';
import { href, html } from '../html.ts';
import type { Html } from '../html.ts';
import type { WebRoutes } from '../plugin.ts';

/**
 * A generated password is shown once, to the admin who created the user, on the page after the
 * redirect: held in memory for a few minutes under a random id bound to that admin's session,
 * and deleted when shown. It never goes into a cookie, a URL or a log.
 */
const SHOW_ONCE_MS = 5 * 60 * 1000;
const generated = new Map<string, { session: string; email: string; password: string; at: number }>();

function keep(session: string, email: string, password: string): string {
  const now = Date.now();
  for (const [k, v] of generated) if (now - v.at > SHOW_ONCE_MS) generated.delete(k);
  const id = randomBytes(16).toString('base64url');
  generated.set(id, { session, email, password, at: now });
  return id;
}

function take(session: string, id: string | undefined): { email: string; password: string } | undefined {
  if (id === undefined) return undefined;
  const v = generated.get(id);
  if (v === undefined || v.session !== session || Date.now() - v.at > SHOW_ONCE_MS) return undefined;
  generated.delete(id);
  return v;
}

function roleBoxes(prefix: string, checked: readonly string[]): Html {
  return html`<fieldset><legend>Roles</legend>${PERSON_ROLES.map(
    (r) => html`<label for="${prefix}-${r}" class="check"><input type="checkbox" id="${prefix}-${r}" name="roles" value="${r}"${checked.includes(r) ? html` checked` : ''}> ${r}</label>`,
  )}</fieldset>`;
}

function userRow(u: UserView, csrf: string, self: string): Html {
  const disabled = u.disabled_at !== null;
  return html`<tr>
<td data-label="Email">${u.email}</td>
<td data-label="Roles">${u.roles.join(', ')}</td>
<td data-label="Status">${disabled ? html`<span class="badge bad">disabled ${u.disabled_at?.toISOString()}</span>` : html`<span class="badge ok">active</span>`}</td>
<td data-label="Created">${u.created_at.toISOString()} by ${u.created_by}</td>
<td data-label="Actions">${disabled
    ? ''
    : html`<details><summary>Change roles</summary><form method="post" action="/users/roles" class="stack">
<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="user_id" value="${u.user_id}">
${roleBoxes(`r-${u.user_id}`, u.roles)}<button type="submit">Save roles for ${u.email}</button></form></details>
${u.principal === self
        ? ''
        : html`<form method="post" action="/users/disable" data-confirm="${`Disable ${u.email}? They are signed out at once.`}">
<input type="hidden" name="csrf" value="${csrf}"><input type="hidden" name="user_id" value="${u.user_id}">
<button type="submit" class="danger">Disable ${u.email}</button></form>`}`}</td>
</tr>`;
}

export function userPages(r: WebRoutes): void {
  r.page('/users', ['admin'], async (req) => {
    const users = await listUsers(r.deps, req.session.principal);
    const shown = take(req.session.session_id, req.query.shown);
    const csrf = req.session.csrf;
    const body = html`
${shown === undefined
      ? ''
      : html`<div class="flash" role="status"><p>Password for <strong>${shown.email}</strong>, shown this once; hand it over in person or through a channel you trust:</p><pre>${shown.password}</pre></div>`}
<p class="muted">Every user, role change and disabling is an entry in the tamper-evident log. Disabling is final and signs the person out at once.</p>
<div class="table-wrap"><table class="responsive"><caption class="muted">${users.length} user(s)</caption>
<thead><tr><th scope="col">Email</th><th scope="col">Roles</th><th scope="col">Status</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
<tbody>${users.map((u) => userRow(u, csrf, req.session.principal.principal))}</tbody></table></div>
<h2>Add a user</h2>
<form method="post" action="/users" class="stack">
  <input type="hidden" name="csrf" value="${csrf}">
  <label for="u-email">Email<input id="u-email" name="email" type="email" required autocomplete="off"></label>
  ${roleBoxes('u-new', [])}
  <label for="u-password">Initial password (at least 12 characters; leave empty to generate one)<input id="u-password" name="password" type="password" autocomplete="new-password" minlength="12"></label>
  <button type="submit" class="primary">Add user</button>
</form>`;
    return { title: 'Users', body };
  });

  r.action('/users', ['admin'], async (req, form) => {
    const password = form.get('password') ?? '';
    const { user, password: made } = await createUser(r.deps, req.session.principal, {
      email: form.get('email') ?? '',
      roles: form.getAll('roles'),
      ...(password === '' ? {} : { password }),
    });
    if (made === null) return { redirect: '/users', flash: `Added ${user.email} (${user.roles.join(', ')}).` };
    return { redirect: href('/users', { shown: keep(req.session.session_id, user.email, made) }), flash: `Added ${user.email} (${user.roles.join(', ')}).` };
  });

  r.action('/users/roles', ['admin'], async (req, form) => {
    const u = await setUserRoles(r.deps, req.session.principal, { user_id: form.get('user_id') ?? '', roles: form.getAll('roles') });
    return { redirect: '/users', flash: `${u.email} now holds: ${u.roles.join(', ')}.` };
  });

  r.action('/users/disable', ['admin'], async (req, form) => {
    const u = await disableUser(r.deps, req.session.principal, form.get('user_id') ?? '');
    return { redirect: '/users', flash: `${u.email} is disabled and signed out.` };
  });
}
