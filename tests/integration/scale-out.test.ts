/**
 * Several product instances on one PostgreSQL, as processes (the compiled server, as `npm start`
 * runs it): outbox delivery is claimed under leases, so a fan-out of cards is delivered once even
 * when one instance is killed with SIGKILL half way. Instances starting together migrate once
 * (scale-out-instances.test.ts, and in one process store-postgres.test.ts); what one instance
 * writes the other reads, and a consent may start on one and end on another (scale-out-instances.test.ts).
 * A PostgreSQL outage (the server going away and coming back, here behind a TCP relay the test cuts)
 * answers 503 STORE_UNAVAILABLE and recovers without restarting the product.
 */
import net from 'node:net';
import { cardPayload } from '../../bot/payload';
import { reconnectNudgeModel } from '../../bot/cards/views';
import { Keyring, openStore } from '../../src/store';
import type { Store } from '../../src/store/types';
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { startTestProduct } from '../helpers/product';
import { launchProduct, type ProductProcess } from '../helpers/product-process';

const KEY = Buffer.alloc(32, 7).toString('base64');
const TENANT = '66305621-97b8-41f8-953b-d70d11d91d5b';
const CARDS = 200;

/** One instance: the compiled server with its own port, on the shared database. */
function launch(dataStore: string): Promise<ProductProcess> {
  return launchProduct({
    DATA_STORE: dataStore,
    ENCRYPTION_KEY: KEY,
    // A configured tenant whose Entra ID is nowhere: nothing here needs it, and no sandbox starts.
    AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
    SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
    AAD_APP_TENANT_ID: TENANT,
    AAD_APP_OAUTH_AUTHORITY_HOST: 'https://127.0.0.1:9',
    GRAPH_ENDPOINT: 'https://127.0.0.1:9',
    // Short leases: a killed instance's claimed cards are taken over within seconds. Not shorter:
    // a live instance stalled by a busy machine must not outlive its lease between check and send.
    LEASE_SECONDS: '6',
  });
}

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 45_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describePostgres('several instances on one PostgreSQL (processes)', () => {
  jest.setTimeout(90_000);
  let db: TestDatabase;
  let store: Store;
  let connector: FakeConnector;
  const instances: ProductProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('scaleout');
    store = await openStore(db.url, new Keyring([{ id: 'k1', key: Buffer.from(KEY, 'base64') }], 'k1'));
    connector = await startFakeConnector({ latencyMs: 5 });
  });
  afterAll(async () => {
    for (const i of instances) if (i.child.exitCode === null && i.child.signalCode === null) i.child.kill('SIGKILL');
    await Promise.all(instances.map((i) => i.exited));
    await store?.close();
    await connector?.close();
    await db?.drop();
  });

  it('delivers a fan-out of cards once each while one instance is killed half way', async () => {
    const at = new Date().toISOString();
    for (let i = 0; i < CARDS; i++) {
      const conversationId = `a:user-${i}`;
      await store.putConversation({
        tenantId: TENANT,
        conversationId,
        scope: 'personal',
        userUpn: `user${i}@contoso.example`,
        subscribed: false,
        reference: {
          channelId: 'msteams',
          serviceUrl: connector.url,
          bot: { id: '28:connection-center', name: 'Connection Center' },
          user: { id: `29:user-${i}` },
          conversation: { id: conversationId, conversationType: 'personal', tenantId: TENANT },
        },
        updatedAt: at,
      });
    }
    const connection = {
      tenantId: TENANT,
      upn: 'user@contoso.example',
      kind: 'ews-basic' as const,
      state: 'connected' as const,
      grantedScopes: [],
      createdAt: at,
      updatedAt: at,
    };
    const payload = cardPayload('ReconnectNudge', reconnectNudgeModel(connection, new Date(), 'https://cc.example/tab/'));

    const a = await launch(db.url);
    const b = await launch(db.url);
    instances.push(a, b);
    expect(
      await store.enqueue(
        Array.from({ length: CARDS }, (_, i) => ({
          tenantId: TENANT,
          kind: 'reconnect.nudge' as const,
          idempotencyKey: `scale-out|${i}`,
          conversationId: `a:user-${i}`,
          payload,
        })),
      ),
    ).toBe(CARDS);

    // Half way through the fan-out, instance A dies without a chance to clean up.
    await until('a quarter of the cards', () => connector.received.length >= CARDS / 4);
    a.child.kill('SIGKILL');
    await a.exited;
    const atKill = connector.received.length;

    await until('every card marked sent', async () => (await store.listOutbox(TENANT, 'sent')).length === CARDS);
    const perConversation = new Map<string, number>();
    for (const r of connector.received) perConversation.set(r.conversationId, (perConversation.get(r.conversationId) ?? 0) + 1);
    const lost = Array.from({ length: CARDS }, (_, i) => `a:user-${i}`).filter((id) => !perConversation.has(id));
    const duplicated = [...perConversation].filter(([, n]) => n > 1).map(([id]) => id);
    process.stdout.write(`scale-out fan-out: ${CARDS} cards, ${atKill} delivered when A was killed, ${lost.length} lost, ${duplicated.length} duplicated\n`);
    expect(atKill).toBeLessThan(CARDS);
    expect(lost).toEqual([]);
    // The one window no store closes (docs/scale-out.md): a card the connector accepted from A that A
    // had not marked sent when it died goes out again from B. At most A's sends in flight (the
    // notifier's 16) may arrive twice. (Which side sent a copy cannot be told here: A's last requests
    // can reach the connector after A is gone.)
    expect(duplicated.length).toBeLessThanOrEqual(16);
    expect(await store.listOutbox(TENANT, 'pending')).toEqual([]);
    expect(b.child.exitCode).toBeNull();
  });
});

/** A TCP relay to the database that can be cut (every connection dropped, nothing accepted) and restored on the same port. */
async function startRelay(target: URL): Promise<{ url: string; down(): Promise<void>; up(): Promise<void>; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(target.toString());
  url.port = String(port);
  url.hostname = '127.0.0.1';
  const down = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  };
  return { url: url.toString(), down, up: () => listen(port), close: () => (server.listening ? down() : Promise.resolve()) };
}

describePostgres('a PostgreSQL outage during traffic', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('outage');
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('answers 503 STORE_UNAVAILABLE and not ready while the database is away, and recovers without a restart', async () => {
    const relay = await startRelay(new URL(db.url));
    const p = await startTestProduct({ env: { DATA_STORE: relay.url } });
    try {
      const token = await p.ssoToken('adele.vance@contoso.com');
      expect((await p.call('GET', '/api/me/connection', { token })).status).toBe(200);

      await relay.down();
      const during = await p.call('GET', '/api/me/connection', { token });
      expect(during.status).toBe(503);
      expect(during.body).toEqual({ error: expect.objectContaining({ code: 'STORE_UNAVAILABLE', remedy: expect.any(String) }) });
      expect(during.headers.get('retry-after')).toBe('30');
      const ready = await p.call('GET', '/readyz');
      expect(ready.status).toBe(503);
      expect(ready.body.error.code).toBe('STORE_UNAVAILABLE');

      await relay.up();
      expect((await p.call('GET', '/api/me/connection', { token })).status).toBe(200);
      expect((await p.call('GET', '/readyz')).body).toEqual({ status: 'ready' });
      expect(p.logs.join('')).not.toContain(String(new URL(db.url).password || 'no-password-in-url'));
    } finally {
      await p.close();
      await relay.close();
    }
  });
});
