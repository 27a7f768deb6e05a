/** Reach on PostgreSQL: each tenant's campaign and each person's bot / funnel state, kept whole as JSON. */
import { DEFAULT_PAGE, clampLimit, pageOf, requireText, reachUserValues } from '../records';
import { recordFromRow, type Row } from '../shared/rows';
import type { CampaignRecord, ReachRecords, ReachUserPage, ReachUserRecord } from '../types';
import { named, type PgContext } from './db';

export class PgReach implements ReachRecords {
  constructor(private readonly c: PgContext) {}

  async getCampaign(tenantId: string): Promise<CampaignRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT record FROM campaigns WHERE tenant_id = $1', [tenantId]);
    return rows[0] && recordFromRow<CampaignRecord>(rows[0] as Row);
  }

  async putCampaign(r: CampaignRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    await this.c.pool.query(
      `INSERT INTO campaigns (tenant_id, status, record, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (tenant_id) DO UPDATE SET status = excluded.status, record = excluded.record, updated_at = excluded.updated_at`,
      [r.tenantId, r.status, JSON.stringify(r), r.updatedAt],
    );
  }

  async listRunningCampaigns(): Promise<CampaignRecord[]> {
    const { rows } = await this.c.pool.query("SELECT record FROM campaigns WHERE status = 'running' ORDER BY tenant_id");
    return rows.map(recordFromRow<CampaignRecord>);
  }

  async getReachUser(tenantId: string, upn: string): Promise<ReachUserRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT record FROM reach_users WHERE tenant_id = $1 AND upn = $2', [tenantId, upn.toLowerCase()]);
    return rows[0] && recordFromRow<ReachUserRecord>(rows[0] as Row);
  }

  async putReachUser(r: ReachUserRecord): Promise<void> {
    await named(
      this.c.pool,
      `INSERT INTO reach_users (tenant_id, upn, oid, record, updated_at) VALUES (@tenantId, @upn, @oid, @record, @updatedAt)
       ON CONFLICT (tenant_id, upn) DO UPDATE SET oid = excluded.oid, record = excluded.record, updated_at = excluded.updated_at`,
      reachUserValues(r),
    );
  }

  /** By upn; the cursor is the last upn of the previous page, as on SQLite (so either store takes the other's). */
  async listReachUsers(tenantId: string, options: { cursor?: string; limit?: number } = {}): Promise<ReachUserPage> {
    const limit = clampLimit(options.limit, DEFAULT_PAGE);
    const { rows } = await this.c.pool.query('SELECT upn, record FROM reach_users WHERE tenant_id = $1 AND upn > $2 ORDER BY upn LIMIT $3', [
      tenantId,
      options.cursor ?? '',
      limit + 1,
    ]);
    return pageOf(rows as Row[], limit, recordFromRow<ReachUserRecord>, (last) => last.upn);
  }
}
