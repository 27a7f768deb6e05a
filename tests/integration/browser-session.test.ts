/**
 * Outside a Teams host: OpenID Connect sign-in → httpOnly session cookie, CSRF on writes, sign-out.
 */
import { SESSION_COOKIE } from '../../src/api/auth-steps';
import { CookieJar } from '../helpers/cookies';
import { authorizeWithoutPages } from '../helpers/sandbox';
import { startTestProduct, type TestProduct } from '../helpers/product';

async function signIn(p: TestProduct, upn: string): Promise<{ cookie: string; setCookie: string }> {
  const jar = new CookieJar();
  const start = await jar.fetch(`${p.url}/auth/signin?returnTo=/tab/`, [p.url]);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get('location')!);
  // A person picks the account on the page (prompt=select_account); the test names it instead.
  expect(authorize.searchParams.get('prompt')).toBe('select_account');
  authorize.searchParams.delete('prompt');
  authorize.searchParams.set('login_hint', upn);
  const callback = await authorizeWithoutPages(authorize.toString());
  const back = await jar.fetch(`${p.url}${callback.pathname}${callback.search}`, [p.url]);
  expect(back.headers.get('location')).toBe('/tab/');
  // The callback also clears the pre-login cookie: read the session's own line.
  const setCookie = back.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  return { cookie: setCookie.split(';')[0]!, setCookie };
}

describe('browser session', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('signs in with a redirect and sets an httpOnly, SameSite session cookie (not Secure on plain localhost)', async () => {
    const { cookie, setCookie } = await signIn(p, 'adele.vance@contoso.com');
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/);
    const me = await p.call('GET', '/api/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { upn: 'adele.vance@contoso.com' }, isAdmin: true, auth: 'session', csrfToken: expect.any(String) });
    // The session's roles come from a verified token: admin routes work with the cookie.
    expect((await p.call('GET', '/api/admin/summary', { headers: { cookie } })).status).toBe(200);
  });

  it('refuses state-changing requests without the CSRF token', async () => {
    const { cookie } = await signIn(p, 'alex.wilber@contoso.com');
    const me = await p.call('GET', '/api/me', { headers: { cookie } });
    const refused = await p.call('POST', '/api/me/connect', { headers: { cookie }, body: { mode: 'redirect' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('CSRF_REJECTED');
    const wrong = await p.call('POST', '/api/me/connect', { headers: { cookie, 'x-csrf-token': 'guess' }, body: { mode: 'redirect' } });
    expect(wrong.status).toBe(403);
    const ok = await p.call('POST', '/api/me/connect', { headers: { cookie, 'x-csrf-token': me.body.csrfToken }, body: { mode: 'redirect' } });
    expect(ok.status).toBe(200);
    expect(ok.body.url).toContain('/auth/start?ticket=');
  });

  it('signs out: the cookie stops working', async () => {
    const { cookie } = await signIn(p, 'alex.wilber@contoso.com');
    const me = await p.call('GET', '/api/me', { headers: { cookie } });
    const out = await p.call('POST', '/auth/signout', { headers: { cookie, 'x-csrf-token': me.body.csrfToken } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/Max-Age=0/);
    expect((await p.call('GET', '/api/me', { headers: { cookie } })).status).toBe(401);
  });

  it('a forged or unknown session cookie is no session', async () => {
    const res = await p.call('GET', '/api/me', { headers: { cookie: 'cc_session=forged' } });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });

  it('only local paths are accepted as returnTo', async () => {
    const jar = new CookieJar();
    const start = await jar.fetch(`${p.url}/auth/signin?returnTo=https://evil.example/`, [p.url]);
    const authorize = new URL(start.headers.get('location')!);
    authorize.searchParams.delete('prompt');
    authorize.searchParams.set('login_hint', 'alex.wilber@contoso.com');
    const callback = await authorizeWithoutPages(authorize.toString());
    const back = await jar.fetch(`${p.url}${callback.pathname}${callback.search}`, [p.url]);
    expect(back.headers.get('location')).toBe('/tab/');
  });
});
