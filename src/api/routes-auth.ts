/**
 * The consent and sign-in round trip (no bearer: bound by the one-time start URL, `state` and a
 * short-lived pre-login cookie of the browser that started it).
 * /auth/signin → Entra → /auth/callback → /tab/ (browser sign-in: nothing stored before the user is known)
 * /auth/start → Entra → /auth/callback → /auth/end (Teams popup) or /tab/ (consent of a signed-in user)
 *
 * Both cookies are SameSite=Lax, so they come back on Entra's top-level redirect to the callback
 * (response_mode=query, which is what the product asks for); a form_post return would not carry them.
 */
import type { Request, Response, Server } from 'restify';
import { diagnoseAuthorizeError } from '../domain/diagnosis';
import { AppError, type ErrorCode } from '../domain/errors';
import type { Logger } from '../log';
import type { ConnectionService } from '../services/connections';
import type { Sealer } from '../services/sealed';
import { SIGNIN_TTL_MS, type SignInService } from '../services/signin';
import type { AuthStateRecord, AuthStateRecords, SessionRecord, SessionRecords } from '../store/types';
import { SESSION_COOKIE, constantTimeEqual } from './auth-steps';
import { readBody } from './body';
import { cookie, pipeline, queryOf, rawBody, setCookie, step, asAppError, type StepState } from './http';

/** The browser sign-in in progress (sealed PKCE verifier, nonce, state, returnTo). */
export const SIGNIN_COOKIE = 'cc_signin';
/** The consent round trip in progress: ties its state to the browser that opened /auth/start. */
export const CONSENT_COOKIE = 'cc_consent';
const CONSENT_PURPOSE = 'consent';
/** Pre-login cookies are sent only to the round trip's own routes. */
const AUTH_PATH = '/auth';

export interface AuthRouteDeps {
  logger: Logger;
  store: AuthStateRecords & SessionRecords;
  connections: ConnectionService;
  signIn: SignInService;
  sealer: Sealer;
  now: () => Date;
  secureCookies: boolean;
}

interface CallbackState extends StepState {
  params?: Record<string, string>;
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

const signInFailed = (code: ErrorCode) => `/tab/?signin=failure&code=${code}`;

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
  const preLogin = (res: Response, name: string, value: string, maxAgeMs: number) =>
    setCookie(res, name, value, { maxAge: Math.floor(maxAgeMs / 1000), secure: deps.secureCookies, path: AUTH_PATH });
  const forget = (res: Response, name: string) => setCookie(res, name, '', { maxAge: 0, secure: deps.secureCookies, path: AUTH_PATH });

  const start = run(
    step('spendTicket', async (req, res) => {
      const ticket = queryOf(req).ticket;
      if (typeof ticket !== 'string' || !ticket) return redirect(res, finishUrl('popup', { ok: false, code: 'AUTH_STATE_INVALID' }));
      try {
        const { url, state, expiresAt } = await deps.connections.beginConsent(ticket);
        // The Teams auth popup is a top-level window on our origin: the cookie set here comes back with the callback.
        preLogin(res, CONSENT_COOKIE, deps.sealer.seal(CONSENT_PURPOSE, { state }), Date.parse(expiresAt) - deps.now().getTime());
        redirect(res, url);
      } catch (err) {
        const e = asAppError(err);
        if (e.status >= 500) deps.logger.error({ err }, 'could not start consent');
        redirect(res, finishUrl('popup', { ok: false, code: e.code }));
      }
    }),
  );

  const readParams = step('readParams', (req, res, state: CallbackState) => {
    try {
      state.params = callbackParams(req);
    } catch (err) {
      redirect(res, finishUrl('popup', { ok: false, code: asAppError(err).code }));
    }
  });

  const finishSignIn = step('finishSignIn', async (req, res, state: CallbackState) => {
    const params = state.params!;
    if (!params.state || !deps.signIn.isSignInState(params.state)) return;
    const { location, session } = await signInOutcome(req, params);
    // The session cookie first: it is the one a reader of this response is after.
    if (session)
      setCookie(res, SESSION_COOKIE, session.id, {
        maxAge: Math.floor((Date.parse(session.expiresAt) - deps.now().getTime()) / 1000),
        secure: deps.secureCookies,
      });
    forget(res, SIGNIN_COOKIE);
    redirect(res, location);
  });

  async function signInOutcome(req: Request, params: Record<string, string>): Promise<{ location: string; session?: SessionRecord }> {
    const pending = deps.signIn.take(cookie(req, SIGNIN_COOKIE), params.state!);
    if (!pending) {
      // Someone else's sign-in (login CSRF), or this one expired or was finished already: no session.
      deps.logger.warn({ hasCookie: !!cookie(req, SIGNIN_COOKIE) }, 'sign-in callback refused: not started in this browser');
      return { location: signInFailed('AUTH_BROWSER_MISMATCH') };
    }
    if (params.error || !params.code) {
      const code = diagnoseAuthorizeError({ error: params.error ?? '', description: params.error_description, flow: 'sign-in' });
      deps.logger.info({ code, error: params.error }, 'browser sign-in not completed at Entra');
      return { location: signInFailed(code) };
    }
    try {
      const { session, returnTo } = await deps.signIn.complete(pending, params.code);
      return { location: returnTo, session };
    } catch (err) {
      const e = asAppError(err);
      deps.logger[e.status >= 500 ? 'error' : 'info']({ err, code: e.code }, 'browser sign-in failed');
      return { location: signInFailed(e.code) };
    }
  }

  const finishConsent = step('finishConsent', async (req, res, state: CallbackState) => {
    const params = state.params!;
    // The state is spent before anything else: a replayed callback never redeems a code twice.
    const record = params.state ? await deps.store.takeAuthState(params.state, deps.now()) : undefined;
    if (!record || record.stage !== 'consent') {
      deps.logger.info({ hasState: !!params.state }, 'callback with an unknown, expired or used state');
      return redirect(res, finishUrl('popup', { ok: false, code: 'AUTH_STATE_INVALID' }));
    }
    forget(res, CONSENT_COOKIE);
    if (!boundToThisBrowser(req, record)) {
      deps.logger.warn({ mode: record.mode }, 'consent callback refused: not started in this browser');
      return redirect(res, finishUrl(record.mode, { ok: false, code: 'AUTH_BROWSER_MISMATCH' }));
    }
    if (params.error) {
      const code = diagnoseAuthorizeError({ error: params.error, description: params.error_description, flow: 'consent' });
      deps.logger.info({ code, error: params.error }, 'consent not given');
      const adminConsentUrl = code === 'ADMIN_APPROVAL_REQUIRED' ? deps.connections.adminConsentUrl(record.tenantId) : undefined;
      return redirect(res, finishUrl(record.mode, { ok: false, code, adminConsentUrl }));
    }
    if (!params.code) return redirect(res, finishUrl(record.mode, { ok: false, code: 'AUTH_STATE_INVALID' }));
    try {
      await deps.connections.completeConsent(record, params.code);
      redirect(res, finishUrl(record.mode, { ok: true }));
    } catch (err) {
      const e = asAppError(err);
      deps.logger[e.status >= 500 ? 'error' : 'info']({ err, code: e.code }, 'consent could not be completed');
      redirect(res, finishUrl(record.mode, { ok: false, code: e.code }));
    }
  });

  function boundToThisBrowser(req: Request, record: AuthStateRecord): boolean {
    const bound = deps.sealer.open<{ state?: unknown }>(CONSENT_PURPOSE, cookie(req, CONSENT_COOKIE));
    return typeof bound?.state === 'string' && constantTimeEqual(bound.state, record.state);
  }

  const callback = run(readParams, finishSignIn, finishConsent);
  // A form_post return carries its parameters in the body: only that route reads one.
  const postedCallback = run(readBody, readParams, finishSignIn, finishConsent);

  return (server: Server) => {
    server.get('/auth/start', start);
    server.get('/auth/callback', callback);
    server.post('/auth/callback', postedCallback);
    server.get(
      '/auth/signin',
      run(
        step('beginSignIn', async (req, res) => {
          const returnTo = queryOf(req).returnTo;
          const { url, sealed } = await deps.signIn.begin(typeof returnTo === 'string' ? returnTo : undefined);
          preLogin(res, SIGNIN_COOKIE, sealed, SIGNIN_TTL_MS);
          redirect(res, url);
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
            if (session) {
              if (!constantTimeEqual(req.header('x-csrf-token') ?? '', session.csrfToken)) throw new AppError('CSRF_REJECTED');
              await deps.signIn.end(session);
            } else await deps.store.deleteSession(id);
          }
          setCookie(res, SESSION_COOKIE, '', { maxAge: 0, secure: deps.secureCookies });
          res.status(204);
          res.end();
        }),
      ),
    );
  };
}
