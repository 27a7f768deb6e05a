/** Sealed per-user values on PostgreSQL: token cache partitions, auth states and browser sessions. */
import { authStateValues, isLookupKey, openAuthState, openSession, sessionValues, sha256, tokenCacheAad, tokenCacheValues } from '../records';
import type { AuthStateRecord, AuthStateRecords, SessionRecord, SessionRecords, TokenCacheRecords } from '../types';
import { changed, named, transaction, type PgContext } from './db';

export class PgSecrets implements TokenCacheRecords, AuthStateRecords, SessionRecords {
  constructor(private readonly c: PgContext) {}

  async getTokenCache(tenantId: string, partitionKey: string): Promise<string | undefined> {
    const { rows } = await this.c.pool.query('SELECT box FROM token_caches WHERE tenant_id = $1 AND partition_key = $2', [tenantId, partitionKey]);
    return rows[0] ? this.c.keyring.decrypt(rows[0].box as string, tokenCacheAad(tenantId, partitionKey)) : undefined;
  }

  async putTokenCache(tenantId: string, partitionKey: string, serialized: string): Promise<void> {
    await named(
      this.c.pool,
      `INSERT INTO token_caches (tenant_id, partition_key, box, key_id, updated_at) VALUES (@tenantId, @partitionKey, @box, @kid, @now)
       ON CONFLICT (tenant_id, partition_key) DO UPDATE SET box = excluded.box, key_id = excluded.key_id, updated_at = excluded.updated_at`,
      tokenCacheValues(tenantId, partitionKey, serialized, this.c.keyring, this.c.now().toISOString()),
    );
  }

  async deleteTokenCache(tenantId: string, partitionKey: string): Promise<boolean> {
    return changed(await this.c.pool.query('DELETE FROM token_caches WHERE tenant_id = $1 AND partition_key = $2', [tenantId, partitionKey]));
  }

  async putAuthState(record: AuthStateRecord): Promise<void> {
    await named(
      this.c.pool,
      'INSERT INTO auth_states (state_hash, tenant_id, box, key_id, expires_ms) VALUES (@hash, @tenantId, @box, @kid, @expiresMs)',
      authStateValues(record, this.c.keyring),
    );
  }

  async takeAuthState(state: string, now: Date): Promise<AuthStateRecord | undefined> {
    if (!isLookupKey(state)) return undefined;
    // DELETE … RETURNING: of two concurrent callers, only one gets the row.
    const { rows } = await this.c.pool.query('DELETE FROM auth_states WHERE state_hash = $1 RETURNING box, expires_ms', [sha256(state)]);
    const row = rows[0] as { box: string; expires_ms: string } | undefined;
    if (!row || Number(row.expires_ms) <= now.getTime()) return undefined;
    return openAuthState(state, row.box, this.c.keyring);
  }

  async putSession(record: SessionRecord): Promise<void> {
    await named(
      this.c.pool,
      `INSERT INTO sessions (id_hash, tenant_id, oid, box, key_id, expires_ms) VALUES (@hash, @tenantId, @oid, @box, @kid, @expiresMs)
       ON CONFLICT (id_hash) DO UPDATE SET tenant_id = excluded.tenant_id, oid = excluded.oid, box = excluded.box, key_id = excluded.key_id, expires_ms = excluded.expires_ms`,
      sessionValues(record, this.c.keyring),
    );
  }

  async getSession(id: string, now: Date): Promise<SessionRecord | undefined> {
    if (!isLookupKey(id)) return undefined;
    const { rows } = await this.c.pool.query('SELECT box FROM sessions WHERE id_hash = $1 AND expires_ms > $2', [sha256(id), now.getTime()]);
    return rows[0] ? openSession(id, rows[0].box as string, this.c.keyring) : undefined;
  }

  async deleteSession(id: string): Promise<void> {
    await this.c.pool.query('DELETE FROM sessions WHERE id_hash = $1', [sha256(id)]);
  }

  async purgeExpired(now: Date): Promise<number> {
    const ms = now.getTime();
    return transaction(this.c.pool, async (c) => {
      const a = await c.query('DELETE FROM auth_states WHERE expires_ms <= $1', [ms]);
      const s = await c.query('DELETE FROM sessions WHERE expires_ms <= $1', [ms]);
      return (a.rowCount ?? 0) + (s.rowCount ?? 0);
    });
  }
}
