/**
 * The HTTP client MSAL talks to Entra ID through. MSAL's default client has no timeout on POST and
 * fails on non-JSON bodies without telling us the status. This one times out, remembers what
 * happened, for the diagnosis (./msal-errors.ts), and keeps connections open: a health-check run
 * redeems one refresh token per delegated user.
 */
import type { INetworkModule, NetworkRequestOptions } from '@azure/msal-node';
import { sendRequest, type PlainResponse } from '../graph/http';

/** Per HTTP request to Entra ID, unless the caller gives another. */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

/**
 * Answers from Entra ID are handed to MSAL one per turn of the event loop. MSAL's handling of a
 * token response (account and cache bookkeeping, serialising the user's partition, writing it) takes
 * about a millisecond; a health-check run redeems 16 refresh tokens at a time, and handling all the
 * answers that arrived together in one turn held back every other answer that came meanwhile, the
 * run's `$batch` answers among them (bench:sweep: 4.3–4.4 s → 4.0 s). Between two turns Node polls
 * for I/O again.
 */
const waitingForTurn: Array<() => void> = [];

function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    waitingForTurn.push(resolve);
    if (waitingForTurn.length === 1) setImmediate(takeTurn);
  });
}

function takeTurn(): void {
  const resume = waitingForTurn.shift();
  if (waitingForTurn.length > 0) setImmediate(takeTurn);
  resume?.();
}

export class TimedNetworkClient implements INetworkModule {
  lastStatus: number | undefined;
  unreachable = false;

  constructor(private readonly timeoutMs: number = DEFAULT_HTTP_TIMEOUT_MS) {}

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<{ headers: Record<string, string>; body: T; status: number }> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<{ headers: Record<string, string>; body: T; status: number }> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number) {
    let res: PlainResponse;
    try {
      res = await sendRequest(method, url, {
        headers: options?.headers,
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        timeoutMs: timeout ?? this.timeoutMs,
      });
    } catch (err) {
      this.unreachable = true;
      throw new Error(`request to the authority failed: ${(err as Error)?.name ?? 'Error'}`);
    }
    await nextTurn();
    this.lastStatus = res.status;
    let body: T;
    try {
      body = (res.text ? JSON.parse(res.text) : {}) as T;
    } catch {
      throw new Error(`the authority answered HTTP ${res.status} without JSON`);
    }
    return { headers: res.headers, body, status: res.status };
  }
}
