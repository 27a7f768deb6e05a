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
 * MSAL gets an answer from Entra ID once the other answers that came in with it have been handled.
 * Its handling of a token response (account and cache bookkeeping, serialising the user's partition,
 * writing it) takes about a millisecond; a health-check run redeems 16 refresh tokens at a time, and
 * handling their answers as they were read held back the run's `$batch` answers read in the same
 * poll of the event loop (bench:sweep: round trips 67 → 63 ms, the run about 4.4 s → 4.2 s).
 */
function afterThisPoll(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
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
    await afterThisPoll();
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
