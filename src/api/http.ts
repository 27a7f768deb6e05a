/**
 * The small HTTP kit every route uses: a handler is a list of named steps sharing a typed state;
 * errors become the JSON envelope `{ error: { code, message, remedy? } }` of docs/errors.md (5xx bodies generic, details only in the log).
 */
import { parseCookie, stringifySetCookie as serializeCookie } from 'cookie';
import type { Next, Request, Response } from 'restify';
import { AppError, errorBody, type ErrorCode, isErrorCode } from '../domain/errors';
import type { Logger } from '../log';
import { isStoreUnavailable } from '../store/errors';
import type { UserContext } from '../identity/verify';

export interface StepState {
  user?: UserContext;
  body?: unknown;
  [key: string]: unknown;
}

export type Step = ((req: Request, res: Response, state: StepState) => Promise<void> | void) & { stepName?: string };

/** Names a step so a failure log says where it happened. */
export function step(name: string, fn: (req: Request, res: Response, state: StepState) => Promise<void> | void): Step {
  const s = fn as Step;
  s.stepName = name;
  return s;
}

/**
 * Runs steps in order until one responds or throws. A step that returns no promise is followed
 * by the next one at once: the hot GET routes then answer without a single await, and the
 * handler hands back to restify through `next` rather than through a promise.
 */
export function pipeline(logger: Logger, ...steps: Step[]) {
  return (req: Request, res: Response, next: Next): void => new Run(steps, logger, req, res, next).resume();
}

/** One request going through a pipeline; a class so that no closure is created per request. */
class Run {
  private readonly state: StepState = {};
  private i = 0;
  private current = 'start';

  constructor(
    private readonly steps: Step[],
    private readonly logger: Logger,
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: Next,
  ) {}

  resume(): void {
    const { steps, req, res } = this;
    try {
      while (this.i < steps.length) {
        const s = steps[this.i++]!;
        this.current = s.stepName ?? (s.name || 'anonymous');
        const pending = s(req, res, this.state);
        if (pending && typeof pending.then === 'function') {
          pending.then(
            () => (res.headersSent ? this.next() : this.resume()),
            (err: unknown) => this.fail(err),
          );
          return;
        }
        if (res.headersSent) return this.next();
      }
      throw new Error(`no step answered ${req.method} ${req.path()}`);
    } catch (err) {
      this.fail(err);
    }
  }

  private fail(err: unknown): void {
    const { req } = this;
    sendError(this.res, err, this.logger.child({ step: this.current, route: `${req.method} ${req.getRoute()?.path ?? req.path()}` }));
    this.next();
  }
}

export function sendError(res: Response, err: unknown, logger: Logger): void {
  const appError = asAppError(err);
  if (appError.status >= 500) logger.error({ err, code: appError.code }, 'request failed');
  else logger.info({ code: appError.code, status: appError.status, reason: appError.message }, 'request refused');
  if (res.headersSent) return;
  const outage = appError.code === 'GRAPH_UNAVAILABLE' || appError.code === 'STORE_UNAVAILABLE';
  const body = appError.status >= 500 ? errorBody(outage ? appError.code : 'INTERNAL') : appError.toBody();
  if (appError.code === 'THROTTLED' || outage) res.setHeader('Retry-After', '30');
  sendJson(res, appError.status, { error: body });
}

/**
 * Whatever a handler threw, as an AppError: an AppError as it is, an Error that carries a catalogue
 * code with that code, anything else INTERNAL (its details stay in the log).
 */
export function asAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  // The database is down or restarting: a clear 503 the caller may retry, not an internal error.
  if (isStoreUnavailable(err)) return new AppError('STORE_UNAVAILABLE', { detail: err });
  const e = err as { statusCode?: number; code?: string; body?: { code?: string } } | undefined;
  if (e && typeof e.code === 'string' && isErrorCode(e.code) && e instanceof Error) {
    return new AppError(e.code as ErrorCode, { message: e.message, detail: err });
  }
  return new AppError('INTERNAL', { detail: err });
}

/** A payload already turned into JSON text: sendJson writes it as it is. */
export class PreSerialized {
  constructor(readonly json: string) {}
}

const serializedOnce = new WeakMap<object, PreSerialized>();

/**
 * The JSON of an answer a service hands out unchanged to many requests (the same frozen object
 * until something it derives from changes, as ConnectionService.getMine does): serialized on
 * first use and kept as long as the answer object lives. Only for values that never change.
 */
export function serializeShared(payload: object): PreSerialized {
  let hit = serializedOnce.get(payload);
  if (!hit) {
    hit = new PreSerialized(JSON.stringify(payload));
    serializedOnce.set(payload, hit);
  }
  return hit;
}

/**
 * Writes a JSON response in one go. The same bytes restify's res.json would send, without its
 * content negotiation and formatter lookup, which every API response paid for nothing.
 */
export function sendJson(res: Response, status: number, payload: unknown): void {
  const body = payload instanceof PreSerialized ? payload.json : (JSON.stringify(payload) ?? 'null');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.writeHead(status);
  res.end(body);
}

/** The raw body `readBody` (src/api/body.ts) read, whatever restify made of it. */
export function rawBody(req: Request): Buffer | undefined {
  const b = (req as unknown as { body?: unknown }).body;
  if (b === undefined || b === null) return undefined;
  if (Buffer.isBuffer(b)) return b;
  if (typeof b === 'string') return Buffer.from(b);
  return Buffer.from(JSON.stringify(b));
}

/** The query string as plain values (the first of repeated keys), parsed only by routes that read it. */
export function queryOf(req: Request): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(req.getQuery() ?? '')) if (!(k in out)) out[k] = v;
  return out;
}

/** Reads a cookie by name from the Cookie header. */
export function cookie(req: Request, name: string): string | undefined {
  const header = req.header('cookie');
  if (!header) return undefined;
  return parseCookie(header)[name];
}

export interface CookieOptions {
  /** Seconds; 0 removes the cookie. */
  maxAge: number;
  /** Sent only over https (set when TAB_ENDPOINT is https). */
  secure: boolean;
  path?: string;
}

/**
 * Adds a Set-Cookie header (several may go out with one response). Every cookie of the product is
 * HttpOnly and SameSite=Lax: scripts never read it, and cross-site requests other than top-level
 * navigations (the return from Entra) never carry it.
 */
export function setCookie(res: Response, name: string, value: string, options: CookieOptions): void {
  const line = serializeCookie(name, value, {
    httpOnly: true,
    sameSite: 'lax',
    path: options.path ?? '/',
    maxAge: options.maxAge,
    secure: options.secure,
  });
  const previous = res.getHeader('Set-Cookie');
  const lines = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
  res.setHeader('Set-Cookie', [...lines, line]);
}
