/**
 * Re-encryption under the first key works in batches that each commit: stopping half way (here: a
 * value sealed with a key the run does not have) keeps what was done, and running again finishes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Keyring, KeyringError, openStore } from '../../src/store';
import { aServiceAccount, TENANT_A } from '../contract/store.contract';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';

const [keyA, keyB, keyC] = [randomBytes(32), randomBytes(32), randomBytes(32)];
const sum = (c: object) => Object.values(c).reduce((a: number, b: number) => a + b, 0);

/** The same run on each store; `fresh` gives the DATA_STORE of an empty store. */
function reencryptCases(fresh: () => Promise<string>): void {
  it('is safe to interrupt and to run again', async () => {
    const ds = await fresh();
    let store = await openStore(ds, Keyring.fromKeys(keyA));
    await store.putServiceAccount(aServiceAccount({ clientSecret: 'secret-under-A' }));
    await store.putTokenCache(TENANT_A, 'p1', 'cache-1');
    await store.putTokenCache(TENANT_A, 'p2', 'cache-2');
    await store.close();
    store = await openStore(ds, Keyring.fromKeys(keyC));
    await store.putTokenCache(TENANT_A, 'p3', 'cache-3');
    await store.close();

    // B first, A kept, C missing: the run stops at the value it cannot open.
    store = await openStore(ds, Keyring.fromKeys(keyB, [keyA]));
    expect(sum(await store.countRetiredKeyValues())).toBe(4);
    const err = await store.reencryptAll({ batchSize: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyringError);
    expect((err as KeyringError).reason).toBe('unknown-key');
    // The batches before it stay committed.
    const left = await store.countRetiredKeyValues();
    expect(left.serviceAccountSecrets).toBe(0);
    expect(sum(left)).toBeLessThan(4);
    await store.close();

    // Again, with every key: finishes, and rewrites only what was left.
    store = await openStore(ds, Keyring.fromKeys(keyB, [keyA, keyC]));
    const done = await store.reencryptAll({ batchSize: 1 });
    expect(sum(done)).toBe(sum(left));
    expect(await store.countRetiredKeyValues()).toEqual({ serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 });
    expect(sum(await store.reencryptAll())).toBe(0);
    await store.close();

    store = await openStore(ds, Keyring.fromKeys(keyB));
    expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe('secret-under-A');
    for (const [p, v] of [
      ['p1', 'cache-1'],
      ['p2', 'cache-2'],
      ['p3', 'cache-3'],
    ])
      expect(await store.getTokenCache(TENANT_A, p)).toBe(v);
    await store.close();
  });
}

describe('Store.reencryptAll on SQLite', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'cc-reencrypt-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  reencryptCases(async () => `sqlite:${path.join(dir, 'cc.db')}`);
});

describePostgres('Store.reencryptAll on PostgreSQL', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const db of dbs) await db.drop();
  });
  reencryptCases(async () => {
    const db = await createTestDatabase('reencrypt');
    dbs.push(db);
    return db.url;
  });
});
