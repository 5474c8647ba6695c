import type { FastifyReply, FastifyRequest } from 'fastify';

/** Reads one cookie from the request header; the dashboard needs two cookies, not a plugin. */
export function readCookie(req: FastifyRequest, name: string): string | undefined {
  const header = req.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** HttpOnly and SameSite=Strict always; Secure when the server sits behind TLS. */
export function setCookie(reply: FastifyReply, name: string, value: string, o: { secureCookies?: boolean; maxAge?: number }): void {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', 'SameSite=Strict'];
  if (o.secureCookies === true) parts.push('Secure');
  if (o.maxAge !== undefined) parts.push(`Max-Age=${o.maxAge}`);
  appendSetCookie(reply, parts.join('; '));
}

export function clearCookie(reply: FastifyReply, name: string, o: { secureCookies?: boolean }): void {
  setCookie(reply, name, '', { ...o, maxAge: 0 });
}

function appendSetCookie(reply: FastifyReply, line: string): void {
  const prior = reply.getHeader('set-cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior.map(String) : [String(prior)];
  reply.header('set-cookie', [...list, line]);
}
