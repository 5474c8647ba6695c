import { createServer } from 'node:http';
import { SpendtrailError } from '../../domain/errors.ts';

export interface RedirectResult {
  readonly code: string;
  readonly realm_id: string;
  readonly state: string;
}

/** Whether the redirect URI points at this machine, so a one-shot listener can catch it. */
export function isLoopbackRedirect(redirectUri: string): boolean {
  try {
    const u = new URL(redirectUri);
    return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1') && u.port !== '';
  } catch {
    return false;
  }
}

const page = (title: string, text: string): string =>
  `<!doctype html><meta charset="utf-8"><title>${title}</title><p style="font-family:sans-serif">${text}</p>`;

/**
 * Waits for Intuit's redirect after consent (`?code=…&state=…&realmId=…`, or `?error=…`) on the
 * redirect URI's port on 127.0.0.1, answers the browser, and stops listening. Only a request
 * carrying the expected state is taken: anything else is answered 400 and ignored.
 */
export function awaitRedirect(redirectUri: string, expectedState: string, timeoutMs: number, onListening?: () => void): Promise<RedirectResult> {
  const target = new URL(redirectUri);
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      const u = new URL(req.url ?? '/', redirectUri);
      if (u.pathname !== target.pathname || u.searchParams.get('state') !== expectedState) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Spendtrail', 'This is not the authorization Spendtrail is waiting for.'));
        return;
      }
      const error = u.searchParams.get('error');
      const code = u.searchParams.get('code');
      const realm = u.searchParams.get('realmId');
      if (error !== null || code === null || realm === null) {
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' }).end(page('Spendtrail', 'QuickBooks did not authorize Spendtrail. You can close this tab.'));
        done(new SpendtrailError('VALIDATION_FAILED', `Intuit answered ${error ?? 'without a code or realmId'}: the connection was not authorized`, { field: 'code' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page('Spendtrail', 'Spendtrail is connected to QuickBooks. You can close this tab.'));
      done(null, { code, realm_id: realm, state: expectedState });
    });
    const timer = setTimeout(() => done(new SpendtrailError('VALIDATION_FAILED', `no answer from Intuit within ${Math.round(timeoutMs / 1000)} s`, { field: 'code' })), timeoutMs);
    function done(err: Error | null, result?: RedirectResult): void {
      clearTimeout(timer);
      server.close();
      server.closeAllConnections();
      if (err !== null || result === undefined) reject(err ?? new Error('no result'));
      else resolve(result);
    }
    server.once('error', (e) => done(e));
    server.listen(Number(target.port), '127.0.0.1', onListening);
  });
}
