/**
 * Sign-in hardening through the real server and the sandbox tenant: one key set for every tenant,
 * nothing stored before sign-in, per-address pacing of /auth/*, callbacks bound to the browser that
 * started them, the security headers, and AADSTS500011 named for what it is.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { SESSION_COOKIE } from '../../src/api/auth-steps';
import { CONSENT_COOKIE, SIGNIN_COOKIE } from '../../src/api/routes-auth';
import { freePort } from '../../src/server';
import { CookieJar } from '../helpers/cookies';
import { startTestProduct, type TestProduct } from '../helpers/product';
import { authorizeWithoutPages } from '../helpers/sandbox';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const ALEX = 'alex.wilber@contoso.com';
const ADELE = 'adele.vance@contoso.com';

/** A product on a file database, so a test can count the rows the routes write. */
async function productOnFile(options: Parameters<typeof startTestProduct>[0] = {}) {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cc-signin-')), 'cc.db');
  const p = await startTestProduct({ ...options, env: { DATA_STORE: `sqlite:${file}`, ...options.env } });
  const authStateRows = () => {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM auth_states').get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  return { p, authStateRows };
}

/** /auth/signin in a browser (the jar), the account chosen at the sandbox: the callback URL to return to. */
async function startSignIn(p: TestProduct, jar: CookieJar, upn: string, origin = p.url): Promise<string> {
  const start = await jar.fetch(`${origin}/auth/signin?returnTo=/tab/`, [origin]);
  expect(start.status).toBe(302);
  const authorize = new URL(start.headers.get('location')!);
  authorize.searchParams.delete('prompt');
  authorize.searchParams.set('login_hint', upn);
  const callback = await authorizeWithoutPages(authorize.toString());
  return `${origin}${callback.pathname}${callback.search}`;
}

describe('incoming tokens: one key set for every tenant', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('100 forged tokens with 100 made-up tenants cost at most one key fetch, and real tokens of two tenants still verify', async () => {
    const audience = `api://localhost:${p.port}/${p.identity.clientId}`;
    const realKid = decodeProtectedHeader(await p.ssoToken(ALEX)).kid!;
    const { privateKey } = await generateKeyPair('RS256');
    const before = p.sandbox.control.stats().entra.requests;
    for (let i = 0; i < 100; i++) {
      const tid = randomUUID();
      const forged = await new SignJWT({ tid, oid: randomUUID(), scp: 'access_as_user', preferred_username: `x${i}@evil.example` })
        // Half claim the tenant's real key id, half a made-up one: neither may send us to Entra again.
        .setProtectedHeader({ alg: 'RS256', kid: i % 2 ? realKid : `forged-${i}` })
        .setIssuer(`${p.identity.authorityHost}/${tid}/v2.0`)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
      const res = await p.call('GET', '/api/me/connection', { token: forged });
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('INVALID_TOKEN');
    }
    expect(p.sandbox.control.stats().entra.requests - before).toBeLessThanOrEqual(1);

    expect((await p.call('GET', '/api/me/connection', { token: await p.ssoToken(ALEX) })).status).toBe(200);
    expect((await p.call('GET', '/api/me/connection', { token: await p.ssoToken('kim.akers@fabrikam.com') })).status).toBe(200);
    expect(p.sandbox.control.stats().entra.requests - before).toBeLessThanOrEqual(1);
  });
});

describe('/auth/signin stores nothing and is paced per address', () => {
  let p: TestProduct;
  let authStateRows: () => number;
  beforeAll(async () => {
    // A clock that stands still: no bucket refills while the test runs, however slow the machine.
    const at = new Date();
    ({ p, authStateRows } = await productOnFile({ now: () => at }));
  });
  afterAll(async () => {
    await p?.close();
  });

  it('50 GETs write no row; past the limit the answer is 429 with Retry-After, a page for browsers and JSON for scripts', async () => {
    const rowsBefore = authStateRows();
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 50; i++) {
      const res = await fetch(`${p.url}/auth/signin`, { redirect: 'manual' });
      statuses.push(res.status);
      if (res.status === 302) expect(res.headers.getSetCookie().some((c) => c.startsWith(`${SIGNIN_COOKIE}=`))).toBe(true);
      if (res.status === 429) limited ??= res;
      await res.arrayBuffer();
    }
    expect(authStateRows()).toBe(rowsBefore);
    expect(statuses.filter((s) => s === 302).length).toBeGreaterThan(0);
    expect(statuses.slice(statuses.indexOf(429))).toEqual(statuses.slice(statuses.indexOf(429)).map(() => 429));
    expect(limited).toBeDefined();
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(limited!.headers.get('content-type')).toMatch(/^text\/html/);

    // Spellings the router resolves to the same routes are paced too.
    for (const alias of ['/%61uth/signin', '/./auth/signin', '/api/../auth/signin'])
      expect((await fetch(`${p.url}${alias}`, { redirect: 'manual' })).status).toBe(429);

    const script = await p.call('POST', '/auth/signout');
    expect(script.status).toBe(429);
    expect(Number(script.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(script.body.error).toMatchObject({ code: 'RATE_LIMITED', message: expect.any(String), remedy: expect.any(String) });
    // The API itself is not paced by this limit.
    expect((await p.call('GET', '/healthz')).status).toBe(200);
  });
});

describe('callbacks are bound to the browser that started them', () => {
  let p: TestProduct;
  let authStateRows: () => number;
  beforeAll(async () => {
    ({ p, authStateRows } = await productOnFile());
  });
  afterAll(async () => {
    await p?.close();
  });

  it("refuses an attacker's sign-in finished in a victim's browser (no cookie, or the victim's own): no session", async () => {
    const attacker = new CookieJar();
    const attackersCallback = await startSignIn(p, attacker, ALEX);

    const bare = await fetch(attackersCallback, { redirect: 'manual' });
    expect(bare.headers.get('location')).toBe('/tab/?signin=failure&code=AUTH_BROWSER_MISMATCH');
    expect(bare.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBe(false);

    const victim = new CookieJar();
    await victim.fetch(`${p.url}/auth/signin?returnTo=/tab/`, [p.url]);
    expect(victim.get(SIGNIN_COOKIE)).toBeDefined();
    const mixed = await victim.fetch(attackersCallback, [p.url]);
    expect(mixed.headers.get('location')).toBe('/tab/?signin=failure&code=AUTH_BROWSER_MISMATCH');
    expect(mixed.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBe(false);
    expect(victim.get(SESSION_COOKIE)).toBeUndefined();

    // The browser that started it finishes it, once.
    const own = await attacker.fetch(attackersCallback, [p.url]);
    expect(own.headers.get('location')).toBe('/tab/');
    expect(attacker.get(SESSION_COOKIE)).toBeDefined();
    expect(attacker.get(SIGNIN_COOKIE)).toBeUndefined();
  });

  it('a pre-login cookie used once cannot finish the same sign-in again', async () => {
    const jar = new CookieJar();
    const callback = await startSignIn(p, jar, ALEX);
    const preLogin = jar.get(SIGNIN_COOKIE)!;
    expect((await jar.fetch(callback, [p.url])).headers.get('location')).toBe('/tab/');
    const again = await fetch(callback, { redirect: 'manual', headers: { cookie: `${SIGNIN_COOKIE}=${preLogin}` } });
    expect(again.headers.get('location')).toBe('/tab/?signin=failure&code=AUTH_BROWSER_MISMATCH');
    expect(again.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`))).toBe(false);
  });

  it("refuses a user's consent callback opened in another browser, and stores nothing", async () => {
    const token = await p.ssoToken(ALEX);
    const started = await p.call('POST', '/api/me/connect', { token, body: { mode: 'popup' } });
    const jar = new CookieJar();
    const product = [p.url, p.url.replace('127.0.0.1', 'localhost')];
    const start = await jar.fetch(started.body.url, product);
    expect(jar.get(CONSENT_COOKIE)).toBeDefined();
    const setLine = start.headers.getSetCookie().find((c) => c.startsWith(`${CONSENT_COOKIE}=`))!;
    expect(setLine).toMatch(/HttpOnly/);
    expect(setLine).toMatch(/SameSite=Lax/);
    const callback = await authorizeWithoutPages(start.headers.get('location')!);
    const elsewhere = await fetch(callback, { redirect: 'manual' });
    expect(elsewhere.headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_BROWSER_MISMATCH');
    const connection = await p.call('GET', '/api/me/connection', { token });
    expect(connection.body.connection.kind).toBe('ews-basic');
  });

  it('keeps at most a few start URLs per user: older ones are dropped', async () => {
    const token = await p.ssoToken(ADELE);
    const before = authStateRows();
    const urls: string[] = [];
    for (let i = 0; i < 12; i++) urls.push((await p.call('POST', '/api/me/connect', { token, body: { mode: 'popup' } })).body.url);
    expect(authStateRows() - before).toBeLessThanOrEqual(5);
    expect((await fetch(urls[0]!, { redirect: 'manual' })).headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_STATE_INVALID');
    expect((await fetch(urls[11]!, { redirect: 'manual' })).headers.get('location')).toContain('/authorize');
    expect(authStateRows() - before).toBeLessThanOrEqual(5);
  });

  it('audits browser sign-in and sign-out with the oid and UPN', async () => {
    const jar = new CookieJar();
    await jar.fetch(await startSignIn(p, jar, ADELE), [p.url]);
    const me = await p.call('GET', '/api/me', { headers: { cookie: jar.header()! } });
    const out = await p.call('POST', '/auth/signout', { headers: { cookie: jar.header()!, 'x-csrf-token': me.body.csrfToken } });
    expect(out.status).toBe(204);
    const oid = p.sandbox.seed.users.find((u) => u.upn === ADELE)!.oid.toLowerCase();
    const audit = await p.store.listAudit(CONTOSO, { limit: 50 });
    for (const action of ['signin', 'signout'])
      expect(audit).toContainEqual(expect.objectContaining({ action, actor: ADELE, target: ADELE, details: expect.objectContaining({ oid }) }));
  });
});

describe('security headers', () => {
  it('HSTS only when TAB_ENDPOINT is https; forms post only to this origin and the authority', async () => {
    const https = await startTestProduct({ env: { PORT: String(await freePort()), TAB_ENDPOINT: 'https://cc.example.test' } });
    const http = await startTestProduct();
    try {
      const secure = await https.call('GET', '/healthz');
      expect(secure.headers.get('strict-transport-security')).toMatch(/^max-age=\d{7,}/);
      const plain = await http.call('GET', '/healthz');
      expect(plain.headers.get('strict-transport-security')).toBeNull();
      for (const [res, product] of [
        [secure, https],
        [plain, http],
      ] as const) {
        const formAction = (res.headers.get('content-security-policy') ?? '').split(';').find((d) => d.trim().startsWith('form-action'))!;
        expect(formAction.trim().split(/\s+/)).toEqual(['form-action', "'self'", new URL(product.identity.authorityHost).origin]);
      }
    } finally {
      await https.close();
      await http.close();
    }
  });
});

describe('App ID URI and TAB_ENDPOINT', () => {
  it('AADSTS500011 at sign-in is APP_ID_URI_MISMATCH, never INVALID_TOKEN', async () => {
    const port = await freePort();
    // The registration knows only api://localhost:3978/<clientId>; the product runs as 127.0.0.1.
    const p = await startTestProduct({ env: { PORT: String(port), TAB_ENDPOINT: `http://127.0.0.1:${port}` }, sandbox: { productIdentifierUris: [] } });
    try {
      const jar = new CookieJar();
      const callback = await startSignIn(p, jar, ALEX, `http://127.0.0.1:${port}`);
      expect(new URL(callback).searchParams.get('error_description')).toMatch(/AADSTS500011/);
      const back = await jar.fetch(callback, [`http://127.0.0.1:${port}`]);
      expect(back.headers.get('location')).toBe('/tab/?signin=failure&code=APP_ID_URI_MISMATCH');
      expect(jar.get(SESSION_COOKIE)).toBeUndefined();
    } finally {
      await p.close();
    }
  });
});
