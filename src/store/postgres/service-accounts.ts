/** The service account of each tenant and its last two tests, on PostgreSQL. */
import { requireText, serviceAccountValues } from '../records';
import { recordFromRow, serviceAccountFromRow, type Row } from '../shared/rows';
import type { ServiceAccountRecord, ServiceAccountRecords, ServiceAccountTestRecord } from '../types';
import { changed, named, transaction, type PgContext } from './db';

export class PgServiceAccounts implements ServiceAccountRecords {
  constructor(private readonly c: PgContext) {}

  async getServiceAccount(tenantId: string): Promise<ServiceAccountRecord | undefined> {
    const row = (await this.c.pool.query('SELECT * FROM service_accounts WHERE tenant_id = $1', [tenantId])).rows[0] as Row | undefined;
    return row && serviceAccountFromRow(row, this.c.keyring);
  }

  async putServiceAccount(r: ServiceAccountRecord): Promise<void> {
    await named(
      this.c.pool,
      `INSERT INTO service_accounts (tenant_id, tenant, client_id, secret_box, key_id, secret_hint, secret_expires_at, test_account, out_of_scope_account, features, updated_at, updated_by)
       VALUES (@tenantId, @tenant, @clientId, @box, @kid, @hint, @expires, @testAccount, @outOfScope, @features, @updatedAt, @updatedBy)
       ON CONFLICT (tenant_id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id, secret_box = excluded.secret_box, key_id = excluded.key_id,
         secret_hint = excluded.secret_hint, secret_expires_at = excluded.secret_expires_at, test_account = excluded.test_account,
         out_of_scope_account = excluded.out_of_scope_account, features = excluded.features, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      serviceAccountValues(r, this.c.keyring),
    );
  }

  async deleteServiceAccount(tenantId: string): Promise<boolean> {
    return changed(await this.c.pool.query('DELETE FROM service_accounts WHERE tenant_id = $1', [tenantId]));
  }

  async putServiceAccountTest(record: ServiceAccountTestRecord): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    await transaction(this.c.pool, async (c) => {
      await c.query('INSERT INTO service_account_tests (tenant_id, record) VALUES ($1, $2)', [record.tenantId, JSON.stringify(record)]);
      await c.query(
        'DELETE FROM service_account_tests WHERE tenant_id = $1 AND seq NOT IN (SELECT seq FROM service_account_tests WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 2)',
        [record.tenantId],
      );
    });
  }

  async getServiceAccountTests(tenantId: string): Promise<ServiceAccountTestRecord[]> {
    const { rows } = await this.c.pool.query('SELECT record FROM service_account_tests WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 2', [tenantId]);
    return rows.map(recordFromRow<ServiceAccountTestRecord>);
  }
}
