import { hasRole } from '../../app/principal.ts';
import type { Role } from '../../app/principal.ts';
import { html } from './html.ts';
import type { Html } from './html.ts';
import type { WebSession } from './web-session.ts';
import { PEOPLE } from './web-session.ts';

/** The navigation: a link is shown only to the roles that may open its page. */
export const NAV: readonly { readonly path: string; readonly label: string; readonly roles: readonly Role[] }[] = [
  { path: '/', label: 'Overview', roles: PEOPLE },
  { path: '/ledger', label: 'Ledger', roles: PEOPLE },
  { path: '/policies', label: 'Policies', roles: PEOPLE },
  { path: '/approvals', label: 'Approvals', roles: PEOPLE },
  { path: '/summaries', label: 'Summaries', roles: PEOPLE },
  { path: '/exports', label: 'Exports', roles: ['finance', 'auditor'] },
  { path: '/users', label: 'Users', roles: ['admin'] },
];

export interface LayoutInput {
  readonly title: string;
  readonly session: WebSession | null;
  /** The nav path to mark as current. */
  readonly active?: string;
  readonly body: Html;
  /** A one-line notice after a redirect (e.g. "Change approved"). */
  readonly flash?: string | null;
  readonly error?: { readonly code: string; readonly message: string; readonly field?: string | undefined } | null;
}

/** The page shell: no inline script or style, so the Content-Security-Policy can forbid both. */
export function layout(p: LayoutInput): Html {
  const nav =
    p.session === null
      ? null
      : html`<nav aria-label="Main"><ul>${NAV.filter((n) => hasRole(p.session!.principal, ...n.roles)).map(
          (n) => html`<li><a href="${n.path}"${n.path === p.active ? html` aria-current="page"` : ''}>${n.label}</a></li>`,
        )}</ul></nav>
        <form method="post" action="/logout" class="signout"><input type="hidden" name="csrf" value="${p.session.csrf}">
          <span class="who">${p.session.display} · ${p.session.principal.roles.join(', ')}</span>
          <button type="submit">Sign out</button></form>`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${p.title} · Spendtrail</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/app.css"><script src="/assets/app.js" defer></script></head>
<body><a class="skip" href="#main">Skip to content</a>
<header><a class="brand" href="/">Spendtrail</a>${nav}</header>
<main id="main"><h1>${p.title}</h1>
${p.flash ? html`<p class="flash" role="status">${p.flash}</p>` : ''}
${p.error ? html`<div class="error" role="alert"><strong>${p.error.code}</strong>: ${p.error.message}${p.error.field ? html` (field <code>${p.error.field}</code>)` : ''}</div>` : ''}
${p.body}</main></body></html>`;
}
