/** Connections on PostgreSQL: one row per (tenant, upn, kind), paged by (upn, kind). */
import type { ConnectionKind, ConnectionState } from '../../domain/connection';
import { CONNECTION_FIELDS, columnOf, connectionParams, connectionQueryValues, encodeCursor, pageOf, type ConnectionParams } from '../records';
import { connectionFromRow, type Row } from '../shared/rows';
import type { ConnectionPage, ConnectionQuery, ConnectionRecord, ConnectionRecords } from '../types';
import { changed, transaction, type PgContext, type Queryable } from './db';

/** Rows per INSERT when importing many connections (one array per column; keeps each statement modest). */
const IMPORT_CHUNK = 2000;

// ---- queries the admin views run (also explained by bench/store.ts) ------------------------

export const COUNT_CONNECTIONS_SQL =
  'SELECT kind, state, count(*)::int AS count FROM connections WHERE tenant_id = $1 GROUP BY kind, state ORDER BY kind, state';

/**
 * The page query with only the conditions asked for, so the planner sees plain equalities and
 * picks the matching index (state, kind, the trigram index for search, the key for paging).
 */
export function connectionQuerySql(tenantId: string, query: ConnectionQuery, limit: number): { text: string; values: unknown[] } {
  const { search, after } = connectionQueryValues(query);
  const values: unknown[] = [tenantId];
  const where = ['tenant_id = $1'];
  const add = (sql: (n: string) => string, value: unknown) => {
    values.push(value);
    where.push(sql(`$${values.length}`));
  };
  if (query.state !== undefined) add((n) => `state = ${n}`, query.state);
  if (query.kind !== undefined) add((n) => `kind = ${n}`, query.kind);
  if (search !== null) add((n) => `search_text LIKE ${n}`, `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  if (after) {
    values.push(after.u, after.k);
    where.push(`(upn, kind) > ($${values.length - 1}, $${values.length})`);
  }
  values.push(limit);
  return { text: `SELECT * FROM connections WHERE ${where.join(' AND ')} ORDER BY upn, kind LIMIT $${values.length}`, values };
}

/**
 * One INSERT … ON CONFLICT for many rows. A key repeated in the batch behaves as successive
 * upserts do on SQLite: the last record wins, but created_at stays the first one's.
 */
export async function upsertConnections(q: Queryable, batch: ConnectionParams[]): Promise<void> {
  const byKey = new Map<string, ConnectionParams>();
  for (const p of batch) {
    const key = JSON.stringify([p.tenantId, p.upn, p.kind]);
    const first = byKey.get(key);
    byKey.set(key, first ? { ...p, createdAt: first.createdAt } : p);
  }
  const rows = [...byKey.values()];
  const columns = [...CONNECTION_FIELDS, 'searchText'] as const;
  await q.query(
    `INSERT INTO connections (${columns.map(columnOf).join(', ')})
     SELECT * FROM unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')})
     ON CONFLICT (tenant_id, upn, kind) DO UPDATE SET oid = excluded.oid, display_name = excluded.display_name, search_text = excluded.search_text,
       state = excluded.state, granted_scopes = excluded.granted_scopes, home_account_id = excluded.home_account_id, last_checked_at = excluded.last_checked_at,
       last_sync_at = excluded.last_sync_at, error = excluded.error, feature_results = excluded.feature_results, updated_at = excluded.updated_at`,
    columns.map((k) => rows.map((r) => r[k])),
  );
}

export class PgConnections implements ConnectionRecords {
  constructor(private readonly c: PgContext) {}

  async getConnections(tenantId: string, upn: string): Promise<ConnectionRecord[]> {
    const { rows } = await this.c.pool.query('SELECT * FROM connections WHERE tenant_id = $1 AND upn = $2 ORDER BY kind', [tenantId, upn.toLowerCase()]);
    return rows.map(connectionFromRow);
  }

  async putConnection(record: ConnectionRecord): Promise<void> {
    await upsertConnections(this.c.pool, [connectionParams(record, 'record')]);
  }

  async deleteConnection(tenantId: string, upn: string, kind: ConnectionKind): Promise<boolean> {
    return changed(await this.c.pool.query('DELETE FROM connections WHERE tenant_id = $1 AND upn = $2 AND kind = $3', [tenantId, upn.toLowerCase(), kind]));
  }

  async importConnections(records: ConnectionRecord[]): Promise<void> {
    // Every record is checked before anything is written, so a bad one leaves the store as it was.
    const params = records.map((r, i) => connectionParams(r, `connections[${i}]`));
    if (params.length === 0) return;
    await transaction(this.c.pool, async (c) => {
      for (let i = 0; i < params.length; i += IMPORT_CHUNK) await upsertConnections(c, params.slice(i, i + IMPORT_CHUNK));
    });
  }

  async queryConnections(tenantId: string, query: ConnectionQuery): Promise<ConnectionPage> {
    const { limit } = connectionQueryValues(query);
    const { text, values } = connectionQuerySql(tenantId, query, limit + 1);
    const rows = (await this.c.pool.query(text, values)).rows as Row[];
    return pageOf(rows, limit, connectionFromRow, (last) => encodeCursor(last.upn, last.kind));
  }

  async countConnections(tenantId: string): Promise<Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>> {
    return (await this.c.pool.query(COUNT_CONNECTIONS_SQL, [tenantId])).rows;
  }
}
