/**
 * The PostgreSQL store: the whole Store contract, plus what is particular to a shared server
 * (migrations under a lock, encryption at rest, rotation, open errors) and a side-by-side check
 * that it answers exactly as the SQLite store does. Needs a server: see tests/helpers/postgres.ts.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Keyring, KeyringError, SqliteStore, StoreOpenError, openStore, type Store } from '../../src/store';
import { COUNT_CONNECTIONS_SQL, PgStore, connectionQuerySql, redactUrl } from '../../src/store/postgres';
import { PG_LATEST_SCHEMA_VERSION, PG_MIGRATIONS } from '../../src/store/postgres-migrations';
import { tokenCacheAad } from '../../src/store/records';
import type { ConnectionQuery, ConnectionRecord } from '../../src/store/types';
import { aConnection, aServiceAccount, aSession, anAuthState, describeStoreContract, TENANT_A, TENANT_B } from '../contract/store.contract';
import { createTestDatabase, describePostgres, type TestDatabase } from '../helpers/postgres';
import { sql } from '../helpers/postgres-server';

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const ringA = Keyring.fromKeys(keyA);

const TABLES = [
  'tenants',
  'users',
  'domains',
  'service_accounts',
  'service_account_tests',
  'connections',
  'token_caches',
  'auth_states',
  'sessions',
  'conversations',
  'outbox',
  'campaigns',
  'reach_users',
  'check_items',
  'check_runs',
  'connection_history',
  'audit_log',
];

describePostgres('PostgreSQL store', () => {
  describe('contract', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase('contract');
    });
    afterAll(async () => {
      await db?.drop();
    });

    describeStoreContract('postgres', async () => {
      const store = await openStore(db.url, ringA);
      // One database for the file, emptied before each test: the contract wants a fresh store.
      // DELETE is quicker than TRUNCATE on tiny tables; the audit log refuses DELETE by design.
      await sql(
        db.url,
        `${TABLES.filter((t) => t !== 'audit_log')
          .map((t) => `DELETE FROM ${t};`)
          .join(' ')} TRUNCATE audit_log`,
      );
      return { store, cleanup: () => store.close() };
    });
  });

  describe('particulars', () => {
    const opened: Store[] = [];
    const dbs: TestDatabase[] = [];
    async function freshDb(): Promise<TestDatabase> {
      const db = await createTestDatabase('pg');
      dbs.push(db);
      return db;
    }
    async function open(url: string, keyring = ringA): Promise<PgStore> {
      const store = (await openStore(url, keyring)) as PgStore;
      opened.push(store);
      return store;
    }
    afterAll(async () => {
      for (const s of opened) await s.close();
      for (const db of dbs) await db.drop();
    });

    it('is what openStore returns for a postgres:// DATA_STORE', async () => {
      const db = await freshDb();
      expect(await open(db.url)).toBeInstanceOf(PgStore);
      expect(await open(db.url.replace(/^postgres:/, 'postgresql:'))).toBeInstanceOf(PgStore);
    });

    it('migrates once when several instances start together', async () => {
      const db = await freshDb();
      const stores = await Promise.all(Array.from({ length: 5 }, () => open(db.url)));
      await Promise.all(stores.map((s) => s.ping()));
      const rows = await sql<{ version: number }>(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(Array.from({ length: PG_LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
      // And every instance sees the others' writes.
      await stores[0].ensureTenant(TENANT_A, { displayName: 'Contoso' });
      expect(await stores[4].getTenant(TENANT_A)).toMatchObject({ displayName: 'Contoso' });
    });

    it('never writes secrets in clear, and stores the key id beside each sealed value', async () => {
      const db = await freshDb();
      const store = await open(db.url);
      const clientSecret = 'Zq8~Secret.Value-' + randomBytes(12).toString('hex');
      const refreshToken = '0.ARrefresh-' + randomBytes(16).toString('hex');
      const state = anAuthState({ codeVerifier: 'pkce-' + randomBytes(24).toString('hex'), nonce: 'nonce-' + randomBytes(8).toString('hex') });
      const session = aSession({ id: 'sid-' + randomBytes(16).toString('hex'), csrfToken: 'csrf-' + randomBytes(16).toString('hex') });
      await store.putServiceAccount(aServiceAccount({ clientSecret, testAccount: 'visible-marker@contoso.example' }));
      await store.putTokenCache(TENANT_A, 'oid.tid', JSON.stringify({ RefreshToken: { k: { secret: refreshToken } } }));
      await store.putAuthState(state);
      await store.putSession(session);
      const secrets = [clientSecret, refreshToken, state.state, state.codeVerifier, state.nonce, session.id, session.csrfToken];

      const dump = (await Promise.all(TABLES.map((t) => sql(db.url, `SELECT * FROM ${t}`)))).map((rows) => JSON.stringify(rows)).join('\n');
      expect(dump).toContain('visible-marker@contoso.example');
      for (const s of secrets) expect(dump).not.toContain(s);
      const kids = await sql<{ key_id: string }>(
        db.url,
        'SELECT key_id FROM service_accounts UNION SELECT key_id FROM token_caches UNION SELECT key_id FROM auth_states UNION SELECT key_id FROM sessions',
      );
      expect(kids).toEqual([{ key_id: ringA.currentKeyId }]);
      expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe(clientSecret);
    });

    it('refuses a secret copied into another tenant’s row', async () => {
      const db = await freshDb();
      const store = await open(db.url);
      await store.putServiceAccount(aServiceAccount({ tenantId: TENANT_A, clientSecret: 'secret-of-a' }));
      await store.putServiceAccount(aServiceAccount({ tenantId: TENANT_B, clientSecret: 'secret-of-b' }));
      await sql(db.url, 'UPDATE service_accounts SET secret_box = (SELECT secret_box FROM service_accounts WHERE tenant_id = $1) WHERE tenant_id = $2', [
        TENANT_A,
        TENANT_B,
      ]);
      await expect(store.getServiceAccount(TENANT_B)).rejects.toMatchObject({ name: 'KeyringError', reason: 'tampered' });
      expect((await store.getServiceAccount(TENANT_A))?.clientSecret).toBe('secret-of-a');
    });

    it('reads records sealed under an old key while the keyring has both, then rewrites them', async () => {
      const db = await freshDb();
      const st = anAuthState();
      const session = aSession();
      const first = await open(db.url, ringA);
      await first.putServiceAccount(aServiceAccount({ clientSecret: 'written-under-A' }));
      await first.putTokenCache(TENANT_A, 'oid.tid', 'cache-under-A');
      await first.putAuthState(st);
      await first.putSession(session);

      const onlyB = Keyring.fromKeys(keyB);
      const err = await (await open(db.url, onlyB)).getServiceAccount(TENANT_A).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyringError);
      expect((err as KeyringError).reason).toBe('unknown-key');

      const rotating = await open(db.url, Keyring.fromKeys(keyB, [keyA]));
      expect((await rotating.getServiceAccount(TENANT_A))?.clientSecret).toBe('written-under-A');
      await rotating.putTokenCache(TENANT_A, 'new.tid', 'cache-under-B');
      expect(await rotating.rotateKeys()).toBe(4);
      expect(await rotating.rotateKeys()).toBe(0);

      const after = await open(db.url, onlyB);
      expect((await after.getServiceAccount(TENANT_A))?.clientSecret).toBe('written-under-A');
      expect(await after.getTokenCache(TENANT_A, 'oid.tid')).toBe('cache-under-A');
      expect(await after.getTokenCache(TENANT_A, 'new.tid')).toBe('cache-under-B');
      expect(await after.getSession(session.id, new Date(Date.parse(session.expiresAt) - 1000))).toEqual(session);
      expect(await after.takeAuthState(st.state, new Date(Date.parse(st.expiresAt) - 1000))).toEqual(st);
    });

    it('leaves a value written while rotation ran as that write made it', async () => {
      const db = await freshDb();
      await (await open(db.url, ringA)).putTokenCache(TENANT_A, 'oid.tid', 'cache-under-A');
      const ringBA = Keyring.fromKeys(keyB, [keyA]);
      const rotating = await open(db.url, ringBA);
      // Another instance rewrites the partition (under B) and holds its transaction open…
      const writer = new pg.Client({ connectionString: db.url });
      await writer.connect();
      try {
        await writer.query('BEGIN');
        await writer.query('UPDATE token_caches SET box = $1, key_id = $2 WHERE tenant_id = $3 AND partition_key = $4', [
          ringBA.encrypt('cache-written-meanwhile', tokenCacheAad(TENANT_A, 'oid.tid')),
          ringBA.currentKeyId,
          TENANT_A,
          'oid.tid',
        ]);
        // …while rotation has read the old value and waits for the row.
        const rotation = rotating.reencryptAll();
        const waiting = async () =>
          (await sql(db.url, "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).length > 0;
        while (!(await waiting())) await new Promise((r) => setImmediate(r));
        await writer.query('COMMIT');
        expect((await rotation).tokenCaches).toBe(0);
      } finally {
        await writer.end();
      }
      expect(await rotating.getTokenCache(TENANT_A, 'oid.tid')).toBe('cache-written-meanwhile');
      expect(await rotating.countRetiredKeyValues()).toEqual({ serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 });
    });

    it('upgrades a schema 3 database: users keep their roles and have no admin proof until a verified token', async () => {
      const db = await freshDb();
      await sql(db.url, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of PG_MIGRATIONS.filter((m) => m.version <= 3)) {
        await sql(db.url, m.sql);
        await sql(db.url, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      }
      await sql(db.url, 'INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at) VALUES ($1, $2, $3, NULL, $4, $5)', [
        TENANT_A,
        'oid-admin',
        'admin@contoso.example',
        JSON.stringify(['ConnectionCenter.Admin']),
        '2026-11-01T08:00:00.000Z',
      ]);
      const store = await open(db.url);
      const user = await store.getUser(TENANT_A, 'oid-admin');
      expect(user).toMatchObject({ roles: ['ConnectionCenter.Admin'], lastSeenAt: '2026-11-01T08:00:00.000Z' });
      expect(user).not.toHaveProperty('adminProvenAt');
      const versions = await sql<{ version: number }>(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.map((r) => r.version)).toEqual(Array.from({ length: PG_LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    });

    it('upgrades a schema 4 database: connections keep their fields and have no feature results until checked', async () => {
      const db = await freshDb();
      await sql(db.url, 'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of PG_MIGRATIONS.filter((m) => m.version <= 4)) {
        await sql(db.url, m.sql);
        await sql(db.url, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
      }
      const before = aConnection({ upn: 'old@contoso.example', state: 'failing', error: { code: 'ACCESS_DENIED', message: 'm' } });
      await sql(
        db.url,
        `INSERT INTO connections (tenant_id, upn, kind, search_text, state, granted_scopes, error, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          TENANT_A,
          before.upn,
          before.kind,
          before.upn,
          before.state,
          JSON.stringify(before.grantedScopes),
          JSON.stringify(before.error),
          before.createdAt,
          before.updatedAt,
        ],
      );
      const store = await open(db.url);
      expect(await store.getConnections(TENANT_A, before.upn)).toEqual([before]);
      const checked = { ...before, state: 'connected' as const, featureResults: { emailSync: { ok: true } } };
      delete (checked as Partial<ConnectionRecord>).error;
      await store.startCheckRun(
        { id: 'run-1', tenantId: TENANT_A, status: 'running', startedBy: 'schedule', startedAt: before.updatedAt, total: 0, checked: 0 },
        [before],
      );
      expect(
        await store.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: before.upn, kind: before.kind, from: before.state, connection: checked }),
      ).toBe(true);
      expect(await store.getConnections(TENANT_A, before.upn)).toEqual([checked]);
      const versions = await sql<{ version: number }>(db.url, 'SELECT version FROM schema_migrations ORDER BY version');
      expect(versions.map((r) => r.version)).toEqual(Array.from({ length: PG_LATEST_SCHEMA_VERSION }, (_, i) => i + 1));
    });

    it('seals only what rotation covers: no table but the four it rewrites has a key id, and reach and checks store no secrets', async () => {
      const db = await freshDb();
      const store = await open(db.url);
      const withKeyId = await sql<{ table_name: string }>(
        db.url,
        "SELECT table_name FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'key_id' ORDER BY table_name",
      );
      expect(withKeyId.map((r) => r.table_name)).toEqual(['auth_states', 'service_accounts', 'sessions', 'token_caches']);
      expect(Object.keys(await store.countRetiredKeyValues()).sort()).toEqual(['authStates', 'serviceAccountSecrets', 'sessions', 'tokenCaches']);
      // What the new tables hold is what their records say, readable by design (no tokens, no secrets).
      await store.putCampaign({ tenantId: TENANT_A, status: 'running', round: 1, domains: ['contoso.example'], updatedAt: new Date().toISOString() });
      await store.putReachUser({ tenantId: TENANT_A, upn: 'megan@contoso.example', oid: 'oid-megan', bot: 'installed', updatedAt: new Date().toISOString() });
      const columns = await sql<{ table_name: string; column_name: string }>(
        db.url,
        `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()
           AND table_name IN ('campaigns', 'reach_users', 'check_runs', 'check_items', 'connection_history') ORDER BY table_name, ordinal_position`,
      );
      expect(columns.filter((c) => /box|secret|token|key/.test(c.column_name))).toEqual([]);
    });

    it('starts one run per tenant when several instances start at once', async () => {
      const db = await freshDb();
      const stores = await Promise.all(Array.from({ length: 4 }, () => open(db.url)));
      const run = (i: number) => ({
        id: `run-${i}`,
        tenantId: TENANT_A,
        status: 'running' as const,
        startedBy: 'schedule',
        startedAt: new Date().toISOString(),
        total: 0,
        checked: 0,
      });
      const results = await Promise.all(stores.map((s, i) => s.startCheckRun(run(i), [{ upn: `u${i}@contoso.example`, kind: 'graph-app' }])));
      const winners = results.filter((r) => r.started);
      expect(winners).toHaveLength(1);
      for (const r of results) expect(r.run).toEqual(winners[0].run);
      expect(await stores[0].listRunningCheckRuns()).toEqual([winners[0].run]);
      expect(await sql(db.url, 'SELECT run_id FROM check_items')).toEqual([{ run_id: winners[0].run.id }]);
    });

    it('completes an item once when several instances complete it at once', async () => {
      const db = await freshDb();
      const stores = await Promise.all(Array.from({ length: 4 }, () => open(db.url)));
      const c = aConnection({ upn: 'a@contoso.example', state: 'needs-reconnect', error: { code: 'REFRESH_TOKEN_REVOKED', message: 'm' } });
      await stores[0].startCheckRun(
        { id: 'run-1', tenantId: TENANT_A, status: 'running', startedBy: 'schedule', startedAt: c.updatedAt, total: 0, checked: 0 },
        [c],
      );
      const done = await Promise.all(
        stores.map((s) => s.completeCheckItem({ runId: 'run-1', tenantId: TENANT_A, upn: c.upn, kind: c.kind, from: 'connected', connection: c })),
      );
      expect(done.filter(Boolean)).toHaveLength(1);
      expect((await stores[0].getCheckRun(TENANT_A, 'run-1'))?.checked).toBe(1);
      expect(await stores[0].connectionHistory(TENANT_A, c.upn)).toHaveLength(1);
    });

    it('keeps the audit log append-only even for direct SQL', async () => {
      const db = await freshDb();
      const store = await open(db.url);
      await store.audit({ tenantId: TENANT_A, actor: 'admin', action: 'sa.saved' });
      await expect(sql(db.url, 'DELETE FROM audit_log')).rejects.toThrow(/append-only/);
      await expect(sql(db.url, "UPDATE audit_log SET actor = 'someone else'")).rejects.toThrow(/append-only/);
      expect((await store.listAudit(TENANT_A))[0].actor).toBe('admin');
    });

    it('refuses another application’s database and leaves it alone', async () => {
      const db = await freshDb();
      await sql(db.url, "CREATE TABLE customers (id serial PRIMARY KEY, name text); INSERT INTO customers (name) VALUES ('Contoso')");
      const err = await openStore(db.url, ringA).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreOpenError);
      expect(err).toMatchObject({ reason: 'foreign' });
      expect((err as Error).message).toContain('customers');
      const tables = await sql<{ table_name: string }>(db.url, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'");
      expect(tables.map((t) => t.table_name)).toEqual(['customers']);
    });

    it('refuses a database written by a newer schema', async () => {
      const db = await freshDb();
      await (await open(db.url)).ensureTenant(TENANT_A);
      await sql(db.url, 'INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        PG_LATEST_SCHEMA_VERSION + 7,
        'from the future',
        new Date().toISOString(),
      ]);
      const err = await openStore(db.url, ringA).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'StoreOpenError', reason: 'newer-schema' });
      expect((err as Error).message).toContain(`schema ${PG_LATEST_SCHEMA_VERSION + 7}`);
    });

    it('has an index for each of the admin list’s filters, the search and the paging', async () => {
      const db = await freshDb();
      const store = await open(db.url);
      await store.importConnections(
        Array.from({ length: 300 }, (_, i) =>
          aConnection({
            upn: `user${i}@contoso.example`,
            displayName: `User ${i}`,
            state: i % 3 ? 'connected' : 'failing',
            kind: i % 2 ? 'ews-basic' : 'graph-app',
          }),
        ),
      );
      const cursor = Buffer.from(JSON.stringify({ u: 'user150@contoso.example', k: 'ews-basic' })).toString('base64url');
      const plan = async (query: ConnectionQuery | undefined, forbid = ['enable_seqscan']) => {
        const { text, values } = query ? connectionQuerySql(TENANT_A, query, 51) : { text: COUNT_CONNECTIONS_SQL, values: [TENANT_A] };
        // A table this small is cheapest to scan whole: forbid that to see which index the planner would use.
        const client = new pg.Client({ connectionString: db.url });
        await client.connect();
        let rows: Array<{ 'QUERY PLAN': string }>;
        try {
          await client.query(`ANALYZE connections; ${forbid.map((f) => `SET ${f} = off;`).join(' ')}`);
          rows = (await client.query(`EXPLAIN ${text}`, values)).rows;
        } finally {
          await client.end();
        }
        return rows.map((r) => r['QUERY PLAN']).join('\n');
      };
      expect(await plan({})).toMatch(/Index Scan using connections_pkey/);
      expect(await plan({ cursor })).toMatch(/Index Scan using connections_pkey[^\n]*\n.*Index Cond: .*ROW\(upn, kind\) >/);
      expect(await plan({ state: 'failing' })).toMatch(/Index Scan using connections_by_state/);
      expect(await plan({ state: 'failing', cursor })).toMatch(/Index Scan using connections_by_state/);
      expect(await plan({ kind: 'graph-app' })).toMatch(/Index Scan using connections_by_kind/);
      // The search condition the store writes is one the trigram index serves (whether the planner
      // prefers it over the tenant's key depends on the table's size: bench/store.ts shows it at 100,000).
      const search = connectionQuerySql(TENANT_A, { search: 'USER2345' }, 51);
      expect(search.text).toContain('search_text LIKE $2');
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      try {
        await client.query('SET enable_seqscan = off');
        const rows = (await client.query('EXPLAIN SELECT * FROM connections WHERE search_text LIKE $1', [search.values[1]])).rows;
        expect(rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Bitmap Index Scan on connections_search_trgm/);
      } finally {
        await client.end();
      }
      expect(await plan(undefined)).toMatch(/Index (Only )?Scan (using|on) connections_(pkey|by_state|by_kind)/);
    });

    it('says which server it cannot reach, without the password', async () => {
      const url = 'postgres://cc:hunter2-secret@127.0.0.1:1/cc';
      const err = await openStore(url, ringA).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'StoreOpenError', reason: 'failed' });
      expect((err as Error).message).toContain('127.0.0.1:1');
      expect((err as Error).message).toContain('cannot reach');
      expect((err as Error).message).not.toContain('hunter2-secret');
      expect((err as StoreOpenError).path).toBe(redactUrl(url));
      expect((err as Error).message).not.toContain('\n');
    });
  });

  describe('answers exactly as the SQLite store does', () => {
    let db: TestDatabase;
    let pgStore: Store;
    let sqlite: Store;

    // Ordering traps: case, accents (UTF-8 bytes sort after ASCII), punctuation, LIKE wildcards.
    const names: Array<[string, string | undefined]> = [
      ['Émile@contoso.example', 'Émile Zola'],
      ['emile@contoso.example', 'emile lower'],
      ['eve@contoso.example', 'Eve_Underscore'],
      ['e-ve@contoso.example', 'E-Ve 100%'],
      ['e.ve@contoso.example', 'back\\slash'],
      ['zed@fabrikam.example', 'Zed Ångström'],
      ['ZOË@fabrikam.example', undefined],
      ['adam@contoso.example', 'ADAM'],
      ['a_b@contoso.example', 'a_b'],
      ['ab@contoso.example', 'ab'],
      ['b@contoso.example', 'Bee'],
    ];
    const kinds = ['ews-basic', 'graph-delegated', 'graph-app', 'ews-oauth'] as const;
    const states = ['connected', 'needs-reconnect', 'failing', 'unknown', 'missing-permissions', 'disconnected'] as const;

    beforeAll(async () => {
      db = await createTestDatabase('same');
      pgStore = await openStore(db.url, ringA);
      sqlite = await SqliteStore.open(':memory:', ringA);
      const records: ConnectionRecord[] = [];
      names.forEach(([upn, displayName], i) => {
        for (let k = 0; k <= i % kinds.length; k++) {
          records.push(aConnection({ upn, displayName, kind: kinds[k], state: states[(i + k) % states.length] }));
        }
      });
      for (const s of [pgStore, sqlite]) {
        await s.importConnections(records);
        await s.importConnections([aConnection({ tenantId: TENANT_B, upn: 'other@tenant.example' })]);
      }
    });
    afterAll(async () => {
      await pgStore?.close();
      await sqlite?.close();
      await db?.drop();
    });

    async function allPages(store: Store, query: ConnectionQuery): Promise<string[][]> {
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.queryConnections(TENANT_A, { ...query, cursor });
        pages.push(page.items.map((c) => `${c.upn}/${c.kind}/${c.state}`));
        cursor = page.nextCursor;
      } while (cursor && pages.length < 100);
      return pages;
    }

    const queries: ConnectionQuery[] = [
      {},
      { limit: 3 },
      { limit: 1, state: 'connected' },
      { limit: 2, kind: 'ews-basic' },
      { kind: 'graph-delegated', state: 'needs-reconnect' },
      ...['e', 'É', 'émile', 'EVE', '_', '%', '\\', '100%', 'a_b', 'ångström', 'ZOË', 'fabrikam', '  ab  ', 'nobody'].map((search) => ({ search, limit: 2 })),
    ];

    it.each(queries)('pages %j alike', async (query) => {
      expect(await allPages(pgStore, query)).toEqual(await allPages(sqlite, query));
    });

    it('counts alike and takes each other’s cursors', async () => {
      expect(await pgStore.countConnections(TENANT_A)).toEqual(await sqlite.countConnections(TENANT_A));
      const first = await sqlite.queryConnections(TENANT_A, { limit: 4 });
      expect(await pgStore.queryConnections(TENANT_A, { limit: 4, cursor: first.nextCursor })).toEqual(
        await sqlite.queryConnections(TENANT_A, { limit: 4, cursor: first.nextCursor }),
      );
    });

    it('pages reach users and orders check items alike, and takes each other’s reach cursors', async () => {
      const at = '2026-11-01T08:00:00.000Z';
      for (const s of [pgStore, sqlite]) {
        for (const [upn] of names) await s.putReachUser({ tenantId: TENANT_A, upn, updatedAt: at });
        await s.startCheckRun(
          { id: 'run-same', tenantId: TENANT_A, status: 'running', startedBy: 'schedule', startedAt: at, total: 0, checked: 0 },
          names.flatMap(([upn]) => kinds.map((kind) => ({ upn, kind }))),
        );
      }
      const pages = async (s: Store) => {
        const out: string[][] = [];
        let cursor: string | undefined;
        do {
          const page = await s.listReachUsers(TENANT_A, { limit: 3, cursor });
          out.push(page.items.map((u) => u.upn));
          cursor = page.nextCursor;
        } while (cursor && out.length < 100);
        return out;
      };
      expect(await pages(pgStore)).toEqual(await pages(sqlite));
      const first = await sqlite.listReachUsers(TENANT_A, { limit: 4 });
      expect(await pgStore.listReachUsers(TENANT_A, { limit: 4, cursor: first.nextCursor })).toEqual(
        await sqlite.listReachUsers(TENANT_A, { limit: 4, cursor: first.nextCursor }),
      );
      expect(await pgStore.pendingCheckItems(TENANT_A, 'run-same', 1000)).toEqual(await sqlite.pendingCheckItems(TENANT_A, 'run-same', 1000));
      expect(await pgStore.getCheckRun(TENANT_A, 'run-same')).toEqual(await sqlite.getCheckRun(TENANT_A, 'run-same'));
    });

    it('fails alike', async () => {
      const message = async (p: Promise<unknown>) =>
        p.then(
          () => 'resolved',
          (e: Error) => `${e.name}: ${e.message}`,
        );
      const cases: Array<(s: Store) => Promise<unknown>> = [
        (s) => s.queryConnections(TENANT_A, { cursor: 'not-a-cursor' }),
        (s) => s.queryConnections(TENANT_A, { state: 'fine' as never }),
        (s) => s.importConnections([aConnection(), aConnection({ kind: 'pop3' as never })]),
        (s) => s.markSent('no-such-id', new Date()),
        (s) => s.ensureTenant(TENANT_A, { enabledFeatures: ['faxSync' as never] }),
        (s) => s.putAuthState(anAuthState({ expiresAt: 'soon' })),
      ];
      for (const c of cases) expect(await message(c(pgStore))).toBe(await message(c(sqlite)));
      const err = await pgStore.markSent('no-such-id', new Date()).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'AppError', code: 'NOT_FOUND' });
    });
  });
});
