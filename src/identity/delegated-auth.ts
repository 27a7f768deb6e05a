/**
 * Delegated Microsoft identity: the authorization-code + PKCE round trip, code redemption
 * into a per-user cache partition, and silent acquisition from it. A fresh MSAL client per operation,
 * bound to one user's partition, so nothing can cross users. Every MSAL failure becomes an AppError
 * with a catalogue code (see docs/errors.md) through mapMsalError.
 */
import type { AuthenticationResult, ConfidentialClientApplication, ICachePlugin } from '@azure/msal-node';
import { AppError } from '../domain/errors';
import { isGuid } from '../domain/formats';
import type { Store } from '../store/types';
import { confidentialClient, knownAuthoritiesFor, trimHost, type LoggerLike } from './msal-client';
import { mapMsalError } from './msal-errors';
import { TimedNetworkClient } from './network';
import { makePkce } from './pkce';
import { bareScopes, grantedSubset } from './scopes';
import { TenantMetadataCache } from './tenant-discovery';
import { PartitionedTokenCache, readPartition, toAccountInfo } from './token-cache';

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
    const partition = readPartition(serialized, req.homeAccountId, this.opts.clientId);
    const stored = partition.account;
    if (!stored) {
      throw new AppError('REFRESH_TOKEN_REVOKED', { message: 'No Microsoft 365 sign-in is stored for this user.', detail: { reason: 'no partition' } });
    }
    const network = new TimedNetworkClient(this.opts.httpTimeoutMs);
    const plugin = this.cache.plugin(req.tenantId, req.homeAccountId, { serialized });
    try {
      // The user's home tenant: for a multi-tenant deployment the refresh belongs there, not to /organizations.
      const cca = await this.client(isGuid(this.opts.tenantId) ? this.opts.tenantId : stored.realm, network, plugin);
      const scopes = grantedSubset(req.scopes, partition.grantedTargets);
      // A forced refresh redeems the partition's refresh token directly: the silent flow would first
      // look for a cached access token it is told not to use, and read the partition once more. The
      // answer is stored in the partition either way.
      const result =
        req.forceRefresh && partition.refreshToken
          ? await cca.acquireTokenByRefreshToken({ refreshToken: partition.refreshToken, scopes })
          : await cca.acquireTokenSilent({ account: toAccountInfo(stored), scopes, forceRefresh: req.forceRefresh ?? false });
      if (!result) throw new AppError('REFRESH_TOKEN_REVOKED', { detail: { reason: 'no token returned' } });
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
    return confidentialClient({
      host: this.host,
      tenant,
      clientId: this.opts.clientId,
      clientSecret: this.opts.clientSecret,
      knownAuthorities: this.known,
      authorityMetadata: meta.raw,
      network,
      logger: this.opts.logger,
      cachePlugin,
    });
  }
}
