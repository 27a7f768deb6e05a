/**
 * The shared Store: PostgreSQL through `pg` (a pool per process), for several instances of the
 * server at once (`DATA_STORE=postgres://user:pass@host:port/db`). It behaves exactly like the
 * SQLite store (same validation, ordering, cursors and errors: the shared rules live in
 * records.ts); what differs is how writes stay atomic when other processes write too:
 * multi-statement writes run in one transaction, and ones that replace a whole set take an
 * advisory lock for it. Secret fields are sealed with the Keyring before they leave the process.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { FEATURES, type Feature } from '../domain/features';
import { isConnectionKind, isConnectionState, type ConnectionKind, type ConnectionState } from '../domain/connection';
import type { Keyring } from './crypto';
import { StoreOpenError } from './errors';
import { PG_LATEST_SCHEMA_VERSION, PG_MIGRATIONS } from './postgres-migrations';
import {
  DEFAULT_PAGE,
  leaseParams,
  authStateAad,
  checkFeatures,
  clampLimit,
  clip,
  compact,
  connectionParams,
  decodeCursor,
  encodeCursor,
  invalid,
  notFoundOutbox,
  nowIso,
  requireText,
  saAad,
  searchTerm,
  sessionAad,
  sha256,
  toMs,
  tokenCacheAad,
  type ConnectionParams,
} from './records';
import type {
  AuditRecord,
  AuthStateRecord,
  CampaignRecord,
  CheckItemRecord,
  CheckItemResult,
  CheckRunRecord,
  ConnectionHistoryRecord,
  ConnectionPage,
  ConnectionQuery,
  ConnectionRecord,
  ConversationRecord,
  ConversationScope,
  EncryptedValueCounts,
  NewOutboxItem,
  OutboxRecord,
  OutboxStatus,
  ReachUserPage,
  ReachUserRecord,
  ServiceAccountRecord,
  ServiceAccountTestRecord,
  SessionRecord,
  Store,
  TenantRecord,
  UserRecord,
  UserWrite,
} from './types';

/** The advisory lock key that serialises migrations across instances ("cc-migr" in ASCII). */
const MIGRATION_LOCK = 0x63632d6d696772n;
/** Rows per INSERT when importing many connections (one array per column; keeps each statement modest). */
const IMPORT_CHUNK = 2000;

export interface PgStoreOptions {
  /** The clock that stamps records (createdAt, updatedAt, audit times); the system clock by default. */
  now?: () => Date;
  /** Connections in the pool (default 10). */
  maxConnections?: number;
  /** How long opening waits for the server (ms, default 10 s). */
  connectTimeoutMs?: number;
}

type Queryable = pg.Pool | pg.PoolClient;

export class PgStore implements Store {
  /** The DATA_STORE value with its password masked, safe for messages and logs. */
  readonly location: string;
  readonly #pool: pg.Pool;
  readonly #keyring: Keyring;
  readonly #now: () => Date;
  #closed = false;

  private constructor(pool: pg.Pool, location: string, keyring: Keyring, now: () => Date) {
    this.#pool = pool;
    this.#now = now;
    this.location = location;
    this.#keyring = keyring;
  }

  /**
   * Connects and migrates (under an advisory lock, so concurrent starts migrate once). Anything
   * that stops it throws StoreOpenError naming the server, never the password; another
   * application's schema or a newer one is left as it was.
   */
  static async open(url: string, keyring: Keyring, options: PgStoreOptions = {}): Promise<PgStore> {
    const location = redactUrl(url);
    const pool = new pg.Pool({
      connectionString: url,
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      application_name: 'connection-center',
    });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    try {
      await migrate(pool, location);
      return new PgStore(pool, location, keyring, options.now ?? (() => new Date()));
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw toOpenError(err, location);
    }
  }

  // ---- lifecycle ---------------------------------------------------------------------------

  async ping(): Promise<void> {
    await this.#pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }

  /** Every encrypted value as a rotation target: its table, key columns, sealed column and AAD. */
  static readonly #sealed: ReadonlyArray<{
    kind: keyof EncryptedValueCounts;
    table: string;
    keys: readonly string[];
    box: string;
    aad: (key: string[]) => string;
  }> = [
    { kind: 'serviceAccountSecrets', table: 'service_accounts', keys: ['tenant_id'], box: 'secret_box', aad: ([t]) => saAad(t!) },
    { kind: 'tokenCaches', table: 'token_caches', keys: ['tenant_id', 'partition_key'], box: 'box', aad: ([t, p]) => tokenCacheAad(t!, p!) },
    { kind: 'authStates', table: 'auth_states', keys: ['state_hash'], box: 'box', aad: ([h]) => authStateAad(h!) },
    { kind: 'sessions', table: 'sessions', keys: ['id_hash'], box: 'box', aad: ([h]) => sessionAad(h!) },
  ];

  async reencryptAll(options: { batchSize?: number } = {}): Promise<EncryptedValueCounts> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 200));
    const kid = this.#keyring.currentKeyId;
    const k = this.#keyring;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const t of PgStore.#sealed) {
      const keyList = t.keys.join(', ');
      // The key columns and the value as read, then the new value: one row of the UPDATE's input.
      const input = [...t.keys.map((_, i) => `$${i + 2}::text[]`), `$${t.keys.length + 2}::text[]`, `$${t.keys.length + 3}::text[]`].join(', ');
      const names = [...t.keys.map((_, i) => `k${i}`), 'old_box', 'new_box'].join(', ');
      const match = t.keys.map((c, i) => `${t.table}.${c} = v.k${i}`).join(' AND ');
      const update = `UPDATE ${t.table} SET ${t.box} = v.new_box, key_id = $1 FROM unnest(${input}) AS v(${names})
         WHERE ${match} AND ${t.table}.${t.box} = v.old_box`;
      // One short transaction per batch: other writers wait at most one batch, and an interruption
      // keeps every batch already committed. Rewritten rows leave the `key_id <> current` listing.
      for (;;) {
        const batch = await this.#tx(async (c) => {
          const { rows } = await c.query(`SELECT ${keyList}, ${t.box} AS box FROM ${t.table} WHERE key_id <> $1 LIMIT $2`, [kid, batchSize]);
          if (rows.length === 0) return { listed: 0, rewritten: 0 };
          const keyValues = rows.map((r) => t.keys.map((col) => r[col] as string));
          const fresh = rows.map((r, i) => {
            const aad = t.aad(keyValues[i]!);
            return k.encrypt(k.decrypt(r.box as string, aad), aad);
          });
          // Only where the value is still the one read: a concurrent write already used the current key.
          const res = await c.query(update, [kid, ...t.keys.map((_, j) => keyValues.map((kv) => kv[j])), rows.map((r) => r.box as string), fresh]);
          return { listed: rows.length, rewritten: res.rowCount ?? 0 };
        });
        counts[t.kind] += batch.rewritten;
        if (batch.listed < batchSize) break;
      }
    }
    return counts;
  }

  async countRetiredKeyValues(): Promise<EncryptedValueCounts> {
    const kid = this.#keyring.currentKeyId;
    const counts = PgStore.#sealed.map((t) => `(SELECT count(*)::int FROM ${t.table} WHERE key_id <> $1) AS "${t.kind}"`).join(', ');
    const row = (await this.#pool.query(`SELECT ${counts}`, [kid])).rows[0] as EncryptedValueCounts;
    return { serviceAccountSecrets: row.serviceAccountSecrets, tokenCaches: row.tokenCaches, authStates: row.authStates, sessions: row.sessions };
  }

  async rekeyServiceAccountTests(tenantId: string, fromHash: string, toHash: string): Promise<number> {
    return this.#tx(async (c) => {
      let n = 0;
      const { rows } = await c.query('SELECT seq, record FROM service_account_tests WHERE tenant_id = $1 ORDER BY seq FOR UPDATE', [tenantId]);
      for (const row of rows as Array<{ seq: string; record: string }>) {
        const record = JSON.parse(row.record) as ServiceAccountTestRecord;
        if (record.configHash !== fromHash) continue;
        const res = await c.query('UPDATE service_account_tests SET record = $1 WHERE seq = $2', [JSON.stringify({ ...record, configHash: toHash }), row.seq]);
        n += res.rowCount ?? 0;
      }
      return n;
    });
  }

  /** reencryptAll as one total (kept for callers that only need the number). */
  async rotateKeys(): Promise<number> {
    const counts = await this.reencryptAll();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  }

  // ---- tenants -----------------------------------------------------------------------------

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT * FROM tenants WHERE tenant_id = $1', [tenantId]);
    return rows[0] && tenantFromRow(rows[0]);
  }

  async ensureTenant(tenantId: string, defaults: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>> = {}): Promise<TenantRecord> {
    requireText(tenantId, 'tenantId');
    const features = defaults.enabledFeatures ? checkFeatures(defaults.enabledFeatures, 'enabledFeatures') : [...FEATURES];
    const now = this.#now().toISOString();
    await this.#pool.query(TENANT_INSERT_IGNORE, [tenantId, defaults.displayName ?? null, JSON.stringify(features), now]);
    return (await this.getTenant(tenantId))!;
  }

  async updateTenant(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>): Promise<TenantRecord> {
    requireText(tenantId, 'tenantId');
    const features = patch.enabledFeatures ? checkFeatures(patch.enabledFeatures, 'enabledFeatures') : undefined;
    const now = this.#now().toISOString();
    const row = await this.#tx(async (c) => {
      await c.query(TENANT_INSERT_IGNORE, [tenantId, null, JSON.stringify([...FEATURES]), now]);
      const { rows } = await c.query(
        `UPDATE tenants SET
            display_name = CASE WHEN $2 THEN $3 ELSE display_name END,
            enabled_features = CASE WHEN $4 THEN $5 ELSE enabled_features END,
            deadline_overrides = CASE WHEN $6 THEN $7 ELSE deadline_overrides END,
            updated_at = $8
          WHERE tenant_id = $1 RETURNING *`,
        [
          tenantId,
          patch.displayName !== undefined,
          patch.displayName ?? null,
          features !== undefined,
          features ? JSON.stringify(features) : null,
          patch.deadlineOverrides !== undefined,
          patch.deadlineOverrides ? JSON.stringify(patch.deadlineOverrides) : null,
          now,
        ],
      );
      return rows[0] as TenantRow;
    });
    return tenantFromRow(row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.#pool.query('SELECT * FROM tenants ORDER BY tenant_id')).rows.map(tenantFromRow);
  }

  // ---- users -------------------------------------------------------------------------------

  async putUser(record: UserWrite): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    requireText(record.oid, 'oid');
    requireText(record.upn, 'upn');
    if (typeof record.adminProvenAt === 'string') requireText(record.adminProvenAt, 'adminProvenAt');
    // adminProvenAt: a time sets the proof, null clears it, absent keeps what is stored.
    await this.#pool.query(
      `INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at, admin_proven_at) VALUES ($1, $2, $3, $4, $5, $6, $8)
       ON CONFLICT (tenant_id, oid) DO UPDATE SET upn = excluded.upn, display_name = excluded.display_name, roles = excluded.roles,
         last_seen_at = excluded.last_seen_at, admin_proven_at = CASE WHEN $7 THEN excluded.admin_proven_at ELSE users.admin_proven_at END`,
      [
        record.tenantId,
        record.oid,
        record.upn.toLowerCase(),
        record.displayName ?? null,
        JSON.stringify(record.roles ?? []),
        record.lastSeenAt,
        record.adminProvenAt !== undefined,
        record.adminProvenAt ?? null,
      ],
    );
  }

  async getUser(tenantId: string, oid: string): Promise<UserRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT * FROM users WHERE tenant_id = $1 AND oid = $2', [tenantId, oid]);
    return rows[0] && userFromRow(rows[0]);
  }

  async listUsersWithRole(tenantId: string, role: string): Promise<UserRecord[]> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM users WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(users.roles::jsonb) AS r(value) WHERE r.value = $2)
       ORDER BY upn, oid`,
      [tenantId, role],
    );
    return rows.map(userFromRow);
  }

  // ---- domains -----------------------------------------------------------------------------

  async getDomains(tenantId: string): Promise<string[]> {
    return (await this.#pool.query('SELECT domain FROM domains WHERE tenant_id = $1 ORDER BY domain', [tenantId])).rows.map((r) => r.domain as string);
  }

  async setDomains(tenantId: string, domains: string[]): Promise<void> {
    requireText(tenantId, 'tenantId');
    const clean = [...new Set(domains.map((d, i) => requireText(d, `domains[${i}]`).trim().toLowerCase()))];
    await this.#tx(async (c) => {
      // Two replacements at once would both delete, then collide on insert: take turns per tenant.
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended('domains/' || $1, 0))", [tenantId]);
      await c.query('DELETE FROM domains WHERE tenant_id = $1', [tenantId]);
      if (clean.length) await c.query('INSERT INTO domains (tenant_id, domain) SELECT $1, unnest($2::text[])', [tenantId, clean]);
    });
  }

  // ---- service account ---------------------------------------------------------------------

  async getServiceAccount(tenantId: string): Promise<ServiceAccountRecord | undefined> {
    const row = (await this.#pool.query('SELECT * FROM service_accounts WHERE tenant_id = $1', [tenantId])).rows[0] as ServiceAccountRow | undefined;
    if (!row) return undefined;
    return compact({
      tenantId: row.tenant_id,
      tenant: row.tenant,
      clientId: row.client_id,
      clientSecret: this.#keyring.decrypt(row.secret_box, saAad(row.tenant_id)),
      secretHint: row.secret_hint,
      secretExpiresAt: row.secret_expires_at,
      testAccount: row.test_account,
      outOfScopeAccount: row.out_of_scope_account,
      features: JSON.parse(row.features) as Feature[],
      updatedAt: row.updated_at,
      updatedBy: row.updated_by,
    }) as ServiceAccountRecord;
  }

  async putServiceAccount(r: ServiceAccountRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.clientSecret, 'clientSecret');
    const features = checkFeatures(r.features, 'features');
    await this.#pool.query(
      `INSERT INTO service_accounts (tenant_id, tenant, client_id, secret_box, key_id, secret_hint, secret_expires_at, test_account, out_of_scope_account, features, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (tenant_id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id, secret_box = excluded.secret_box, key_id = excluded.key_id,
         secret_hint = excluded.secret_hint, secret_expires_at = excluded.secret_expires_at, test_account = excluded.test_account,
         out_of_scope_account = excluded.out_of_scope_account, features = excluded.features, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [
        r.tenantId,
        r.tenant,
        r.clientId,
        this.#keyring.encrypt(r.clientSecret, saAad(r.tenantId)),
        this.#keyring.currentKeyId,
        r.secretHint,
        r.secretExpiresAt ?? null,
        r.testAccount,
        r.outOfScopeAccount ?? null,
        JSON.stringify(features),
        r.updatedAt,
        r.updatedBy,
      ],
    );
  }

  async deleteServiceAccount(tenantId: string): Promise<boolean> {
    return ((await this.#pool.query('DELETE FROM service_accounts WHERE tenant_id = $1', [tenantId])).rowCount ?? 0) > 0;
  }

  async putServiceAccountTest(record: ServiceAccountTestRecord): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    await this.#tx(async (c) => {
      await c.query('INSERT INTO service_account_tests (tenant_id, record) VALUES ($1, $2)', [record.tenantId, JSON.stringify(record)]);
      await c.query(
        'DELETE FROM service_account_tests WHERE tenant_id = $1 AND seq NOT IN (SELECT seq FROM service_account_tests WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 2)',
        [record.tenantId],
      );
    });
  }

  async getServiceAccountTests(tenantId: string): Promise<ServiceAccountTestRecord[]> {
    const { rows } = await this.#pool.query('SELECT record FROM service_account_tests WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 2', [tenantId]);
    return rows.map((r) => JSON.parse(r.record as string) as ServiceAccountTestRecord);
  }

  // ---- connections -------------------------------------------------------------------------

  async getConnections(tenantId: string, upn: string): Promise<ConnectionRecord[]> {
    const { rows } = await this.#pool.query('SELECT * FROM connections WHERE tenant_id = $1 AND upn = $2 ORDER BY kind', [tenantId, upn.toLowerCase()]);
    return rows.map(connectionFromRow);
  }

  async putConnection(record: ConnectionRecord): Promise<void> {
    await this.#upsertConnections(this.#pool, [connectionParams(record, 'record')]);
  }

  async deleteConnection(tenantId: string, upn: string, kind: ConnectionKind): Promise<boolean> {
    const res = await this.#pool.query('DELETE FROM connections WHERE tenant_id = $1 AND upn = $2 AND kind = $3', [tenantId, upn.toLowerCase(), kind]);
    return (res.rowCount ?? 0) > 0;
  }

  async importConnections(records: ConnectionRecord[]): Promise<void> {
    // Every record is checked before anything is written, so a bad one leaves the store as it was.
    const params = records.map((r, i) => connectionParams(r, `connections[${i}]`));
    if (params.length === 0) return;
    await this.#tx(async (c) => {
      for (let i = 0; i < params.length; i += IMPORT_CHUNK) await this.#upsertConnections(c, params.slice(i, i + IMPORT_CHUNK));
    });
  }

  /**
   * One INSERT … ON CONFLICT for many rows. A key repeated in the batch behaves as successive
   * upserts do on SQLite: the last record wins, but created_at stays the first one's.
   */
  async #upsertConnections(q: Queryable, batch: ConnectionParams[]): Promise<void> {
    const byKey = new Map<string, ConnectionParams>();
    for (const p of batch) {
      const key = JSON.stringify([p.tenantId, p.upn, p.kind]);
      const first = byKey.get(key);
      byKey.set(key, first ? { ...p, createdAt: first.createdAt } : p);
    }
    const rows = [...byKey.values()];
    const col = <K extends keyof ConnectionParams>(k: K) => rows.map((r) => r[k]);
    await q.query(
      `INSERT INTO connections (tenant_id, upn, kind, oid, display_name, search_text, state, granted_scopes, home_account_id, last_checked_at, last_sync_at, error,
         feature_results, created_at, updated_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
         $12::text[], $13::text[], $14::text[], $15::text[])
       ON CONFLICT (tenant_id, upn, kind) DO UPDATE SET oid = excluded.oid, display_name = excluded.display_name, search_text = excluded.search_text,
         state = excluded.state, granted_scopes = excluded.granted_scopes, home_account_id = excluded.home_account_id, last_checked_at = excluded.last_checked_at,
         last_sync_at = excluded.last_sync_at, error = excluded.error, feature_results = excluded.feature_results, updated_at = excluded.updated_at`,
      [
        col('tenantId'),
        col('upn'),
        col('kind'),
        col('oid'),
        col('displayName'),
        col('searchText'),
        col('state'),
        col('grantedScopes'),
        col('homeAccountId'),
        col('lastCheckedAt'),
        col('lastSyncAt'),
        col('error'),
        col('featureResults'),
        col('createdAt'),
        col('updatedAt'),
      ],
    );
  }

  async queryConnections(tenantId: string, query: ConnectionQuery): Promise<ConnectionPage> {
    if (query.state !== undefined && !isConnectionState(query.state)) throw invalid(`state "${String(query.state)}" is not a connection state`);
    if (query.kind !== undefined && !isConnectionKind(query.kind)) throw invalid(`kind "${String(query.kind)}" is not a connection kind`);
    const limit = clampLimit(query.limit, DEFAULT_PAGE);
    const { text, values } = connectionQuerySql(tenantId, query, limit + 1);
    const rows = (await this.#pool.query(text, values)).rows as ConnectionRow[];
    const items = rows.slice(0, limit).map(connectionFromRow);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.upn, last.kind) } : { items };
  }

  async countConnections(tenantId: string): Promise<Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>> {
    return (await this.#pool.query(COUNT_CONNECTIONS_SQL, [tenantId])).rows;
  }

  // ---- token cache partitions --------------------------------------------------------------

  async getTokenCache(tenantId: string, partitionKey: string): Promise<string | undefined> {
    const { rows } = await this.#pool.query('SELECT box FROM token_caches WHERE tenant_id = $1 AND partition_key = $2', [tenantId, partitionKey]);
    return rows[0] ? this.#keyring.decrypt(rows[0].box as string, tokenCacheAad(tenantId, partitionKey)) : undefined;
  }

  async putTokenCache(tenantId: string, partitionKey: string, serialized: string): Promise<void> {
    requireText(tenantId, 'tenantId');
    requireText(partitionKey, 'partitionKey');
    const box = this.#keyring.encrypt(serialized, tokenCacheAad(tenantId, partitionKey));
    await this.#pool.query(
      `INSERT INTO token_caches (tenant_id, partition_key, box, key_id, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, partition_key) DO UPDATE SET box = excluded.box, key_id = excluded.key_id, updated_at = excluded.updated_at`,
      [tenantId, partitionKey, box, this.#keyring.currentKeyId, this.#now().toISOString()],
    );
  }

  async deleteTokenCache(tenantId: string, partitionKey: string): Promise<boolean> {
    const res = await this.#pool.query('DELETE FROM token_caches WHERE tenant_id = $1 AND partition_key = $2', [tenantId, partitionKey]);
    return (res.rowCount ?? 0) > 0;
  }

  // ---- auth states and sessions ------------------------------------------------------------

  async putAuthState(record: AuthStateRecord): Promise<void> {
    requireText(record.state, 'state');
    requireText(record.tenantId, 'tenantId');
    const hash = sha256(record.state);
    const { state: _omit, ...rest } = record;
    const box = this.#keyring.encrypt(JSON.stringify(rest), authStateAad(hash));
    await this.#pool.query('INSERT INTO auth_states (state_hash, tenant_id, box, key_id, expires_ms) VALUES ($1, $2, $3, $4, $5)', [
      hash,
      record.tenantId,
      box,
      this.#keyring.currentKeyId,
      toMs(record.expiresAt, 'expiresAt'),
    ]);
  }

  async takeAuthState(state: string, now: Date): Promise<AuthStateRecord | undefined> {
    if (typeof state !== 'string' || state === '') return undefined;
    const hash = sha256(state);
    // DELETE … RETURNING: of two concurrent callers, only one gets the row.
    const { rows } = await this.#pool.query('DELETE FROM auth_states WHERE state_hash = $1 RETURNING box, expires_ms', [hash]);
    const row = rows[0] as { box: string; expires_ms: string } | undefined;
    if (!row || Number(row.expires_ms) <= now.getTime()) return undefined;
    const rest = JSON.parse(this.#keyring.decrypt(row.box, authStateAad(hash))) as Omit<AuthStateRecord, 'state'>;
    return { state, ...rest };
  }

  async putSession(record: SessionRecord): Promise<void> {
    requireText(record.id, 'id');
    requireText(record.tenantId, 'tenantId');
    const hash = sha256(record.id);
    const { id: _omit, ...rest } = record;
    const box = this.#keyring.encrypt(JSON.stringify(rest), sessionAad(hash));
    await this.#pool.query(
      `INSERT INTO sessions (id_hash, tenant_id, oid, box, key_id, expires_ms) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id_hash) DO UPDATE SET tenant_id = excluded.tenant_id, oid = excluded.oid, box = excluded.box, key_id = excluded.key_id, expires_ms = excluded.expires_ms`,
      [hash, record.tenantId, record.oid, box, this.#keyring.currentKeyId, toMs(record.expiresAt, 'expiresAt')],
    );
  }

  async getSession(id: string, now: Date): Promise<SessionRecord | undefined> {
    if (typeof id !== 'string' || id === '') return undefined;
    const hash = sha256(id);
    const { rows } = await this.#pool.query('SELECT box FROM sessions WHERE id_hash = $1 AND expires_ms > $2', [hash, now.getTime()]);
    if (!rows[0]) return undefined;
    return { id, ...(JSON.parse(this.#keyring.decrypt(rows[0].box as string, sessionAad(hash))) as Omit<SessionRecord, 'id'>) };
  }

  async deleteSession(id: string): Promise<void> {
    await this.#pool.query('DELETE FROM sessions WHERE id_hash = $1', [sha256(id)]);
  }

  async purgeExpired(now: Date): Promise<number> {
    const ms = now.getTime();
    return this.#tx(async (c) => {
      const a = await c.query('DELETE FROM auth_states WHERE expires_ms <= $1', [ms]);
      const s = await c.query('DELETE FROM sessions WHERE expires_ms <= $1', [ms]);
      return (a.rowCount ?? 0) + (s.rowCount ?? 0);
    });
  }

  // ---- conversations -----------------------------------------------------------------------

  async putConversation(r: ConversationRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.conversationId, 'conversationId');
    await this.#pool.query(
      `INSERT INTO conversations (tenant_id, conversation_id, scope, user_oid, user_upn, subscribed, reference, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (tenant_id, conversation_id) DO UPDATE SET scope = excluded.scope, user_oid = excluded.user_oid, user_upn = excluded.user_upn,
         subscribed = excluded.subscribed, reference = excluded.reference, updated_at = excluded.updated_at`,
      [
        r.tenantId,
        r.conversationId,
        r.scope,
        r.userOid ?? null,
        r.userUpn?.toLowerCase() ?? null,
        !!r.subscribed,
        JSON.stringify(r.reference ?? {}),
        r.updatedAt,
      ],
    );
  }

  async getConversation(tenantId: string, conversationId: string): Promise<ConversationRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT * FROM conversations WHERE tenant_id = $1 AND conversation_id = $2', [tenantId, conversationId]);
    return rows[0] && conversationFromRow(rows[0]);
  }

  async deleteConversation(tenantId: string, conversationId: string): Promise<boolean> {
    const res = await this.#pool.query('DELETE FROM conversations WHERE tenant_id = $1 AND conversation_id = $2', [tenantId, conversationId]);
    return (res.rowCount ?? 0) > 0;
  }

  async listConversations(tenantId: string, filter: { subscribed?: boolean; scope?: ConversationScope } = {}): Promise<ConversationRecord[]> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM conversations WHERE tenant_id = $1
         AND ($2::boolean IS NULL OR subscribed = $2) AND ($3::text IS NULL OR scope = $3)
       ORDER BY conversation_id`,
      [tenantId, filter.subscribed ?? null, filter.scope ?? null],
    );
    return rows.map(conversationFromRow);
  }

  async findPersonalConversation(tenantId: string, userUpnOrOid: string): Promise<ConversationRecord | undefined> {
    const { rows } = await this.#pool.query(
      `SELECT * FROM conversations WHERE tenant_id = $1 AND scope = 'personal' AND (user_oid = $2 OR user_upn = $3)
       ORDER BY updated_at DESC LIMIT 1`,
      [tenantId, userUpnOrOid, userUpnOrOid.toLowerCase()],
    );
    return rows[0] && conversationFromRow(rows[0]);
  }

  // ---- outbox ------------------------------------------------------------------------------

  async enqueue(items: NewOutboxItem[]): Promise<number> {
    const now = this.#now();
    items.forEach((it, i) => {
      requireText(it.tenantId, `items[${i}].tenantId`);
      requireText(it.idempotencyKey, `items[${i}].idempotencyKey`);
      requireText(it.conversationId, `items[${i}].conversationId`);
    });
    if (items.length === 0) return 0;
    // One statement, rows in the given order (their seq is the delivery order); a key seen twice
    // in the batch or already present is skipped.
    const res = await this.#pool.query(
      `INSERT INTO outbox (id, tenant_id, kind, idempotency_key, conversation_id, payload, status, attempts, next_attempt_ms, created_at)
       SELECT id, tenant_id, kind, idempotency_key, conversation_id, payload, 'pending', 0, $7, $8
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY
         AS i(id, tenant_id, kind, idempotency_key, conversation_id, payload, ord)
       ORDER BY ord
       ON CONFLICT (tenant_id, idempotency_key) DO NOTHING`,
      [
        items.map(() => randomUUID()),
        items.map((it) => it.tenantId),
        items.map((it) => it.kind),
        items.map((it) => it.idempotencyKey),
        items.map((it) => it.conversationId),
        items.map((it) => JSON.stringify(it.payload ?? {})),
        now.getTime(),
        now.toISOString(),
      ],
    );
    return res.rowCount ?? 0;
  }

  async dueOutbox(now: Date, limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.#pool.query("SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $1 ORDER BY seq LIMIT $2", [
      now.getTime(),
      clampLimit(limit, DEFAULT_PAGE),
    ]);
    return rows.map(outboxFromRow);
  }

  async claimOutbox(now: Date, limit: number, owner: string, leaseMs: number): Promise<OutboxRecord[]> {
    requireText(owner, 'owner');
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw invalid('leaseMs must be a positive number of milliseconds');
    // SKIP LOCKED: instances claiming at the same moment take different items instead of waiting.
    const { rows } = await this.#pool.query(
      `WITH due AS (
         SELECT seq FROM outbox WHERE status = 'pending' AND next_attempt_ms <= $1 AND (lease_until_ms IS NULL OR lease_until_ms <= $1 OR lease_owner = $3)
         ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE outbox SET lease_owner = $3, lease_until_ms = $4 FROM due WHERE outbox.seq = due.seq RETURNING outbox.*`,
      [now.getTime(), clampLimit(limit, DEFAULT_PAGE), owner, now.getTime() + leaseMs],
    );
    return (rows as Array<OutboxRow & { seq: string }>).sort((a, b) => Number(a.seq) - Number(b.seq)).map(outboxFromRow);
  }

  async markSent(id: string, at: Date): Promise<void> {
    await this.#outboxTransition(
      id,
      `UPDATE outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, last_error = NULL, ${END_LEASE} WHERE id = $1 AND status = 'pending'`,
      [at.toISOString()],
    );
  }

  async markRetry(id: string, nextAttemptAt: Date, error: string): Promise<void> {
    await this.#outboxTransition(
      id,
      `UPDATE outbox SET next_attempt_ms = $2, last_error = $3, attempts = attempts + 1, ${END_LEASE} WHERE id = $1 AND status = 'pending'`,
      [nextAttemptAt.getTime(), clip(error)],
    );
  }

  async markFailed(id: string, error: string): Promise<void> {
    await this.#outboxTransition(
      id,
      `UPDATE outbox SET status = 'failed', last_error = $2, attempts = attempts + 1, ${END_LEASE} WHERE id = $1 AND status = 'pending'`,
      [clip(error)],
    );
  }

  /** Only pending items move; a sent or failed item stays as it is (a late duplicate call is harmless). */
  async #outboxTransition(id: string, sql: string, values: unknown[]): Promise<void> {
    if (((await this.#pool.query(sql, [id, ...values])).rowCount ?? 0) > 0) return;
    if ((await this.#pool.query('SELECT 1 FROM outbox WHERE id = $1', [id])).rowCount === 0) throw notFoundOutbox(id);
  }

  async listOutbox(tenantId: string, status?: OutboxStatus): Promise<OutboxRecord[]> {
    const { rows } = await this.#pool.query('SELECT * FROM outbox WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2) ORDER BY seq', [
      tenantId,
      status ?? null,
    ]);
    return rows.map(outboxFromRow);
  }

  // ---- reach -------------------------------------------------------------------------------

  async getCampaign(tenantId: string): Promise<CampaignRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT record FROM campaigns WHERE tenant_id = $1', [tenantId]);
    return rows[0] && (JSON.parse(rows[0].record as string) as CampaignRecord);
  }

  async putCampaign(r: CampaignRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    await this.#pool.query(
      `INSERT INTO campaigns (tenant_id, status, record, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET status = excluded.status, record = excluded.record, updated_at = excluded.updated_at`,
      [r.tenantId, r.status, JSON.stringify(r), r.updatedAt],
    );
  }

  async listRunningCampaigns(): Promise<CampaignRecord[]> {
    const { rows } = await this.#pool.query("SELECT record FROM campaigns WHERE status = 'running' ORDER BY tenant_id");
    return rows.map((row) => JSON.parse(row.record as string) as CampaignRecord);
  }

  async getReachUser(tenantId: string, upn: string): Promise<ReachUserRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT record FROM reach_users WHERE tenant_id = $1 AND upn = $2', [tenantId, upn.toLowerCase()]);
    return rows[0] && (JSON.parse(rows[0].record as string) as ReachUserRecord);
  }

  async putReachUser(r: ReachUserRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    requireText(r.upn, 'upn');
    const record = { ...r, upn: r.upn.toLowerCase() };
    await this.#pool.query(
      `INSERT INTO reach_users (tenant_id, upn, oid, record, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (tenant_id, upn) DO UPDATE SET oid = excluded.oid, record = excluded.record, updated_at = excluded.updated_at`,
      [r.tenantId, record.upn, r.oid ?? null, JSON.stringify(record), r.updatedAt],
    );
  }

  /** The cursor is the last upn of the previous page, as on SQLite (so either store takes the other's). */
  async listReachUsers(tenantId: string, options: { cursor?: string; limit?: number } = {}): Promise<ReachUserPage> {
    const limit = clampLimit(options.limit, DEFAULT_PAGE);
    const { rows } = await this.#pool.query('SELECT upn, record FROM reach_users WHERE tenant_id = $1 AND upn > $2 ORDER BY upn LIMIT $3', [
      tenantId,
      options.cursor ?? '',
      limit + 1,
    ]);
    const items = rows.slice(0, limit).map((row) => JSON.parse(row.record as string) as ReachUserRecord);
    return rows.length > limit ? { items, nextCursor: rows[limit - 1].upn as string } : { items };
  }

  // ---- health-check runs and connection history --------------------------------------------

  async startCheckRun(
    run: CheckRunRecord,
    items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>>,
  ): Promise<{ started: true; run: CheckRunRecord } | { started: false; run: CheckRunRecord }> {
    requireText(run.id, 'run.id');
    requireText(run.tenantId, 'run.tenantId');
    const startedMs = toMs(run.startedAt, 'run.startedAt');
    const distinct = new Map(items.map((i) => [`${i.upn.toLowerCase()}\n${i.kind}`, { upn: i.upn.toLowerCase(), kind: i.kind }]));
    return this.#tx(async (c) => {
      for (;;) {
        const running = (await c.query("SELECT * FROM check_runs WHERE tenant_id = $1 AND status = 'running'", [run.tenantId])).rows[0] as
          CheckRunRow | undefined;
        if (running) return { started: false as const, run: checkRunFromRow(running) };
        // A start racing this one (another instance) meets the partial unique index: then nothing
        // is written here and the next round returns the run that won.
        const inserted = await c.query(
          `INSERT INTO check_runs (id, tenant_id, status, started_by, started_at, started_ms, total, checked)
           VALUES ($1, $2, 'running', $3, $4, $5, $6, 0) ON CONFLICT (tenant_id) WHERE status = 'running' DO NOTHING`,
          [run.id, run.tenantId, run.startedBy, run.startedAt, startedMs, distinct.size],
        );
        if ((inserted.rowCount ?? 0) === 0) continue;
        if (distinct.size) {
          const list = [...distinct.values()];
          await c.query('INSERT INTO check_items (tenant_id, run_id, upn, kind) SELECT $1, $2, unnest($3::text[]), unnest($4::text[])', [
            run.tenantId,
            run.id,
            list.map((i) => i.upn),
            list.map((i) => i.kind),
          ]);
        }
        const started: CheckRunRecord = { ...run, status: 'running', total: distinct.size, checked: 0 };
        delete started.finishedAt;
        return { started: true as const, run: started };
      }
    });
  }

  async getCheckRun(tenantId: string, id: string): Promise<CheckRunRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT * FROM check_runs WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] && checkRunFromRow(rows[0]);
  }

  async latestCheckRun(tenantId: string): Promise<CheckRunRecord | undefined> {
    const { rows } = await this.#pool.query('SELECT * FROM check_runs WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [tenantId]);
    return rows[0] && checkRunFromRow(rows[0]);
  }

  async listRunningCheckRuns(): Promise<CheckRunRecord[]> {
    return (await this.#pool.query("SELECT * FROM check_runs WHERE status = 'running' ORDER BY started_ms, seq")).rows.map(checkRunFromRow);
  }

  async pendingCheckItems(tenantId: string, runId: string, limit: number): Promise<CheckItemRecord[]> {
    const { rows } = await this.#pool.query('SELECT * FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND NOT done ORDER BY upn, kind LIMIT $3', [
      tenantId,
      runId,
      clampLimit(limit, DEFAULT_PAGE),
    ]);
    return rows.map(checkItemFromRow);
  }

  async completeCheckItem(result: CheckItemResult): Promise<boolean> {
    return (await this.completeCheckItems([result]))[0];
  }

  async completeCheckItems(results: CheckItemResult[]): Promise<boolean[]> {
    // Every result is checked before anything is written.
    const checked = results.map((result) => {
      const c = result.connection;
      requireText(result.tenantId, 'tenantId');
      const upn = requireText(result.upn, 'upn').trim().toLowerCase();
      if (!isConnectionKind(result.kind)) throw invalid(`kind "${String(result.kind)}" is not a connection kind`);
      if (!isConnectionState(result.from)) throw invalid(`from "${String(result.from)}" is not a connection state`);
      const params = c ? connectionParams(c, 'connection') : undefined;
      if (c && (c.tenantId !== result.tenantId || params!.upn !== upn || c.kind !== result.kind)) throw invalid('connection is not the one of the item');
      return { result, upn, params, to: c?.state ?? result.from, code: c?.error?.code ?? null, at: c?.lastCheckedAt ?? c?.updatedAt ?? nowIso() };
    });
    if (checked.length === 0) return [];
    // Rows locked in one order by every writer: two instances finishing the same items cannot deadlock.
    const order = checked.map((_, i) => i).sort((a, b) => (checked[a].upn + checked[a].result.kind < checked[b].upn + checked[b].result.kind ? -1 : 1));
    return this.#tx(async (tx) => {
      const out: boolean[] = new Array<boolean>(checked.length).fill(false);
      for (const i of order) {
        const { result, upn, params, to, code, at } = checked[i];
        // The item's row lock makes a second completion wait, then find it done: it writes nothing.
        const marked = await tx.query(
          `UPDATE check_items SET done = true, from_state = $1, to_state = $2, code = $3
           WHERE tenant_id = $4 AND run_id = $5 AND upn = $6 AND kind = $7 AND NOT done`,
          [result.from, to, code, result.tenantId, result.runId, upn, result.kind],
        );
        if ((marked.rowCount ?? 0) === 0) continue;
        await tx.query('UPDATE check_runs SET checked = checked + 1 WHERE tenant_id = $1 AND id = $2', [result.tenantId, result.runId]);
        if (params) await this.#upsertConnections(tx, [params]);
        if (result.from !== to) {
          await tx.query(
            'INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, code, at, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
            [result.tenantId, upn, result.kind, result.from, to, code, at, result.runId],
          );
        }
        out[i] = true;
      }
      return out;
    });
  }

  async recordConnectionCheck(connection: ConnectionRecord, from: ConnectionState): Promise<void> {
    if (!isConnectionState(from)) throw invalid(`from "${String(from)}" is not a connection state`);
    const params = connectionParams(connection, 'connection');
    const at = connection.lastCheckedAt ?? connection.updatedAt;
    await this.#tx(async (tx) => {
      await this.#upsertConnections(tx, [params]);
      if (from !== connection.state) {
        await tx.query(
          'INSERT INTO connection_history (tenant_id, upn, kind, from_state, to_state, code, at, run_id) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)',
          [connection.tenantId, params.upn, connection.kind, from, connection.state, connection.error?.code ?? null, at],
        );
      }
    });
  }

  async checkRunOutcome(tenantId: string, runId: string): Promise<{ byState: Partial<Record<ConnectionState, number>>; changes: CheckItemRecord[] }> {
    const byState: Partial<Record<ConnectionState, number>> = {};
    const counts = await this.#pool.query(
      'SELECT to_state, count(*)::int AS n FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND done GROUP BY to_state',
      [tenantId, runId],
    );
    for (const r of counts.rows as Array<{ to_state: ConnectionState; n: number }>) byState[r.to_state] = r.n;
    const { rows } = await this.#pool.query(
      'SELECT * FROM check_items WHERE tenant_id = $1 AND run_id = $2 AND done AND from_state <> to_state ORDER BY upn, kind',
      [tenantId, runId],
    );
    return { byState, changes: rows.map(checkItemFromRow) };
  }

  async finishCheckRun(tenantId: string, id: string, status: 'done' | 'failed', finishedAt: string): Promise<void> {
    if (status !== 'done' && status !== 'failed') throw invalid(`status "${String(status)}" must be done or failed`);
    requireText(finishedAt, 'finishedAt');
    await this.#pool.query("UPDATE check_runs SET status = $1, finished_at = $2 WHERE tenant_id = $3 AND id = $4 AND status = 'running'", [
      status,
      finishedAt,
      tenantId,
      id,
    ]);
  }

  async connectionHistory(tenantId: string, upn: string, options: { limit?: number } = {}): Promise<ConnectionHistoryRecord[]> {
    const { rows } = await this.#pool.query('SELECT * FROM connection_history WHERE tenant_id = $1 AND upn = $2 ORDER BY seq DESC LIMIT $3', [
      tenantId,
      upn.toLowerCase(),
      clampLimit(options.limit, 100),
    ]);
    return rows.map(historyFromRow);
  }

  // ---- audit log ---------------------------------------------------------------------------

  async audit(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): Promise<void> {
    requireText(entry.tenantId, 'tenantId');
    requireText(entry.actor, 'actor');
    requireText(entry.action, 'action');
    const at = entry.at ?? this.#now().toISOString();
    await this.#pool.query('INSERT INTO audit_log (id, tenant_id, at, at_ms, actor, action, target, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      randomUUID(),
      entry.tenantId,
      at,
      toMs(at, 'at'),
      entry.actor,
      entry.action,
      entry.target ?? null,
      entry.details === undefined ? null : JSON.stringify(entry.details),
    ]);
  }

  /**
   * Newest first. `before` pages on: pass the `id` of the last entry of the previous page
   * (exact keyset), or an ISO date (entries strictly older than it).
   */
  async listAudit(tenantId: string, options: { limit?: number; before?: string } = {}): Promise<AuditRecord[]> {
    const limit = clampLimit(options.limit, 100);
    const page = 'ORDER BY at_ms DESC, seq DESC LIMIT';
    let rows: AuditRow[];
    if (options.before === undefined || options.before === '') {
      rows = (await this.#pool.query(`SELECT * FROM audit_log WHERE tenant_id = $1 ${page} $2`, [tenantId, limit])).rows;
    } else {
      const anchor = (await this.#pool.query('SELECT at_ms, seq FROM audit_log WHERE tenant_id = $1 AND id = $2', [tenantId, options.before])).rows[0] as
        { at_ms: string; seq: string } | undefined;
      const [ms, seq] = anchor ? [anchor.at_ms, anchor.seq] : [toMs(options.before, 'before'), 0];
      rows = (
        await this.#pool.query(`SELECT * FROM audit_log WHERE tenant_id = $1 AND (at_ms, seq) < ($2::bigint, $3::bigint) ${page} $4`, [
          tenantId,
          ms,
          seq,
          limit,
        ])
      ).rows;
    }
    return rows.map(auditFromRow);
  }

  // ---- leases ------------------------------------------------------------------------------

  async tryLease(name: string, owner: string, ttlMs: number, now: Date): Promise<boolean> {
    const p = leaseParams(name, owner, ttlMs, now);
    // One statement: insert, take over an expired lease, or renew one's own; a row comes back only then.
    const res = await this.#pool.query(
      `INSERT INTO leases (name, owner, until_ms) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until_ms = excluded.until_ms
       WHERE leases.owner = excluded.owner OR leases.until_ms <= $4
       RETURNING owner`,
      [p.name, p.owner, p.until, p.now],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.#pool.query('DELETE FROM leases WHERE name = $1 AND owner = $2', [name, owner]);
  }

  // ---- helpers -----------------------------------------------------------------------------

  async #tx<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}

// ---- queries the admin views run (also explained by bench/store.ts) ------------------------

export const COUNT_CONNECTIONS_SQL =
  'SELECT kind, state, count(*)::int AS count FROM connections WHERE tenant_id = $1 GROUP BY kind, state ORDER BY kind, state';

/**
 * The page query with only the conditions asked for, so the planner sees plain equalities and
 * picks the matching index (state, kind, the trigram index for search, the key for paging).
 */
export function connectionQuerySql(tenantId: string, query: ConnectionQuery, limit: number): { text: string; values: unknown[] } {
  const values: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const add = (sql: (n: string) => string, value: unknown) => {
    values.push(value);
    where.push(sql(`$${values.length}`));
  };
  if (query.state !== undefined) add((n) => `state = ${n}`, query.state);
  if (query.kind !== undefined) add((n) => `kind = ${n}`, query.kind);
  const search = searchTerm(query.search);
  if (search !== null) add((n) => `search_text LIKE ${n}`, `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (query.cursor) {
    const after = decodeCursor(query.cursor);
    values.push(after.u, after.k);
    where.push(`(upn, kind) > ($${values.length - 1}, $${values.length})`);
  }
  values.push(limit);
  return { text: `SELECT * FROM connections WHERE ${where.join(' AND ')} ORDER BY upn, kind LIMIT $${values.length}`, values };
}

const END_LEASE = 'lease_owner = NULL, lease_until_ms = NULL';

const TENANT_INSERT_IGNORE =
  'INSERT INTO tenants (tenant_id, display_name, enabled_features, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (tenant_id) DO NOTHING';

// ---- opening and migrating -----------------------------------------------------------------

async function migrate(pool: pg.Pool, location: string): Promise<void> {
  const client = await pool.connect();
  try {
    // Already up to date (every start but the first): no lock, one cheap query.
    if ((await client.query("SELECT to_regclass('schema_migrations') AS t")).rows[0].t !== null) {
      const { rows } = await client.query('SELECT max(version) AS v FROM schema_migrations');
      if (Number(rows[0].v) === PG_LATEST_SCHEMA_VERSION) return;
    }
    // Session-level lock: a second instance waits here until the first has finished migrating.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK.toString()]);
    try {
      const current = await inspect(client, location);
      await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of PG_MIGRATIONS) {
        if (m.version <= current) continue;
        await client.query('BEGIN');
        try {
          await client.query(m.sql);
          await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, nowIso()]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new StoreOpenError('failed', location, `migration ${m.version} (${m.name}) failed: ${(err as Error).message}`, { cause: err });
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK.toString()]).catch(() => undefined);
    }
  } finally {
    client.release();
  }
}

/** Refuses another application's schema and one written by a newer build; returns the version. */
async function inspect(client: pg.PoolClient, location: string): Promise<number> {
  const tables = (
    await client.query(
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname",
    )
  ).rows.map((r) => r.relname as string);
  if (tables.length === 0) return 0;
  if (!tables.includes('schema_migrations')) {
    throw new StoreOpenError(
      'foreign',
      location,
      `the database holds another application's tables (${tables.slice(0, 5).join(', ')}); point DATA_STORE at an empty database`,
    );
  }
  const version = Number((await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0].v);
  if (version > PG_LATEST_SCHEMA_VERSION) {
    throw new StoreOpenError(
      'newer-schema',
      location,
      `it was written by a newer version of Connection Center (schema ${version}; this build knows up to ${PG_LATEST_SCHEMA_VERSION}); upgrade the app or restore a backup`,
    );
  }
  return version;
}

function toOpenError(err: unknown, location: string): StoreOpenError {
  if (err instanceof StoreOpenError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH') {
    return new StoreOpenError('failed', location, `cannot reach the PostgreSQL server (${String(code)})`, { cause: err });
  }
  return new StoreOpenError('failed', location, detail, { cause: err });
}

/** The URL with its password masked (`postgres://cc:***@db:5432/cc`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

// ---- rows ----------------------------------------------------------------------------------

interface TenantRow {
  tenant_id: string;
  display_name: string | null;
  enabled_features: string;
  deadline_overrides: string | null;
  created_at: string;
  updated_at: string;
}
interface UserRow {
  tenant_id: string;
  oid: string;
  upn: string;
  display_name: string | null;
  roles: string;
  last_seen_at: string;
  admin_proven_at: string | null;
}
interface ServiceAccountRow {
  tenant_id: string;
  tenant: string;
  client_id: string;
  secret_box: string;
  secret_hint: string;
  secret_expires_at: string | null;
  test_account: string;
  out_of_scope_account: string | null;
  features: string;
  updated_at: string;
  updated_by: string;
}
interface ConnectionRow {
  tenant_id: string;
  upn: string;
  kind: ConnectionKind;
  oid: string | null;
  display_name: string | null;
  state: ConnectionState;
  granted_scopes: string;
  home_account_id: string | null;
  last_checked_at: string | null;
  last_sync_at: string | null;
  error: string | null;
  feature_results: string | null;
  created_at: string;
  updated_at: string;
}
interface CheckRunRow {
  id: string;
  tenant_id: string;
  status: CheckRunRecord['status'];
  started_by: string;
  started_at: string;
  finished_at: string | null;
  total: number;
  checked: number;
}
interface CheckItemRow {
  upn: string;
  kind: ConnectionKind;
  done: boolean;
  from_state: ConnectionState | null;
  to_state: ConnectionState | null;
  code: string | null;
}
interface HistoryRow {
  tenant_id: string;
  upn: string;
  kind: ConnectionKind;
  from_state: ConnectionState;
  to_state: ConnectionState;
  code: string | null;
  at: string;
  run_id: string | null;
}
interface ConversationRow {
  tenant_id: string;
  conversation_id: string;
  scope: ConversationScope;
  user_oid: string | null;
  user_upn: string | null;
  subscribed: boolean;
  reference: string;
  updated_at: string;
}
interface OutboxRow {
  id: string;
  tenant_id: string;
  kind: OutboxRecord['kind'];
  idempotency_key: string;
  conversation_id: string;
  payload: string;
  status: OutboxStatus;
  attempts: number;
  /** bigint arrives as text from pg. */
  next_attempt_ms: string;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
}
interface AuditRow {
  id: string;
  tenant_id: string;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  details: string | null;
}

function tenantFromRow(r: TenantRow): TenantRecord {
  return compact({
    tenantId: r.tenant_id,
    displayName: r.display_name,
    enabledFeatures: JSON.parse(r.enabled_features) as Feature[],
    deadlineOverrides: r.deadline_overrides ? (JSON.parse(r.deadline_overrides) as Record<string, string>) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }) as TenantRecord;
}

function userFromRow(r: UserRow): UserRecord {
  return compact({
    tenantId: r.tenant_id,
    oid: r.oid,
    upn: r.upn,
    displayName: r.display_name,
    roles: JSON.parse(r.roles) as string[],
    lastSeenAt: r.last_seen_at,
    adminProvenAt: r.admin_proven_at,
  }) as UserRecord;
}

function connectionFromRow(r: ConnectionRow): ConnectionRecord {
  return compact({
    tenantId: r.tenant_id,
    upn: r.upn,
    kind: r.kind,
    oid: r.oid,
    displayName: r.display_name,
    state: r.state,
    grantedScopes: JSON.parse(r.granted_scopes) as string[],
    homeAccountId: r.home_account_id,
    lastCheckedAt: r.last_checked_at,
    lastSyncAt: r.last_sync_at,
    error: r.error ? JSON.parse(r.error) : null,
    featureResults: r.feature_results ? JSON.parse(r.feature_results) : null,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }) as ConnectionRecord;
}

function checkRunFromRow(r: CheckRunRow): CheckRunRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    status: r.status,
    startedBy: r.started_by,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    total: r.total,
    checked: r.checked,
  }) as CheckRunRecord;
}

function checkItemFromRow(r: CheckItemRow): CheckItemRecord {
  return compact({ upn: r.upn, kind: r.kind, done: r.done, from: r.from_state, to: r.to_state, code: r.code }) as CheckItemRecord;
}

function historyFromRow(r: HistoryRow): ConnectionHistoryRecord {
  return compact({
    tenantId: r.tenant_id,
    upn: r.upn,
    kind: r.kind,
    from: r.from_state,
    to: r.to_state,
    code: r.code,
    at: r.at,
    runId: r.run_id,
  }) as ConnectionHistoryRecord;
}

function conversationFromRow(r: ConversationRow): ConversationRecord {
  return compact({
    tenantId: r.tenant_id,
    conversationId: r.conversation_id,
    scope: r.scope,
    userOid: r.user_oid,
    userUpn: r.user_upn,
    subscribed: r.subscribed,
    reference: JSON.parse(r.reference) as Record<string, unknown>,
    updatedAt: r.updated_at,
  }) as ConversationRecord;
}

function outboxFromRow(r: OutboxRow): OutboxRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    kind: r.kind,
    idempotencyKey: r.idempotency_key,
    conversationId: r.conversation_id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    status: r.status,
    attempts: r.attempts,
    nextAttemptAt: new Date(Number(r.next_attempt_ms)).toISOString(),
    lastError: r.last_error,
    createdAt: r.created_at,
    sentAt: r.sent_at,
  }) as OutboxRecord;
}

function auditFromRow(r: AuditRow): AuditRecord {
  return compact({
    id: r.id,
    tenantId: r.tenant_id,
    at: r.at,
    actor: r.actor,
    action: r.action,
    target: r.target,
    details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null,
  }) as AuditRecord;
}
