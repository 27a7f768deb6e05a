/**
 * The user side end to end through the real server, real MSAL and the sandbox tenant over HTTPS:
 * connect (full, partial, declined, admin approval, someone else's account), test, revoke, outage,
 * disconnect.
 */
import { CookieJar } from '../helpers/cookies';
import { startTestProduct, type TestProduct } from '../helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';

/** Follows the consent round trip the way a browser would (non-interactive sandbox via login_hint). */
async function consent(p: TestProduct, upn: string, options: { mode?: 'popup' | 'redirect'; actAs?: string } = {}) {
  const token = await p.ssoToken(upn);
  const started = await p.call('POST', '/api/me/connect', { token, body: { mode: options.mode ?? 'popup' } });
  expect(started.status).toBe(200);
  let url: string = started.body.url;
  const hops: string[] = [];
  // A browser: the consent cookie set by /auth/start goes back to the product with the callback.
  const jar = new CookieJar();
  const product = [p.url, p.url.replace('127.0.0.1', 'localhost')];
  for (let i = 0; i < 10; i++) {
    if (options.actAs && url.includes('/authorize')) {
      const u = new URL(url);
      u.searchParams.set('login_hint', options.actAs);
      url = u.toString();
    }
    const res = await jar.fetch(url, product);
    const location = res.headers.get('location');
    if (!location) throw new Error(`no redirect from ${url} (${res.status}): ${(await res.text()).slice(0, 200)}`);
    url = new URL(location, url).toString();
    hops.push(url);
    if (url.startsWith(p.url.replace('127.0.0.1', 'localhost')) || url.startsWith(p.url)) {
      const path = new URL(url).pathname;
      if (path === '/auth/end' || path === '/tab/') return { final: new URL(url), hops };
    }
  }
  throw new Error(`consent did not finish: ${hops.join(' → ')}`);
}

async function connectionOf(p: TestProduct, upn: string) {
  const res = await p.call('GET', '/api/me/connection', { token: await p.ssoToken(upn) });
  expect(res.status).toBe(200);
  return res.body;
}

describe('user reconnect flow', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('shows an ews-basic user what stops working and when', async () => {
    const body = await connectionOf(p, 'alex.wilber@contoso.com');
    expect(body.connection).toMatchObject({ kind: 'ews-basic', state: 'connected', grantedScopes: [] });
    expect(body.connection.features.emailSync.available).toBe(true);
    expect(body.connection.features.taskSync.available).toBe(false);
    expect(body.deadline).toMatchObject({ date: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), daysLeft: expect.any(Number), what: expect.any(String) });
  });

  it('connects with full consent: connected, every feature available, legacy connection still listed', async () => {
    const { final } = await consent(p, 'megan.bowen@contoso.com');
    expect(final.pathname).toBe('/auth/end');
    expect(final.searchParams.get('status')).toBe('success');
    const body = await connectionOf(p, 'megan.bowen@contoso.com');
    expect(body.connection.kind).toBe('graph-delegated');
    expect(body.connection.state).toBe('connected');
    expect(body.connection.grantedScopes).toEqual(expect.arrayContaining(['Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite']));
    for (const f of ['emailSync', 'calendarSync', 'calendarScheduling', 'taskSync']) expect(body.connection.features[f].available).toBe(true);
    expect(body.connection.legacy).toEqual({ kind: 'ews-basic', lastSyncAt: expect.any(String) });
    expect(body.connection.lastCheckedAt).toEqual(expect.any(String));
  });

  it('tests the connection with per-feature probes', async () => {
    const res = await p.call('POST', '/api/me/connection/test', { token: await p.ssoToken('megan.bowen@contoso.com') });
    expect(res.status).toBe(200);
    expect(res.body.probes.length).toBeGreaterThanOrEqual(4);
    expect(res.body.probes.every((x: { ok: boolean }) => x.ok)).toBe(true);
    expect(res.body.connection.state).toBe('connected');
  });

  it('keeps a partial consent and shows the missing feature', async () => {
    const { final } = await consent(p, 'grady.archie@contoso.com', { mode: 'redirect' });
    expect(final.pathname).toBe('/tab/');
    expect(final.searchParams.get('connect')).toBe('success');
    const body = await connectionOf(p, 'grady.archie@contoso.com');
    expect(body.connection.state).toBe('missing-permissions');
    expect(body.connection.features.calendarSync.available).toBe(true);
    expect(body.connection.features.emailSync).toEqual({ available: false, reason: expect.stringContaining('Mail.ReadWrite') });
  });

  it('a declined consent stores nothing and says why', async () => {
    const before = await connectionOf(p, 'lidia.holloway@contoso.com');
    const { final } = await consent(p, 'lidia.holloway@contoso.com');
    expect(final.searchParams.get('status')).toBe('failure');
    expect(final.searchParams.get('code')).toBe('USER_CONSENT_REQUIRED');
    expect(await connectionOf(p, 'lidia.holloway@contoso.com')).toEqual(before);
    expect(await p.store.getTokenCache(CONTOSO, `${p.sandbox.seed.users.find((u) => u.upn === 'lidia.holloway@contoso.com')!.oid}.${CONTOSO}`)).toBeUndefined();
  });

  it('admin approval required is named', async () => {
    const { final } = await consent(p, 'lynne.robbins@contoso.com', { mode: 'redirect' });
    expect(final.searchParams.get('connect')).toBe('failure');
    expect(final.searchParams.get('code')).toBe('ADMIN_APPROVAL_REQUIRED');
    // The remedy names the tenant's admin-consent page.
    expect(final.searchParams.get('adminConsentUrl')).toBe(`${p.identity.authorityHost}/${CONTOSO}/adminconsent?client_id=${p.identity.clientId}`);
  });

  it('refuses a consent given by another account, and stores nothing for either', async () => {
    const alexOid = p.sandbox.seed.users.find((u) => u.upn === 'alex.wilber@contoso.com')!.oid;
    const before = await connectionOf(p, 'lee.gu@contoso.com');
    const { final } = await consent(p, 'lee.gu@contoso.com', { actAs: 'alex.wilber@contoso.com' });
    expect(final.searchParams.get('code')).toBe('ACCOUNT_MISMATCH');
    expect(await connectionOf(p, 'lee.gu@contoso.com')).toEqual(before);
    expect((await connectionOf(p, 'alex.wilber@contoso.com')).connection.kind).toBe('ews-basic');
    expect(await p.store.getTokenCache(CONTOSO, `${alexOid}.${CONTOSO}`)).toBeUndefined();
  });

  it('a start ticket is not a consent state: the callback refuses it', async () => {
    const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken('nestor.wilke@contoso.com'), body: {} });
    expect(started.status).toBe(200);
    const ticket = new URL(started.body.url).searchParams.get('ticket')!;
    const res = await fetch(`${p.url}/auth/callback?code=abc&state=${encodeURIComponent(ticket)}`, { redirect: 'manual' });
    expect(res.headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_STATE_INVALID');
  });

  it('a replayed or unknown state is refused before any code is redeemed', async () => {
    const { hops } = await consent(p, 'nestor.wilke@contoso.com');
    const callback = hops.find((h) => h.includes('/auth/callback'))!;
    expect(callback).toBeDefined();
    const again = await fetch(callback, { redirect: 'manual' });
    expect(again.headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_STATE_INVALID');
    const unknown = await fetch(`${p.url}/auth/callback?code=abc&state=never-issued`, { redirect: 'manual' });
    expect(unknown.headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_STATE_INVALID');
    const none = await fetch(`${p.url}/auth/start`, { redirect: 'manual' });
    expect(none.headers.get('location')).toContain('AUTH_STATE_INVALID');
  });

  it('the start URL is single use', async () => {
    const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken('alex.wilber@contoso.com'), body: { mode: 'popup' } });
    const first = await fetch(started.body.url, { redirect: 'manual' });
    expect(first.headers.get('location')).toContain('/authorize');
    const second = await fetch(started.body.url, { redirect: 'manual' });
    expect(second.headers.get('location')).toBe('/auth/end?status=failure&code=AUTH_STATE_INVALID');
  });

  it('Graph or Entra down → unknown with GRAPH_UNAVAILABLE, never needs-reconnect', async () => {
    p.sandbox.control.failures({ target: 'entra', status: 503 });
    try {
      const res = await p.call('POST', '/api/me/connection/test', { token: await p.ssoToken('megan.bowen@contoso.com') });
      expect(res.status).toBe(200);
      expect(res.body.connection.state).toBe('unknown');
      expect(res.body.connection.error.code).toBe('GRAPH_UNAVAILABLE');
    } finally {
      p.sandbox.control.clearFaults();
    }
    const healed = await p.call('POST', '/api/me/connection/test', { token: await p.ssoToken('megan.bowen@contoso.com') });
    expect(healed.body.connection.state).toBe('connected');
    expect(healed.body.connection.error).toBeUndefined();
  });

  it('a disconnect while a Test is probing stands: the Test does not bring the connection back', async () => {
    const upn = 'megan.bowen@contoso.com';
    const token = await p.ssoToken(upn);
    const historyBefore = await p.store.connectionHistory(CONTOSO, upn);
    p.sandbox.control.hold({ target: 'graph' });
    let testing: ReturnType<TestProduct['call']>;
    try {
      testing = p.call('POST', '/api/me/connection/test', { token });
      // The refresh token is redeemed and the probes wait in the sandbox: now the user disconnects (in another window, say).
      while (p.sandbox.control.inFlight({ upn }) < 1) await new Promise((r) => setTimeout(r, 5));
      expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    } finally {
      p.sandbox.control.release();
    }
    const tested = await testing;
    expect(tested.status).toBe(200);
    expect(tested.body.connection.kind).toBe('ews-basic');
    expect((await connectionOf(p, upn)).connection.kind).toBe('ews-basic');
    expect((await p.store.getConnections(CONTOSO, upn)).map((c) => c.kind)).toEqual(['ews-basic']);
    // The history gained the disconnect, and nothing from the Test.
    expect(await p.store.connectionHistory(CONTOSO, upn)).toEqual([
      { tenantId: CONTOSO, upn, kind: 'graph-delegated', from: 'connected', to: 'disconnected', at: expect.any(String), changedBy: 'user' },
      ...historyBefore,
    ]);
    // Connected again for what follows; the check right after consent is written onto the new connection.
    await consent(p, upn);
    expect((await connectionOf(p, upn)).connection).toMatchObject({ kind: 'graph-delegated', state: 'connected' });
    const reconnected = (await p.store.getConnections(CONTOSO, upn)).find((c) => c.kind === 'graph-delegated');
    expect(reconnected?.featureResults).toEqual({
      emailSync: { ok: true },
      calendarSync: { ok: true },
      calendarScheduling: { ok: true },
      taskSync: { ok: true },
    });
  });

  it('a revoked grant shows at once as REFRESH_TOKEN_REVOKED / needs-reconnect', async () => {
    p.sandbox.control.revokeRefreshTokens({ upn: 'megan.bowen@contoso.com' });
    const res = await p.call('POST', '/api/me/connection/test', { token: await p.ssoToken('megan.bowen@contoso.com') });
    expect(res.body.connection.state).toBe('needs-reconnect');
    expect(res.body.connection.error).toMatchObject({ code: 'REFRESH_TOKEN_REVOKED', remedy: expect.stringContaining('Connect Office 365') });
    expect(res.body.connection.features.emailSync.available).toBe(false);
  });

  it('disconnect drops the tokens; removing Exchange drops the legacy connection', async () => {
    const token = await p.ssoToken('megan.bowen@contoso.com');
    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    let body = await connectionOf(p, 'megan.bowen@contoso.com');
    expect(body.connection.kind).toBe('ews-basic');
    expect((await p.call('DELETE', '/api/me/connection/exchange', { token })).status).toBe(204);
    body = await connectionOf(p, 'megan.bowen@contoso.com');
    expect(body.connection).toMatchObject({ kind: null, state: 'disconnected' });
    const again = await p.call('DELETE', '/api/me/connection/exchange', { token });
    expect(again.status).toBe(404);
    expect(again.body.error.code).toBe('NOT_FOUND');
    const test = await p.call('POST', '/api/me/connection/test', { token });
    expect(test.status).toBe(409);
    expect(test.body.error.code).toBe('NOT_CONNECTED');
    const audit = await p.store.listAudit(CONTOSO, { limit: 50 });
    expect(audit.map((a) => a.action)).toEqual(expect.arrayContaining(['connection.connected', 'connection.disconnected', 'connection.exchange.removed']));
  });

  it('never logs a token or a secret', () => {
    const all = p.logs.join('\n');
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    expect(all).not.toContain(p.identity.clientSecret);
  });
});
