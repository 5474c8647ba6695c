import type { QboConnector, QboPorts } from '../../app/qbo-ports.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { QboApiConfig } from './company.ts';
import { PRODUCTION_BASE_URL, qboCompany } from './company.ts';
import type { FetchFn, QboRetryOptions } from './http.ts';
import type { QboOAuthConfig } from './oauth.ts';
import { INTUIT_AUTHORIZE_URL, INTUIT_TOKEN_URL, qboAuthServer } from './oauth.ts';
import { aesGcmSecretBox, loadSecretKey } from './secret-box.ts';

export { awaitRedirect, isLoopbackRedirect } from './redirect-listener.ts';

/** The redirect URI used when none is configured: a loopback one, which Intuit allows for development keys. */
export const DEFAULT_REDIRECT_URI = 'http://localhost:8765/qbo/callback';

export interface QboConnectorConfig extends QboOAuthConfig, QboApiConfig {
  readonly fetch?: FetchFn;
  readonly retry?: QboRetryOptions;
}

export function qboConnector(cfg: QboConnectorConfig): QboConnector {
  return {
    auth: qboAuthServer(cfg),
    company: (realmId, tokens) => qboCompany(cfg, realmId, tokens),
  };
}

/**
 * The QuickBooks adapters from the environment:
 * SPENDTRAIL_QBO_CLIENT_ID / SPENDTRAIL_QBO_CLIENT_SECRET (the Intuit app's keys),
 * SPENDTRAIL_QBO_REDIRECT_URI, SPENDTRAIL_QBO_BASE_URL (production by default; the sandbox is
 * https://sandbox-quickbooks.api.intuit.com), SPENDTRAIL_QBO_TOKEN_URL, SPENDTRAIL_QBO_AUTH_URL
 * and SPENDTRAIL_QBO_MINOR_VERSION; the token key from SPENDTRAIL_SECRET_KEY or
 * `<home>/secret.key`. A missing client id or secret fails when QuickBooks is first used
 * (QBO_NOT_CONFIGURED), so commands that do not need it still run.
 */
export function qboPortsFromEnv(env: NodeJS.ProcessEnv, home: string, extra: { readonly fetch?: FetchFn; readonly retry?: QboRetryOptions } = {}): QboPorts {
  const clientId = env.SPENDTRAIL_QBO_CLIENT_ID ?? '';
  const clientSecret = env.SPENDTRAIL_QBO_CLIENT_SECRET ?? '';
  const minor = env.SPENDTRAIL_QBO_MINOR_VERSION;
  const cfg: QboConnectorConfig = {
    clientId,
    clientSecret,
    redirectUri: env.SPENDTRAIL_QBO_REDIRECT_URI || DEFAULT_REDIRECT_URI,
    authorizeUrl: env.SPENDTRAIL_QBO_AUTH_URL || INTUIT_AUTHORIZE_URL,
    tokenUrl: env.SPENDTRAIL_QBO_TOKEN_URL || INTUIT_TOKEN_URL,
    baseUrl: env.SPENDTRAIL_QBO_BASE_URL || PRODUCTION_BASE_URL,
    ...(minor === undefined || minor === '' ? {} : { minorVersion: Number(minor) }),
    ...extra,
  };
  const connector = qboConnector(cfg);
  const configured = (): void => {
    if (clientId === '' || clientSecret === '') {
      throw new SpendtrailError('QBO_NOT_CONFIGURED', 'QuickBooks Online is not set up here: set SPENDTRAIL_QBO_CLIENT_ID and SPENDTRAIL_QBO_CLIENT_SECRET to the keys of your Intuit app');
    }
  };
  let box: ReturnType<typeof aesGcmSecretBox> | undefined;
  const secrets = (): ReturnType<typeof aesGcmSecretBox> => (box ??= aesGcmSecretBox(loadSecretKey(env, home).key));
  return {
    connector: {
      auth: {
        redirect_uri: connector.auth.redirect_uri,
        authorizationUrl: (state) => (configured(), connector.auth.authorizationUrl(state)),
        exchangeCode: async (code) => (configured(), connector.auth.exchangeCode(code)),
        refresh: async (token) => (configured(), connector.auth.refresh(token)),
      },
      company: (realmId, tokens) => (configured(), connector.company(realmId, tokens)),
    },
    // The key is loaded (and its file created) on first use only.
    secrets: { seal: (p, c) => secrets().seal(p, c), open: (s, c) => secrets().open(s, c) },
  };
}
