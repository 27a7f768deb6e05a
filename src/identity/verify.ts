/**
 * Verifies incoming SSO bearer tokens (Teams / Outlook `getAuthToken`) with jose, and turns one
 * into the typed request context every handler uses.
 *
 * Entra ID signs every tenant's tokens with the same keys, so there is one key set: the common
 * discovery keys (a single-tenant deployment may use its tenant's URL for the same keys). The
 * signature is checked against it first, then the issuer for the token's own `tid`. Nothing is
 * fetched or kept per unverified `tid`: forged tokens with made-up tenants cost no outbound request.
 */
import { hash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, jwtVerify, errors as joseErrors, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../domain/errors';
import { isAdmin, type AdminRuleConfig } from '../domain/admin';
import { SSO_SCOPE } from '../domain/features';
import { GUID_PATTERN } from '../domain/formats';

export interface UserContext {
  tenantId: string;
  oid: string;
  upn: string;
  name?: string;
  roles: string[];
  isAdmin: boolean;
  via: 'sso' | 'session';
  /** Present when the request came with a browser session (CSRF applies). */
  sessionId?: string;
  csrfToken?: string;
}

export interface VerifierOptions {
  authorityHost: string;
  clientId: string;
  /** host[:port] of TAB_ENDPOINT; the App ID URI is api://<tabDomain>/<clientId>. */
  tabDomain: string;
  /** A tenant GUID for a single-tenant deployment, or `organizations`. */
  tenantId: string;
  /** ADMIN_UPNS and the home tenant they speak for (src/domain/admin.ts). */
  adminRule?: AdminRuleConfig;
  /** Clock skew tolerated on exp/nbf. */
  clockToleranceSeconds?: number;
  /** For tests: the key set instead of the remote JWKS. */
  keySet?: JWTVerifyGetKey;
}

const MAX_CACHED = 10_000;
/** An unknown `kid` refetches the key set (Entra rolls keys) at most this often. */
const KEY_REFETCH_COOLDOWN_MS = 60_000;

export class TokenVerifier {
  private readonly keySet: JWTVerifyGetKey;
  /** Verified tokens by hash until they expire: re-verifying the same token per request costs ~3x throughput. */
  private readonly verified = new Map<string, { ctx: UserContext; exp: number }>();
  private readonly pending = new Map<string, Promise<UserContext>>();
  private readonly audiences: string[];

  constructor(private readonly options: VerifierOptions) {
    this.audiences = [`api://${options.tabDomain}/${options.clientId}`, options.clientId];
    const keysTenant = options.tenantId === 'organizations' ? 'common' : options.tenantId;
    this.keySet =
      options.keySet ??
      createRemoteJWKSet(new URL(`${options.authorityHost}/${keysTenant}/discovery/v2.0/keys`), {
        cooldownDuration: KEY_REFETCH_COOLDOWN_MS,
        cacheMaxAge: 24 * 3600_000,
      });
  }

  /**
   * The context of a token already verified and not yet expired, found without any I/O or
   * await: the hot path of every API request (the same SSO token is sent for up to an hour).
   */
  cached(token: string, now = Date.now()): UserContext | undefined {
    return this.lookup(cacheKey(token), now);
  }

  async verify(token: string, now = Date.now()): Promise<UserContext> {
    const key = cacheKey(token);
    const hit = this.lookup(key, now);
    if (hit) return hit;
    // A new token often arrives on several requests at once (a tab loading): verify it once.
    let pending = this.pending.get(key);
    if (!pending) {
      pending = this.verifyFresh(token, key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private lookup(key: string, now: number): UserContext | undefined {
    const hit = this.verified.get(key);
    if (!hit) return undefined;
    if (hit.exp * 1000 > now) return hit.ctx;
    this.verified.delete(key);
    return undefined;
  }

  private async verifyFresh(token: string, key: string): Promise<UserContext> {
    let unverified: JWTPayload;
    try {
      unverified = decodeJwt(token);
    } catch {
      throw invalid('The bearer token is not a JWT.');
    }
    const tid = typeof unverified.tid === 'string' ? unverified.tid : '';
    if (!GUID_PATTERN.test(tid)) throw invalid('The token has no tenant id.');
    if (this.options.tenantId !== 'organizations' && tid.toLowerCase() !== this.options.tenantId.toLowerCase()) {
      throw invalid('The token was issued for another tenant.');
    }

    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keySet, {
        algorithms: ['RS256'],
        issuer: `${this.options.authorityHost}/${tid}/v2.0`,
        audience: this.audiences,
        clockTolerance: this.options.clockToleranceSeconds ?? 60,
        requiredClaims: ['exp', 'iat', 'tid', 'oid'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWKSTimeout || (err instanceof Error && /fetch failed|ECONNREFUSED|ENOTFOUND/.test(err.message))) {
        throw new AppError('GRAPH_UNAVAILABLE', { message: 'The sign-in keys could not be fetched from Entra ID.', detail: err });
      }
      throw invalid(describeJoseError(err));
    }

    const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    // An app-only token (no scp, idtyp app) is never a user, and never an admin.
    if (payload.idtyp === 'app' || !scopes.includes(SSO_SCOPE)) throw invalid(`The token does not carry the delegated scope ${SSO_SCOPE}.`);
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
    const upn = String(payload.preferred_username ?? payload.upn ?? '').toLowerCase();
    const tenantId = tid.toLowerCase();
    const ctx: UserContext = {
      tenantId,
      oid: String(payload.oid).toLowerCase(),
      upn,
      name: typeof payload.name === 'string' ? payload.name : undefined,
      roles,
      isAdmin: isAdmin({ roles, upn, tenantId }, this.options.adminRule ?? { adminUpns: [] }),
      via: 'sso',
    };
    if (this.verified.size >= MAX_CACHED) this.verified.delete(this.verified.keys().next().value as string);
    this.verified.set(key, { ctx, exp: payload.exp! });
    return ctx;
  }
}

/** Tokens are kept by digest, not in clear; the one-shot hash costs half of createHash().update().digest(). */
function cacheKey(token: string): string {
  return hash('sha256', token, 'base64url');
}

function invalid(message: string): AppError {
  return new AppError('INVALID_TOKEN', { message: `The access token was rejected: ${message}` });
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'it has expired.';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim "${err.claim}" is not valid (${err.reason}).`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'its signing algorithm is not allowed.';
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'its signature does not verify.';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'it was not signed by a known key.';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'it is malformed.';
  return 'it could not be verified.';
}

/** `Authorization: Bearer <token>` → token, or undefined. */
export function bearerOf(header: string | undefined): string | undefined {
  const m = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return m?.[1];
}
