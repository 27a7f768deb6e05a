/** Tokens, envelopes and bad input through the real server (sandbox tenant over HTTPS). */
import { generateKeyPair, SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { startTestProduct, type TestProduct } from '../helpers/product';

const FABRIKAM_ADMIN = 'kim.akers@fabrikam.com';

describe('API security and error envelope', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  const expectInvalid = async (token: string | undefined, header?: string) => {
    const res = await p.call('GET', '/api/me/connection', header ? { headers: { authorization: header } } : { token });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
    expect(res.body.error.message).toEqual(expect.any(String));
    return res.body.error.message as string;
  };

  it('health and readiness need no token', async () => {
    expect((await p.call('GET', '/healthz')).body).toEqual({ status: 'ok' });
    expect((await p.call('GET', '/readyz')).body).toEqual({ status: 'ready' });
  });

  it('accepts a valid SSO token for both audiences', async () => {
    expect((await p.call('GET', '/api/me', { token: await p.ssoToken('alex.wilber@contoso.com') })).status).toBe(200);
    const v2 = await p.ssoToken('alex.wilber@contoso.com', { audience: p.identity.clientId });
    const me = await p.call('GET', '/api/me', { token: v2 });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { upn: 'alex.wilber@contoso.com' }, isAdmin: false, auth: 'sso', sandbox: true });
  });

  it('rejects missing, garbled, forged, expired, wrong-audience, wrong-scope and alg:none tokens', async () => {
    await expectInvalid(undefined);
    await expectInvalid(undefined, 'Basic dXNlcjpwYXNz');
    await expectInvalid('not.a.jwt');
    expect(await expectInvalid(await p.ssoToken('alex.wilber@contoso.com', { expiresInSeconds: -600 }))).toMatch(/expired/);
    expect(await expectInvalid(await p.ssoToken('alex.wilber@contoso.com', { audience: 'api://evil.example/123' }))).toMatch(/aud/);
    expect(await expectInvalid(await p.ssoToken('alex.wilber@contoso.com', { scp: 'User.Read' }))).toMatch(/access_as_user/);

    const genuine = await p.ssoToken('alex.wilber@contoso.com');
    const claims = decodeJwt(genuine);
    const { kid } = decodeProtectedHeader(genuine);
    const { privateKey } = await generateKeyPair('RS256');
    const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
    expect(await expectInvalid(forged)).toMatch(/signature/);

    const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.`;
    await expectInvalid(none);

    // Same signature, tenant claim swapped: the issuer no longer matches.
    const [h, , s] = genuine.split('.');
    const swapped = `${h}.${Buffer.from(JSON.stringify({ ...claims, tid: '2df7d45b-8f36-4ba1-b658-c800407568ea' })).toString('base64url')}.${s}`;
    await expectInvalid(swapped);
  });

  it('a token without the delegated scope (as app-only tokens are) is never a user, even with the admin role', async () => {
    const noScope = await p.sandbox.issueToken({ upn: 'adele.vance@contoso.com', audience: p.identity.clientId, scp: '', roles: ['ConnectionCenter.Admin'] });
    expect(await expectInvalid(noScope)).toMatch(/access_as_user/);
    const res = await p.call('GET', '/api/admin/summary', { token: noScope });
    expect(res.status).toBe(401);
  });

  it('admin routes need the admin role', async () => {
    const res = await p.call('GET', '/api/admin/summary', { token: await p.ssoToken('alex.wilber@contoso.com') });
    expect(res.status).toBe(403);
    expect(res.body.error).toMatchObject({ code: 'ADMIN_ROLE_REQUIRED', remedy: expect.stringContaining('ConnectionCenter.Admin') });
    const ok = await p.call('GET', '/api/admin/summary', { token: await p.ssoToken('adele.vance@contoso.com') });
    expect(ok.status).toBe(200);
  });

  it('keeps tenants apart', async () => {
    const contosoAdmin = await p.ssoToken('adele.vance@contoso.com');
    const fabrikamAdmin = await p.ssoToken(FABRIKAM_ADMIN);
    expect((await p.call('PUT', '/api/admin/domains', { token: contosoAdmin, body: { domains: ['contoso.com'] } })).status).toBe(200);
    const theirs = await p.call('GET', '/api/admin/domains', { token: fabrikamAdmin });
    expect(theirs.status).toBe(200);
    expect(theirs.body.domains).toEqual([]);
    const summary = await p.call('GET', '/api/admin/summary', { token: fabrikamAdmin });
    expect(summary.body.total).toBe(0);
    const list = await p.call('GET', '/api/admin/connections', { token: fabrikamAdmin });
    expect(list.body.items).toEqual([]);
    const mine = await p.call('GET', '/api/admin/connections', { token: contosoAdmin });
    expect(mine.body.items.length).toBeGreaterThan(5);
  });

  it('answers bad requests in the JSON envelope', async () => {
    const token = await p.ssoToken('alex.wilber@contoso.com');
    const notFound = await p.call('GET', '/api/nothing-here', { token });
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('NOT_FOUND');

    const wrongType = await p.call('POST', '/api/me/connect', { token, raw: 'mode=popup', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');

    const badJson = await p.call('POST', '/api/me/connect', { token, raw: '{"mode":', headers: { 'content-type': 'application/json' } });
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('VALIDATION_FAILED');

    const badMode = await p.call('POST', '/api/me/connect', { token, body: { mode: 'sideways' } });
    expect(badMode.status).toBe(400);
    expect(badMode.body.error.message).toContain('mode');

    const big = await p.call('PUT', '/api/admin/domains', {
      token: await p.ssoToken('adele.vance@contoso.com'),
      raw: JSON.stringify({ domains: ['x'.repeat(2 * 1024 * 1024)] }),
      headers: { 'content-type': 'application/json' },
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('serves the tab with a frame-ancestors policy for Teams, Outlook and Microsoft 365', async () => {
    const res = await fetch(`${p.url}/tab/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain('frame-ancestors');
    expect(csp).toContain('https://teams.microsoft.com');
    expect(csp).toContain('https://outlook.office.com');
    expect(csp).toContain('https://*.microsoft365.com');
    // The manifest's developer links.
    for (const page of ['privacy.html', 'terms.html']) expect((await fetch(`${p.url}/tab/${page}`)).status).toBe(200);
    const root = await fetch(`${p.url}/`, { redirect: 'manual' });
    expect(root.headers.get('location')).toBe('/tab/');
  });
});
