/**
 * Delegated Microsoft identity: the authorization-code + PKCE round trip, code redemption
 * into a per-user cache partition, and silent acquisition from it. A fresh MSAL client per operation,
 * bound to one user's partition, so nothing can cross users. Every MSAL failure becomes an AppError
 * with a catalogue code (see docs/errors.md), MSAL's own error shapes read by diagnoseTokenError.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  AuthError,
  ClientConfigurationError,
  ConfidentialClientApplication,
  InteractionRequiredAuthError,
  LogLevel,
  ServerError,
  type AuthenticationResult,
  type ICachePlugin,
  type INetworkModule,
  type NetworkRequestOptions,
} from '@azure/msal-node';
import { aadstsNumber, diagnoseTokenError, type TokenErrorFacts } from '../domain/diagnosis';
import { isGuid } from '../domain/formats';
import { AppError, type ErrorCode } from '../domain/errors';
import { scrubSecrets, type Logger } from '../log';
import type { Store } from '../store/types';
import { PartitionedTokenCache, accountsIn, toAccountInfo } from './token-cache';

export type LoggerLike = Pick<Logger, 'warn' | 'debug'>;

const DEFAULT_HTTP_TIMEOUT_MS = 10_000;
const METADATA_TTL_MS = 60 * 60 * 1000;

/** Hosts for which MSAL carries its own cloud discovery metadata; any other host must be a known authority. */
const MICROSOFT_AUTHORITY_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
]);

export function trimHost(authorityHost: string): string {
  return authorityHost.replace(/\/+$/, '');
}

/** knownAuthorities as MSAL compares them: host with port. */
export function knownAuthoritiesFor(authorityHost: string, given?: string[]): string[] | undefined {
  if (given && given.length > 0) return given;
  const host = new URL(authorityHost).host;
  return MICROSOFT_AUTHORITY_HOSTS.has(host.toLowerCase()) ? undefined : [host];
}

// ---------------------------------------------------------------------------------------------
// Network: MSAL's default client has no timeout on POST and fails on non-JSON bodies without
// telling us the status. This one times out, and remembers what happened for the diagnosis.

export class TimedNetworkClient implements INetworkModule {
  lastStatus: number | undefined;
  unreachable = false;

  constructor(private readonly timeoutMs: number = DEFAULT_HTTP_TIMEOUT_MS) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<{ headers: Record<string, string>; body: T; status: number }> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<{ headers: Record<string, string>; body: T; status: number }> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number) {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: options?.headers,
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        signal: AbortSignal.timeout(timeout ?? this.timeoutMs),
      });
    } catch (err) {
      this.unreachable = true;
      throw new Error(`request to the authority failed: ${(err as Error)?.name ?? 'Error'}`);
    }
    this.lastStatus = res.status;
    const text = await res.text();
    let body: T;
    try {
      body = (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new Error(`the authority answered HTTP ${res.status} without JSON`);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { headers, body, status: res.status };
  }
}

// ---------------------------------------------------------------------------------------------
// Tenant discovery. MSAL reports an unknown tenant and an unreachable authority alike
// (endpoints_resolution_error), so the OpenID configuration is fetched here, where the two differ.

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

// ---------------------------------------------------------------------------------------------
// Error mapping

const MSAL_RECONNECT_CODES = new Set(['no_tokens_found', 'refresh_token_expired', 'no_account_in_silent_request', 'no_account_found']);
const MSAL_UNREACHABLE_CODES = new Set(['network_error', 'endpoints_resolution_error', 'openid_config_error', 'token_parsing_error']);
const MSAL_STATE_CODES = new Set(['nonce_mismatch', 'state_mismatch', 'invalid_state']);

export interface MsalFailureContext {
  grant: NonNullable<TokenErrorFacts['grant']>;
  /** The network client of the failed operation: the HTTP status MSAL does not report. */
  network?: Pick<TimedNetworkClient, 'lastStatus' | 'unreachable'>;
}

/** One MSAL failure → one catalogue code; the raw error stays in `detail` (scrubbed, never tokens). */
export function mapMsalError(err: unknown, ctx: MsalFailureContext): AppError {
  if (err instanceof AppError) return err;
  const status = ctx.network?.lastStatus;
  const unreachable = ctx.network?.unreachable ?? false;
  if (err instanceof AuthError) {
    const e = err as AuthError & { errorNo?: string | number; status?: number };
    const detail = {
      name: e.name,
      errorCode: e.errorCode,
      subError: e.subError || undefined,
      errorNo: e.errorNo,
      status: e.status ?? status,
      message: scrubSecrets(e.errorMessage ?? e.message ?? ''),
    };
    const httpStatus = e.status ?? (status !== undefined && status >= 400 ? status : undefined);
    let code: ErrorCode;
    if (MSAL_RECONNECT_CODES.has(e.errorCode)) code = 'REFRESH_TOKEN_REVOKED';
    else if (MSAL_UNREACHABLE_CODES.has(e.errorCode)) code = status === 429 ? 'THROTTLED' : 'GRAPH_UNAVAILABLE';
    else if (MSAL_STATE_CODES.has(e.errorCode)) code = 'AUTH_STATE_INVALID';
    else if (e instanceof ServerError || e instanceof InteractionRequiredAuthError) {
      code = diagnoseTokenError({
        error: e.errorCode,
        subError: e.subError || undefined,
        aadsts: aadstsNumber({ errorNo: (e as { errorNo?: string | number }).errorNo, text: e.errorMessage }),
        status: httpStatus,
        unreachable,
        grant: ctx.grant,
      });
    } else if (e instanceof ClientConfigurationError) code = 'INTERNAL';
    else code = unreachable ? 'GRAPH_UNAVAILABLE' : 'INTERNAL';
    return new AppError(code, { detail });
  }
  if (unreachable) return new AppError('GRAPH_UNAVAILABLE', { detail: { message: scrubSecrets(String((err as Error)?.message ?? err)) } });
  return new AppError('INTERNAL', { detail: { message: scrubSecrets(String((err as Error)?.message ?? err)) } });
}

// ---------------------------------------------------------------------------------------------
// PKCE

export function makePkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** Graph scopes as Entra returns them may carry the resource prefix; show them bare. */
export function bareScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.map((s) => s.replace(/^https:\/\/[^/]+\//i, '').replace(/^00000003-0000-0000-c000-000000000000\//i, '')).filter(Boolean))];
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/** Scopes the user granted, from the access tokens MSAL cached in the partition (lower-case, bare). */
export function grantedTargetsIn(serialized: string | undefined, homeAccountId: string): Set<string> {
  const out = new Set<string>();
  try {
    const parsed = JSON.parse(serialized ?? '{}') as { AccessToken?: Record<string, { home_account_id?: string; target?: string }> };
    for (const at of Object.values(parsed.AccessToken ?? {})) {
      if (at.home_account_id !== homeAccountId) continue;
      for (const s of bareScopes(String(at.target ?? '').split(' '))) out.add(s.toLowerCase());
    }
  } catch {
    /* unreadable: nothing known */
  }
  return out;
}

/** The requested scopes the user granted; all granted ones when none of the requested were. */
export function grantedSubset(requested: readonly string[], granted: ReadonlySet<string>): string[] {
  const resource = requested.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  if (granted.size === 0) return [...requested];
  const kept = resource.filter((s) => granted.has(bareScopes([s])[0]?.toLowerCase() ?? ''));
  if (kept.length > 0) return kept;
  const fallback = [...granted].filter((s) => !OIDC_SCOPES.has(s));
  return fallback.length > 0 ? fallback : [...requested];
}

export function msalLoggerOptions(logger?: LoggerLike) {
  return {
    piiLoggingEnabled: false,
    logLevel: LogLevel.Warning,
    loggerCallback: (level: LogLevel, message: string, containsPii: boolean) => {
      if (!logger || containsPii) return;
      logger.debug({ msal: scrubSecrets(message), level }, 'msal');
    },
  };
}

// ---------------------------------------------------------------------------------------------

export interface DelegatedAuthOptions {
  authorityHost: string;
  /** The deployment's tenant: a GUID, or `organizations` for a multi-tenant deployment. */
  tenantId: string;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  knownAuthorities?: string[];
  store: Store;
  logger?: LoggerLike;
  /** Per HTTP request to Entra ID (default 10 s). */
  httpTimeoutMs?: number;
}

export interface AuthCodeUrlRequest {
  scopes: string[];
  state: string;
  codeChallenge: string;
  loginHint?: string;
  nonce: string;
  prompt?: string;
  responseMode?: 'query' | 'form_post';
}

export interface RedeemCodeRequest {
  code: string;
  codeVerifier: string;
  scopes: string[];
  /** The signed-in user's tenant: the consenting account must belong to it. */
  tenantId: string;
  /** The nonce sent with authCodeUrl; MSAL refuses an id_token nonce it was not given. */
  nonce?: string;
  /** The signed-in user's object id: a different consenting account is refused before anything is stored. */
  expectedOid?: string;
}

export interface RedeemedAccount {
  homeAccountId: string;
  oid: string;
  tid: string;
  upn: string;
  name?: string;
  grantedScopes: string[];
}

export interface SilentRequest {
  tenantId: string;
  homeAccountId: string;
  scopes: string[];
  /** Redeem the refresh token even if a cached access token is valid: proves the grant still holds. */
  forceRefresh?: boolean;
}

export interface SilentToken {
  accessToken: string;
  grantedScopes: string[];
  expiresOn: Date;
}

export class DelegatedAuth {
  private readonly host: string;
  private readonly known: string[] | undefined;
  private readonly cache: PartitionedTokenCache;
  private readonly metadata: TenantMetadataCache;

  constructor(private readonly opts: DelegatedAuthOptions) {
    this.host = trimHost(opts.authorityHost);
    this.known = knownAuthoritiesFor(this.host, opts.knownAuthorities);
    this.cache = new PartitionedTokenCache(opts.store);
    this.metadata = new TenantMetadataCache(this.host, opts.httpTimeoutMs);
  }

  makePkce(): { verifier: string; challenge: string } {
    return makePkce();
  }

  async authCodeUrl(req: AuthCodeUrlRequest): Promise<string> {
    const network = new TimedNetworkClient(this.opts.httpTimeoutMs);
    try {
      const cca = await this.client(this.opts.tenantId, network);
      return await cca.getAuthCodeUrl({
        scopes: req.scopes,
        redirectUri: this.opts.redirectUri,
        state: req.state,
        nonce: req.nonce,
        codeChallenge: req.codeChallenge,
        codeChallengeMethod: 'S256',
        responseMode: req.responseMode ?? 'query',
        ...(req.loginHint ? { loginHint: req.loginHint } : {}),
        ...(req.prompt ? { prompt: req.prompt } : {}),
      });
    } catch (err) {
      throw mapMsalError(err, { grant: 'authorization_code', network });
    }
  }

  /**
   * Redeems a consent code into the user's partition. The consenting account must be in `tenantId`
   * (and be `expectedOid` when given); otherwise ACCOUNT_MISMATCH and nothing is stored.
   */
  async redeemCode(req: RedeemCodeRequest): Promise<RedeemedAccount & { accessToken: string }> {
    const pending = this.cache.pending(req.tenantId);
    const { result, account } = await this.redeem(req, pending);
    if (
      account.tid.toLowerCase() !== req.tenantId.toLowerCase() ||
      (req.expectedOid !== undefined && account.oid.toLowerCase() !== req.expectedOid.toLowerCase())
    ) {
      throw new AppError('ACCOUNT_MISMATCH', { detail: { expectedTenant: req.tenantId, tenant: account.tid } });
    }
    await pending.commit(account.homeAccountId);
    return { ...account, accessToken: result.accessToken };
  }

  /** Redeems a browser sign-in code: the tokens are returned, never stored. */
  async redeemForSignIn(req: Omit<RedeemCodeRequest, 'tenantId' | 'expectedOid'>): Promise<RedeemedAccount & { accessToken: string }> {
    const { result, account } = await this.redeem(req);
    return { ...account, accessToken: result.accessToken };
  }

  private async redeem(
    req: Omit<RedeemCodeRequest, 'tenantId' | 'expectedOid'>,
    plugin?: ICachePlugin,
  ): Promise<{ result: AuthenticationResult; account: RedeemedAccount }> {
    const network = new TimedNetworkClient(this.opts.httpTimeoutMs);
    let result: AuthenticationResult;
    try {
      const cca = await this.client(this.opts.tenantId, network, plugin);
      result = await cca.acquireTokenByCode({
        code: req.code,
        codeVerifier: req.codeVerifier,
        scopes: req.scopes,
        redirectUri: this.opts.redirectUri,
        ...(req.nonce !== undefined ? { nonce: req.nonce } : {}),
      });
    } catch (err) {
      const mapped = mapMsalError(err, { grant: 'authorization_code', network });
      this.opts.logger?.warn({ code: mapped.code, detail: mapped.detail }, 'code redemption failed');
      throw mapped;
    }
    const claims = (result.idTokenClaims ?? {}) as Record<string, unknown>;
    const acct = result.account;
    const oid = String(claims.oid ?? acct?.localAccountId ?? '');
    const tid = String(claims.tid ?? acct?.tenantId ?? '');
    const upn = String(claims.preferred_username ?? claims.upn ?? acct?.username ?? '');
    const homeAccountId = acct?.homeAccountId ?? '';
    if (!homeAccountId || !oid || !tid || !result.accessToken) {
      throw new AppError('INTERNAL', { detail: { message: 'token response carried no account or access token (client_info / id_token missing)' } });
    }
    const name = typeof claims.name === 'string' ? claims.name : acct?.name;
    return { result, account: { homeAccountId, oid, tid, upn, ...(name ? { name } : {}), grantedScopes: bareScopes(result.scopes) } };
  }

  /**
   * A token from the user's partition: the cached one while valid, else (or with `forceRefresh`) by
   * redeeming the refresh token. `scopes` is narrowed to what the user granted: a silent call can
   * never gain consent, and asking a partial grant for more fails with AADSTS65001.
   * Calls for the same user run one at a time (a refresh rewrites the partition).
   */
  acquireSilent(req: SilentRequest): Promise<SilentToken> {
    return this.serialised(`${req.tenantId}\u0000${req.homeAccountId}`, () => this.silent(req));
  }

  private async silent(req: SilentRequest): Promise<SilentToken> {
    const serialized = await this.cache.load(req.tenantId, req.homeAccountId);
    const stored = accountsIn(serialized).find((a) => a.home_account_id === req.homeAccountId);
    if (!stored) {
      throw new AppError('REFRESH_TOKEN_REVOKED', { message: 'No Microsoft 365 sign-in is stored for this user.', detail: { reason: 'no partition' } });
    }
    const network = new TimedNetworkClient(this.opts.httpTimeoutMs);
    const plugin = this.cache.plugin(req.tenantId, req.homeAccountId, { serialized });
    try {
      // The user's home tenant: for a multi-tenant deployment the refresh belongs there, not to /organizations.
      const cca = await this.client(isGuid(this.opts.tenantId) ? this.opts.tenantId : stored.realm, network, plugin);
      const result = await cca.acquireTokenSilent({
        account: toAccountInfo(stored),
        scopes: grantedSubset(req.scopes, grantedTargetsIn(serialized, req.homeAccountId)),
        forceRefresh: req.forceRefresh ?? false,
      });
      if (!result.accessToken) throw new AppError('REFRESH_TOKEN_REVOKED', { detail: { reason: 'empty access token' } });
      return {
        accessToken: result.accessToken,
        grantedScopes: bareScopes(result.scopes),
        expiresOn: result.expiresOn ?? new Date(Date.now() + 5 * 60 * 1000),
      };
    } catch (err) {
      const mapped = mapMsalError(err, { grant: 'refresh_token', network });
      this.opts.logger?.warn({ code: mapped.code, detail: mapped.detail }, 'silent token acquisition failed');
      throw mapped;
    }
  }

  private readonly queues = new Map<string, Promise<unknown>>();

  private serialised<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  /** Drops the user's partition (disconnect). True if one existed. */
  removeUser(tenantId: string, homeAccountId: string): Promise<boolean> {
    return this.cache.remove(tenantId, homeAccountId);
  }

  private async client(tenant: string, network: TimedNetworkClient, cachePlugin?: ICachePlugin): Promise<ConfidentialClientApplication> {
    const meta = await this.metadata.get(tenant);
    return new ConfidentialClientApplication({
      auth: {
        clientId: this.opts.clientId,
        clientSecret: this.opts.clientSecret,
        authority: `${this.host}/${tenant}`,
        ...(this.known ? { knownAuthorities: this.known } : {}),
        authorityMetadata: meta.raw,
      },
      ...(cachePlugin ? { cache: { cachePlugin } } : {}),
      system: { networkClient: network, loggerOptions: msalLoggerOptions(this.opts.logger) },
    });
  }
}
