/**
 * The HTTP client MSAL talks to Entra ID through. MSAL's default client has no timeout on POST and
 * fails on non-JSON bodies without telling us the status. This one times out, and remembers what
 * happened, for the diagnosis (./msal-errors.ts).
 */
import type { INetworkModule, NetworkRequestOptions } from '@azure/msal-node';

/** Per HTTP request to Entra ID, unless the caller gives another. */
export const DEFAULT_HTTP_TIMEOUT_MS = 10_000;

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
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: options?.headers,
        ...(method === 'POST' ? { body: options?.body ?? '' } : {}),
        signal: AbortSignal.timeout(timeout ?? this.timeoutMs),
      });
    } catch (err) {
      this.unreachable = true;
      throw new Error(`request to the authority failed: ${(err as Error)?.name ?? 'Error'}`);
    }
    this.lastStatus = res.status;
    const text = await res.text();
    let body: T;
    try {
      body = (text ? JSON.parse(text) : {}) as T;
    } catch {
      throw new Error(`the authority answered HTTP ${res.status} without JSON`);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k] = v));
    return { headers, body, status: res.status };
  }
}
