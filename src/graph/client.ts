/**
 * Microsoft Graph client factory: @microsoft/microsoft-graph-client 3 with its
 * RetryHandler (429 honouring Retry-After, bounded), a per-request timeout, `$batch` with the
 * in-batch 429 re-sends the SDK does not do, and Graph errors turned into catalogue codes.
 */
import {
  AuthenticationHandler,
  Client,
  GraphClientError,
  GraphError,
  RetryHandler,
  RetryHandlerOptions,
  TelemetryHandler,
  type AuthenticationProvider,
  type Context,
  type Middleware,
} from '@microsoft/microsoft-graph-client';
import { diagnoseGraphError } from '../domain/diagnosis';
import { parseRetryAfter } from '../domain/formats';
import { AppError, isErrorCode, type ErrorCode } from '../domain/errors';
import { scrubSecrets } from '../log';

export const DEFAULT_FETCH_TIMEOUT_MS = 15_000;
export const BATCH_LIMIT = 20;

export interface RetryPolicy {
  /** Retries after the first attempt (SDK maximum 10; default 3). */
  maxRetries?: number;
  /** Base back-off in seconds when the response names no Retry-After (default 1). */
  delaySeconds?: number;
  /** A Retry-After longer than this is not waited for: the caller gets the 429 (default 10 s). */
  maxRetryAfterSeconds?: number;
}

export interface GraphClientOptions {
  /** e.g. https://graph.microsoft.com, a national cloud, or the sandbox's https://127.0.0.1:<port>. */
  graphEndpoint: string;
  accessToken?: string;
  getAccessToken?: () => Promise<string>;
  fetchTimeoutMs?: number;
  retry?: RetryPolicy;
}

/** Graph error body `{ error: { code, message } }`, as far as it can be read. */
export interface GraphErrorFacts {
  status: number;
  code?: string;
  message?: string;
}

function retryAfterSeconds(value: string | null | undefined): number | undefined {
  const ms = parseRetryAfter(value, Date.now());
  return ms === undefined ? undefined : ms / 1000;
}

/**
 * The SDK's AuthenticationHandler compares customHosts with the URL's host name *without* the port
 * (`https://127.0.0.1:8443/v1.0/me` → `127.0.0.1`): listing `host:port` silently sends no token.
 */
export function customHostsFor(graphEndpoint: string): Set<string> {
  return new Set([new URL(graphEndpoint).hostname.toLowerCase()]);
}

/** Last link of the chain: fetch with a timeout per attempt (the SDK's own handler has none). */
class TimedFetchHandler implements Middleware {
  constructor(private readonly timeoutMs: number) {}
  async execute(context: Context): Promise<void> {
    context.response = await fetch(context.request, { ...(context.options as RequestInit), signal: AbortSignal.timeout(this.timeoutMs) });
  }
}

/** The SDK wraps a token-provider failure into a bare GraphError; carry the catalogue code in its name. */
const TOKEN_ERROR_PREFIX = 'AppError:';
class TokenProviderError extends Error {
  constructor(err: unknown) {
    const code: ErrorCode = err instanceof AppError ? err.code : 'INTERNAL';
    super(err instanceof AppError ? err.message : 'The access token could not be obtained.');
    this.name = `${TOKEN_ERROR_PREFIX}${code}`;
  }
}

export function createGraphClient(opts: GraphClientOptions): Client {
  if (!opts.accessToken && !opts.getAccessToken) throw new Error('createGraphClient needs accessToken or getAccessToken');
  const policy = { maxRetries: 3, delaySeconds: 1, maxRetryAfterSeconds: 10, ...opts.retry };
  const authProvider: AuthenticationProvider = {
    getAccessToken: async () => {
      if (opts.accessToken) return opts.accessToken;
      try {
        return await opts.getAccessToken!();
      } catch (err) {
        throw new TokenProviderError(err);
      }
    },
  };
  const shouldRetry = (_delay: number, _attempt: number, _req: RequestInfo, _o: unknown, response: Response): boolean => {
    const after = retryAfterSeconds(response.headers.get('Retry-After'));
    if (after !== undefined && after > policy.maxRetryAfterSeconds) return false;
    // 503/504 are retried only when Graph says when; otherwise report the outage at once.
    if (response.status !== 429 && after === undefined) return false;
    return true;
  };
  const chain: Middleware[] = [
    new AuthenticationHandler(authProvider),
    new RetryHandler(new RetryHandlerOptions(policy.delaySeconds, Math.min(policy.maxRetries, 10), shouldRetry)),
    new TelemetryHandler(),
    new TimedFetchHandler(opts.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS),
  ];
  for (let i = 0; i < chain.length - 1; i++) chain[i].setNext!(chain[i + 1]);
  return Client.initWithMiddleware({
    middleware: chain[0],
    baseUrl: opts.graphEndpoint.replace(/\/+$/, ''),
    defaultVersion: 'v1.0',
    customHosts: customHostsFor(opts.graphEndpoint),
  });
}

/** Facts of a Graph error body, for diagnoseGraphError. */
export function graphErrorFacts(status: number, body: unknown): GraphErrorFacts {
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const err = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  return {
    status,
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    ...(typeof err?.message === 'string' ? { message: err.message } : {}),
  };
}

/** Any failure of a Graph call → AppError with a catalogue code (raw facts in `detail` only). */
export function fromGraphFailure(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof GraphError) {
    if (err.code?.startsWith(TOKEN_ERROR_PREFIX)) {
      const code = err.code.slice(TOKEN_ERROR_PREFIX.length);
      return new AppError(isErrorCode(code) ? code : 'INTERNAL', { detail: { source: 'token provider' } });
    }
    const status = err.statusCode > 0 ? err.statusCode : 0;
    const facts: GraphErrorFacts = { status, ...(err.code ? { code: err.code } : {}), ...(err.message ? { message: err.message } : {}) };
    return new AppError(diagnoseGraphError(facts), {
      detail: { status, graphCode: err.code, message: scrubSecrets(err.message ?? ''), requestId: err.requestId ?? undefined },
    });
  }
  if (err instanceof GraphClientError) return new AppError('INTERNAL', { detail: { message: scrubSecrets(err.message) } });
  return new AppError('INTERNAL', { detail: { message: scrubSecrets(String((err as Error)?.message ?? err)) } });
}

// ---------------------------------------------------------------------------------------------
// $batch

export interface BatchRequestItem {
  id: string;
  method?: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  /** Relative to the version root, e.g. `/me/mailFolders/inbox`. */
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

export interface BatchResponseItem {
  id: string;
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export interface BatchOptions {
  /** Sends of the same items, counting the first (default 3). */
  maxRounds?: number;
  /** Longest Retry-After waited for inside a batch (default 10 s); longer → returned as 429. */
  maxRetryAfterSeconds?: number;
  /** When a throttled item names no Retry-After (default 1 s). */
  defaultRetryAfterSeconds?: number;
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : headers[key];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Sends requests through `$batch`, at most 20 per batch, batches one after another (Outlook allows
 * 4 concurrent requests per mailbox). Items that come back 429 inside the 200 are sent again after
 * their Retry-After, a bounded number of times; items that failed only because they depended on a
 * throttled one (424) go with them. Results are in request order. A failure of the batch call
 * itself (network, 5xx after retries) is thrown as a GraphError.
 */
export async function graphBatch(client: Client, requests: readonly BatchRequestItem[], options: BatchOptions = {}): Promise<BatchResponseItem[]> {
  const maxRounds = Math.max(1, options.maxRounds ?? 3);
  const cap = options.maxRetryAfterSeconds ?? 10;
  const fallbackWait = options.defaultRetryAfterSeconds ?? 1;
  const ids = new Set<string>();
  for (const r of requests) {
    if (!r.id || ids.has(r.id)) throw new Error(`graphBatch: request ids must be unique and non-empty (${r.id})`);
    ids.add(r.id);
  }
  const results = new Map<string, BatchResponseItem>();
  const done = new Set<string>();
  for (let start = 0; start < requests.length; start += BATCH_LIMIT) {
    const chunk = requests.slice(start, start + BATCH_LIMIT);
    const inChunk = new Set(chunk.map((r) => r.id));
    for (const r of chunk) {
      for (const d of r.dependsOn ?? []) {
        if (!inChunk.has(d) && !done.has(d)) throw new Error(`graphBatch: ${r.id} depends on ${d}, which is not sent before it`);
      }
    }
    let pending = chunk;
    for (let round = 1; ; round++) {
      const sending = new Set(pending.map((r) => r.id));
      const payload = {
        requests: pending.map((r) => {
          // Dependencies in earlier batches (or already answered) are satisfied by the order of sending.
          const dependsOn = (r.dependsOn ?? []).filter((d) => sending.has(d));
          return {
            id: r.id,
            method: r.method ?? 'GET',
            url: r.url.startsWith('/') ? r.url : `/${r.url}`,
            ...(r.headers || r.body !== undefined
              ? { headers: { ...(r.body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...r.headers } }
              : {}),
            ...(r.body !== undefined ? { body: r.body } : {}),
            ...(dependsOn.length ? { dependsOn } : {}),
          };
        }),
      };
      const answer = (await client.api('/$batch').post(payload)) as {
        responses?: Array<{ id?: unknown; status?: unknown; headers?: Record<string, string>; body?: unknown }>;
      };
      for (const item of answer?.responses ?? []) {
        const id = String(item.id);
        if (!sending.has(id)) continue;
        results.set(id, { id, status: Number(item.status) || 0, headers: item.headers ?? {}, ...(item.body !== undefined ? { body: item.body } : {}) });
      }
      const throttled = new Set(pending.filter((r) => results.get(r.id)?.status === 429).map((r) => r.id));
      for (const r of pending) {
        if (results.get(r.id)?.status === 424 && (r.dependsOn ?? []).some((d) => throttled.has(d))) throttled.add(r.id);
      }
      if (throttled.size === 0 || round >= maxRounds) break;
      let wait = 0;
      for (const id of throttled) {
        // Dependants (424) carry no Retry-After of their own: the throttled items set the pace.
        if (results.get(id)?.status !== 429) continue;
        const after = retryAfterSeconds(headerValue(results.get(id)?.headers, 'Retry-After')) ?? fallbackWait;
        wait = Math.max(wait, after);
      }
      if (wait > cap) break;
      await sleep(wait * 1000);
      pending = pending.filter((r) => throttled.has(r.id));
    }
    for (const r of chunk) done.add(r.id);
  }
  // An item the service never answered is reported as unavailable rather than silently missing.
  return requests.map((r) => results.get(r.id) ?? { id: r.id, status: 0, headers: {} });
}

/** Catalogue code for one batch item's failure (undefined for a 2xx). */
export function batchItemError(item: BatchResponseItem): ErrorCode | undefined {
  if (item.status >= 200 && item.status < 300) return undefined;
  return diagnoseGraphError(graphErrorFacts(item.status, item.body));
}
