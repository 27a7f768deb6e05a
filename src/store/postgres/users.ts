/** Users seen signing in, on PostgreSQL. */
import { userValues } from '../records';
import { userFromRow, type Row } from '../shared/rows';
import type { UserRecord, UserRecords, UserWrite } from '../types';
import { named, type PgContext } from './db';

export class PgUsers implements UserRecords {
  constructor(private readonly c: PgContext) {}

  async putUser(record: UserWrite): Promise<void> {
    await named(
      this.c.pool,
      `INSERT INTO users (tenant_id, oid, upn, display_name, roles, last_seen_at, admin_proven_at)
       VALUES (@tenantId, @oid, @upn, @displayName, @roles, @lastSeenAt, @adminProvenAt)
       ON CONFLICT (tenant_id, oid) DO UPDATE SET upn = excluded.upn, display_name = excluded.display_name, roles = excluded.roles,
         last_seen_at = excluded.last_seen_at, admin_proven_at = CASE WHEN @setProof = 1 THEN excluded.admin_proven_at ELSE users.admin_proven_at END`,
      userValues(record),
    );
  }

  async getUser(tenantId: string, oid: string): Promise<UserRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT * FROM users WHERE tenant_id = $1 AND oid = $2', [tenantId, oid]);
    return rows[0] && userFromRow(rows[0] as Row);
  }

  async listUsersWithRole(tenantId: string, role: string): Promise<UserRecord[]> {
    const { rows } = await this.c.pool.query(
      `SELECT * FROM users WHERE tenant_id = $1 AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(users.roles::jsonb) AS r(value) WHERE r.value = $2)
       ORDER BY upn, oid`,
      [tenantId, role],
    );
    return rows.map(userFromRow);
  }
}
