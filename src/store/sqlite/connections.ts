/** Connections on SQLite: one row per (tenant, upn, kind), paged by (upn, kind). */
import type { ConnectionKind, ConnectionState } from '../../domain/connection';
import { connectionParams, connectionQueryValues, encodeCursor, pageOf } from '../records';
import { connectionFromRow, type Row } from '../shared/rows';
import type { ConnectionPage, ConnectionQuery, ConnectionRecord, ConnectionRecords } from '../types';
import { immediate, type SqliteContext, type Stmt, type Db } from './db';

/** Insert or replace one connection from its column values (records.ts connectionParams); created_at stays the first one's. */
export const CONNECTION_UPSERT = `INSERT INTO connections (tenant_id, upn, kind, oid, display_name, search_text, state, granted_scopes, home_account_id, last_checked_at, last_sync_at, error, feature_results, created_at, updated_at)
  VALUES (@tenantId, @upn, @kind, @oid, @displayName, @searchText, @state, @grantedScopes, @homeAccountId, @lastCheckedAt, @lastSyncAt, @error, @featureResults, @createdAt, @updatedAt)
  ON CONFLICT (tenant_id, upn, kind) DO UPDATE SET oid = excluded.oid, display_name = excluded.display_name, search_text = excluded.search_text,
    state = excluded.state, granted_scopes = excluded.granted_scopes, home_account_id = excluded.home_account_id, last_checked_at = excluded.last_checked_at,
    last_sync_at = excluded.last_sync_at, error = excluded.error, feature_results = excluded.feature_results, updated_at = excluded.updated_at`;

/**
 * The admin list's page query for the named parameters present (also explained by bench/store.ts).
 * A state or kind filter names its index: without statistics SQLite would walk the primary key
 * (already in page order) and test every row of the tenant, slow for a rare state.
 */
export function connectionPageSql(params: Record<string, unknown>): string {
  const index = 'state' in params ? ' INDEXED BY connections_by_state' : 'kind' in params ? ' INDEXED BY connections_by_kind' : '';
  const where = ['tenant_id = @tenantId'];
  if ('state' in params) where.push('state = @state');
  if ('kind' in params) where.push('kind = @kind');
  if ('search' in params) where.push('instr(search_text, @search) > 0');
  if ('afterUpn' in params) where.push('(upn, kind) > (@afterUpn, @afterKind)');
  return `SELECT * FROM connections${index} WHERE ${where.join(' AND ')} ORDER BY upn, kind LIMIT @limit`;
}

/** The summary's counts (also explained by bench/store.ts). */
export const COUNT_CONNECTIONS_SQLITE = 'SELECT kind, state, count(*) AS count FROM connections WHERE tenant_id = ? GROUP BY kind, state ORDER BY kind, state';

export class SqliteConnections implements ConnectionRecords {
  readonly #q: ReturnType<typeof statements>;
  /**
   * The page statement for the filters present, prepared once per combination: with only its own
   * conditions SQLite picks the state or kind index (an `@x IS NULL OR …` form would scan the key).
   */
  readonly #pages = new Map<string, Stmt>();

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async getConnections(tenantId: string, upn: string): Promise<ConnectionRecord[]> {
    return (this.#q.get.all(tenantId, upn.toLowerCase()) as Row[]).map(connectionFromRow);
  }

  async putConnection(record: ConnectionRecord): Promise<void> {
    this.#q.upsert.run(connectionParams(record, 'record'));
  }

  async deleteConnection(tenantId: string, upn: string, kind: ConnectionKind): Promise<boolean> {
    return this.#q.delete.run(tenantId, upn.toLowerCase(), kind).changes > 0;
  }

  async importConnections(records: ConnectionRecord[]): Promise<void> {
    // Each record is checked inside the transaction: a bad one rolls back those written before it.
    immediate(this.c.db, () => records.forEach((r, i) => this.#q.upsert.run(connectionParams(r, `connections[${i}]`))));
  }

  async queryConnections(tenantId: string, query: ConnectionQuery): Promise<ConnectionPage> {
    const { limit, search, after } = connectionQueryValues(query);
    const params: Record<string, unknown> = { tenantId, limit: limit + 1 };
    if (query.state !== undefined) params.state = query.state;
    if (query.kind !== undefined) params.kind = query.kind;
    if (search !== null) params.search = search;
    if (after) Object.assign(params, { afterUpn: after.u, afterKind: after.k });
    const rows = this.#page(params).all(params) as Row[];
    return pageOf(rows, limit, connectionFromRow, (last) => encodeCursor(last.upn, last.kind));
  }

  #page(params: Record<string, unknown>): Stmt {
    const shape = ['state', 'kind', 'search', 'afterUpn'].filter((k) => k in params).join(',');
    let stmt = this.#pages.get(shape);
    if (!stmt) {
      stmt = this.c.db.prepare(connectionPageSql(params));
      this.#pages.set(shape, stmt);
    }
    return stmt;
  }

  async countConnections(tenantId: string): Promise<Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>> {
    return this.#q.count.all(tenantId) as Array<{ kind: ConnectionKind; state: ConnectionState; count: number }>;
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    get: p('SELECT * FROM connections WHERE tenant_id = ? AND upn = ? ORDER BY kind'),
    upsert: p(CONNECTION_UPSERT),
    delete: p('DELETE FROM connections WHERE tenant_id = ? AND upn = ? AND kind = ?'),
    count: p(COUNT_CONNECTIONS_SQLITE),
  };
}
