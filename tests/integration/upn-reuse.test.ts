/**
 * A UPN can be given to someone else after its owner leaves. Connections are keyed by UPN, so a
 * record that names another person (a different oid) must never be shown to, tested for or removed
 * by the new holder, and their consent starts fresh instead of adopting it.
 */
import { randomUUID } from 'node:crypto';
import type { ConnectionRecord } from '../../src/store/types';
import { CookieJar } from '../helpers/cookies';
import { startTestProduct, type TestProduct } from '../helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const LONG_AGO = '2025-01-15T09:00:00.000Z';

/** What the UPN's previous owner left: a Graph connection with its token-cache partition. */
async function plantPreviousOwner(p: TestProduct, upn: string, extra: Partial<ConnectionRecord> = {}) {
  const oid = randomUUID();
  const homeAccountId = `${oid}.${CONTOSO}`;
  await p.store.putConnection({
    tenantId: CONTOSO,
    upn,
    kind: 'graph-delegated',
    oid,
    displayName: 'Previous Owner',
    state: 'connected',
    grantedScopes: ['openid', 'profile', 'offline_access', 'User.Read', 'Mail.ReadWrite'],
    homeAccountId,
    lastCheckedAt: LONG_AGO,
    createdAt: LONG_AGO,
    updatedAt: LONG_AGO,
    ...extra,
  });
  await p.store.putTokenCache(CONTOSO, homeAccountId, JSON.stringify({ previousOwner: true }));
  return { oid, homeAccountId };
}

async function follow(p: TestProduct, upn: string) {
  const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken(upn), body: { mode: 'popup' } });
  let url: string = started.body.url;
  // A browser: the consent cookie set by /auth/start goes back with the callback.
  const jar = new CookieJar();
  for (let i = 0; i < 10; i++) {
    const res = await jar.fetch(url, [p.url, p.url.replace('127.0.0.1', 'localhost')]);
    const location = res.headers.get('location');
    if (!location) throw new Error(`no redirect from ${url} (${res.status})`);
    url = new URL(location, url).toString();
    if (new URL(url).pathname === '/auth/end') return new URL(url);
  }
  throw new Error('consent did not finish');
}

describe('a reused UPN never reaches its previous owner’s connection', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('GET /api/me/connection does not show it, POST …/test does not test it, DELETE does not remove it', async () => {
    const upn = 'alex.wilber@contoso.com';
    const previous = await plantPreviousOwner(p, upn);
    const token = await p.ssoToken(upn);

    const mine = await p.call('GET', '/api/me/connection', { token });
    expect(mine.status).toBe(200);
    expect(mine.body.connection.kind).toBe('ews-basic');
    expect(JSON.stringify(mine.body)).not.toContain('Mail.ReadWrite');

    const before = p.sandbox.control.stats().entra.tokensIssued;
    const tested = await p.call('POST', '/api/me/connection/test', { token });
    expect(tested.status).toBe(409);
    expect(tested.body.error.code).toBe('NOT_CONNECTED');
    expect(p.sandbox.control.stats().entra.tokensIssued).toEqual(before);

    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    const kept = (await p.store.getConnections(CONTOSO, upn)).find((r) => r.kind === 'graph-delegated');
    expect(kept).toMatchObject({ oid: previous.oid, state: 'connected', updatedAt: LONG_AGO });
    expect(await p.store.getTokenCache(CONTOSO, previous.homeAccountId)).toBeDefined();
  });

  it('DELETE /api/me/connection/exchange leaves a legacy connection of the previous owner alone', async () => {
    const upn = 'nestor.wilke@contoso.com';
    const previousOid = randomUUID();
    const [seeded] = await p.store.getConnections(CONTOSO, upn);
    await p.store.putConnection({ ...seeded!, oid: previousOid });
    const token = await p.ssoToken(upn);
    expect((await p.call('GET', '/api/me/connection', { token })).body.connection).toMatchObject({ kind: null, state: 'disconnected' });
    const res = await p.call('DELETE', '/api/me/connection/exchange', { token });
    expect(res.status).toBe(404);
    expect((await p.store.getConnections(CONTOSO, upn)).map((r) => [r.kind, r.oid])).toEqual([['ews-oauth', previousOid]]);
  });

  it("a new consent starts fresh: the previous owner's record and tokens are replaced, not adopted", async () => {
    const upn = 'megan.bowen@contoso.com';
    const megan = p.sandbox.seed.users.find((u) => u.upn === upn)!;
    const previous = await plantPreviousOwner(p, upn);
    const end = await follow(p, upn);
    expect(end.searchParams.get('status')).toBe('success');

    const record = (await p.store.getConnections(CONTOSO, upn)).find((r) => r.kind === 'graph-delegated')!;
    expect(record.oid).toBe(megan.oid);
    expect(record.homeAccountId).toBe(`${megan.oid}.${CONTOSO}`);
    expect(record.createdAt).not.toBe(LONG_AGO);
    expect(record.displayName).not.toBe('Previous Owner');
    expect(await p.store.getTokenCache(CONTOSO, previous.homeAccountId)).toBeUndefined();
    const audit = await p.store.listAudit(CONTOSO, { limit: 20 });
    expect(audit.find((a) => a.action === 'connection.previous-owner-removed')).toMatchObject({ target: upn, details: { previousOid: previous.oid } });

    const view = await p.call('GET', '/api/me/connection', { token: await p.ssoToken(upn) });
    expect(view.body.connection).toMatchObject({ kind: 'graph-delegated', state: 'connected' });
  });

  it("the admin's history of the UPN shows the previous owner's connection removed by the product, then the new owner's", async () => {
    const upn = 'lee.gu@contoso.com';
    await plantPreviousOwner(p, upn, { state: 'needs-reconnect' });
    expect((await follow(p, upn)).searchParams.get('status')).toBe('success');

    const admin = await p.ssoToken('adele.vance@contoso.com');
    const history = await p.call('GET', `/api/admin/connections/history?upn=${upn}`, { token: admin });
    expect(history.status).toBe(200);
    expect(history.body.changes.filter((c: { kind: string }) => c.kind === 'graph-delegated')).toEqual([
      { kind: 'graph-delegated', from: 'disconnected', to: 'connected', at: expect.any(String), seenBy: 'user' },
      { kind: 'graph-delegated', from: 'needs-reconnect', to: 'disconnected', at: expect.any(String), seenBy: 'system' },
    ]);
  });
});
