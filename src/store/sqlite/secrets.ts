/** Sealed per-user values on SQLite: token cache partitions, auth states and browser sessions. */
import { authStateValues, isLookupKey, openAuthState, openSession, sessionValues, sha256, tokenCacheAad, tokenCacheValues } from '../records';
import type { AuthStateRecord, AuthStateRecords, SessionRecord, SessionRecords, TokenCacheRecords } from '../types';
import { immediate, type SqliteContext, type Db } from './db';

export class SqliteSecrets implements TokenCacheRecords, AuthStateRecords, SessionRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async getTokenCache(tenantId: string, partitionKey: string): Promise<string | undefined> {
    const box = this.#q.tcGet.get(tenantId, partitionKey) as string | undefined;
    return box === undefined ? undefined : this.c.keyring.decrypt(box, tokenCacheAad(tenantId, partitionKey));
  }

  async putTokenCache(tenantId: string, partitionKey: string, serialized: string): Promise<void> {
    this.#q.tcUpsert.run(tokenCacheValues(tenantId, partitionKey, serialized, this.c.keyring, this.c.now().toISOString()));
  }

  async deleteTokenCache(tenantId: string, partitionKey: string): Promise<boolean> {
    return this.#q.tcDelete.run(tenantId, partitionKey).changes > 0;
  }

  async putAuthState(record: AuthStateRecord): Promise<void> {
    this.#q.asInsert.run(authStateValues(record, this.c.keyring));
  }

  async takeAuthState(state: string, now: Date): Promise<AuthStateRecord | undefined> {
    if (!isLookupKey(state)) return undefined;
    // DELETE … RETURNING: of two concurrent callers, only one gets the row.
    const row = this.#q.asTake.get(sha256(state)) as { box: string; expires_ms: number } | undefined;
    if (!row || row.expires_ms <= now.getTime()) return undefined;
    return openAuthState(state, row.box, this.c.keyring);
  }

  async putSession(record: SessionRecord): Promise<void> {
    this.#q.seUpsert.run(sessionValues(record, this.c.keyring));
  }

  async getSession(id: string, now: Date): Promise<SessionRecord | undefined> {
    if (!isLookupKey(id)) return undefined;
    const box = this.#q.seGet.get(sha256(id), now.getTime()) as string | undefined;
    return box === undefined ? undefined : openSession(id, box, this.c.keyring);
  }

  async deleteSession(id: string): Promise<void> {
    this.#q.seDelete.run(sha256(id));
  }

  async purgeExpired(now: Date): Promise<number> {
    const ms = now.getTime();
    return immediate(this.c.db, () => this.#q.asPurge.run(ms).changes + this.#q.sePurge.run(ms).changes);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    tcGet: p('SELECT box FROM token_caches WHERE tenant_id = ? AND partition_key = ?').pluck(),
    tcUpsert: p(`INSERT INTO token_caches (tenant_id, partition_key, box, key_id, updated_at) VALUES (@tenantId, @partitionKey, @box, @kid, @now)
        ON CONFLICT (tenant_id, partition_key) DO UPDATE SET box = excluded.box, key_id = excluded.key_id, updated_at = excluded.updated_at`),
    tcDelete: p('DELETE FROM token_caches WHERE tenant_id = ? AND partition_key = ?'),
    asInsert: p('INSERT INTO auth_states (state_hash, tenant_id, box, key_id, expires_ms) VALUES (@hash, @tenantId, @box, @kid, @expiresMs)'),
    asTake: p('DELETE FROM auth_states WHERE state_hash = ? RETURNING box, expires_ms'),
    asPurge: p('DELETE FROM auth_states WHERE expires_ms <= ?'),
    seUpsert: p(`INSERT INTO sessions (id_hash, tenant_id, oid, box, key_id, expires_ms) VALUES (@hash, @tenantId, @oid, @box, @kid, @expiresMs)
        ON CONFLICT (id_hash) DO UPDATE SET tenant_id = excluded.tenant_id, oid = excluded.oid, box = excluded.box, key_id = excluded.key_id, expires_ms = excluded.expires_ms`),
    seGet: p('SELECT box FROM sessions WHERE id_hash = ? AND expires_ms > ?').pluck(),
    seDelete: p('DELETE FROM sessions WHERE id_hash = ?'),
    sePurge: p('DELETE FROM sessions WHERE expires_ms <= ?'),
  };
}
