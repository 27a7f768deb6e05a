/**
 * App-only tokens for the admin's service account: resolve the tenant ourselves (so an
 * unknown tenant and an unreachable Entra ID read differently), then client credentials through MSAL.
 */
import { decodeJwt } from 'jose';
import { looksLikeSecretId } from '../domain/diagnosis';
import { AppError } from '../domain/errors';
import { confidentialClient, knownAuthoritiesFor, trimHost, type LoggerLike } from './msal-client';
import { mapMsalError } from './msal-errors';
import { TimedNetworkClient } from './network';
import { fetchTenantMetadata, type TenantMetadata } from './tenant-discovery';

export const GRAPH_DEFAULT_SCOPE = 'https://graph.microsoft.com/.default';

export interface AppTokenOptions {
  authorityHost: string;
  /** GUID or verified domain of the tenant the app is registered in. */
  tenant: string;
  clientId: string;
  clientSecret: string;
  knownAuthorities?: string[];
  /** Default https://graph.microsoft.com/.default. */
  scope?: string;
  httpTimeoutMs?: number;
  logger?: LoggerLike;
  /** Discovery already done by the caller (the test's `tenant` step); skips a second lookup. */
  metadata?: TenantMetadata;
}

export interface AppToken {
  accessToken: string;
  /** The `roles` claim, decoded for diagnosis only (Graph verifies the token; we never trust it for access). */
  roles: string[];
  /** The tenant GUID the token was issued in. */
  tenantId?: string;
  expiresOn?: Date;
}

/** The `roles` claim of an access token; [] when absent or unreadable. */
export function rolesOf(accessToken: string): string[] {
  try {
    const roles = decodeJwt(accessToken).roles;
    return Array.isArray(roles) ? roles.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

export async function acquireAppToken(opts: AppTokenOptions): Promise<AppToken> {
  if (looksLikeSecretId(opts.clientSecret)) throw new AppError('SECRET_ID_NOT_VALUE');
  const host = trimHost(opts.authorityHost);
  const meta = opts.metadata ?? (await fetchTenantMetadata(host, opts.tenant, { timeoutMs: opts.httpTimeoutMs }));
  const tenantSegment = meta.tenantId ?? meta.tenant;
  const network = new TimedNetworkClient(opts.httpTimeoutMs);
  const known = knownAuthoritiesFor(host, opts.knownAuthorities);
  try {
    const cca = confidentialClient({
      host,
      tenant: tenantSegment,
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      knownAuthorities: known,
      authorityMetadata: meta.raw,
      network,
      logger: opts.logger,
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [opts.scope ?? GRAPH_DEFAULT_SCOPE] });
    if (!result?.accessToken) throw new AppError('GRAPH_UNAVAILABLE', { detail: { reason: 'empty token response' } });
    return {
      accessToken: result.accessToken,
      roles: rolesOf(result.accessToken),
      ...(result.tenantId || meta.tenantId ? { tenantId: result.tenantId || meta.tenantId } : {}),
      ...(result.expiresOn ? { expiresOn: result.expiresOn } : {}),
    };
  } catch (err) {
    const mapped = mapMsalError(err, { grant: 'client_credentials', network });
    opts.logger?.warn({ code: mapped.code, detail: mapped.detail }, 'client credentials failed');
    throw mapped;
  }
}
