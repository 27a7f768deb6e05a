/** Steps that turn a request into a verified user context (bearer SSO token or browser session). */
import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../domain/errors';
import { isAdmin, type AdminRuleConfig } from '../domain/admin';
import { bearerOf, type TokenVerifier, type UserContext } from '../identity/verify';
import type { SessionRecords, UserRecords } from '../store/types';
import type { Request } from 'restify';
import { cookie, step, type Step, type StepState } from './http';

export const SESSION_COOKIE = 'cc_session';

export interface AuthDeps {
  verifier: TokenVerifier;
  store: SessionRecords & UserRecords;
  /** ADMIN_UPNS and the home tenant they speak for (src/domain/admin.ts). */
  adminRule: AdminRuleConfig;
  now: () => Date;
}

/**
 * A verified admin is proven again at most this often: admin rights are kept for days
 * (ADMIN_PROOF_MAX_DAYS), so one write per hour per admin keeps the hot path free of writes.
 */
export const ADMIN_PROOF_REFRESH_MS = 3600_000;

export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Remembers who was seen with which roles so the bot can find admins, and when a verified token
 * (or browser session) last proved someone an admin, or showed they are not one any more.
 * Writes only on change or when an admin's proof is due a refresh; returns undefined (nothing to
 * await) otherwise: the common case on every request.
 */
function userRecorder(store: UserRecords, now: () => Date) {
  const seen = new Map<string, { fingerprint: string; at: number }>();
  // Verified contexts are shared while their token lives: derive their key and fingerprint once.
  const ids = new WeakMap<UserContext, { key: string; fingerprint: string }>();
  return (ctx: UserContext): Promise<void> | undefined => {
    let id = ids.get(ctx);
    if (!id) {
      id = { key: `${ctx.tenantId}/${ctx.oid}`, fingerprint: `${ctx.upn}|${ctx.name ?? ''}|${ctx.roles.join(',')}|${ctx.isAdmin}` };
      ids.set(ctx, id);
    }
    const { key, fingerprint } = id;
    const at = now();
    const last = seen.get(key);
    if (last?.fingerprint === fingerprint && (!ctx.isAdmin || at.getTime() - last.at < ADMIN_PROOF_REFRESH_MS)) return undefined;
    const iso = at.toISOString();
    return store
      .putUser({
        tenantId: ctx.tenantId,
        oid: ctx.oid,
        upn: ctx.upn,
        displayName: ctx.name,
        roles: ctx.roles,
        lastSeenAt: iso,
        adminProvenAt: ctx.isAdmin ? iso : null,
      })
      .then(() => {
        if (seen.size > 50_000) seen.clear();
        seen.set(key, { fingerprint, at: at.getTime() });
      });
  };
}

export function authenticate(deps: AuthDeps): Step {
  const record = userRecorder(deps.store, deps.now);
  const verifyBearer = async (header: string, state: StepState) => {
    const token = bearerOf(header);
    if (!token) throw new AppError('INVALID_TOKEN', { message: 'The Authorization header must be "Bearer <token>".' });
    state.user = await deps.verifier.verify(token, deps.now().getTime());
    await record(state.user);
  };
  return step('authenticate', (req, _res, state) => {
    const header = req.header('authorization');
    if (header) {
      // Hot path: a token verified before (so free of whitespace, exactly what bearerOf would
      // extract) is found synchronously; this step then needs no promise at all.
      const user = header.startsWith('Bearer ') ? deps.verifier.cached(header.slice(7), deps.now().getTime()) : undefined;
      if (!user) return verifyBearer(header, state);
      state.user = user;
      return record(user);
    }
    return fromSession(req, state);
  });

  async function fromSession(req: Request, state: StepState): Promise<void> {
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
          isAdmin: isAdmin({ roles: session.roles, upn, tenantId: session.tenantId }, deps.adminRule),
          via: 'session',
          sessionId: session.id,
          csrfToken: session.csrfToken,
        };
        await record(state.user);
        return;
      }
    }
    throw new AppError('INVALID_TOKEN', { message: 'Sign in first: no access token or session was sent.' });
  }
}

export const requireAdmin: Step = step('requireAdmin', (_req, _res, state) => {
  if (!state.user?.isAdmin) throw new AppError('ADMIN_ROLE_REQUIRED');
});

export function userOf(state: { user?: UserContext }): UserContext {
  if (!state.user) throw new AppError('INVALID_TOKEN');
  return state.user;
}
