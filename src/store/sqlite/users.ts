/** Users seen signing in, on SQLite. */
import { userValues } from '../records';
import { userFromRow, type Row } from '../shared/rows';
import type { UserRecord, UserRecords, UserWrite } from '../types';
import type { SqliteContext, Db } from './db';

export class SqliteUsers implements UserRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async putUser(record: UserWrite): Promise<void> {
    this.#q.upsert.run(userValues(record));
  }

  async getUser(tenantId: string, oid: string): Promise<UserRecord | undefined> {
    const row = this.#q.get.get(tenantId, oid) as Row | undefined;
    return row && userFromRow(row);
  }

  async listUsersWithRole(tenantId: string, role: string): Promise<UserRecord[]> {
    return (this.#q.withRole.all(tenantId, role) as Row[]).map(userFromRow);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    upsert: p(`INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at, admin_proven_at)
        VALUES (@tenantId, @oid, @upn, @displayName, @roles, @lastSeenAt, @adminProvenAt)
        ON CONFLICT (tenant_id, oid) DO UPDATE SET upn = excluded.upn, display_name = excluded.display_name, roles = excluded.roles,
          last_seen_at = excluded.last_seen_at, admin_proven_at = CASE WHEN @setProof = 1 THEN excluded.admin_proven_at ELSE users.admin_proven_at END`),
    get: p('SELECT * FROM users WHERE tenant_id = ? AND oid = ?'),
    withRole: p('SELECT * FROM users WHERE tenant_id = ? AND EXISTS (SELECT 1 FROM json_each(users.roles) WHERE json_each.value = ?) ORDER BY upn, oid'),
  };
}
