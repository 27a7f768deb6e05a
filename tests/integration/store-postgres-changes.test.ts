/**
 * The PostgreSQL store's change stamp across instances (src/store/postgres-changes.ts): two stores
 * on one database, as two instances would have. A write through one moves the other's stamp; a
 * store whose LISTEN connection is gone never repeats a stamp until it is back.
 */
import { Keyring, openStore, type Store } from '../../src/store';
import { aConnection, TENANT_A } from '../contract/store.contract';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { sql } from '../helpers/postgres-server';

const ring = Keyring.fromKeys(Buffer.alloc(32, 9));

async function until(what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The stamp once it has stopped changing on its own: listening, nothing in flight. */
async function settled(store: Store): Promise<string> {
  let last = '';
  await until('a steady stamp', async () => {
    const a = store.changeStamp!();
    await new Promise((r) => setTimeout(r, 50));
    const b = store.changeStamp!();
    const steady = a === b && a === last;
    last = b;
    return steady;
  });
  return last;
}

/** The backend pids of the LISTEN connections on this database. */
async function listeners(url: string): Promise<number[]> {
  const rows = await sql<{ pid: number }>(
    url,
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'connection-center-changes'",
  );
  return rows.map((r) => r.pid);
}

describePostgres('PostgreSQL change stamp across instances', () => {
  jest.setTimeout(60_000);
  let db: TestDatabase;
  let a: Store;
  let b: Store;
  let listenerOfA: number;

  beforeAll(async () => {
    db = await createTestDatabase('changes');
    a = await openStore(db.url, ring);
    await until('A listening', async () => (await listeners(db.url)).length === 1);
    [listenerOfA] = await listeners(db.url);
    b = await openStore(db.url, ring);
    await until('B listening', async () => (await listeners(db.url)).length === 2);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it('keeps the stamp while nothing is written, and moves it on a write through this store', async () => {
    const before = await settled(a);
    expect(a.changeStamp!()).toBe(before);
    await a.getConnections(TENANT_A, 'nobody@contoso.example');
    expect(a.changeStamp!()).toBe(before);
    // Synchronously after the write returns: this process never reads its own write as unchanged.
    await a.putConnection(aConnection({ upn: 'megan@contoso.example' }));
    expect(a.changeStamp!()).not.toBe(before);
  });

  it('moves the stamp of one store shortly after another store writes', async () => {
    const before = await settled(a);
    await b.putConnection(aConnection({ upn: 'adele@contoso.example' }));
    await until("A's stamp to move after B's write", () => a.changeStamp!() !== before, 5_000);
  });

  it('leaves the stamp alone when a write changes no row', async () => {
    const before = await settled(a);
    expect(await b.deleteConnection(TENANT_A, 'no-such-user@contoso.example', 'graph-delegated')).toBe(false);
    expect(await a.deleteConnection(TENANT_A, 'no-such-user@contoso.example', 'graph-delegated')).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.changeStamp!()).toBe(before);
  });

  it('gives a new stamp on every call while its LISTEN connection is gone, and listens again', async () => {
    const before = await settled(a);
    await sql(db.url, 'SELECT pg_terminate_backend($1)', [listenerOfA]);
    await until('A to notice its connection is gone', () => a.changeStamp!() !== a.changeStamp!(), 5_000);
    const seen = new Set(Array.from({ length: 50 }, () => a.changeStamp!()));
    expect(seen.size).toBe(50);
    expect(seen.has(before)).toBe(false);
    // A write by B while A is deaf: after A listens again, no stamp from before the gap comes back.
    await b.putConnection(aConnection({ upn: 'lidia@contoso.example' }));

    await until('A listening again', async () => (await listeners(db.url)).length === 2, 15_000);
    const after = await settled(a);
    expect(after).not.toBe(before);
    await b.putConnection(aConnection({ upn: 'grady@contoso.example' }));
    await until("A's stamp to move after B's write", () => a.changeStamp!() !== after, 5_000);
  });

  it('closes its LISTEN connection with the store', async () => {
    const c = await openStore(db.url, ring);
    await until('C listening', async () => (await listeners(db.url)).length === 3);
    await c.close();
    await until('C not listening', async () => (await listeners(db.url)).length === 2);
  });
});
