/**
 * Opening a SQLite database (file checks before SQLite touches it, WAL, migrations) and what an
 * open store does besides its records: ping, close, the change stamp and key rotation.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, statSync, accessSync, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreOpenError } from '../errors';
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from '../migrations';
import { authStateAad, nowIso, saAad, sessionAad, tokenCacheAad } from '../records';
import { checkVersion, hasOurSchema } from '../shared/schema';
import type { EncryptedValueCounts, ServiceAccountTestRecord, StoreLifecycle } from '../types';
import { immediate, type Db, type SqliteContext, type Stmt } from './db';

export const MEMORY = ':memory:';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');
/** Files up to this size are checked in memory before being opened for writing. */
const PROBE_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Opens (creating if needed) and migrates the database at `file` (absolute path or `:memory:`).
 * Anything that stops it throws StoreOpenError; a corrupt, foreign, newer or unwritable file is
 * left exactly as it was.
 */
export function openDatabase(file: string, busyTimeoutMs: number): Db {
  if (file !== MEMORY) preflight(file);
  let db: Db | undefined;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
    db.pragma('foreign_keys = ON');
    if (file !== MEMORY) {
      inspect(db, file);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new StoreOpenError('failed', file, `could not switch to WAL journal mode (got ${String(mode)})`);
      db.pragma('synchronous = NORMAL');
    }
    migrate(db, file);
    return db;
  } catch (err) {
    try {
      db?.close();
    } catch {
      /* already failing; the original error matters */
    }
    throw toOpenError(err, file);
  }
}

/** A row listed for key rotation: its key columns and its sealed value. */
interface SealedRow {
  tenant_id?: string;
  partition_key?: string;
  state_hash?: string;
  id_hash?: string;
  box: string;
}

/** Every encrypted value as a rotation target: how to list, rewrite and count the stale ones. */
interface SealedTarget {
  kind: keyof EncryptedValueCounts;
  list: Stmt;
  set: Stmt;
  count: Stmt;
  aad: (row: SealedRow) => string;
  key: (row: SealedRow) => unknown[];
}

export class SqliteLifecycle implements StoreLifecycle {
  readonly #q: ReturnType<typeof statements>;
  readonly #sealed: SealedTarget[];
  #closed = false;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
    const p = (sql: string) => c.db.prepare(sql);
    /** One target per sealed column; `key <> current` lists what is still under a retired key. */
    const target = (kind: SealedTarget['kind'], table: string, keys: string[], box: string, aad: SealedTarget['aad']): SealedTarget => ({
      kind,
      list: p(`SELECT ${keys.join(', ')}, ${box} AS box FROM ${table} WHERE key_id <> ? LIMIT ?`),
      set: p(`UPDATE ${table} SET ${box} = ?, key_id = ? WHERE ${keys.map((k) => `${k} = ?`).join(' AND ')} AND ${box} = ?`),
      count: p(`SELECT count(*) FROM ${table} WHERE key_id <> ?`).pluck(),
      aad,
      key: (r) => keys.map((k) => r[k as keyof SealedRow]),
    });
    this.#sealed = [
      target('serviceAccountSecrets', 'service_accounts', ['tenant_id'], 'secret_box', (r) => saAad(r.tenant_id!)),
      target('tokenCaches', 'token_caches', ['tenant_id', 'partition_key'], 'box', (r) => tokenCacheAad(r.tenant_id!, r.partition_key!)),
      target('authStates', 'auth_states', ['state_hash'], 'box', (r) => authStateAad(r.state_hash!)),
      target('sessions', 'sessions', ['id_hash'], 'box', (r) => sessionAad(r.id_hash!)),
    ];
  }

  async ping(): Promise<void> {
    this.#q.ping.get();
  }

  /**
   * total_changes() counts every row this connection wrote (triggers and cascades included);
   * data_version moves when another connection commits. Two tiny statements, no table read.
   */
  changeStamp(): string {
    return `${this.#q.totalChanges.get() as number}/${this.#q.dataVersion.get() as number}`;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.c.db.close();
  }

  async reencryptAll(options: { batchSize?: number } = {}): Promise<EncryptedValueCounts> {
    const batchSize = Math.max(1, Math.floor(options.batchSize ?? 200));
    const keyring = this.c.keyring;
    const kid = keyring.currentKeyId;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const target of this.#sealed) {
      // One short transaction per batch: other writers wait at most one batch, and an interruption
      // keeps every batch already committed. Rewritten rows leave the `key_id <> current` listing.
      for (;;) {
        const batch = immediate(this.c.db, () => {
          const rows = target.list.all(kid, batchSize) as SealedRow[];
          let rewritten = 0;
          for (const row of rows) {
            const aad = target.aad(row);
            const box = keyring.encrypt(keyring.decrypt(row.box, aad), aad);
            // Only if the value is still the one read: a concurrent write already used the current key.
            rewritten += target.set.run(box, kid, ...target.key(row), row.box).changes;
          }
          return { listed: rows.length, rewritten };
        });
        counts[target.kind] += batch.rewritten;
        if (batch.listed < batchSize) break;
      }
    }
    return counts;
  }

  async countRetiredKeyValues(): Promise<EncryptedValueCounts> {
    const kid = this.c.keyring.currentKeyId;
    const counts: EncryptedValueCounts = { serviceAccountSecrets: 0, tokenCaches: 0, authStates: 0, sessions: 0 };
    for (const target of this.#sealed) counts[target.kind] = target.count.get(kid) as number;
    return counts;
  }

  async rekeyServiceAccountTests(tenantId: string, fromHash: string, toHash: string): Promise<number> {
    return immediate(this.c.db, () => {
      let n = 0;
      for (const row of this.#q.testRows.all(tenantId) as Array<{ seq: number; record: string }>) {
        const record = JSON.parse(row.record) as ServiceAccountTestRecord;
        if (record.configHash !== fromHash) continue;
        n += this.#q.testSet.run(JSON.stringify({ ...record, configHash: toHash }), row.seq).changes;
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

/** Checks that need no SQLite connection: the folder, permissions, the file header. */
function preflight(file: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new StoreOpenError('unwritable', file, `cannot create the folder ${dir} (${errCode(err)})`, { cause: err });
  }
  if (!isWritable(dir)) throw new StoreOpenError('unwritable', file, `the folder ${dir} is not writable (SQLite keeps its journal beside the file)`);

  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new StoreOpenError('unwritable', file, 'the path exists and is not a regular file');
    size = st.size;
  } catch (err) {
    if (err instanceof StoreOpenError) throw err;
    if (errCode(err) === 'ENOENT') return; // a new database
    throw new StoreOpenError('unwritable', file, `cannot read the file (${errCode(err)})`, { cause: err });
  }
  if (!isWritable(file)) throw new StoreOpenError('unwritable', file, 'the file is not writable');
  if (size === 0) return; // SQLite treats an empty file as a new database

  const header = readHead(file, SQLITE_HEADER.length);
  if (header.length < SQLITE_HEADER.length || !header.equals(SQLITE_HEADER)) {
    throw new StoreOpenError('corrupt', file, 'it is not a SQLite database (wrong header: corrupt, or another kind of file)');
  }

  // With an un-checkpointed WAL beside it the main file alone is not the database: let SQLite decide.
  if (size > PROBE_MAX_BYTES || fileSize(`${file}-wal`) > 0) return;
  probeCopy(file);
}

/**
 * Opens a copy of the file in memory, read-only, so that a corrupt or unexpected database is
 * diagnosed without SQLite ever opening (and possibly creating -wal/-shm beside) the real file.
 */
function probeCopy(file: string): void {
  const copy = readFileSync(file);
  // A WAL-mode header makes an in-memory copy unopenable; the copy reads fine as a rollback database.
  if (copy.length > 19) copy[18] = copy[19] = 1;
  let db: Db | undefined;
  try {
    db = new Database(copy, { readonly: true });
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw new StoreOpenError('corrupt', file, `it is not a SQLite database it can use (damaged; integrity check: ${String(check)})`);
    inspect(db, file);
  } catch (err) {
    throw toOpenError(err, file);
  } finally {
    db?.close();
  }
}

/** Refuses another application's database and one written by a newer schema; returns the version. */
function inspect(db: Db, file: string): number {
  const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").pluck().all() as string[];
  if (!hasOurSchema(file, tables, (t) => `it is a SQLite database of another application (tables: ${t}); point DATA_STORE at a new file`)) return 0;
  return checkVersion(file, db.prepare('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck().get() as number, LATEST_SCHEMA_VERSION);
}

function migrate(db: Db, file: string): void {
  for (const m of MIGRATIONS) {
    immediate(db, () => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT');
      // Re-read inside the write lock: another process may have migrated meanwhile.
      const current = inspect(db, file);
      if (current >= m.version) return;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, nowIso());
    });
  }
}

function toOpenError(err: unknown, file: string): StoreOpenError {
  if (err instanceof StoreOpenError) return err;
  const code = errCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT')
    return new StoreOpenError('corrupt', file, `it is not a SQLite database (${detail})`, { cause: err });
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_CANTOPEN') || code === 'SQLITE_PERM') {
    return new StoreOpenError('unwritable', file, `cannot write the database (${detail})`, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new StoreOpenError('failed', file, 'the database is locked by another process', { cause: err });
  }
  return new StoreOpenError('failed', file, detail, { cause: err });
}

function isWritable(path: string): boolean {
  try {
    accessSync(path, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function readHead(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    const read = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function errCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'unknown error';
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    ping: p('SELECT 1'),
    totalChanges: p('SELECT total_changes()').pluck(),
    dataVersion: p('PRAGMA data_version').pluck(),
    testRows: p('SELECT seq, record FROM service_account_tests WHERE tenant_id = ?'),
    testSet: p('UPDATE service_account_tests SET record = ? WHERE seq = ?'),
  };
}
