/** Reach on SQLite: each tenant's campaign and each person's bot / funnel state, kept whole as JSON. */
import { DEFAULT_PAGE, clampLimit, pageOf, requireText, reachUserValues } from '../records';
import { recordFromRow, type Row } from '../shared/rows';
import type { CampaignRecord, ReachRecords, ReachUserPage, ReachUserRecord } from '../types';
import type { SqliteContext, Db } from './db';

export class SqliteReach implements ReachRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async getCampaign(tenantId: string): Promise<CampaignRecord | undefined> {
    const row = this.#q.campaignGet.get(tenantId) as Row | undefined;
    return row && recordFromRow<CampaignRecord>(row);
  }

  async putCampaign(r: CampaignRecord): Promise<void> {
    requireText(r.tenantId, 'tenantId');
    this.#q.campaignUpsert.run(r.tenantId, r.status, JSON.stringify(r), r.updatedAt);
  }

  async listRunningCampaigns(): Promise<CampaignRecord[]> {
    return (this.#q.campaignRunning.all() as Row[]).map(recordFromRow<CampaignRecord>);
  }

  async getReachUser(tenantId: string, upn: string): Promise<ReachUserRecord | undefined> {
    const row = this.#q.userGet.get(tenantId, upn.toLowerCase()) as Row | undefined;
    return row && recordFromRow<ReachUserRecord>(row);
  }

  async putReachUser(r: ReachUserRecord): Promise<void> {
    this.#q.userUpsert.run(reachUserValues(r));
  }

  /** By upn; the cursor is the last upn of the previous page. */
  async listReachUsers(tenantId: string, options: { cursor?: string; limit?: number } = {}): Promise<ReachUserPage> {
    const limit = clampLimit(options.limit, DEFAULT_PAGE);
    const rows = this.#q.userList.all(tenantId, options.cursor ?? '', limit + 1) as Row[];
    return pageOf(rows, limit, recordFromRow<ReachUserRecord>, (last) => last.upn);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    campaignGet: p('SELECT record FROM campaigns WHERE tenant_id = ?'),
    campaignUpsert: p(`INSERT INTO campaigns (tenant_id, status, record, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (tenant_id) DO UPDATE SET status = excluded.status, record = excluded.record, updated_at = excluded.updated_at`),
    campaignRunning: p("SELECT record FROM campaigns WHERE status = 'running' ORDER BY tenant_id"),
    userGet: p('SELECT record FROM reach_users WHERE tenant_id = ? AND upn = ?'),
    userUpsert: p(`INSERT INTO reach_users (tenant_id, upn, oid, record, updated_at) VALUES (@tenantId, @upn, @oid, @record, @updatedAt)
        ON CONFLICT (tenant_id, upn) DO UPDATE SET oid = excluded.oid, record = excluded.record, updated_at = excluded.updated_at`),
    userList: p('SELECT upn, record FROM reach_users WHERE tenant_id = ? AND upn > ? ORDER BY upn LIMIT ?'),
  };
}
