/**
 * Two product instances as processes (the compiled server, as `npm start` runs it) on one
 * PostgreSQL, behind a plain load balancer without sticky sessions, sharing the sandbox tenant
 * as a deployment shares its Entra ID: what one instance writes, the other reads; a consent
 * started on one finishes on the other; a read cached by one instance shows the other's write;
 * and instances started together on an empty database migrate it once. See docs/scale-out.md.
 */
import pg from 'pg';
import type { Sandbox } from '../../src/sandbox';
import { PG_LATEST_SCHEMA_VERSION } from '../../src/store/postgres-migrations';
import { CookieJar } from '../helpers/cookies';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { launchProduct, sandboxTenantEnv, ssoTokenFor, startBalancer, type Balancer, type ProductProcess } from '../helpers/product-process';
import { startTestSandbox } from '../helpers/sandbox';

const KEY = Buffer.alloc(32, 11).toString('base64');
const ADMIN = 'adele.vance@contoso.com';
const SERVICE_ACCOUNT = {
  tenant: 'contoso.com',
  clientId: '66193c42-2023-423c-acba-f7f851f7f085',
  clientSecret: 'demo-sync-2026-sandbox-only-value',
  testAccount: 'megan.bowen@contoso.com',
  features: ['emailSync', 'calendarSync'],
};

async function call(
  instance: { url: string },
  method: string,
  path: string,
  options: { token?: string; body?: unknown } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${instance.url}${path}`, { method, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describePostgres('two instances as processes on one PostgreSQL, one sandbox tenant', () => {
  jest.setTimeout(120_000);
  let sandbox: Sandbox;
  let db: TestDatabase;
  let balancer: Balancer;
  let a: ProductProcess;
  let b: ProductProcess;
  const token = (upn: string) => ssoTokenFor(sandbox, balancer.url, upn);

  /**
   * The consent round trip as a browser makes it through the balancer: POST /api/me/connect, the
   * start URL, the sandbox's authorize page (non-interactive: login_hint and the user's preset
   * decision), the callback, the end page. `on(path)` picks the instance for each product request.
   */
  async function consent(upn: string, on: (path: string) => ProductProcess): Promise<{ final: URL; served: string[] }> {
    const served: string[] = [];
    balancer.route = (req) => {
      const instance = on(new URL(req.url ?? '/', 'http://x').pathname);
      served.push(`${new URL(req.url ?? '/', 'http://x').pathname}@${instance === a ? 'A' : 'B'}`);
      return instance === a ? 0 : 1;
    };
    const jar = new CookieJar();
    const started = await jar.fetch(`${balancer.url}/api/me/connect`, [balancer.url], {
      method: 'POST',
      headers: { authorization: `Bearer ${await token(upn)}`, 'content-type': 'application/json' },
      body: JSON.stringify({ mode: 'popup' }),
    });
    expect(started.status).toBe(200);
    let url = ((await started.json()) as { url: string }).url;
    for (let hop = 0; hop < 10; hop++) {
      const res = await jar.fetch(url, [balancer.url]);
      const location = res.headers.get('location');
      if (!location) throw new Error(`no redirect from ${url} (${res.status}): ${(await res.text()).slice(0, 200)}`);
      await res.arrayBuffer();
      url = new URL(location, url).toString();
      if (url.startsWith(balancer.url) && new URL(url).pathname === '/auth/end') {
        const page = await jar.fetch(url, [balancer.url]);
        expect(page.status).toBe(200);
        await page.arrayBuffer();
        return { final: new URL(url), served };
      }
    }
    throw new Error(`consent did not finish; last URL ${url}`);
  }

  const connectionOn = async (instance: ProductProcess, upn: string) => {
    const res = await call(instance, 'GET', '/api/me/connection', { token: await token(upn) });
    expect(res.status).toBe(200);
    return res.body.connection as { kind: string | null; state: string; grantedScopes: string[] };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    db = await createTestDatabase('instances');
    balancer = await startBalancer(() => [a.url, b.url]);
    const env = { DATA_STORE: db.url, ENCRYPTION_KEY: KEY, ...sandboxTenantEnv(sandbox, balancer.url) };
    a = await launchProduct(env);
    b = await launchProduct(env);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await balancer?.close();
    await db?.drop();
    await sandbox?.close();
  });

  it('what one instance writes through the API, the other reads: domains, the service account, a consent', async () => {
    const admin = await token(ADMIN);
    expect((await call(a, 'PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com'] } })).status).toBe(200);
    expect((await call(b, 'GET', '/api/admin/domains', { token: admin })).body.domains).toEqual(['contoso.com']);

    const saved = await call(a, 'PUT', '/api/admin/service-account', { token: admin, body: SERVICE_ACCOUNT });
    expect(saved.status).toBe(200);
    const onB = await call(b, 'GET', '/api/admin/service-account', { token: admin });
    expect(onB.body.serviceAccount).toEqual(saved.body.serviceAccount);
    expect(onB.body.serviceAccount).toMatchObject({ tenant: 'contoso.com', clientId: SERVICE_ACCOUNT.clientId, testAccount: SERVICE_ACCOUNT.testAccount });
    // The secret sealed by A opens on B (same keys): B's Run Test on the saved account gets a token.
    const tested = await call(b, 'POST', '/api/admin/service-account/test', { token: admin });
    expect(tested.status).toBe(200);
    expect(tested.body.steps.find((s: { id: string }) => s.id === 'token')).toMatchObject({ status: 'passed' });

    // And back the other way.
    expect((await call(b, 'PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com', 'contoso.onmicrosoft.com'] } })).status).toBe(200);
    expect((await call(a, 'GET', '/api/admin/domains', { token: admin })).body.domains).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);

    // A user's consent, entirely on A; B shows the connection and can use its tokens.
    const { final } = await consent('megan.bowen@contoso.com', () => a);
    expect(final.searchParams.get('status')).toBe('success');
    expect(await connectionOn(b, 'megan.bowen@contoso.com')).toMatchObject({ kind: 'graph-delegated', state: 'connected' });
    const probed = await call(b, 'POST', '/api/me/connection/test', { token: await token('megan.bowen@contoso.com') });
    expect(probed.status).toBe(200);
    expect(probed.body.probes.every((x: { ok: boolean }) => x.ok)).toBe(true);
  });

  it('finishes on B a consent started on A (one-time start URL, state and consent cookie)', async () => {
    const upn = 'alex.wilber@contoso.com';
    // The API call and the start URL on A; the callback and the end page on B.
    const { final, served } = await consent(upn, (path) => (path === '/api/me/connect' || path === '/auth/start' ? a : b));
    expect(served).toEqual(['/api/me/connect@A', '/auth/start@A', '/auth/callback@B', '/auth/end@B']);
    expect(final.searchParams.get('status')).toBe('success');
    for (const instance of [a, b]) {
      const c = await connectionOn(instance, upn);
      expect(c).toMatchObject({ kind: 'graph-delegated', state: 'connected' });
      expect(c.grantedScopes).toEqual(expect.arrayContaining(['Mail.ReadWrite', 'Calendars.ReadWrite']));
    }
  });

  it('a declined consent started on B and refused on A stores nothing on either', async () => {
    const upn = 'lidia.holloway@contoso.com';
    const before = await connectionOn(a, upn);
    const { final } = await consent(upn, (path) => (path === '/api/me/connect' || path === '/auth/start' ? b : a));
    expect(final.searchParams.get('code')).toBe('USER_CONSENT_REQUIRED');
    expect(await connectionOn(a, upn)).toEqual(before);
    expect(await connectionOn(b, upn)).toEqual(before);
  });

  it("shows on A, which had the user's answer cached, a consent made on B", async () => {
    const upn = 'nestor.wilke@contoso.com';
    // Read twice on A: the second answer comes from A's view cache while nothing changes.
    expect(await connectionOn(a, upn)).toMatchObject({ kind: null, state: 'disconnected' });
    expect(await connectionOn(a, upn)).toMatchObject({ kind: null, state: 'disconnected' });
    const { final } = await consent(upn, () => b);
    expect(final.searchParams.get('status')).toBe('success');
    // B's commit reaches A as a notification, one network hop after B answered. Well within the
    // 5 s after which A would re-read the tenant's settings and drop the cached answer anyway.
    const started = Date.now();
    let stale = 0;
    await until(
      "A's answer to show B's consent",
      async () => {
        const c = await connectionOn(a, upn);
        if (c.kind === 'graph-delegated' && c.state === 'connected') return true;
        stale++;
        return false;
      },
      2_000,
    );
    process.stdout.write(`cache across instances: A showed B's consent after ${Date.now() - started} ms (${stale} stale answers)\n`);
  });
});

describePostgres('instances started together on an empty database (processes)', () => {
  jest.setTimeout(120_000);
  let db: TestDatabase;
  const instances: ProductProcess[] = [];
  beforeAll(async () => {
    db = await createTestDatabase('together');
  });
  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await db?.drop();
  });

  it('migrate it once, and all become ready', async () => {
    const env = {
      DATA_STORE: db.url,
      ENCRYPTION_KEY: KEY,
      // A configured tenant whose Entra ID is nowhere: nothing here needs it, and no sandbox starts.
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
      AAD_APP_TENANT_ID: '66305621-97b8-41f8-953b-d70d11d91d5b',
      AAD_APP_OAUTH_AUTHORITY_HOST: 'https://127.0.0.1:9',
      GRAPH_ENDPOINT: 'https://127.0.0.1:9',
    };
    const started = await Promise.allSettled([launchProduct(env), launchProduct(env), launchProduct(env)]);
    for (const s of started) if (s.status === 'fulfilled') instances.push(s.value);
    expect(started.map((s) => (s.status === 'rejected' ? String(s.reason) : 'ready'))).toEqual(['ready', 'ready', 'ready']);
    for (const i of instances) expect((await call(i, 'GET', '/readyz')).body).toEqual({ status: 'ready' });

    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT version, count(*)::int AS n FROM schema_migrations GROUP BY version ORDER BY version');
      expect(rows).toEqual(Array.from({ length: PG_LATEST_SCHEMA_VERSION }, (_, i) => ({ version: i + 1, n: 1 })));
    } finally {
      await client.end();
    }
  });
});
