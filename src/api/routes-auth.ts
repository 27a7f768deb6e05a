/**
 * The consent and sign-in round trip (no bearer: bound by the one-time start URL and `state`).
 * /auth/start → Entra → /auth/callback → /auth/end (Teams popup) or /tab/ (browser).
 */
import type { Request, Response, Server } from 'restify';
import { AppError, type ErrorCode } from '../domain/errors';
import type { Logger } from '../log';
import type { ConnectionService } from '../services/connections';
import type { SignInService } from '../services/signin';
import type { Store } from '../store/types';
import { SESSION_COOKIE, constantTimeEqual } from './auth-steps';
import { cookie, pipeline, queryOf, rawBody, step, toAppError } from './http';

export interface AuthRouteDeps {
  logger: Logger;
  store: Store;
  connections: ConnectionService;
  signIn: SignInService;
  now: () => Date;
  secureCookies: boolean;
}

function redirect(res: Response, location: string) {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Location', location);
  res.status(302);
  res.end();
}

function finishUrl(mode: 'popup' | 'redirect', outcome: { ok: true } | { ok: false; code: ErrorCode; adminConsentUrl?: string }): string {
  // The tenant's admin-consent link travels with ADMIN_APPROVAL_REQUIRED so the remedy can name it.
  const extra = !outcome.ok && outcome.adminConsentUrl ? `&adminConsentUrl=${encodeURIComponent(outcome.adminConsentUrl)}` : '';
  if (mode === 'popup') return outcome.ok ? '/auth/end?status=success' : `/auth/end?status=failure&code=${outcome.code}${extra}`;
  return outcome.ok ? '/tab/?connect=success' : `/tab/?connect=failure&code=${outcome.code}${extra}`;
}

/** Callback parameters from the query (response_mode=query) or a form post (form_post). */
function callbackParams(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  const q: Record<string, unknown> = queryOf(req);
  for (const [k, v] of Object.entries(q)) if (typeof v === 'string') out[k] = v;
  if (req.method === 'POST') {
    const type = (req.header('content-type') ?? '').toLowerCase();
    if (!type.startsWith('application/x-www-form-urlencoded'))
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', { message: 'The callback accepts a form post (application/x-www-form-urlencoded).' });
    const body = rawBody(req)?.toString('utf8') ?? '';
    for (const [k, v] of new URLSearchParams(body)) out[k] = v;
  }
  return out;
}

export function authRoutes(deps: AuthRouteDeps) {
  const run = (...steps: Parameters<typeof pipeline>[1][]) => pipeline(deps.logger, ...steps);

  const start = run(
    step('spendTicket', async (req, res) => {
      const ticket = queryOf(req).ticket;
      if (typeof ticket !== 'string' || !ticket) return redirect(res, finishUrl('popup', { ok: false, code: 'AUTH_STATE_INVALID' }));
      try {
        redirect(res, await deps.connections.beginConsent(ticket));
      } catch (err) {
        const e = toAppError(err);
        if (e.status >= 500) deps.logger.error({ err }, 'could not start consent');
        redirect(res, finishUrl('popup', { ok: false, code: e.code }));
      }
    }),
  );

  const callback = run(
    step('finishRoundTrip', async (req, res) => {
      let params: Record<string, string>;
      try {
        params = callbackParams(req);
      } catch (err) {
        return redirect(res, finishUrl('popup', { ok: false, code: toAppError(err).code }));
      }
      // The state is spent before anything else: a replayed callback never redeems a code twice.
      const record = params.state ? await deps.store.takeAuthState(params.state, deps.now()) : undefined;
      if (!record || record.codeVerifier === '') {
        deps.logger.info({ hasState: !!params.state }, 'callback with an unknown, expired or used state');
        return redirect(res, finishUrl('popup', { ok: false, code: 'AUTH_STATE_INVALID' }));
      }
      if (record.purpose === 'signin') {
        if (params.error || !params.code)
          return redirect(res, `/tab/?signin=failure&code=${params.error === 'access_denied' ? 'USER_CONSENT_REQUIRED' : 'INVALID_TOKEN'}`);
        try {
          const { session, returnTo } = await deps.signIn.complete(record, params.code);
          const maxAge = Math.floor((Date.parse(session.expiresAt) - deps.now().getTime()) / 1000);
          res.setHeader(
            'Set-Cookie',
            `${SESSION_COOKIE}=${session.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${deps.secureCookies ? '; Secure' : ''}`,
          );
          return redirect(res, returnTo);
        } catch (err) {
          const e = toAppError(err);
          deps.logger[e.status >= 500 ? 'error' : 'info']({ err, code: e.code }, 'browser sign-in failed');
          return redirect(res, `/tab/?signin=failure&code=${e.code}`);
        }
      }
      if (params.error) {
        const code = deps.connections.consentErrorCode(params.error, params.error_description);
        deps.logger.info({ code, error: params.error }, 'consent not given');
        const adminConsentUrl = code === 'ADMIN_APPROVAL_REQUIRED' ? deps.connections.adminConsentUrl(record.tenantId) : undefined;
        return redirect(res, finishUrl(record.mode, { ok: false, code, adminConsentUrl }));
      }
      if (!params.code) return redirect(res, finishUrl(record.mode, { ok: false, code: 'AUTH_STATE_INVALID' }));
      try {
        await deps.connections.completeConsent(record, params.code);
        redirect(res, finishUrl(record.mode, { ok: true }));
      } catch (err) {
        const e = toAppError(err);
        deps.logger[e.status >= 500 ? 'error' : 'info']({ err, code: e.code }, 'consent could not be completed');
        redirect(res, finishUrl(record.mode, { ok: false, code: e.code }));
      }
    }),
  );

  return (server: Server) => {
    server.get('/auth/start', start);
    server.get('/auth/callback', callback);
    server.post('/auth/callback', callback);
    server.get(
      '/auth/signin',
      run(
        step('beginSignIn', async (req, res) => {
          const returnTo = queryOf(req).returnTo;
          redirect(res, await deps.signIn.begin(typeof returnTo === 'string' ? returnTo : undefined));
        }),
      ),
    );
    server.post(
      '/auth/signout',
      run(
        step('endSession', async (req, res) => {
          const id = cookie(req, SESSION_COOKIE);
          if (id) {
            const session = await deps.store.getSession(id, deps.now());
            if (session && !constantTimeEqual(req.header('x-csrf-token') ?? '', session.csrfToken)) throw new AppError('CSRF_REJECTED');
            await deps.store.deleteSession(id);
          }
          res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${deps.secureCookies ? '; Secure' : ''}`);
          res.status(204);
          res.end();
        }),
      ),
    );
  };
}
