/**
 * The tab's only way to the server. Every failure becomes an ApiError carrying a catalogue code,
 * a message and a remedy, so no screen ever shows a raw HTTP status.
 */
import type { ErrorEnvelope } from '../../src/contract';
import { ERROR_CATALOGUE, isErrorCode, remedyWith } from '../../src/domain/errors';

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly remedy: string | undefined,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** An ApiError built from the catalogue entry of `code` (unknown codes fall back to INTERNAL). */
export function catalogueError(code: string, status = 0, context: { adminConsentUrl?: string } = {}): ApiError {
  const known = isErrorCode(code) ? code : 'INTERNAL';
  return new ApiError(known, ERROR_CATALOGUE[known].message, remedyWith(known, context), status);
}

export const UNREACHABLE = 'SERVER_UNREACHABLE';

export type AuthMode = { kind: 'sso'; getToken: () => Promise<string> } | { kind: 'session' };

export interface RequestOptions {
  body?: unknown;
  /** Raw body (e.g. a CSV file) sent as is with this content type. */
  raw?: { data: BodyInit; contentType: string };
}

function isEnvelope(v: unknown): v is ErrorEnvelope {
  if (typeof v !== 'object' || v === null || !('error' in v)) return false;
  const e = (v as { error: unknown }).error;
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string';
}

async function errorFrom(res: Response): Promise<ApiError> {
  let parsed: unknown;
  try {
    parsed = await res.json();
  } catch {
    parsed = undefined;
  }
  if (isEnvelope(parsed)) return new ApiError(parsed.error.code, parsed.error.message, parsed.error.remedy, res.status);
  // A proxy page or an empty body: describe it from the catalogue, never by its status number.
  if (res.status === 401) return catalogueError('INVALID_TOKEN', 401);
  if (res.status === 404) return catalogueError('NOT_FOUND', 404);
  if (res.status === 413) return catalogueError('PAYLOAD_TOO_LARGE', 413);
  if (res.status === 429) return catalogueError('THROTTLED', 429);
  return catalogueError('INTERNAL', res.status);
}

export class Api {
  private csrfToken: string | undefined;

  constructor(private readonly auth: AuthMode) {}

  get mode(): AuthMode['kind'] {
    return this.auth.kind;
  }

  setCsrfToken(token: string | undefined): void {
    this.csrfToken = token;
  }

  private async headers(method: string, contentType?: string): Promise<Headers> {
    const h = new Headers({ Accept: 'application/json' });
    if (contentType) h.set('Content-Type', contentType);
    if (this.auth.kind === 'sso') {
      let token: string;
      try {
        token = await this.auth.getToken();
      } catch {
        throw new ApiError(
          'SSO_FAILED',
          'Teams could not sign you in to Connection Center.',
          'Reload the tab. If it keeps happening, ask your administrator to check the app’s single sign-on setup.',
          0,
        );
      }
      h.set('Authorization', `Bearer ${token}`);
    } else if (method !== 'GET' && this.csrfToken) {
      h.set('X-CSRF-Token', this.csrfToken);
    }
    return h;
  }

  async fetch(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    let body: BodyInit | undefined;
    let contentType: string | undefined;
    if (options.raw) {
      body = options.raw.data;
      contentType = options.raw.contentType;
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      contentType = 'application/json';
    }
    const headers = await this.headers(method, contentType);
    let res: Response;
    try {
      res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ApiError(UNREACHABLE, 'Connection Center could not be reached.', 'Check your network connection and try again.', 0);
    }
    if (!res.ok) throw await errorFrom(res);
    return res;
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.fetch(method, path, options);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw catalogueError('INTERNAL', res.status);
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body === undefined ? {} : { body });
  }
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, { body });
  }
  delete(path: string): Promise<void> {
    return this.request<void>('DELETE', path);
  }

  /**
   * Downloads a file. With a cookie session a plain link would do, but with SSO the bearer token
   * must go along, so fetch it and hand the browser a blob.
   */
  async download(path: string, filename: string): Promise<void> {
    const res = await this.fetch('GET', path);
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
}

/** Message + remedy of anything thrown, for display. */
export function describeError(e: unknown): { code: string; message: string; remedy?: string } {
  if (e instanceof ApiError) return { code: e.code, message: e.message, remedy: e.remedy };
  const entry = ERROR_CATALOGUE.INTERNAL;
  return { code: 'INTERNAL', message: entry.message, remedy: entry.remedy };
}
