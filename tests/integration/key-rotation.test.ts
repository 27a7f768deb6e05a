/**
 * Key rotation end to end: a service account and a user's tokens saved under key A; the product
 * restarted with "B,A"; `npm run keys:rotate` run as its own process (twice); the product restarted
 * with B alone reads everything. /readyz tells how many values still use a retired key.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import type { Sandbox } from '../../src/sandbox';
import { startProduct, type RunningProduct } from '../../src/server';
import { CookieJar } from '../helpers/cookies';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { startTestSandbox } from '../helpers/sandbox';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..', '..');
const KEY_A = randomBytes(32).toString('base64');
const KEY_B = randomBytes(32).toString('base64');
const MEGAN = 'megan.bowen@contoso.com';
const SA = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };

/** The whole run against one store; `dataStoreIn(dir)` gives the DATA_STORE of an empty one. */
function rotationCase(dataStoreIn: (dir: string) => Promise<string>, cleanup: () => Promise<void> = async () => undefined): void {
  let sandbox: Sandbox;
  let dir: string;
  let dataStore: string;
  let product: RunningProduct | undefined;

  const start = async (encryptionKey: string) => {
    const logger = createLogger({ level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
    const config = loadConfig({ PORT: '0', ENCRYPTION_KEY: encryptionKey, DATA_STORE: dataStore }, { dataDir: dir });
    product = await startProduct(config, { logger, sandbox, host: '127.0.0.1', background: false });
    return product;
  };
  const stop = async () => {
    await product?.stop();
    product = undefined;
  };
  const tokenFor = (p: RunningProduct, upn: string) => {
    const user = sandbox.seed.users.find((u) => u.upn === upn)!;
    return sandbox.issueToken({
      upn,
      audience: `api://localhost:${p.port}/${p.identity.clientId}`,
      scp: 'access_as_user',
      roles: user.roles ?? [],
      appId: p.identity.clientId,
    });
  };
  const call = async (p: RunningProduct, method: string, route: string, token?: string, body?: unknown) => {
    const res = await fetch(`${p.url}${route}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
  const rotate = () => {
    const run = spawnSync(process.execPath, ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(ROOT, 'scripts', 'keys-rotate.ts')], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, ENCRYPTION_KEY: `${KEY_B},${KEY_A}`, DATA_STORE: dataStore },
      encoding: 'utf8',
    });
    return { code: run.status, out: run.stdout, err: run.stderr };
  };

  beforeAll(async () => {
    sandbox = await startTestSandbox();
    dir = mkdtempSync(path.join(tmpdir(), 'cc-rotate-'));
    dataStore = await dataStoreIn(dir);
  });
  afterAll(async () => {
    await stop();
    await sandbox?.close();
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('re-encrypts every stored value under the first key, so the old key can go', async () => {
    // Under key A: a saved service account and Megan's delegated tokens.
    let p = await start(KEY_A);
    const admin = await tokenFor(p, 'adele.vance@contoso.com');
    expect((await call(p, 'PUT', '/api/admin/domains', admin, { domains: ['contoso.com'] })).status).toBe(200);
    const saved = await call(p, 'PUT', '/api/admin/service-account', admin, {
      tenant: 'contoso.com',
      clientId: SA.clientId,
      clientSecret: SA.secretValue,
      testAccount: MEGAN,
      features: ['emailSync', 'calendarSync'],
    });
    expect(saved.status).toBe(200);
    const tested = await call(p, 'POST', '/api/admin/service-account/test', admin);
    expect(tested.status).toBe(200);
    expect((await call(p, 'GET', '/api/admin/permissions', admin)).body.ranAt).toBe(tested.body.ranAt);
    const started = await call(p, 'POST', '/api/me/connect', await tokenFor(p, MEGAN), { mode: 'popup' });
    let url: string = started.body.url;
    // A browser: the consent cookie set by /auth/start goes back with the callback.
    const jar = new CookieJar();
    for (let hop = 0; hop < 10 && new URL(url).pathname !== '/auth/end'; hop++) {
      const res = await jar.fetch(url, [p.url, p.url.replace('127.0.0.1', 'localhost')]);
      url = new URL(res.headers.get('location')!, url).toString();
    }
    expect(new URL(url).searchParams.get('status')).toBe('success');
    expect((await call(p, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
    await stop();

    // B first, A kept: everything reads, and /readyz counts what still uses A.
    p = await start(`${KEY_B},${KEY_A}`);
    const before = await call(p, 'GET', '/readyz');
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ status: 'ready', retiredKeyValues: 2, remedy: expect.stringContaining('keys:rotate') });
    await stop();

    const first = rotate();
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/re-encrypted 2: service-account secrets 1, token cache partitions 1, sign-in states 0, browser sessions 0/);
    expect(first.out).toContain('re-keyed 1 service-account test results');
    expect(first.out).toContain('still under another key: 0');
    // Idempotent: a second run finds nothing to do.
    const second = rotate();
    expect(second.code).toBe(0);
    expect(second.out).toMatch(/re-encrypted 0:/);

    // B alone: the secret and the token cache still read.
    p = await start(KEY_B);
    expect((await call(p, 'GET', '/readyz')).body).toEqual({ status: 'ready' });
    const adminB = await tokenFor(p, 'adele.vance@contoso.com');
    // The last test's permission matrix still belongs to the saved configuration.
    expect((await call(p, 'GET', '/api/admin/permissions', adminB)).body).toMatchObject({ ranAt: tested.body.ranAt, features: expect.any(Object) });
    const test = await call(p, 'POST', '/api/admin/service-account/test', adminB);
    expect(test.status).toBe(200);
    expect(test.body.steps.find((s: { id: string }) => s.id === 'token')).toMatchObject({ status: 'passed' });
    const mine = await call(p, 'POST', '/api/me/connection/test', await tokenFor(p, MEGAN));
    expect(mine.status).toBe(200);
    expect(mine.body.connection).toMatchObject({ kind: 'graph-delegated', state: 'connected' });
    await stop();
  });
}

describe('npm run keys:rotate on SQLite', () => {
  rotationCase(async (dir) => `sqlite:${path.join(dir, 'cc.db')}`);
});

describePostgres('npm run keys:rotate on PostgreSQL', () => {
  let db: TestDatabase | undefined;
  rotationCase(
    async () => {
      db = await createTestDatabase('rotate');
      return db.url;
    },
    async () => {
      await db?.drop();
    },
  );
});
