import type { AccessTokens, QboAccount, QboCompany, QboEntity, QboPosting, QboVendor, QboWriteOutcome } from '../../app/qbo-ports.ts';
import { SpendtrailError } from '../../domain/errors.ts';
import type { FetchFn, QboRetryOptions } from './http.ts';
import { DEFAULT_RETRY, fetchWithRetry } from './http.ts';
import { postingBody } from './payloads.ts';

/**
 * One QuickBooks Online company over the Accounting API v3: `POST /v3/company/{realmId}/
 * journalentry|purchase?minorversion=75&requestid=…` and `GET …/query?query=select …`, with a
 * bearer access token.
 *
 * Intuit retired minor versions 1–74 on 1 August 2025, so every call carries 75 (or the
 * configured later one). A repeated requestid (≤ 50 characters, unique per company) makes
 * QuickBooks answer with its original response instead of creating again, which is what makes
 * retrying a create safe. Errors arrive as `{"Fault": {"Error": [{"Message", "Detail", "code",
 * "element"}], "type": "ValidationFault"}}`; a 401 carries the same in lower case
 * (`{"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; …",
 * "code": "3200"}], "type": "AUTHENTICATION"}}`).
 */

export const PRODUCTION_BASE_URL = 'https://quickbooks.api.intuit.com';
export const SANDBOX_BASE_URL = 'https://sandbox-quickbooks.api.intuit.com';
export const MINOR_VERSION = 75;
/** QuickBooks' query page size limit. */
const PAGE = 1000;

export interface QboApiConfig {
  readonly baseUrl?: string;
  readonly minorVersion?: number;
  readonly fetch?: FetchFn;
  readonly retry?: QboRetryOptions;
}

interface QboError {
  readonly code: string;
  readonly message: string;
  readonly detail: string;
}

/** The errors of a Fault, in either casing QuickBooks uses. */
export function faultErrors(body: unknown): { type: string; errors: QboError[] } | null {
  if (body === null || typeof body !== 'object') return null;
  const f = (body as Record<string, unknown>).Fault ?? (body as Record<string, unknown>).fault;
  if (f === null || typeof f !== 'object') return null;
  const fo = f as Record<string, unknown>;
  const list = fo.Error ?? fo.error;
  const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
  const errors = (Array.isArray(list) ? list : []).map((e: unknown) => {
    const o = (e ?? {}) as Record<string, unknown>;
    return { code: str(o.code), message: str(o.Message ?? o.message), detail: str(o.Detail ?? o.detail) };
  });
  return { type: str(fo.type), errors };
}

const describeFault = (f: { errors: QboError[] }): string =>
  f.errors.map((e) => `${e.code} ${e.message}${e.detail !== '' && e.detail !== e.message ? `: ${e.detail}` : ''}`).join('; ') || 'no detail';

const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function qboCompany(cfg: QboApiConfig, realmId: string, tokens: AccessTokens): QboCompany {
  const fetchFn = cfg.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));
  const base = (cfg.baseUrl ?? PRODUCTION_BASE_URL).replace(/\/+$/, '');
  const minor = cfg.minorVersion ?? MINOR_VERSION;
  if (!Number.isInteger(minor) || minor < MINOR_VERSION) throw new SpendtrailError('QBO_NOT_CONFIGURED', `minorversion ${minor}: QuickBooks accepts ${MINOR_VERSION} and later`);
  const retry = cfg.retry ?? DEFAULT_RETRY;

  async function call(method: 'GET' | 'POST', path: string, query: Record<string, string>, body: string | undefined, what: string): Promise<{ status: number; json: unknown; text: string }> {
    const url = new URL(`${base}/v3/company/${encodeURIComponent(realmId)}/${path}`);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    url.searchParams.set('minorversion', String(minor));
    let token = await tokens.current();
    for (let renewed = false; ; renewed = true) {
      const res = await fetchWithRetry(
        fetchFn,
        url.toString(),
        { method, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) }, body },
        retry,
        what,
      );
      const text = await res.text();
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        json = undefined;
      }
      if (res.status !== 401) return { status: res.status, json, text };
      const f = faultErrors(json);
      // An access token expires after an hour or is revoked early: refresh once and send again.
      if (renewed) {
        throw new SpendtrailError(
          'QBO_REAUTHORIZE',
          `QuickBooks refused a freshly refreshed access token (${f === null ? 'HTTP 401' : describeFault(f)}): run \`spendtrail qbo connect\` to authorize Spendtrail again`,
        );
      }
      token = await tokens.renew(token);
    }
  }

  function unexpected(status: number, json: unknown, text: string, what: string): SpendtrailError {
    const f = faultErrors(json);
    const why = f === null ? text.replace(/\s+/g, ' ').slice(0, 200) : describeFault(f);
    if (status === 403) {
      return new SpendtrailError('QBO_REAUTHORIZE', `${what}: QuickBooks refused access (${why}): the connected user may lack the rights, or run \`spendtrail qbo connect\` again`);
    }
    return new SpendtrailError('QBO_UNAVAILABLE', `${what}: QuickBooks answered HTTP ${status} (${why}); check SPENDTRAIL_QBO_BASE_URL and the connected company ${realmId}`);
  }

  async function query(entity: string, where: string): Promise<Record<string, unknown>[]> {
    const out: Record<string, unknown>[] = [];
    for (let start = 1; ; start += PAGE) {
      const q = `select * from ${entity}${where === '' ? '' : ` where ${where}`} STARTPOSITION ${start} MAXRESULTS ${PAGE}`;
      const { status, json, text } = await call('GET', 'query', { query: q }, undefined, `reading ${entity} from QuickBooks`);
      const f = faultErrors(json);
      if (status !== 200 || f !== null) throw unexpected(status, json, text, `reading ${entity} from QuickBooks`);
      const page = ((json as { QueryResponse?: Record<string, unknown> } | undefined)?.QueryResponse ?? {})[entity];
      const rows = Array.isArray(page) ? (page as Record<string, unknown>[]) : [];
      out.push(...rows);
      if (rows.length < PAGE) return out;
    }
  }

  const s = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

  return {
    realm_id: realmId,

    async create(posting: QboPosting, requestId: string): Promise<QboWriteOutcome> {
      const path = posting.entity === 'Purchase' ? 'purchase' : 'journalentry';
      const what = `posting ${posting.entry.external_id} as a ${posting.entity}`;
      const { status, json, text } = await call('POST', path, { requestid: requestId }, postingBody(posting), what);
      const f = faultErrors(json);
      // QuickBooks may answer 200 with a Fault in the body: a refusal all the same.
      if ((status === 200 || status === 400) && f !== null) {
        const [first] = f.errors;
        return { kind: 'rejected', http_status: status, code: first?.code ?? '', message: describeFault(f) };
      }
      const created = (json as Record<string, unknown> | undefined)?.[posting.entity] as Record<string, unknown> | undefined;
      if (status === 200 && created !== undefined && s(created.Id) !== '') return { kind: 'created', id: s(created.Id), sync_token: s(created.SyncToken) };
      throw unexpected(status, json, text, what);
    },

    async findByDocNumber(entity: QboEntity, docNumber: string) {
      return (await query(entity, `DocNumber = ${quote(docNumber)}`)).map((o) => ({ id: s(o.Id), sync_token: s(o.SyncToken), private_note: s(o.PrivateNote) }));
    },

    async accounts(): Promise<QboAccount[]> {
      // Queries return active objects only unless asked: inactive ones are wanted, to say so.
      return (await query('Account', 'Active IN (true, false)')).map((a) => ({
        id: s(a.Id),
        name: s(a.FullyQualifiedName) || s(a.Name),
        acct_num: s(a.AcctNum) === '' ? null : s(a.AcctNum),
        account_type: s(a.AccountType),
        active: a.Active !== false,
      }));
    },

    async vendors(): Promise<QboVendor[]> {
      return (await query('Vendor', 'Active IN (true, false)')).map((v) => ({ id: s(v.Id), display_name: s(v.DisplayName), active: v.Active !== false }));
    },
  };
}
