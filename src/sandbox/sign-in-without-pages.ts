/**
 * A browser's part of a sign-in with no person at it: follows an authorize URL of the sandbox until
 * it leaves for the app, with a redirect or a form_post page. It completes only for a login_hint
 * whose consent decision is preset (or who needs no new consent); the demo's first consents and
 * the tests use it. Small and free of the sandbox's server code, so that the product can load it
 * without loading the sandbox.
 */

/** Returns the callback URL with its query (code and state, or error). Throws when the sandbox shows a page instead. */
export async function authorizeWithoutPages(authorizeUrl: string): Promise<URL> {
  let url = authorizeUrl;
  for (let hop = 0; hop < 5; hop++) {
    const res = await fetch(url, { redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location) {
      const next = new URL(location, url);
      if (next.pathname.endsWith('/oauth2/v2.0/authorize')) {
        url = next.toString();
        continue;
      }
      await res.arrayBuffer();
      return next;
    }
    const html = await res.text();
    const form = /<form method="post" action="([^"]+)" id="f">([\s\S]*?)<\/form>/.exec(html);
    if (res.status === 200 && form) {
      const target = new URL(decodeEntities(form[1]!));
      for (const m of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g))
        target.searchParams.set(decodeEntities(m[1]!), decodeEntities(m[2]!));
      return target;
    }
    const title = /<title>([^<]*)<\/title>/.exec(html)?.[1] ?? '';
    throw new Error(
      `authorize showed a page (${res.status} "${title}") instead of redirecting back: give login_hint for a user with a preset consent decision`,
    );
  }
  throw new Error('authorize: too many redirects');
}

function decodeEntities(s: string): string {
  return s
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
