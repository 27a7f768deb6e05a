import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Keyring, KeyringError, LATEST_SCHEMA_VERSION, SqliteStore, StoreOpenError, openStore, resolveSqlitePath, type Store } from '../../src/store';
import { MIGRATIONS } from '../../src/store/migrations';
import { connectionPageSql } from '../../src/store/sqlite';
import { aServiceAccount, anAuthState, aSession, aConnection, describeStoreContract, TENANT_A, TENANT_B } from '../contract/store.contract';

const ROOT = resolve(__dirname, '../..');
const keyA = randomBytes(32);
const keyB = randomBytes(32);
const ringA = Keyring.fromKeys(keyA);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cc-store-'));
  chmodSync(tmp, 0o755); // the unprivileged child below must be able to reach it
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

let seq = 0;
function freshPath(name = 'store'): string {
  const dir = join(tmp, `case-${++seq}`);
  mkdirSync(dir);
  return join(dir, `${name}.db`);
}

describeStoreContract('sqlite file', async () => {
  const file = freshPath();
  const store = await openStore(`sqlite:${file}`, ringA);
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(resolve(file, '..'), { recursive: true, force: true });
    },
  };
});

describeStoreContract('sqlite in memory', async () => {
  const store = await openStore('sqlite::memory:', ringA);
  return { store, cleanup: () => store.close() };
});

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const siblings = (file: string) => readdirSync(resolve(file, '..')).sort();

async function openError(dataStore: string, keyring = ringA): Promise<StoreOpenError> {
  try {
    const store = await openStore(dataStore, keyring);
    await store.close();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreOpenError);
    return err as StoreOpenError;
  }
  throw new Error(`expected ${dataStore} to fail to open`);
}

describe('SqliteStore: encryption at rest', () => {
  it('never writes secrets in clear to the database file or its WAL', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    const clientSecret = 'Zq8~Secret.Value-' + randomBytes(12).toString('hex');
    const refreshToken = '0.ARrefresh-' + randomBytes(16).toString('hex');
    const accessToken = 'eyJ0eXAiOiJKV1Qi.access-' + randomBytes(16).toString('hex');
    const state = anAuthState({ codeVerifier: 'pkce-' + randomBytes(24).toString('hex'), nonce: 'nonce-' + randomBytes(8).toString('hex') });
    const session = aSession({ id: 'sid-' + randomBytes(16).toString('hex'), csrfToken: 'csrf-' + randomBytes(16).toString('hex') });
    await store.putServiceAccount(aServiceAccount({ clientSecret, secretHint: 'Zq8', testAccount: 'visible-marker@contoso.example' }));
    await store.putTokenCache(
      TENANT_A,
      'oid.tid',
      JSON.stringify({ RefreshToken: { k: { secret: refreshToken } }, AccessToken: { k: { secret: accessToken } } }),
    );
    await store.putAuthState(state);
    await store.putSession(session);
    const secrets = [clientSecret, refreshToken, accessToken, state.state, state.codeVerifier, state.nonce, session.id, session.csrfToken];

    const rawBytes = () => Buffer.concat([file, `${file}-wal`].filter(existsSync).map((f) => readFileSync(f)));
    expect(existsSync(`${file}-wal`)).toBe(true);
    const before = rawBytes();
    // The grep must be able to find something: a non-secret field is stored as text.
    expect(before.includes('visible-marker@contoso.example')).toBe(true);
    for (const s of secrets) expect(before.includes(s)).toBe(false);

    const raw = new Database(file);
    raw.pragma('wal_checkpoint(TRUNCATE)');
    raw.close();
    const after = readFileSync(file);
    expect(after.includes('visible-marker@contoso.example')).toBe(true);
    for (const s of secrets) expect(after.includes(s)).toBe(false);

    // And the values still read back.
    expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe(clientSecret);
    expect(await store.getTokenCache(TENANT_A, 'oid.tid')).toContain(refreshToken);
    await store.close();
  });

  it('refuses a secret copied into another tenant’s row', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.putServiceAccount(aServiceAccount({ tenantId: TENANT_A, clientSecret: 'secret-of-a' }));
    await store.putServiceAccount(aServiceAccount({ tenantId: TENANT_B, clientSecret: 'secret-of-b' }));
    await store.putTokenCache(TENANT_A, 'p', 'cache-of-a');
    await store.putTokenCache(TENANT_B, 'p', 'cache-of-b');
    const raw = new Database(file);
    raw
      .prepare('UPDATE service_accounts SET secret_box = (SELECT secret_box FROM service_accounts WHERE tenant_id = ?) WHERE tenant_id = ?')
      .run(TENANT_A, TENANT_B);
    raw.prepare('UPDATE token_caches SET box = (SELECT box FROM token_caches WHERE tenant_id = ?) WHERE tenant_id = ?').run(TENANT_A, TENANT_B);
    raw.close();
    await expect(store.getServiceAccount(TENANT_B)).rejects.toMatchObject({ name: 'KeyringError', reason: 'tampered' });
    await expect(store.getTokenCache(TENANT_B, 'p')).rejects.toMatchObject({ name: 'KeyringError', reason: 'tampered' });
    expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe('secret-of-a');
    await store.close();
  });
});

describe('SqliteStore: key rotation', () => {
  it('reads records sealed under an old key while the keyring has both, then rewrites them', async () => {
    const file = freshPath();
    const ds = `sqlite:${file}`;
    const st = anAuthState();
    const session = aSession();
    let store = await openStore(ds, ringA);
    await store.putServiceAccount(aServiceAccount({ clientSecret: 'written-under-A' }));
    await store.putTokenCache(TENANT_A, 'oid.tid', 'cache-under-A');
    await store.putAuthState(st);
    await store.putSession(session);
    await store.close();

    // Only the new key: old records cannot be read, and the error says which key is missing.
    const onlyB = Keyring.fromKeys(keyB);
    store = await openStore(ds, onlyB);
    const err = await store.getServiceAccount(TENANT_A).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyringError);
    expect((err as KeyringError).reason).toBe('unknown-key');
    expect((err as Error).message).toContain(ringA.currentKeyId);
    await store.close();

    // New key current, old key kept: everything reads; new writes use the new key.
    const both = Keyring.fromKeys(keyB, [keyA]);
    const rotating = (await openStore(ds, both)) as SqliteStore;
    expect((await rotating.getServiceAccount(TENANT_A))?.clientSecret).toBe('written-under-A');
    expect(await rotating.getTokenCache(TENANT_A, 'oid.tid')).toBe('cache-under-A');
    expect(await rotating.getSession(session.id, new Date(Date.parse(session.expiresAt) - 1000))).toEqual(session);
    await rotating.putTokenCache(TENANT_A, 'new.tid', 'cache-under-B');
    expect(await rotating.rotateKeys()).toBe(4);
    expect(await rotating.rotateKeys()).toBe(0);
    await rotating.close();

    store = await openStore(ds, onlyB);
    expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe('written-under-A');
    expect(await store.getTokenCache(TENANT_A, 'oid.tid')).toBe('cache-under-A');
    expect(await store.getTokenCache(TENANT_A, 'new.tid')).toBe('cache-under-B');
    expect(await store.takeAuthState(st.state, new Date(Date.parse(st.expiresAt) - 1000))).toEqual(st);
    await store.close();

    const raw = new Database(file, { readonly: true });
    const kids = raw.prepare('SELECT key_id FROM service_accounts UNION SELECT key_id FROM token_caches UNION SELECT key_id FROM sessions').pluck().all();
    raw.close();
    expect(kids).toEqual([onlyB.currentKeyId]);
  });
});

describe('openStore: files it must not touch', () => {
  it('refuses a file that is not a SQLite database and leaves it byte-identical', async () => {
    const file = freshPath();
    writeFileSync(file, 'name,kind\nadele@contoso.example,ews-basic\n'.repeat(50));
    const before = sha(file);
    const err = await openError(`sqlite:${file}`);
    expect(err.reason).toBe('corrupt');
    expect(err.message).toContain(file);
    expect(err.message).toContain('is not a SQLite database');
    expect(err.message).not.toContain('\n');
    expect(sha(file)).toBe(before);
    expect(siblings(file)).toEqual(['store.db']);
  });

  it('refuses a SQLite file with damaged pages and leaves it byte-identical', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.importConnections(Array.from({ length: 200 }, (_, i) => aConnection({ upn: `user${i}@contoso.example`, displayName: `User ${i}` })));
    await store.close();
    const bytes = readFileSync(file);
    bytes.fill(0xab, 100); // keep the 100-byte header, overwrite the rest
    writeFileSync(file, bytes);
    const before = sha(file);
    const err = await openError(`sqlite:${file}`);
    expect(err.reason).toBe('corrupt');
    expect(err.message).toContain('is not a SQLite database');
    expect(sha(file)).toBe(before);
    expect(siblings(file)).toEqual(['store.db']);
  });

  it('refuses a database whose schema reads fine but whose data pages are damaged (no migration on it)', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.importConnections(Array.from({ length: 500 }, (_, i) => aConnection({ upn: `user${i}@contoso.example`, displayName: `User ${i}` })));
    await store.close();
    const bytes = readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    expect(bytes.length / pageSize).toBeGreaterThan(8);
    bytes.fill(0xab, bytes.length - 2 * pageSize);
    writeFileSync(file, bytes);
    const before = sha(file);
    const err = await openError(`sqlite:${file}`);
    expect(err.reason).toBe('corrupt');
    expect(sha(file)).toBe(before);
    expect(siblings(file)).toEqual(['store.db']);
  });

  it('refuses another application’s SQLite database', async () => {
    const file = freshPath();
    const other = new Database(file);
    other.exec("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers (name) VALUES ('Contoso')");
    other.close();
    const before = sha(file);
    const err = await openError(`sqlite:${file}`);
    expect(err.reason).toBe('foreign');
    expect(err.message).toContain('customers');
    expect(sha(file)).toBe(before);
  });

  it('refuses a database written by a newer schema and leaves it byte-identical', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.audit({ tenantId: TENANT_A, actor: 'system', action: 'created' });
    await store.close();
    const raw = new Database(file);
    raw
      .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
      .run(LATEST_SCHEMA_VERSION + 7, 'from the future', new Date().toISOString());
    raw.close();
    const before = sha(file);
    const files = siblings(file);
    const err = await openError(`sqlite:${file}`);
    expect(err.reason).toBe('newer-schema');
    expect(err.message).toContain(`schema ${LATEST_SCHEMA_VERSION + 7}`);
    expect(err.message).toContain(file);
    expect(sha(file)).toBe(before);
    expect(siblings(file)).toEqual(files);
  });

  it('names a folder that cannot be created', async () => {
    const dir = resolve(freshPath(), '..');
    writeFileSync(join(dir, 'a-file'), 'x');
    const err = await openError(`sqlite:${join(dir, 'a-file', 'data', 'store.db')}`);
    expect(err.reason).toBe('unwritable');
    expect(err.message).toContain('cannot create the folder');
  });

  it('refuses an unwritable folder or file without changing the file', async () => {
    const roDir = resolve(freshPath(), '..');
    const rwDir = resolve(freshPath(), '..');
    const existing = join(rwDir, 'existing.db');
    const seed = await openStore(`sqlite:${existing}`, ringA);
    await seed.ensureTenant(TENANT_A);
    await seed.close();
    const before = sha(existing);
    const asNobody = process.getuid?.() === 0;
    if (asNobody) {
      // root ignores permissions: run the open as `nobody`, for whom roDir (root, 0755) and existing (root, 0644) are read-only.
      chmodSync(rwDir, 0o777);
      chmodSync(existing, 0o644);
    } else {
      chmodSync(roDir, 0o555);
      chmodSync(existing, 0o444);
    }
    try {
      const cases = [
        { ds: `sqlite:${join(roDir, 'new.db')}`, text: 'is not writable' },
        { ds: `sqlite:${join(roDir, 'sub', 'new.db')}`, text: 'cannot create the folder' },
        { ds: `sqlite:${existing}`, text: 'the file is not writable' },
      ];
      for (const c of cases) {
        const result = asNobody ? openAsNobody(c.ds) : await openError(c.ds).then((e) => ({ name: e.name, reason: e.reason, message: e.message }));
        expect(result).toMatchObject({ name: 'StoreOpenError', reason: 'unwritable' });
        expect(result.message).toContain(c.text);
      }
      expect(readdirSync(roDir)).toEqual([]);
      expect(sha(existing)).toBe(before);
    } finally {
      chmodSync(roDir, 0o755);
    }
  });

  function openAsNobody(dataStore: string): { name?: string; reason?: string; message?: string } {
    const script = `const m = require(${JSON.stringify(join(ROOT, 'src/store/index.ts'))});
      m.openStore(process.argv[1], m.Keyring.fromKeys(Buffer.alloc(32, 1))).then(
        (s) => s.close().then(() => console.log(JSON.stringify({ name: 'opened' }))),
        (e) => console.log(JSON.stringify({ name: e.name, reason: e.reason, message: e.message })));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script, dataStore], {
      cwd: ROOT,
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      // Without the test CA: it is readable by root only, and opening a store needs no TLS.
      env: { ...withoutTestCa(process.env), HOME: tmp },
    });
    return JSON.parse(out.trim().split('\n').pop()!);
  }
});

function withoutTestCa(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _ca, SANDBOX_CERTS_DIR: _certs, ...rest } = env;
  return rest;
}

describe('openStore: opening and migrating', () => {
  it('creates the parent folders, uses WAL and records each migration once, however often it is reopened', async () => {
    const file = join(resolve(freshPath(), '..'), 'nested', 'deeper', 'cc.db');
    for (let i = 0; i < 3; i++) {
      const store: Store = await openStore(`sqlite:${file}`, ringA);
      await store.audit({ tenantId: TENANT_A, actor: 'system', action: `open.${i}` });
      await store.close();
    }
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    const actions = raw.prepare('SELECT action FROM audit_log ORDER BY seq').pluck().all();
    raw.close();
    expect(versions).toEqual(Array.from({ length: LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    expect(versions.at(-1)).toBe(LATEST_SCHEMA_VERSION);
    expect(actions).toEqual(['open.0', 'open.1', 'open.2']);
  });

  it('upgrades a version 1 database: users keep their roles and have no admin proof until a verified token', async () => {
    const file = freshPath();
    const raw = new Database(file);
    raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
    raw.exec(MIGRATIONS[0].sql);
    raw.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, ?, ?)').run(MIGRATIONS[0].name, new Date().toISOString());
    raw
      .prepare('INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(TENANT_A, 'oid-admin', 'admin@contoso.example', null, JSON.stringify(['ConnectionCenter.Admin']), '2026-11-01T08:00:00.000Z');
    raw.close();

    const store = await openStore(`sqlite:${file}`, ringA);
    const user = await store.getUser(TENANT_A, 'oid-admin');
    expect(user).toMatchObject({ roles: ['ConnectionCenter.Admin'], lastSeenAt: '2026-11-01T08:00:00.000Z' });
    expect(user).not.toHaveProperty('adminProvenAt');
    await store.close();
  });

  it('opens an empty file as a new database', async () => {
    const file = freshPath();
    writeFileSync(file, '');
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.ping();
    await store.close();
    expect(readFileSync(file).subarray(0, 15).toString('latin1')).toBe('SQLite format 3');
  });

  it('keeps the audit log append-only even for direct SQL', async () => {
    const file = freshPath();
    const store = await openStore(`sqlite:${file}`, ringA);
    await store.audit({ tenantId: TENANT_A, actor: 'admin', action: 'sa.saved' });
    const raw = new Database(file);
    expect(() => raw.exec('DELETE FROM audit_log')).toThrow(/append-only/);
    expect(() => raw.exec("UPDATE audit_log SET actor = 'someone else'")).toThrow(/append-only/);
    raw.close();
    expect((await store.listAudit(TENANT_A))[0].actor).toBe('admin');
    await store.close();
  });

  it('resolves DATA_STORE paths relative to the working directory and rejects other forms', async () => {
    expect(resolveSqlitePath('sqlite:data/cc.db')).toBe(resolve(process.cwd(), 'data/cc.db'));
    expect(resolveSqlitePath('sqlite:/var/lib/cc.db')).toBe('/var/lib/cc.db');
    expect(resolveSqlitePath('sqlite::memory:')).toBe(':memory:');
    for (const bad of ['sqlite:', '', 'data/cc.db', 'mysql://localhost/cc']) {
      const err = await openError(bad);
      expect(err.reason).toBe('unsupported');
      expect(err.message).toMatch(/sqlite:<path>/);
    }
    // A postgres:// value opens the PostgreSQL store (tests/integration/store-postgres.test.ts), never a file.
    expect(() => resolveSqlitePath('postgres://localhost/cc')).toThrow(
      expect.objectContaining({ reason: 'unsupported', message: expect.stringMatching(/sqlite:<path>/) }),
    );
  });
});

describe('SqliteStore: the admin list uses indexes', () => {
  const plan = (params: Record<string, unknown>) => {
    const db = new Database(':memory:');
    try {
      db.exec(MIGRATIONS.map((m) => m.sql).join(';'));
      const all = { tenantId: TENANT_A, limit: 51, ...params };
      return (db.prepare(`EXPLAIN QUERY PLAN ${connectionPageSql(all)}`).all(all) as Array<{ detail: string }>).map((r) => r.detail).join('; ');
    } finally {
      db.close();
    }
  };

  it.each([
    [{}, /USING PRIMARY KEY \(tenant_id=\?\)/],
    [{ afterUpn: 'a@c.example', afterKind: 'ews-basic' }, /USING PRIMARY KEY \(tenant_id=\? AND \(upn,kind\)>\(\?,\?\)\)/],
    [{ state: 'failing' }, /USING INDEX connections_by_state \(tenant_id=\? AND state=\?\)/],
    [
      { state: 'failing', afterUpn: 'a@c.example', afterKind: 'ews-basic' },
      /USING INDEX connections_by_state \(tenant_id=\? AND state=\? AND \(upn,kind\)>\(\?,\?\)\)/,
    ],
    [{ kind: 'ews-basic' }, /USING INDEX connections_by_kind \(tenant_id=\? AND kind=\?\)/],
  ])('%j → %s', (params, expected) => {
    const detail = plan(params);
    expect(detail).toMatch(expected);
    expect(detail).not.toMatch(/TEMP B-TREE FOR ORDER BY/);
  });
});
