/**
 * The request hot path (bench:api): what is kept between requests must follow every change, and
 * the lean HTTP kit must answer exactly as before (envelopes, headers, bodies, shutdown).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Server } from 'restify';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { buildApp, CONTENT_SECURITY_POLICY, type BuiltApp } from '../../src/app';
import { AppError } from '../../src/domain/errors';
import { z } from 'zod';
import { jsonBody } from '../../src/api/body';
import { pipeline, rawBody, sendJson, step } from '../../src/api/http';
import { TokenVerifier } from '../../src/identity/verify';
import { createLogger } from '../../src/log';
import { Keyring, SqliteStore } from '../../src/store';
import { KEY, startTestProduct, type TestProduct } from '../helpers/product';

const DAY = 86_400_000;

describe('GET /api/me/connection between changes', () => {
  let p: TestProduct;
  let file: string;
  let clock = new Date();
  beforeAll(async () => {
    file = path.join(mkdtempSync(path.join(tmpdir(), 'cc-hot-')), 'store.db');
    p = await startTestProduct({ env: { DATA_STORE: `sqlite:${file}` }, now: () => clock });
  });
  afterAll(async () => {
    await p?.close();
    rmSync(path.dirname(file), { recursive: true, force: true });
  });

  const mine = async (upn: string) => {
    const res = await p.call('GET', '/api/me/connection', { token: await p.ssoToken(upn) });
    expect(res.status).toBe(200);
    return res.body;
  };

  it('answers every user from their own records, and shows a write through the product at once', async () => {
    expect((await mine('megan.bowen@contoso.com')).connection.kind).toBe('ews-basic');
    expect((await mine('adele.vance@contoso.com')).connection.kind).toBe('graph-delegated');
    expect((await mine('megan.bowen@contoso.com')).connection.kind).toBe('ews-basic');

    const token = await p.ssoToken('megan.bowen@contoso.com');
    expect((await p.call('DELETE', '/api/me/connection/exchange', { token })).status).toBe(204);
    expect((await mine('megan.bowen@contoso.com')).connection).toMatchObject({ kind: null, state: 'disconnected' });
    expect((await mine('adele.vance@contoso.com')).connection.kind).toBe('graph-delegated');
  });

  it('shows a commit made by another process on the same database', async () => {
    const before = await mine('alex.wilber@contoso.com');
    expect(before.connection).toMatchObject({ kind: 'ews-basic', state: 'connected' });
    const other = SqliteStore.open(file, Keyring.fromKeys(Buffer.from(KEY, 'base64')));
    try {
      const [record] = await other.getConnections(p.sandbox.seed.tenant.id.toLowerCase(), 'alex.wilber@contoso.com');
      await other.putConnection({ ...record!, state: 'failing', updatedAt: new Date().toISOString() });
    } finally {
      await other.close();
    }
    expect((await mine('alex.wilber@contoso.com')).connection).toMatchObject({ kind: 'ews-basic', state: 'failing' });
  });

  it('counts the days left from today, not from when the answer was first built', async () => {
    const first = await mine('lidia.holloway@contoso.com');
    expect(first.deadline.daysLeft).toEqual(expect.any(Number));
    clock = new Date(clock.getTime() + DAY);
    expect((await mine('lidia.holloway@contoso.com')).deadline.daysLeft).toBe(first.deadline.daysLeft - 1);
  });

  it('takes the cached token path only for the exact token it verified', async () => {
    const token = await p.ssoToken('grady.archie@contoso.com');
    const call = (authorization: string) => p.call('GET', '/api/me/connection', { headers: { authorization } });
    expect((await call(`Bearer ${token}`)).status).toBe(200);
    // The same token however the header spells it; anything else is verified (and refused) afresh.
    expect((await call(`bearer ${token}`)).status).toBe(200);
    expect((await call(`Bearer \t ${token}`)).status).toBe(200);
    expect((await call(`Bearer ${token}x`)).status).toBe(401);
    expect((await call(`Bearer ${token.slice(0, -2)}`)).status).toBe(401);
    expect((await call(`Bearer ${token} ${token}`)).body.error.code).toBe('INVALID_TOKEN');
  });
});

describe('the HTTP kit under buildApp', () => {
  const logger = createLogger({ level: 'silent' });
  let store: SqliteStore;
  let app: BuiltApp;
  let url: string;
  let release: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const inStep = new Promise<void>((r) => (entered = r));
  const shared = Object.freeze({ frozen: true, items: Object.freeze(['a']) });
  const open = { n: 0 };

  beforeAll(async () => {
    store = SqliteStore.open(':memory:', Keyring.fromKeys(Buffer.alloc(32, 7)));
    const routes = (server: Server) => {
      server.get(
        '/sync',
        pipeline(
          logger,
          step('first', () => undefined),
          step('answer', (_req, res) => sendJson(res, 200, { via: 'sync' })),
        ),
      );
      server.get(
        '/async',
        pipeline(
          logger,
          step('wait', async () => new Promise<void>((r) => setImmediate(r))),
          step('answer', async (_req, res) => sendJson(res, 201, { via: 'async' })),
        ),
      );
      server.get(
        '/refuse',
        pipeline(
          logger,
          step('refuse', () => {
            throw new AppError('VALIDATION_FAILED', { message: 'no' });
          }),
        ),
      );
      server.get(
        '/reject',
        pipeline(
          logger,
          step('reject', async () => Promise.reject(new Error('secret detail'))),
        ),
      );
      server.get(
        '/silent',
        pipeline(
          logger,
          step('nothing', () => undefined),
        ),
      );
      server.get(
        '/frozen',
        pipeline(
          logger,
          step('answer', (_req, res) => sendJson(res, 200, shared)),
        ),
      );
      server.get(
        '/open',
        pipeline(
          logger,
          step('answer', (_req, res) => (open.n++, sendJson(res, 200, open))),
        ),
      );
      server.get(
        '/park',
        pipeline(
          logger,
          step(
            'park',
            (_req, res) =>
              new Promise<void>((resolve) => {
                release = () => {
                  sendJson(res, 200, { parked: true });
                  resolve();
                };
                entered();
              }),
          ),
        ),
      );
      server.post(
        '/echo',
        pipeline(
          logger,
          jsonBody(z.unknown()),
          step('echo', (req, res, state) => sendJson(res, 200, { body: state.body, bytes: rawBody(req)?.length })),
        ),
      );
    };
    app = buildApp({ logger, store, routes: [routes] });
    await new Promise<void>((r) => app.server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    app.server.close();
    await store.close();
  });

  const get = async (p: string, init?: RequestInit) => {
    const res = await fetch(`${url}${p}`, init);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: text ? JSON.parse(text) : undefined };
  };

  it('runs synchronous and asynchronous steps to an answer with the security headers', async () => {
    for (const [p, status, via] of [
      ['/sync', 200, 'sync'],
      ['/async', 201, 'async'],
    ] as const) {
      const res = await get(p);
      expect(res.status).toBe(status);
      expect(res.body).toEqual({ via });
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('content-length')).toBe(String(Buffer.byteLength(res.text)));
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    const missing = await get('/nowhere');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('NOT_FOUND');
    expect(missing.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
  });

  it('turns thrown and rejected steps, and a pipeline nobody answered, into the error envelope', async () => {
    expect(await get('/refuse')).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED', message: 'no' } } });
    const rejected = await get('/reject');
    expect(rejected).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
    expect(rejected.text).not.toContain('secret detail');
    expect(await get('/silent')).toMatchObject({ status: 500, body: { error: { code: 'INTERNAL' } } });
  });

  it('serializes an ordinary payload afresh every time, however often it is sent', async () => {
    expect((await get('/frozen')).body).toEqual({ frozen: true, items: ['a'] });
    expect((await get('/frozen')).body).toEqual({ frozen: true, items: ['a'] });
    expect((await get('/open')).body.n).toBe(1);
    expect((await get('/open')).body.n).toBe(2);
  });

  it('reads bodies on the routes that take one, within the size limit', async () => {
    const json = { headers: { 'content-type': 'application/json' }, method: 'POST' };
    expect(await get('/echo', { ...json, body: '{"a":1}' })).toMatchObject({ status: 200, body: { body: { a: 1 }, bytes: 7 } });
    expect((await get('/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).body.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const big = await get('/echo', { ...json, body: JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }) });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('lets a request in flight finish while refusing new ones when draining', async () => {
    const parked = get('/park');
    await inStep;
    let drained = false;
    const draining = app.drain(5_000).then(() => (drained = true));
    const refused = await get('/sync');
    expect(refused.status).toBe(503);
    expect(refused.body.error.code).toBe('GRAPH_UNAVAILABLE');
    expect(refused.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(drained).toBe(false);
    release();
    expect((await parked).body).toEqual({ parked: true });
    await draining;
    expect(drained).toBe(true);
  });
});

describe('TokenVerifier under concurrency', () => {
  const tid = '6f1c1c1e-2b1e-4c55-9a5e-1d2f3a4b5c6d';
  const clientId = '0c8d3c0e-9f2b-4d8a-8a51-7e6f5d4c3b2a';
  const authorityHost = 'https://login.example.test';

  async function setUp() {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
    let lookups = 0;
    const verifier = new TokenVerifier({
      authorityHost,
      clientId,
      tabDomain: 'localhost:3978',
      tenantId: 'organizations',
      keySet: async () => {
        lookups++;
        return import('jose').then(({ importJWK }) => importJWK(jwk, 'RS256'));
      },
    });
    const sign = (claims: Record<string, unknown> = {}) =>
      new SignJWT({ tid, oid: '11111111-2222-4333-8444-555555555555', scp: 'access_as_user', preferred_username: 'u@example.test', ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(`${authorityHost}/${tid}/v2.0`)
        .setAudience(clientId)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(privateKey);
    return { verifier, sign, lookups: () => lookups };
  }

  it('verifies a token that arrives on many requests at once only once, then answers from memory', async () => {
    const { verifier, sign, lookups } = await setUp();
    const token = await sign();
    expect(verifier.cached(token)).toBeUndefined();
    const users = await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    expect(lookups()).toBe(1);
    expect(new Set(users).size).toBe(1);
    expect(verifier.cached(token)).toBe(users[0]);
    expect(verifier.cached(`${token}x`)).toBeUndefined();
    expect(verifier.cached(token, Date.now() + 2 * 3600_000)).toBeUndefined();
  });

  it('does not remember a refusal: the same bad token is checked again next time', async () => {
    const { verifier, sign, lookups } = await setUp();
    const wrongScope = await sign({ scp: 'User.Read' });
    const refusals = await Promise.allSettled([verifier.verify(wrongScope), verifier.verify(wrongScope)]);
    expect(refusals.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(lookups()).toBe(1);
    await expect(verifier.verify(wrongScope)).rejects.toMatchObject({ code: 'INVALID_TOKEN' });
    expect(lookups()).toBe(2);
    expect(verifier.cached(wrongScope)).toBeUndefined();
  });
});
