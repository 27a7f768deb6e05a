/** The audit log on PostgreSQL (append only), newest first. */
import { auditValues, clampLimit, toMs } from '../records';
import { auditFromRow, type Row } from '../shared/rows';
import type { AuditRecord, AuditRecords } from '../types';
import { named, type PgContext } from './db';

export class PgAudit implements AuditRecords {
  constructor(private readonly c: PgContext) {}

  async audit(entry: Omit<AuditRecord, 'id' | 'at'> & { at?: string }): Promise<void> {
    await named(
      this.c.pool,
      'INSERT INTO audit_log (id, tenant_id, at, at_ms, actor, action, target, details) VALUES (@id, @tenantId, @at, @atMs, @actor, @action, @target, @details)',
      auditValues(entry, this.c.now().toISOString()),
    );
  }

  /**
   * `before` pages on: pass the `id` of the last entry of the previous page (exact keyset), or an
   * ISO date (entries strictly older than it).
   */
  async listAudit(tenantId: string, options: { limit?: number; before?: string } = {}): Promise<AuditRecord[]> {
    const limit = clampLimit(options.limit, 100);
    const page = 'ORDER BY at_ms DESC, seq DESC LIMIT';
    const pool = this.c.pool;
    let rows: Row[];
    if (options.before === undefined || options.before === '') {
      rows = (await pool.query(`SELECT * FROM audit_log WHERE tenant_id = $1 ${page} $2`, [tenantId, limit])).rows;
    } else {
      const anchor = (await pool.query('SELECT at_ms, seq FROM audit_log WHERE tenant_id = $1 AND id = $2', [tenantId, options.before])).rows[0] as
        { at_ms: string; seq: string } | undefined;
      const [ms, seq] = anchor ? [anchor.at_ms, anchor.seq] : [toMs(options.before, 'before'), 0];
      rows = (
        await pool.query(`SELECT * FROM audit_log WHERE tenant_id = $1 AND (at_ms, seq) < ($2::bigint, $3::bigint) ${page} $4`, [tenantId, ms, seq, limit])
      ).rows;
    }
    return rows.map(auditFromRow);
  }
}
