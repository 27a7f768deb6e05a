/** Steps that turn a request into a verified user context (bearer SSO token or browser session). */
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors';
import { ADMIN_APP_ROLE } from '../domain/features';
import { bearerOf, type TokenVerifier, type UserContext } from '../identity/verify';
import type { Store } from '../store/types';
import { cookie, step, type Step } from './http';

export const SESSION_COOKIE = 'cc_session';

export interface AuthDeps {
  verifier: TokenVerifier;
  store: Store;
  adminUpns: readonly string[];
  now: () => Date;
}

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/** Remembers who was seen with which roles so the bot can find admins; writes only on change. */
function userRecorder(store: Store, now: () => Date) {
  const seen = new Map<string, string>();
  return async (ctx: UserContext) => {
    const key = `${ctx.tenantId}/${ctx.oid}`;
    const fingerprint = `${ctx.upn}|${ctx.name ?? ''}|${ctx.roles.join(',')}`;
    if (seen.get(key) === fingerprint) return;
    await store.putUser({ tenantId: ctx.tenantId, oid: ctx.oid, upn: ctx.upn, displayName: ctx.name, roles: ctx.roles, lastSeenAt: now().toISOString() });
    if (seen.size > 50_000) seen.clear();
    seen.set(key, fingerprint);
  };
}

export function authenticate(deps: AuthDeps): Step {
  const record = userRecorder(deps.store, deps.now);
  return step('authenticate', async (req, _res, state) => {
    const header = req.header('authorization');
    if (header) {
      const token = bearerOf(header);
      if (!token) throw new AppError('INVALID_TOKEN', { message: 'The Authorization header must be "Bearer <token>".' });
      state.user = await deps.verifier.verify(token, deps.now().getTime());
      await record(state.user);
      return;
    }
    const sessionId = cookie(req, SESSION_COOKIE);
    if (sessionId) {
      const session = await deps.store.getSession(sessionId, deps.now());
      if (session) {
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          const sent = req.header('x-csrf-token') ?? '';
          if (!constantTimeEqual(sent, session.csrfToken)) throw new AppError('CSRF_REJECTED');
        }
        const upn = session.upn.toLowerCase();
        state.user = {
          tenantId: session.tenantId,
          oid: session.oid,
          upn,
          name: session.name,
          roles: session.roles,
          isAdmin: session.roles.includes(ADMIN_APP_ROLE) || deps.adminUpns.includes(upn),
          via: 'session',
          sessionId: session.id,
          csrfToken: session.csrfToken,
        };
        return;
      }
    }
    throw new AppError('INVALID_TOKEN', { message: 'Sign in first: no access token or session was sent.' });
  });
}

export const requireAdmin: Step = step('requireAdmin', (_req, _res, state) => {
  if (!state.user?.isAdmin) throw new AppError('ADMIN_ROLE_REQUIRED');
});

export function userOf(state: { user?: UserContext }): UserContext {
  if (!state.user) throw new AppError('INVALID_TOKEN');
  return state.user;
}
