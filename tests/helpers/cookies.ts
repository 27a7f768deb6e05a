/**
 * What a browser does with the product's cookies, for tests that follow redirects with fetch: keep
 * what the product sets (HttpOnly pre-login and session cookies) and send it back to the product.
 */
export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** Remembers (or, with Max-Age=0, forgets) the cookies a response set. */
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i).trim();
      if (/;\s*Max-Age=0\b/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(i + 1).trim());
    }
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** The Cookie header to send, or undefined when the jar is empty. */
  header(): string | undefined {
    return this.cookies.size ? [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  /** fetch with the jar's cookies (only to `origins`), remembering what the product sets. */
  async fetch(url: string, origins: string[], init: RequestInit = {}): Promise<Response> {
    const own = origins.includes(new URL(url).origin);
    const cookie = own ? this.header() : undefined;
    const res = await fetch(url, { redirect: 'manual', ...init, headers: { ...(init.headers as Record<string, string>), ...(cookie ? { cookie } : {}) } });
    if (own) this.take(res);
    return res;
  }
}
