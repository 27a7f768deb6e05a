/**
 * Browser sign-in outside a Teams host: OpenID Connect with PKCE against the tenant, ending in a
 * server-side session (httpOnly cookie + CSRF token). The session is built from an access token
 * for this app's own API, verified exactly like a Teams SSO token, so both paths yield the same
 * user context and roles.
 *
 * Nothing is stored before the user is known: the pending sign-in (PKCE verifier, nonce, where to
 * go next) travels sealed in a short-lived cookie of the browser that started it, and the callback
 * is accepted only with that cookie, so a sign-in cannot be finished in someone else's browser.
 */
import { AppError } from '../domain/errors';
import { SSO_SCOPE } from '../domain/features';
import type { TokenVerifier } from '../identity/verify';
import type { AuditRecords, SessionRecord, SessionRecords, UserRecords } from '../store/types';
import { AUTH_STATE_TTL_MS, randomToken } from './connections';
import type { DelegatedAuthPort } from './ports';
import { sameSecret, type Sealer } from './sealed';

export const SESSION_TTL_MS = 8 * 3600_000;
/** How long a started sign-in may take; also the pre-login cookie's lifetime. */
export const SIGNIN_TTL_MS = AUTH_STATE_TTL_MS;
const SEAL_PURPOSE = 'signin';
/** Spent states remembered until they expire; more than this many sign-ins within the TTL forget the oldest. */
const MAX_SPENT = 50_000;

/** A sign-in in progress, as sealed into the pre-login cookie. */
export interface PendingSignIn {
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export class SignInService {
  /** state → expiry: a pending sign-in is finished at most once even if its cookie is sent again. */
  private readonly spent = new Map<string, number>();

  constructor(
    private readonly deps: {
      store: UserRecords & SessionRecords & AuditRecords;
      auth: DelegatedAuthPort;
      verifier: TokenVerifier;
      now: () => Date;
      sealer: Sealer;
      /** api://<tabDomain>/<clientId> */
      appIdUri: string;
      tenantId: string;
    },
  ) {}

  scopes(): string[] {
    return [`${this.deps.appIdUri}/${SSO_SCOPE}`];
  }

  /** Where /auth/signin sends the browser, and the sealed pending sign-in for its cookie; returnTo must be a local path. */
  async begin(returnTo: string | undefined): Promise<{ url: string; sealed: string }> {
    const pkce = this.deps.auth.makePkce();
    // Tagged, so a callback can tell one of our sign-ins (started in some browser) from a made-up state.
    const state = this.deps.sealer.tag(SEAL_PURPOSE, randomToken());
    const nonce = randomToken(16);
    const safeReturn = returnTo && /^\/(?!\/)[\w\-./?=&%]*$/.test(returnTo) ? returnTo : '/tab/';
    const pending: PendingSignIn = {
      state,
      codeVerifier: pkce.verifier,
      nonce,
      returnTo: safeReturn,
      expiresAt: this.deps.now().getTime() + SIGNIN_TTL_MS,
    };
    const url = await this.deps.auth.authCodeUrl({ scopes: this.scopes(), state, codeChallenge: pkce.challenge, nonce, prompt: 'select_account' });
    return { url, sealed: this.deps.sealer.seal(SEAL_PURPOSE, pending) };
  }

  /** True for a state this server issued for a browser sign-in (whichever browser holds its cookie). */
  isSignInState(state: string): boolean {
    return this.deps.sealer.isTagged(SEAL_PURPOSE, state);
  }

  /**
   * The pending sign-in of this browser's cookie when it is the one `state` names, unexpired and
   * not finished before; it is spent by this call. Undefined otherwise.
   */
  take(sealed: string | undefined, state: string): PendingSignIn | undefined {
    const pending = this.deps.sealer.open<PendingSignIn>(SEAL_PURPOSE, sealed);
    const now = this.deps.now().getTime();
    if (!pending || typeof pending.state !== 'string' || !sameSecret(pending.state, state) || !(pending.expiresAt > now)) return undefined;
    if (this.spent.has(state)) return undefined;
    for (const [s, exp] of this.spent) {
      if (exp > now && this.spent.size < MAX_SPENT) break;
      this.spent.delete(s);
    }
    this.spent.set(state, pending.expiresAt);
    return pending;
  }

  /** Redeems the code (tokens are not kept) and opens a session; returns it with where to go next. */
  async complete(pending: PendingSignIn, code: string): Promise<{ session: SessionRecord; returnTo: string }> {
    const redeemed = await this.deps.auth.redeemCode({
      code,
      codeVerifier: pending.codeVerifier,
      nonce: pending.nonce,
      scopes: this.scopes(),
      tenantId: this.deps.tenantId,
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
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'signin', target: user.upn, details: { oid: user.oid, via: 'browser' } });
    return { session, returnTo: pending.returnTo || '/tab/' };
  }

  /** Ends a browser session (the caller has checked its CSRF token). */
  async end(session: SessionRecord): Promise<void> {
    await this.deps.store.deleteSession(session.id);
    await this.deps.store.audit({
      tenantId: session.tenantId,
      actor: session.upn,
      action: 'signout',
      target: session.upn,
      details: { oid: session.oid, via: 'browser' },
    });
  }
}
