/**
 * Browser sign-in outside a Teams host: OpenID Connect with PKCE against the tenant, ending in a
 * server-side session (httpOnly cookie + CSRF token). The session is built from an access token
 * for this app's own API, verified exactly like a Teams SSO token, so both paths yield the same
 * user context and roles.
 */
import { AppError } from '../domain/errors';
import { SSO_SCOPE } from '../domain/features';
import type { TokenVerifier } from '../identity/verify';
import type { AuthStateRecord, SessionRecord, Store } from '../store/types';
import { AUTH_STATE_TTL_MS, randomToken } from './connections';
import type { DelegatedAuthPort } from './ports';

export const SESSION_TTL_MS = 8 * 3600_000;

export class SignInService {
  constructor(
    private readonly deps: {
      store: Store;
      auth: DelegatedAuthPort;
      verifier: TokenVerifier;
      now: () => Date;
      /** api://<tabDomain>/<clientId> */
      appIdUri: string;
      tenantId: string;
    },
  ) {}

  scopes(): string[] {
    return [`${this.deps.appIdUri}/${SSO_SCOPE}`];
  }

  /** Where /auth/signin sends the browser; returnTo must be a local path. */
  async begin(returnTo: string | undefined): Promise<string> {
    const pkce = this.deps.auth.makePkce();
    const state = randomToken();
    const nonce = randomToken(16);
    const safeReturn = returnTo && /^\/(?!\/)[\w\-./?=&%]*$/.test(returnTo) ? returnTo : '/tab/';
    await this.deps.store.putAuthState({
      state,
      // The tenant is only known after sign-in; the record is bound by its single-use state.
      tenantId: this.deps.tenantId,
      oid: '',
      upn: safeReturn,
      codeVerifier: pkce.verifier,
      nonce,
      scopes: this.scopes(),
      mode: 'redirect',
      purpose: 'signin',
      expiresAt: new Date(this.deps.now().getTime() + AUTH_STATE_TTL_MS).toISOString(),
    });
    return this.deps.auth.authCodeUrl({ scopes: this.scopes(), state, codeChallenge: pkce.challenge, nonce, prompt: 'select_account' });
  }

  /** Redeems the code (tokens are not kept) and opens a session; returns it with where to go next. */
  async complete(record: AuthStateRecord, code: string): Promise<{ session: SessionRecord; returnTo: string }> {
    const redeemed = await this.deps.auth.redeemCode({
      code,
      codeVerifier: record.codeVerifier,
      nonce: record.nonce,
      scopes: record.scopes,
      tenantId: record.tenantId,
      persist: false,
    });
    if (!redeemed.accessToken) throw new AppError('INTERNAL', { message: 'The sign-in returned no access token.' });
    const user = await this.deps.verifier.verify(redeemed.accessToken, this.deps.now().getTime());
    const session: SessionRecord = {
      id: randomToken(),
      tenantId: user.tenantId,
      oid: user.oid,
      upn: user.upn,
      name: user.name,
      roles: user.roles,
      csrfToken: randomToken(24),
      expiresAt: new Date(this.deps.now().getTime() + SESSION_TTL_MS).toISOString(),
    };
    await this.deps.store.putSession(session);
    await this.deps.store.putUser({
      tenantId: user.tenantId,
      oid: user.oid,
      upn: user.upn,
      displayName: user.name,
      roles: user.roles,
      lastSeenAt: this.deps.now().toISOString(),
    });
    return { session, returnTo: record.upn || '/tab/' };
  }
}
