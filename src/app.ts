/**
 * Builds the restify server (no listen: src/index.ts listens, tests use port 0).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import restify, { type Request, type Response, type Server } from 'restify';
import { errorBody, type ErrorCode } from './domain/errors';
import type { Logger } from './log';
import type { Store } from './store/types';
import { sendJson } from './api/http';
import { MAX_BODY_BYTES, TOO_LARGE_MESSAGE } from './api/body';
import { AUTH_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './api/rate-limit';

export { MAX_BODY_BYTES };

/** Hosts allowed to frame the tab: Teams, Outlook and the Microsoft 365 app (web and desktop). */
export const FRAME_ANCESTORS = [
  "'self'",
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://teams.cloud.microsoft',
  'https://*.cloud.microsoft',
  'https://*.teams.microsoft.us',
  'https://local.teams.office.com',
  'https://*.office.com',
  'https://outlook.office.com',
  'https://outlook.office365.com',
  'https://outlook.live.com',
  'https://*.outlook.com',
  'https://*.microsoft365.com',
  'https://*.office365.com',
  'https://*.skype.com',
];

/**
 * The policy sent with every response (built once per server). Forms may post only to this origin
 * and to the sign-in authority (its origin: AAD_APP_OAUTH_AUTHORITY_HOST).
 */
export function contentSecurityPolicy(options: { authorityHost?: string } = {}): string {
  const formAction = ["'self'", ...(options.authorityHost ? [new URL(options.authorityHost).origin] : [])];
  return [
    "default-src 'self'",
    "script-src 'self'",
    // Fluent UI (Griffel) injects styles at run time.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    // teams-js fetches its list of valid host origins from the Office CDN.
    "connect-src 'self' https://res.cdn.office.net",
    `form-action ${formAction.join(' ')}`,
    `frame-ancestors ${FRAME_ANCESTORS.join(' ')}`,
  ].join('; ');
}

/** The policy of a server built without an authority host. */
export const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

/** One year, subdomains not included: the product does not own its host's parent domain. */
export const STRICT_TRANSPORT_SECURITY = 'max-age=31536000';

/** /auth/* routes called by scripts (JSON answers); the others are browser navigations (HTML answers). */
const AUTH_API_PATHS = new Set(['/auth/signout']);

const RETIRED_KEYS_REMEDY = 'Run npm run keys:rotate before removing any older key from ENCRYPTION_KEY.';

/** restify's `first` chain, missing from @types/restify. */
type ServerWithFirst = Server & { first(handler: (req: Request, res: Response) => boolean | undefined): Server };

export interface RouteModule {
  (server: Server): void;
}

export interface AppOptions {
  logger: Logger;
  store: Store;
  /** Folder with the built tab (index.html, auth-end.html, assets/). */
  tabDir?: string;
  routes?: RouteModule[];
  /** TAB_ENDPOINT: when https, every response carries Strict-Transport-Security. */
  tabEndpoint?: string;
  /** AAD_APP_OAUTH_AUTHORITY_HOST (or the sandbox's): the one other origin forms may post to. */
  authorityHost?: string;
  /** Per client address on /auth/*; default AUTH_RATE_LIMIT. */
  authRateLimit?: RateLimitOptions;
  now?: () => Date;
}

export interface BuiltApp {
  server: Server;
  /** Stop accepting, finish in-flight requests, then resolve. */
  drain(timeoutMs?: number): Promise<void>;
}

/** restify's own errors (unknown route, body too large, …) by HTTP status, into the catalogue. */
const RESTIFY_CODES: Record<number, ErrorCode> = {
  400: 'VALIDATION_FAILED',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

export function buildApp(options: AppOptions): BuiltApp {
  const { logger, store } = options;
  const csp = options.authorityHost ? contentSecurityPolicy({ authorityHost: options.authorityHost }) : CONTENT_SECURITY_POLICY;
  const hsts = options.tabEndpoint?.startsWith('https:') ?? false;
  const now = options.now ?? (() => new Date());
  const authLimiter = new RateLimiter(options.authRateLimit ?? AUTH_RATE_LIMIT, () => now().getTime());
  const server = restify.createServer({ name: 'connection-center', handleUncaughtExceptions: false, ignoreTrailingSlash: true });
  let inFlight = 0;
  let draining = false;
  const idle: Array<() => void> = [];
  const settled = () => {
    inFlight--;
    if (inFlight === 0) idle.splice(0).forEach((f) => f());
  };

  // A `first` handler runs synchronously before restify decorates the request: no chain step,
  // no nextTick and no handler timers for what every response needs.
  (server as ServerWithFirst).first((req: Request, res: Response) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Content-Security-Policy', csp);
    if (hsts) res.setHeader('Strict-Transport-Security', STRICT_TRANSPORT_SECURITY);
    if (draining) {
      // Undecorated yet, so written with Node's own API rather than restify's res.json.
      const body = JSON.stringify({ error: errorBody('GRAPH_UNAVAILABLE', 'The server is shutting down.', 'Try again in a moment.') });
      res.writeHead(503, { Connection: 'close', 'Cache-Control': 'no-store', 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return false;
    }
    // Sign-in routes answer anyone: each start costs an outbound round trip and a cookie, so pace each address.
    const routePath = routePathOf(req.url ?? '/');
    if (routePath.startsWith('/auth/')) {
      const wait = authLimiter.take(req.socket.remoteAddress ?? 'unknown');
      if (wait > 0) {
        tooManyRequests(res, wait, AUTH_API_PATHS.has(routePath));
        return false;
      }
    }
    inFlight++;
    // 'close' follows every response, finished or aborted, exactly once.
    res.once('close', settled);
    return true;
  });

  // No body is read here: a route that takes one lists the step that reads it (src/api/body.ts),
  // so GETs, the hot path, pay nothing for bodies. Query strings are parsed per route.

  server.on('restifyError', (req: Request, res: Response, err: Error & { statusCode?: number; body?: unknown; toJSON?: () => unknown }, cb: () => void) => {
    const status = err.statusCode ?? 500;
    const code: ErrorCode = RESTIFY_CODES[status] ?? (status < 500 ? 'VALIDATION_FAILED' : 'INTERNAL');
    const message =
      code === 'NOT_FOUND'
        ? `Nothing is served at ${req.method} ${req.path()}.`
        : code === 'PAYLOAD_TOO_LARGE'
          ? TOO_LARGE_MESSAGE
          : code === 'INTERNAL'
            ? undefined
            : code === 'METHOD_NOT_ALLOWED'
              ? `${req.method} is not allowed on ${req.path()}.`
              : err.message || undefined;
    if (code === 'INTERNAL') logger.error({ err }, 'unhandled error');
    const body = { error: errorBody(code, message) };
    err.toJSON = () => body;
    err.toString = () => JSON.stringify(body);
    res.setHeader('Cache-Control', 'no-store');
    return cb();
  });

  server.get('/healthz', async (_req: Request, res: Response) => sendJson(res, 200, { status: 'ok' }));
  server.get('/readyz', async (_req: Request, res: Response) => {
    try {
      await store.ping();
      // Values still sealed with a key other than the first of ENCRYPTION_KEY: the older keys must
      // stay listed until `npm run keys:rotate` has rewritten them (shown only while there are any).
      const retired = Object.values(await store.countRetiredKeyValues()).reduce((a, b) => a + b, 0);
      sendJson(res, 200, retired === 0 ? { status: 'ready' } : { status: 'ready', retiredKeyValues: retired, remedy: RETIRED_KEYS_REMEDY });
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      sendJson(res, 503, {
        error: errorBody('STORE_UNAVAILABLE', 'The store is not reachable.', 'Check the DATA_STORE setting, the database server and the disk.'),
      });
    }
  });

  for (const register of options.routes ?? []) register(server);

  if (options.tabDir) registerTab(server, options.tabDir, logger);

  return {
    server,
    drain(timeoutMs = 10_000) {
      draining = true;
      return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        timer.unref();
        const finish = () => {
          clearTimeout(timer);
          resolve();
        };
        if (inFlight === 0) finish();
        else idle.push(finish);
      });
    },
  };
}

/**
 * The path as the router will see it: restify decodes escapes and resolves dot segments, so
 * `/%61uth/signin` and `/api/../auth/signin` reach /auth/signin too. Plain paths (nearly all
 * requests) pass through untouched.
 */
function routePathOf(url: string): string {
  let p = url.split('?', 1)[0]!;
  if (p.includes('%')) {
    try {
      p = decodeURIComponent(p);
    } catch {
      return p;
    }
  }
  if (p.includes('/.')) p = new URL(p, 'http://route.invalid').pathname;
  return p;
}

/** 429 written with Node's own API (the request is not decorated yet): JSON for scripts, a page for browsers. */
function tooManyRequests(res: Response, retryAfterSeconds: number, json: boolean): void {
  const { message, remedy } = errorBody('RATE_LIMITED');
  const body = json
    ? JSON.stringify({ error: errorBody('RATE_LIMITED') })
    : `<!doctype html><html lang="en"><meta charset="utf-8"><title>Too many requests</title><h1>Too many requests</h1><p>${message}</p><p>${remedy ?? ''}</p><p>Code: RATE_LIMITED</p></html>`;
  res.writeHead(429, {
    'Retry-After': String(retryAfterSeconds),
    'Cache-Control': 'no-store',
    'Content-Type': json ? 'application/json' : 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function registerTab(server: Server, tabDir: string, logger: Logger) {
  const dir = path.resolve(tabDir);
  if (!existsSync(path.join(dir, 'index.html'))) {
    logger.warn({ dir }, 'the tab is not built (run npm run build:tab); /tab/ will answer 404');
  }
  const toTab = async (_req: Request, res: Response) => {
    res.setHeader('Location', '/tab/');
    res.status(302);
    res.end();
  };
  server.get('/', toTab);
  const index = restify.plugins.serveStatic({ directory: dir, file: 'index.html' });
  // ignoreTrailingSlash makes /tab and /tab/ one route: serve the page at /tab/, send /tab there.
  server.get('/tab', (req: Request, res: Response, next: restify.Next) => {
    if (req.path().endsWith('/')) {
      res.setHeader('Cache-Control', 'no-cache');
      return index(req, res, next);
    }
    void toTab(req, res);
    return next(false);
  });
  server.get('/auth/end', restify.plugins.serveStatic({ directory: dir, file: 'auth-end.html' }));
  server.get(
    '/tab/*',
    restify.plugins.serveStaticFiles(dir, {
      maxAge: 0,
      setHeaders: (res: import('http').ServerResponse, file: string) => {
        // Hashed assets can be cached for long; the HTML must always be fresh.
        res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
}
