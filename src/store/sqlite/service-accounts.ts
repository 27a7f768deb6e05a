/** The service account of each tenant and its last two tests, on SQLite. */
import { requireText, serviceAccountValues } from '../records';
import { recordFromRow, serviceAccountFromRow, type Row } from '../shared/rows';
import type { ServiceAccountRecord, ServiceAccountRecords, ServiceAccountTestRecord } from '../types';
import { immediate, type SqliteContext, type Db } from './db';

export class SqliteServiceAccounts implements ServiceAccountRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async getServiceAccount(tenantId: string): Promise<ServiceAccountRecord | undefined> {
    const row = this.#q.get.get(tenantId) as Row | undefined;
    return row && serviceAccountFromRow(row, this.c.keyring);
  }

  async putServiceAccount(r: ServiceAccountRecord): Promise<void> {
    this.#q.upsert.run(serviceAccountValues(r, this.c.keyring));
  }

  async deleteServiceAccount(tenantId: string): Promise<boolean> {
    return this.#q.delete.run(tenantId).changes > 0;
  }

  async putServiceAccountTest(record: ServiceAccountTestRecord): Promise<void> {
    requireText(record.tenantId, 'tenantId');
    immediate(this.c.db, () => {
      this.#q.testInsert.run(record.tenantId, JSON.stringify(record));
      this.#q.testTrim.run({ tenantId: record.tenantId });
    });
  }

  async getServiceAccountTests(tenantId: string): Promise<ServiceAccountTestRecord[]> {
    return (this.#q.testList.all(tenantId) as Row[]).map(recordFromRow<ServiceAccountTestRecord>);
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    get: p('SELECT * FROM service_accounts WHERE tenant_id = ?'),
    upsert:
      p(`INSERT INTO service_accounts (tenant_id, tenant, client_id, secret_box, key_id, secret_hint, secret_expires_at, test_account, out_of_scope_account, features, updated_at, updated_by)
        VALUES (@tenantId, @tenant, @clientId, @box, @kid, @hint, @expires, @testAccount, @outOfScope, @features, @updatedAt, @updatedBy)
        ON CONFLICT (tenant_id) DO UPDATE SET tenant = excluded.tenant, client_id = excluded.client_id, secret_box = excluded.secret_box, key_id = excluded.key_id,
          secret_hint = excluded.secret_hint, secret_expires_at = excluded.secret_expires_at, test_account = excluded.test_account,
          out_of_scope_account = excluded.out_of_scope_account, features = excluded.features, updated_at = excluded.updated_at, updated_by = excluded.updated_by`),
    delete: p('DELETE FROM service_accounts WHERE tenant_id = ?'),
    testInsert: p('INSERT INTO service_account_tests (tenant_id, record) VALUES (?, ?)'),
    testTrim: p(
      'DELETE FROM service_account_tests WHERE tenant_id = @tenantId AND seq NOT IN (SELECT seq FROM service_account_tests WHERE tenant_id = @tenantId ORDER BY seq DESC LIMIT 2)',
    ),
    testList: p('SELECT record FROM service_account_tests WHERE tenant_id = ? ORDER BY seq DESC LIMIT 2'),
  };
}
