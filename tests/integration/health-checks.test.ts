/**
 * The monitor through the real server, real MSAL and the sandbox tenant: a run finds a revoked
 * grant and tells the user and the admins once; a run with nothing new tells nobody; an outage or a
 * 429 storm breaks nobody; a run stopped halfway finishes after a restart, each connection once.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox';
import type { ConnectionRecord, ConversationRecord } from '../../src/store/types';
import { CookieJar } from '../helpers/cookies';
import { startTestProduct, type TestProduct } from '../helpers/product';
import { startTestSandbox } from '../helpers/sandbox';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const SA = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };
const ADMIN = 'adele.vance@contoso.com';

/** The consent round trip as a browser would follow it (the sandbox consents through login_hint). */
async function consent(p: TestProduct, upn: string): Promise<void> {
  const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken(upn), body: { mode: 'popup' } });
  expect(started.status).toBe(200);
  let url: string = started.body.url;
  // A browser: the consent cookie set by /auth/start goes back with the callback.
  const jar = new CookieJar();
  for (let i = 0; i < 10; i++) {
    const res = await jar.fetch(url, [p.url, p.url.replace('127.0.0.1', 'localhost')]);
    const location = res.headers.get('location');
    if (!location) throw new Error(`no redirect from ${url} (${res.status})`);
    url = new URL(location, url).toString();
    if (new URL(url).pathname === '/auth/end') {
      expect(new URL(url).searchParams.get('status')).toBe('success');
      return;
    }
  }
  throw new Error('consent did not finish');
}

async function setUpTenant(p: TestProduct): Promise<string> {
  const admin = await p.ssoToken(ADMIN);
  expect((await p.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com'] } })).status).toBe(200);
  const saved = await p.call('PUT', '/api/admin/service-account', {
    token: admin,
    body: {
      tenant: 'contoso.com',
      clientId: SA.clientId,
      clientSecret: SA.secretValue,
      testAccount: 'megan.bowen@contoso.com',
      features: ['emailSync', 'calendarSync'],
    },
  });
  expect(saved.status).toBe(200);
  return admin;
}

function conversation(over: Partial<ConversationRecord>): ConversationRecord {
  return {
    tenantId: CONTOSO,
    conversationId: 'a:admin',
    scope: 'personal',
    subscribed: true,
    reference: { conversation: { id: over.conversationId ?? 'a:admin' }, serviceUrl: 'http://127.0.0.1:1/' },
    updatedAt: new Date().toISOString(),
    ...over,
  };
}

/** Starts a run and polls the latest run until it is done (no timing: it ends when the run ends). */
async function runCheck(p: TestProduct, admin: string) {
  const started = await p.call('POST', '/api/admin/checks', { token: admin });
  expect(started.status).toBe(202);
  expect(started.body.check).toEqual({ id: expect.any(String), status: 'running', startedAt: expect.any(String) });
  return finished(p, admin, started.body.check.id);
}

async function finished(p: TestProduct, admin: string, id: string) {
  await p.checks.settled(CONTOSO);
  const latest = await p.call('GET', '/api/admin/checks/latest', { token: admin });
  expect(latest.status).toBe(200);
  expect(latest.body.check).toMatchObject({ id, status: 'done' });
  return latest.body.check as {
    id: string;
    status: string;
    checked: number;
    total: number;
    byState: Record<string, number>;
    changes: Array<{ upn: string; from: string; to: string; code?: string }>;
    finishedAt: string;
  };
}

async function connectionsOf(p: TestProduct, admin: string) {
  const res = await p.call('GET', '/api/admin/connections?limit=500', { token: admin });
  expect(res.status).toBe(200);
  return res.body.items as Array<{
    upn: string;
    kind: string;
    state: string;
    lastCheckedAt?: string;
    error?: { code: string };
    featureResults?: Record<string, unknown>;
  }>;
}

describe('health checks of every connection', () => {
  let p: TestProduct;
  let admin: string;
  let megan: { oid: string };

  beforeAll(async () => {
    p = await startTestProduct();
    admin = await setUpTenant(p);
    await consent(p, 'megan.bowen@contoso.com');
    await consent(p, 'alex.wilber@contoso.com');
    megan = p.sandbox.seed.users.find((u) => u.upn === 'megan.bowen@contoso.com')!;
    // As Teams stores a personal chat: with the person's object id (admin cards go only to proven admins, by oid).
    const adele = p.sandbox.seed.users.find((u) => u.upn === ADMIN)!;
    await p.store.putConversation(conversation({ conversationId: 'a:admin', userOid: adele.oid, userUpn: ADMIN }));
    await p.store.putConversation(conversation({ conversationId: 'a:megan', userOid: megan.oid, userUpn: 'megan.bowen@contoso.com', subscribed: false }));
  });
  afterAll(async () => {
    await p?.close();
  });
  afterEach(() => {
    p.sandbox.control.clearFaults();
  });

  it('answers { check: null } before the first run, and only to admins', async () => {
    expect((await p.call('GET', '/api/admin/checks/latest', { token: admin })).body).toEqual({ check: null });
    const user = await p.ssoToken('megan.bowen@contoso.com');
    expect((await p.call('GET', '/api/admin/checks/latest', { token: user })).status).toBe(403);
    expect((await p.call('POST', '/api/admin/checks', { token: user })).status).toBe(403);
  });

  it('checks every connection by its kind and records per-feature results', async () => {
    const run = await runCheck(p, admin);
    const items = await connectionsOf(p, admin);
    const live = items.filter((c) => c.state !== 'disconnected');
    expect(run.total).toBe(live.length);
    expect(run.checked).toBe(run.total);
    for (const c of live) expect(c.lastCheckedAt).toEqual(expect.any(String));
    const of = (upn: string, kind: string) => items.find((c) => c.upn === upn && c.kind === kind)!;
    // Delegated: the refresh token was redeemed and every granted feature probed.
    expect(of('megan.bowen@contoso.com', 'graph-delegated')).toMatchObject({
      state: 'connected',
      featureResults: { emailSync: { ok: true }, calendarSync: { ok: true }, calendarScheduling: { ok: true }, taskSync: { ok: true } },
    });
    // Service account: miriam is inside the access policy, isaiah outside it.
    expect(of('miriam.graham@contoso.com', 'graph-app')).toMatchObject({
      state: 'connected',
      featureResults: { emailSync: { ok: true }, calendarSync: { ok: true } },
    });
    expect(of('isaiah.langer@contoso.com', 'graph-app')).toMatchObject({
      state: 'failing',
      error: { code: 'ACCESS_POLICY_DENIED' },
      featureResults: { emailSync: { ok: false, code: 'ACCESS_POLICY_DENIED' } },
    });
    // Legacy: the EWS state is kept; whether the service account reaches the mailbox is recorded.
    expect(of('lidia.holloway@contoso.com', 'ews-basic')).toMatchObject({ state: 'connected', featureResults: { viaServiceAccount: { ok: true } } });
    expect(of('pradeep.gupta@contoso.com', 'ews-basic')).toMatchObject({
      state: 'connected',
      featureResults: { viaServiceAccount: { ok: false, code: 'MAILBOX_NOT_REST_ENABLED' } },
    });
    // A delegated connection with no stored sign-in cannot be connected.
    expect(of(ADMIN, 'graph-delegated')).toMatchObject({ state: 'needs-reconnect', error: { code: 'REFRESH_TOKEN_REVOKED' } });
    const me = await p.call('GET', '/api/me/connection', { token: await p.ssoToken('megan.bowen@contoso.com') });
    expect(me.body.connection.lastCheckedAt).toEqual(expect.any(String));
  });

  it('marks a revoked user needs-reconnect and queues one nudge for them and one digest for the admins', async () => {
    const before = await p.store.listOutbox(CONTOSO);
    p.sandbox.control.revokeRefreshTokens({ upn: 'megan.bowen@contoso.com' });
    const run = await runCheck(p, admin);
    expect(run.changes).toEqual([{ upn: 'megan.bowen@contoso.com', from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED' }]);
    const megans = (await connectionsOf(p, admin)).find((c) => c.upn === 'megan.bowen@contoso.com' && c.kind === 'graph-delegated');
    expect(megans).toMatchObject({ state: 'needs-reconnect', error: { code: 'REFRESH_TOKEN_REVOKED' } });
    const added = (await p.store.listOutbox(CONTOSO)).filter((o) => !before.some((b) => b.id === o.id));
    expect(added.map((o) => [o.kind, o.conversationId, (o.payload as { card: string }).card])).toEqual([
      ['connection.lost', 'a:megan', 'ReconnectNudge'],
      ['check.digest', 'a:admin', 'CheckDigest'],
    ]);
    const digest = (added[1].payload as { model: { title: string; broke: Array<{ name: string }> } }).model;
    expect(digest.title).toBe('Health check: 1 connection broke');
    expect(digest.broke.map((b) => b.name)).toEqual(['Megan Bowen']);
    const history = await p.store.connectionHistory(CONTOSO, 'megan.bowen@contoso.com');
    expect(history[0]).toMatchObject({ kind: 'graph-delegated', from: 'connected', to: 'needs-reconnect', code: 'REFRESH_TOKEN_REVOKED', runId: run.id });
  });

  it('sends nothing when a run finds nothing new', async () => {
    const before = (await p.store.listOutbox(CONTOSO)).length;
    const run = await runCheck(p, admin);
    expect(run.changes).toEqual([]);
    expect(await p.store.listOutbox(CONTOSO)).toHaveLength(before);
  });

  it("shows an admin a user's history of state changes, and refuses what is not a user of theirs", async () => {
    const megan = 'megan.bowen@contoso.com';
    const res = await p.call('GET', `/api/admin/connections/history?upn=${encodeURIComponent(' Megan.Bowen@Contoso.com ')}`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.upn).toBe(megan);
    expect(res.body.connections).toEqual(
      expect.arrayContaining([
        { kind: 'ews-basic', state: 'connected', lastCheckedAt: expect.any(String) },
        { kind: 'graph-delegated', state: 'needs-reconnect', lastCheckedAt: expect.any(String) },
      ]),
    );
    expect(res.body.changes[0]).toEqual({
      kind: 'graph-delegated',
      from: 'connected',
      to: 'needs-reconnect',
      code: 'REFRESH_TOKEN_REVOKED',
      at: expect.any(String),
      seenBy: 'check',
    });
    const missing = await p.call('GET', '/api/admin/connections/history', { token: admin });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^upn: /) });
    const malformed = await p.call('GET', '/api/admin/connections/history?upn=megan', { token: admin });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.message).toContain('"megan" is not a user principal name');
    const unknown = await p.call('GET', '/api/admin/connections/history?upn=nobody@contoso.com', { token: admin });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.message).toBe('No connection of nobody@contoso.com is known in your organisation.');
    const notAdmin = await p.call('GET', `/api/admin/connections/history?upn=${megan}`, { token: await p.ssoToken(megan) });
    expect(notAdmin.status).toBe(403);
  });

  it('refuses a second run while one is running, naming it', async () => {
    p.sandbox.control.hold({ target: 'all' });
    const first = await p.call('POST', '/api/admin/checks', { token: admin });
    expect(first.status).toBe(202);
    const second = await p.call('POST', '/api/admin/checks', { token: admin });
    expect(second.status).toBe(409);
    expect(second.body).toEqual({
      error: { code: 'CHECK_ALREADY_RUNNING', message: expect.any(String), remedy: expect.any(String) },
      check: { id: first.body.check.id },
    });
    const running = await p.call('GET', '/api/admin/checks/latest', { token: admin });
    expect(running.body.check).toMatchObject({ id: first.body.check.id, status: 'running', total: expect.any(Number), checked: expect.any(Number) });
    p.sandbox.control.release();
    await finished(p, admin, first.body.check.id);
  });

  it('leaves everyone unknown with GRAPH_UNAVAILABLE during an outage and nudges nobody', async () => {
    const before = (await p.store.listOutbox(CONTOSO)).length;
    p.sandbox.control.failures({ target: 'all', status: 503 });
    const run = await runCheck(p, admin);
    const items = await connectionsOf(p, admin);
    const alex = items.find((c) => c.upn === 'alex.wilber@contoso.com' && c.kind === 'graph-delegated');
    const miriam = items.find((c) => c.upn === 'miriam.graham@contoso.com' && c.kind === 'graph-app');
    expect(alex).toMatchObject({ state: 'unknown', error: { code: 'GRAPH_UNAVAILABLE' } });
    expect(miriam).toMatchObject({ state: 'unknown', error: { code: 'GRAPH_UNAVAILABLE' } });
    for (const c of run.changes) expect(c.to).toBe('unknown');
    expect(run.changes.length).toBeGreaterThan(0);
    expect(await p.store.listOutbox(CONTOSO)).toHaveLength(before);
  });

  it('finishes through a 429 storm with retries and marks nobody broken', async () => {
    p.sandbox.control.clearFaults();
    await runCheck(p, admin); // back from the outage
    const before = await connectionsOf(p, admin);
    const stats0 = p.sandbox.control.stats().graph.throttled;
    p.sandbox.control.throttle({ target: 'graph', count: 6, retryAfterSeconds: 1 });
    const run = await runCheck(p, admin);
    expect(p.sandbox.control.stats().graph.throttled - stats0).toBe(6);
    expect(run.changes).toEqual([]);
    const after = await connectionsOf(p, admin);
    expect(after.map((c) => [c.upn, c.kind, c.state])).toEqual(before.map((c) => [c.upn, c.kind, c.state]));
  });
});

describe('a health check stopped halfway', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('resumes after a restart and checks every connection exactly once', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cc-checks-')), 'cc.db');
    const env = { DATA_STORE: `sqlite:${file}` };
    const extra = sandbox.control.addUsers({ count: 30, prefix: 'sweep' });
    let p = await startTestProduct({ env, sharedSandbox: sandbox });
    const admin = await setUpTenant(p);
    const at = new Date().toISOString();
    await p.store.importConnections(
      extra.map((u) => ({ tenantId: CONTOSO, upn: u.upn, oid: u.oid, kind: 'graph-app', state: 'connected', grantedScopes: [], createdAt: at, updatedAt: at })),
    );

    // Graph answers nothing until released: the connections that need no Graph call are done, the rest wait.
    sandbox.control.hold({ target: 'graph' });
    const started = await p.call('POST', '/api/admin/checks', { token: admin });
    expect(started.status).toBe(202);
    const id = started.body.check.id;
    let halfway: { checked: number; total: number };
    for (;;) {
      halfway = (await p.call('GET', '/api/admin/checks/latest', { token: admin })).body.check;
      if (halfway.checked > 0 && Object.keys(sandbox.control.stats().inFlight).length > 0) break;
      await new Promise((r) => setImmediate(r));
    }
    expect(halfway.checked).toBeLessThan(halfway.total);
    const doneBefore = new Map((await connectionsOf(p, admin)).filter((c) => c.lastCheckedAt).map((c) => [`${c.upn}/${c.kind}`, c.lastCheckedAt]));
    await p.close();
    sandbox.control.release();

    p = await startTestProduct({ env, sharedSandbox: sandbox });
    try {
      const run = await finished(p, await p.ssoToken(ADMIN), id);
      expect(run.checked).toBe(run.total);
      expect(run.total).toBe(halfway.total);
      const items = await connectionsOf(p, await p.ssoToken(ADMIN));
      for (const c of items.filter((x) => x.state !== 'disconnected')) {
        expect(c.lastCheckedAt).toEqual(expect.any(String));
        // Checked before the stop: not checked again.
        if (doneBefore.has(`${c.upn}/${c.kind}`)) expect(c.lastCheckedAt).toBe(doneBefore.get(`${c.upn}/${c.kind}`));
      }
      expect(items.filter((c) => c.upn.startsWith('sweep')).every((c) => c.state === 'connected')).toBe(true);
      // Each change of the run is in the history once.
      for (const c of run.changes) {
        const history = (await p.store.connectionHistory(CONTOSO, c.upn)).filter((h) => h.runId === id);
        expect(history).toHaveLength(1);
      }
    } finally {
      await p.close();
    }
  });
});

describe("a user's own Test", () => {
  let p: TestProduct;
  let admin: string;
  const ALEX = 'alex.wilber@contoso.com';

  beforeAll(async () => {
    p = await startTestProduct();
    admin = await setUpTenant(p);
    await consent(p, ALEX);
  });
  afterAll(async () => {
    await p?.close();
  });

  async function alexAsAdminSees() {
    return (await connectionsOf(p, admin)).find((c) => c.upn === ALEX && c.kind === 'graph-delegated')!;
  }

  it('records what a scheduled check records: per-feature results, lastCheckedAt, the error and the change in the history', async () => {
    const before = await alexAsAdminSees();
    expect(before.state).toBe('connected');
    const user = await p.ssoToken(ALEX);

    // The mailbox goes away: the Test finds it, and the admin's list shows it per feature.
    p.sandbox.control.setMailbox({ upn: ALEX, mailbox: 'notRestEnabled' });
    const broken = await p.call('POST', '/api/me/connection/test', { token: user });
    expect(broken.status).toBe(200);
    expect(broken.body.connection).toMatchObject({ state: 'failing', error: { code: 'MAILBOX_NOT_REST_ENABLED' } });
    const seen = await alexAsAdminSees();
    expect(seen).toMatchObject({
      state: 'failing',
      error: { code: 'MAILBOX_NOT_REST_ENABLED' },
      featureResults: {
        emailSync: { ok: false, code: 'MAILBOX_NOT_REST_ENABLED' },
        calendarSync: { ok: false, code: 'MAILBOX_NOT_REST_ENABLED' },
      },
    });
    expect(Date.parse(seen.lastCheckedAt!)).toBeGreaterThan(Date.parse(before.lastCheckedAt!));
    expect(await p.store.connectionHistory(CONTOSO, ALEX)).toEqual([
      expect.objectContaining({ kind: 'graph-delegated', from: 'connected', to: 'failing', code: 'MAILBOX_NOT_REST_ENABLED', at: seen.lastCheckedAt }),
    ]);
    expect((await p.store.connectionHistory(CONTOSO, ALEX))[0].runId).toBeUndefined();

    // Testing again with nothing changed: no new history entry.
    expect((await p.call('POST', '/api/me/connection/test', { token: user })).body.connection.state).toBe('failing');
    expect(await p.store.connectionHistory(CONTOSO, ALEX)).toHaveLength(1);

    // The grant revoked: the token redemption fails, every feature shows why.
    p.sandbox.control.setMailbox({ upn: ALEX, mailbox: 'active' });
    p.sandbox.control.revokeRefreshTokens({ upn: ALEX });
    const revoked = await p.call('POST', '/api/me/connection/test', { token: user });
    expect(revoked.body.connection).toMatchObject({ state: 'needs-reconnect', error: { code: 'REFRESH_TOKEN_REVOKED' } });
    expect(await alexAsAdminSees()).toMatchObject({
      state: 'needs-reconnect',
      featureResults: { emailSync: { ok: false, code: 'REFRESH_TOKEN_REVOKED' }, calendarSync: { ok: false, code: 'REFRESH_TOKEN_REVOKED' } },
    });
    expect((await p.store.connectionHistory(CONTOSO, ALEX)).map((h) => [h.from, h.to])).toEqual([
      ['failing', 'needs-reconnect'],
      ['connected', 'failing'],
    ]);
  });

  it('keeps a reconnect in the history as made by the user', async () => {
    const DIEGO = 'diego.siciliani@contoso.com';
    const history = async () => (await p.call('GET', `/api/admin/connections/history?upn=${DIEGO}`, { token: admin })).body.changes;
    expect(await history()).toEqual([]);
    await consent(p, DIEGO);
    expect(await history()).toEqual([{ kind: 'graph-delegated', from: 'needs-reconnect', to: 'connected', at: expect.any(String), seenBy: 'user' }]);
    // Consenting again changes nothing: no new entry.
    await consent(p, DIEGO);
    expect(await history()).toHaveLength(1);
  });

  it('keeps what a user let go of in their history: their Exchange connection removed, then Office 365 disconnected', async () => {
    const MEGAN = 'megan.bowen@contoso.com';
    const token = await p.ssoToken(MEGAN);
    const history = async () => (await p.call('GET', `/api/admin/connections/history?upn=${MEGAN}`, { token: admin })).body;
    await consent(p, MEGAN);
    expect((await history()).changes).toEqual([]);

    expect((await p.call('DELETE', '/api/me/connection/exchange', { token })).status).toBe(204);
    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    const after = await history();
    // Nothing of theirs is left, and the admin still learns what happened and who did it.
    expect(after.connections).toEqual([]);
    expect(after.changes).toEqual([
      { kind: 'graph-delegated', from: 'connected', to: 'disconnected', at: expect.any(String), seenBy: 'user' },
      { kind: 'ews-basic', from: 'connected', to: 'disconnected', at: expect.any(String), seenBy: 'user' },
    ]);
    // Disconnecting again removes nothing and records nothing.
    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    expect((await history()).changes).toHaveLength(2);
  });

  it('shows a connection made again after a disconnect as coming back from disconnected', async () => {
    const NESTOR = 'nestor.wilke@contoso.com';
    const token = await p.ssoToken(NESTOR);
    const history = async () => (await p.call('GET', `/api/admin/connections/history?upn=${NESTOR}`, { token: admin })).body;
    await consent(p, NESTOR);
    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    const gone = (await history()).changes.filter((c: { kind: string }) => c.kind === 'graph-delegated');
    expect(gone[0]).toMatchObject({ to: 'disconnected', seenBy: 'user' });

    await consent(p, NESTOR);
    const back = await history();
    // The history no longer ends on a removal while the connection is there again.
    expect(back.connections).toContainEqual(expect.objectContaining({ kind: 'graph-delegated', state: 'connected' }));
    expect(back.changes.filter((c: { kind: string }) => c.kind === 'graph-delegated')).toEqual([
      { kind: 'graph-delegated', from: 'disconnected', to: 'connected', at: expect.any(String), seenBy: 'user' },
      ...gone,
    ]);
    // Consenting once more while connected is no change.
    await consent(p, NESTOR);
    expect((await history()).changes).toHaveLength(back.changes.length);
  });

  it('shows a connection made again as coming back from disconnected however many changes of another kind came after the removal', async () => {
    const NESTOR = 'nestor.wilke@contoso.com';
    const token = await p.ssoToken(NESTOR);
    expect((await p.call('DELETE', '/api/me/connection', { token })).status).toBe(204);
    // Since then an Exchange connection of theirs flapped more often than one page of history holds.
    const start = Date.now();
    const at = (step: number) => new Date(start + step).toISOString();
    let exchange: ConnectionRecord = {
      tenantId: CONTOSO,
      upn: NESTOR,
      kind: 'ews-oauth',
      state: 'connected',
      grantedScopes: [],
      createdAt: at(0),
      updatedAt: at(0),
    };
    await p.store.importConnections([exchange]);
    for (let i = 1; i <= 120; i++) {
      const next: ConnectionRecord = { ...exchange, state: i % 2 ? 'unknown' : 'connected', lastCheckedAt: at(i), updatedAt: at(i) };
      expect(await p.store.recordConnectionCheck(next, exchange.state, exchange.updatedAt)).toBe(true);
      exchange = next;
    }

    await consent(p, NESTOR);
    const [latest] = await p.store.connectionHistory(CONTOSO, NESTOR, { kind: 'graph-delegated', limit: 1 });
    expect(latest).toMatchObject({ from: 'disconnected', to: 'connected' });
  });

  it("shows the Test's changes to an admin as seen by the user", async () => {
    const res = await p.call('GET', `/api/admin/connections/history?upn=${ALEX}`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.changes.map((c: { from: string; to: string; seenBy: string }) => [c.from, c.to, c.seenBy])).toEqual([
      ['failing', 'needs-reconnect', 'user'],
      ['connected', 'failing', 'user'],
    ]);
  });
});

describe('the demo tenant at its first start', () => {
  let p: TestProduct;

  beforeAll(async () => {
    // As `npm start` runs it: with the background work, which gives the seeded users' consents.
    p = await startTestProduct({ background: true });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('gives the seeded Graph users their grants, so that Check all now keeps the story the banner tells', async () => {
    for (let i = 0; i < 200 && !p.logs.some((l) => l.includes('demo: seeded Graph connections consented')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(p.logs.find((l) => l.includes('demo: seeded Graph connections consented'))).toContain('"granted":2');
    const admin = await setUpTenant(p);
    const before = await p.store.listOutbox(CONTOSO);
    const run = await runCheck(p, admin);
    const items = await connectionsOf(p, admin);
    const of = (upn: string) => items.find((c) => c.upn === upn && c.kind === 'graph-delegated')!;
    expect(of(ADMIN)).toMatchObject({ state: 'connected', featureResults: { emailSync: { ok: true }, calendarSync: { ok: true } } });
    // Grady consented to the calendar only; Diego's grant is the one the story says is gone.
    expect(of('grady.archie@contoso.com')).toMatchObject({ state: 'missing-permissions', featureResults: { calendarSync: { ok: true } } });
    expect(of('diego.siciliani@contoso.com')).toMatchObject({ state: 'needs-reconnect', error: { code: 'REFRESH_TOKEN_REVOKED' } });
    expect(run.changes.filter((c) => c.upn === ADMIN || c.upn === 'grady.archie@contoso.com')).toEqual([]);
    const nudged = (await p.store.listOutbox(CONTOSO)).filter((o) => !before.some((b) => b.id === o.id) && o.kind === 'connection.lost');
    expect(nudged).toEqual([]);
    // The seed's last sync is kept.
    const adele = (await p.store.getConnections(CONTOSO, ADMIN)).find((c) => c.kind === 'graph-delegated');
    expect(adele?.lastSyncAt).toBe(p.sandbox.seed.legacyConnections.find((c) => c.upn === ADMIN)?.lastSyncAt);
  });
});

describe('the demo tenant when a start could not give the seeded consents', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    sandbox = await startTestSandbox();
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  const logged = async (p: TestProduct, text: string, times: number) => {
    for (let i = 0; i < 200 && p.logs.filter((l) => l.includes(text)).length < times; i++) await new Promise((r) => setTimeout(r, 50));
    return p.logs.filter((l) => l.includes(text));
  };
  const grantOf = async (p: TestProduct, upn: string) => (await p.store.getConnections(CONTOSO, upn)).find((c) => c.kind === 'graph-delegated')?.homeAccountId;

  it('gives them at the next start, and only to the connections still without one', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'cc-demo-')), 'cc.db');
    const env = { DATA_STORE: `sqlite:${file}` };
    // Entra fails every request: no consent code can be redeemed.
    sandbox.control.failures({ target: 'entra', status: 503 });
    let p = await startTestProduct({ env, sharedSandbox: sandbox, background: true });
    try {
      expect(await logged(p, 'demo: seeded consent not given', 2)).toHaveLength(2);
      expect(await grantOf(p, ADMIN)).toBeUndefined();
      expect(await grantOf(p, 'grady.archie@contoso.com')).toBeUndefined();
    } finally {
      await p.close();
    }

    sandbox.control.clearFaults();
    p = await startTestProduct({ env, sharedSandbox: sandbox, background: true });
    try {
      expect((await logged(p, 'demo: seeded Graph connections consented', 1))[0]).toContain('"granted":2');
      const adele = await grantOf(p, ADMIN);
      expect(adele).toEqual(expect.any(String));
      expect(await grantOf(p, 'grady.archie@contoso.com')).toEqual(expect.any(String));
      // The story's revoked user gets none.
      expect(await grantOf(p, 'diego.siciliani@contoso.com')).toBeUndefined();
    } finally {
      await p.close();
    }

    // A third start finds every grant in place: nothing is consented again.
    p = await startTestProduct({ env, sharedSandbox: sandbox, background: true });
    try {
      const tokensBefore = sandbox.control.stats().entra.requests;
      await new Promise((r) => setTimeout(r, 500));
      expect(p.logs.some((l) => l.includes('demo: seeded'))).toBe(false);
      expect(sandbox.control.stats().entra.requests).toBe(tokensBefore);
    } finally {
      await p.close();
    }
  });
});
