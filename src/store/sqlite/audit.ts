/** The audit log on SQLite (append only), newest first. */
import { auditValues, clampLimit, toMs } from '../records';
import { auditFromRow, type Row } from '../shared/rows';
import type { AuditRecord, AuditRecords } from '../types';
import type { SqliteContext, Db } from './db';

export class SqliteAudit implements AuditRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async audit(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): Promise<void> {
    this.#q.insert.run(auditValues(entry, this.c.now().toISOString()));
  }

  /**
   * `before` pages on: pass the `id` of the last entry of the previous page (exact keyset), or an
   * ISO date (entries strictly older than it).
   */
  async listAudit(tenantId: string, options: { limit?: number; before?: string } = {}): Promise<AuditRecord[]> {
    const limit = clampLimit(options.limit, 100);
    let rows: Row[];
    if (options.before === undefined || options.before === '') {
      rows = this.#q.list.all(tenantId, limit) as Row[];
    } else {
      const anchor = this.#q.anchor.get(tenantId, options.before) as { at_ms: number; seq: number } | undefined;
      if (anchor) rows = this.#q.listBefore.all(tenantId, anchor.at_ms, anchor.at_ms, anchor.seq, limit) as Row[];
      else rows = this.#q.listBefore.all(tenantId, toMs(options.before, 'before'), -1, 0, limit) as Row[];
    }
    return rows.map(auditFromRow);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insert: p(`INSERT INTO audit_log (id, tenant_id, at, at_ms, actor, action, target, details)
        VALUES (@id, @tenantId, @at, @atMs, @actor, @action, @target, @details)`),
    list: p('SELECT * FROM audit_log WHERE tenant_id = ? ORDER BY at_ms DESC, seq DESC LIMIT ?'),
    anchor: p('SELECT at_ms, seq FROM audit_log WHERE tenant_id = ? AND id = ?'),
    listBefore: p(`SELECT * FROM audit_log WHERE tenant_id = ? AND (at_ms < ? OR (at_ms = ? AND seq < ?))
        ORDER BY at_ms DESC, seq DESC LIMIT ?`),
  };
}
