/** Tenants and their domains on SQLite. */
import { cleanDomains, newTenantValues, tenantPatchValues } from '../records';
import { tenantFromRow, type Row } from '../shared/rows';
import type { DomainRecords, TenantRecord, TenantRecords } from '../types';
import { immediate, type SqliteContext, type Db } from './db';

export class SqliteTenants implements TenantRecords, DomainRecords {
  readonly #q: ReturnType<typeof statements>;

  constructor(private readonly c: SqliteContext) {
    this.#q = statements(c.db);
  }

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const row = this.#q.get.get(tenantId) as Row | undefined;
    return row && tenantFromRow(row);
  }

  async ensureTenant(tenantId: string, defaults: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>> = {}): Promise<TenantRecord> {
    this.#q.insertIgnore.run(newTenantValues(tenantId, defaults, this.c.now().toISOString()));
    return tenantFromRow(this.#q.get.get(tenantId) as Row);
  }

  async updateTenant(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>): Promise<TenantRecord> {
    const values = tenantPatchValues(tenantId, patch, this.c.now().toISOString());
    immediate(this.c.db, () => {
      this.#q.insertIgnore.run(newTenantValues(tenantId, {}, values.now));
      this.#q.update.run(values);
    });
    return tenantFromRow(this.#q.get.get(tenantId) as Row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (this.#q.list.all() as Row[]).map(tenantFromRow);
  }

  async getDomains(tenantId: string): Promise<string[]> {
    return this.#q.domains.all(tenantId) as string[];
  }

  async setDomains(tenantId: string, domains: string[]): Promise<void> {
    const clean = cleanDomains(tenantId, domains);
    immediate(this.c.db, () => {
      this.#q.domainsClear.run(tenantId);
      for (const d of clean) this.#q.domainInsert.run(tenantId, d);
    });
  }
}

function statements(db: Db) {
  const p = (sql: string) => db.prepare(sql);
  return {
    get: p('SELECT * FROM tenants WHERE tenant_id = ?'),
    insertIgnore: p(`INSERT INTO tenants (tenant_id, display_name, enabled_features, created_at, updated_at)
        VALUES (@tenantId, @displayName, @features, @now, @now) ON CONFLICT (tenant_id) DO NOTHING`),
    update: p(`UPDATE tenants SET
          display_name = CASE WHEN @setName = 1 THEN @displayName ELSE display_name END,
          enabled_features = CASE WHEN @setFeatures = 1 THEN @features ELSE enabled_features END,
          deadline_overrides = CASE WHEN @setOverrides = 1 THEN @overrides ELSE deadline_overrides END,
          updated_at = @now
        WHERE tenant_id = @tenantId`),
    list: p('SELECT * FROM tenants ORDER BY tenant_id'),
    domains: p('SELECT domain FROM domains WHERE tenant_id = ? ORDER BY domain').pluck(),
    domainsClear: p('DELETE FROM domains WHERE tenant_id = ?'),
    domainInsert: p('INSERT INTO domains (tenant_id, domain) VALUES (?, ?)'),
  };
}
