/**
 * Opening a PostgreSQL store (the pool, migrations under an advisory lock) and what an open store
 * does besides its records: ping, close and key rotation.
 */
import pg from 'pg';
import { StoreOpenError } from '../errors';
import { PgChangeFeed } from '../postgres-changes';
import { PG_LATEST_SCHEMA_VERSION, PG_MIGRATIONS } from '../postgres-migrations';
import { authStateAad, nowIso, saAad, sessionAad, tokenCacheAad } from '../records';
import { checkVersion, hasOurSchema } from '../shared/schema';
import type { EncryptedValueCounts, ServiceAccountTestRecord, StoreLifecycle } from '../types';
import { transaction, type PgContext } from './db';

/** The advisory lock key that serialises migrations across instances ("cc-migr" in ASCII). */
const MIGRATION_LOCK = 0x63632d6d696772n;

/**
 * Connects and migrates (under an advisory lock, so concurrent starts migrate once). Anything
 * that stops it throws StoreOpenError naming the server, never the password; another
 * application's schema or a newer one is left as it was.
 */
export async function openPool(
  url: string,
  location: string,
  options: { maxConnections?: number; connectTimeoutMs?: number },
): Promise<{ pool: pg.Pool; changes: PgChangeFeed }> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
    application_name: 'connection-center',
  });
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const changes = new PgChangeFeed(url);
  changes.track(pool);
  try {
    await migrate(pool, location);
    changes.start();
    return { pool, changes };
  } catch (err) {
    await changes.close();
    await pool.end().catch(() => undefined);
    throw toOpenError(err, location);
  }
}

/** Every encrypted value as a rotation target: its table, key columns, sealed column and AAD. */
const SEALED: ReadonlyArray<{
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

export class PgLifecycle implements StoreLifecycle {
  readonly #c: PgContext;
  #closed = false;

  constructor(c: PgContext) {
    this.#c = c;
  }

  async ping(): Promise<void> {
    await this.#c.pool.query('SELECT 1');
  }

  /** Moves with every write here and, through LISTEN, in other instances (postgres-changes.ts). */
  changeStamp(): string {
    return this.#c.changes.stamp();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#c.changes.close();
    await this.#c.pool.end();
  }

  async reencryptAll(options: { batchSize?: number } = {}): Promise<EncryptedValueCounts> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 200));
    const k = this.#c.keyring;
    const kid = k.currentKeyId;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const t of SEALED) {
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
        const batch = await transaction(this.#c.pool, async (c) => {
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
    const kid = this.#c.keyring.currentKeyId;
    const counts = SEALED.map((t) => `(SELECT count(*)::int FROM ${t.table} WHERE key_id <> $1) AS "${t.kind}"`).join(', ');
    const row = (await this.#c.pool.query(`SELECT ${counts}`, [kid])).rows[0] as EncryptedValueCounts;
    return { serviceAccountSecrets: row.serviceAccountSecrets, tokenCaches: row.tokenCaches, authStates: row.authStates, sessions: row.sessions };
  }

  async rekeyServiceAccountTests(tenantId: string, fromHash: string, toHash: string): Promise<number> {
    return transaction(this.#c.pool, async (c) => {
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
}

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
  if (!hasOurSchema(location, tables, (t) => `the database holds another application's tables (${t}); point DATA_STORE at an empty database`)) return 0;
  return checkVersion(
    location,
    Number((await client.query('SELECT coalesce(max(version), 0) AS v FROM schema_migrations')).rows[0].v),
    PG_LATEST_SCHEMA_VERSION,
  );
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
