/**
 * Tenant discovery. MSAL reports an unknown tenant and an unreachable authority alike
 * (endpoints_resolution_error), so the OpenID configuration is fetched here, where the two differ;
 * the document is then handed to MSAL as its authority metadata.
 */
import { aadstsNumber, diagnoseTokenError, type TokenErrorFacts } from '../domain/diagnosis';
import { AppError } from '../domain/errors';
import { isGuid } from '../domain/formats';
import { scrubSecrets } from '../log';
import { trimHost } from './msal-client';
import { DEFAULT_HTTP_TIMEOUT_MS } from './network';

const METADATA_TTL_MS = 60 * 60 * 1000;

export interface TenantMetadata {
  /** The path segment asked for: GUID, domain, `organizations` or `common`. */
  tenant: string;
  /** The tenant GUID the document names, when it names one (not for `organizations`). */
  tenantId?: string;
  issuer: string;
  /** The document as received, for MSAL's `authorityMetadata`. */
  raw: string;
}

const TENANT_SEGMENT = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

function guidInPath(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const first = new URL(url).pathname.split('/').filter(Boolean)[0];
    return first && isGuid(first) ? first.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}

export async function fetchTenantMetadata(authorityHost: string, tenant: string, options: { timeoutMs?: number } = {}): Promise<TenantMetadata> {
  const t = tenant.trim();
  if (!TENANT_SEGMENT.test(t)) {
    throw new AppError('TENANT_NOT_FOUND', { message: 'The tenant must be a tenant id (GUID) or a verified domain such as contoso.com.' });
  }
  const url = `${trimHost(authorityHost)}/${encodeURIComponent(t)}/v2.0/.well-known/openid-configuration`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS), headers: { accept: 'application/json' } });
  } catch (err) {
    throw new AppError('GRAPH_UNAVAILABLE', { message: 'Entra ID could not be reached to look up the tenant.', detail: { url, error: (err as Error)?.name } });
  }
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    /* non-JSON: judged by status below */
  }
  if (res.ok) {
    if (typeof body.token_endpoint !== 'string' || typeof body.authorization_endpoint !== 'string' || typeof body.issuer !== 'string') {
      throw new AppError('GRAPH_UNAVAILABLE', {
        message: 'Entra ID answered the tenant lookup with an unreadable document.',
        detail: { url, status: res.status },
      });
    }
    const tenantId = guidInPath(body.issuer) ?? guidInPath(body.token_endpoint) ?? (isGuid(t) ? t.toLowerCase() : undefined);
    return { tenant: t, ...(tenantId ? { tenantId } : {}), issuer: body.issuer, raw: text };
  }
  const facts: TokenErrorFacts = {
    status: res.status,
    error: typeof body.error === 'string' ? body.error : undefined,
    aadsts: aadstsNumber({
      errorCodes: Array.isArray(body.error_codes) ? (body.error_codes as number[]) : undefined,
      text: typeof body.error_description === 'string' ? body.error_description : undefined,
    }),
  };
  let code = diagnoseTokenError(facts);
  // Any other 4xx at the tenant's discovery address still means "no such tenant here".
  if (res.status >= 400 && res.status < 500 && res.status !== 429 && code === 'GRAPH_UNAVAILABLE') code = 'TENANT_NOT_FOUND';
  throw new AppError(code, {
    ...(code === 'TENANT_NOT_FOUND' ? { message: `The tenant “${t}” could not be found.` } : {}),
    detail: { url, status: res.status, error: facts.error, aadsts: facts.aadsts, description: scrubSecrets(String(body.error_description ?? '')) },
  });
}

/** Caches discovery documents per authority segment (they change rarely) and shares lookups in flight. */
export class TenantMetadataCache {
  private readonly entries = new Map<string, { at: number; value: Promise<TenantMetadata> }>();

  constructor(
    private readonly authorityHost: string,
    private readonly timeoutMs?: number,
    private readonly ttlMs = METADATA_TTL_MS,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get(tenant: string): Promise<TenantMetadata> {
    const key = tenant.toLowerCase();
    const now = this.now().getTime();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    const value = fetchTenantMetadata(this.authorityHost, tenant, { timeoutMs: this.timeoutMs });
    this.entries.set(key, { at: now, value });
    value.catch(() => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    });
    return value;
  }
}
