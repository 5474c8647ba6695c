import { z } from 'zod';
import type { QboAuthServer, QboTokenGrant } from '../../app/qbo-ports.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { FetchFn, QboRetryOptions } from './http.ts';
import { DEFAULT_RETRY, fetchWithRetry } from './http.ts';

/**
 * Intuit's OAuth 2.0 authorization-code flow for the QuickBooks Online Accounting API:
 * consent at https://appcenter.intuit.com/connect/oauth2 with scope
 * com.intuit.quickbooks.accounting, then code and refresh-token grants at
 * https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer, a form POST authenticated with
 * HTTP Basic (client id and secret). Answers: `{token_type, access_token, expires_in: 3600,
 * refresh_token, x_refresh_token_expires_in}`, or `{"error": "invalid_grant"}` (400) for a code
 * or refresh token that is used up, expired or revoked.
 */

export const INTUIT_AUTHORIZE_URL = 'https://appcenter.intuit.com/connect/oauth2';
export const INTUIT_TOKEN_URL = 'https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer';
export const ACCOUNTING_SCOPE = 'com.intuit.quickbooks.accounting';

export interface QboOAuthConfig {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly redirectUri: string;
  readonly authorizeUrl?: string;
  readonly tokenUrl?: string;
  readonly fetch?: FetchFn;
  readonly retry?: QboRetryOptions;
}

const tokenAnswer = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.coerce.number().int().positive(),
  x_refresh_token_expires_in: z.coerce.number().int().positive().optional(),
});

const errorAnswer = z.object({ error: z.string(), error_description: z.string().optional() });

const RECONNECT = 'run `spendtrail qbo connect` to authorize Spendtrail again';

export function qboAuthServer(cfg: QboOAuthConfig): QboAuthServer {
  const fetchFn = cfg.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const tokenUrl = cfg.tokenUrl ?? INTUIT_TOKEN_URL;
  const basic = Buffer.from(`${cfg.clientId}:${cfg.clientSecret}`).toString('base64');

  async function grant(form: Record<string, string>, what: 'code' | 'refresh'): Promise<QboTokenGrant> {
    // Retried on 429/5xx/no answer only: a grant Intuit refused stays refused.
    const res = await fetchWithRetry(
      fetchFn,
      tokenUrl,
      {
        method: 'POST',
        headers: { Authorization: `Basic ${basic}`, Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form).toString(),
      },
      cfg.retry ?? DEFAULT_RETRY,
      what === 'code' ? 'exchanging the authorization code' : 'refreshing the access token',
    );
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    if (res.ok) {
      const t = tokenAnswer.safeParse(body);
      if (!t.success) throw new SpendtrailError('QBO_UNAVAILABLE', `Intuit's token endpoint answered without tokens: ${text.slice(0, 200)}`);
      return {
        access_token: t.data.access_token,
        refresh_token: t.data.refresh_token,
        expires_in: t.data.expires_in,
        refresh_expires_in: t.data.x_refresh_token_expires_in ?? null,
      };
    }
    const err = errorAnswer.safeParse(body);
    const code = err.success ? err.data.error : `HTTP ${res.status}`;
    if (code === 'invalid_client') {
      throw new SpendtrailError('QBO_NOT_CONFIGURED', 'Intuit refused the app credentials (invalid_client): check SPENDTRAIL_QBO_CLIENT_ID and SPENDTRAIL_QBO_CLIENT_SECRET');
    }
    if (code === 'invalid_grant') {
      throw new SpendtrailError(
        'QBO_REAUTHORIZE',
        what === 'code'
          ? `Intuit refused the authorization code (invalid_grant: used already, expired, or issued for another redirect URI than ${cfg.redirectUri}): ${RECONNECT}`
          : `QuickBooks no longer accepts the stored refresh token (invalid_grant: the connection was revoked, or the token expired or was replaced): ${RECONNECT}`,
      );
    }
    throw new SpendtrailError('QBO_UNAVAILABLE', `Intuit's token endpoint refused the request (${code}${err.success && err.data.error_description ? `: ${err.data.error_description}` : ''})`);
  }

  return {
    redirect_uri: cfg.redirectUri,
    authorizationUrl(state) {
      const u = new URL(cfg.authorizeUrl ?? INTUIT_AUTHORIZE_URL);
      u.searchParams.set('client_id', cfg.clientId);
      u.searchParams.set('response_type', 'code');
      u.searchParams.set('scope', ACCOUNTING_SCOPE);
      u.searchParams.set('redirect_uri', cfg.redirectUri);
      u.searchParams.set('state', state);
      return u.toString();
    },
    exchangeCode: (code) => grant({ grant_type: 'authorization_code', code, redirect_uri: cfg.redirectUri }, 'code'),
    refresh: (refreshToken) => grant({ grant_type: 'refresh_token', refresh_token: refreshToken }, 'refresh'),
  };
}
