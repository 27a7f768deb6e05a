/** Tenants and their domains on PostgreSQL. */
import { cleanDomains, newTenantValues, tenantPatchValues } from '../records';
import { tenantFromRow, type Row } from '../shared/rows';
import type { DomainRecords, TenantRecord, TenantRecords } from '../types';
import { named, transaction, type PgContext } from './db';

const INSERT_IGNORE = `INSERT INTO tenants (tenant_id, display_name, enabled_features, created_at, updated_at)
  VALUES (@tenantId, @displayName, @features, @now, @now) ON CONFLICT (tenant_id) DO NOTHING`;

export class PgTenants implements TenantRecords, DomainRecords {
  constructor(private readonly c: PgContext) {}

  async getTenant(tenantId: string): Promise<TenantRecord | undefined> {
    const { rows } = await this.c.pool.query('SELECT * FROM tenants WHERE tenant_id = $1', [tenantId]);
    return rows[0] && tenantFromRow(rows[0] as Row);
  }

  async ensureTenant(tenantId: string, defaults: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures'>> = {}): Promise<TenantRecord> {
    await named(this.c.pool, INSERT_IGNORE, newTenantValues(tenantId, defaults, this.c.now().toISOString()));
    return (await this.getTenant(tenantId))!;
  }

  async updateTenant(tenantId: string, patch: Partial<Pick<TenantRecord, 'displayName' | 'enabledFeatures' | 'deadlineOverrides'>>): Promise<TenantRecord> {
    const values = tenantPatchValues(tenantId, patch, this.c.now().toISOString());
    const row = await transaction(this.c.pool, async (c) => {
      await named(c, INSERT_IGNORE, newTenantValues(tenantId, {}, values.now));
      const { rows } = await named(
        c,
        `UPDATE tenants SET
            display_name = CASE WHEN @setName = 1 THEN @displayName ELSE display_name END,
            enabled_features = CASE WHEN @setFeatures = 1 THEN @features ELSE enabled_features END,
            deadline_overrides = CASE WHEN @setOverrides = 1 THEN @overrides ELSE deadline_overrides END,
            updated_at = @now
          WHERE tenant_id = @tenantId RETURNING *`,
        values,
      );
      return rows[0] as Row;
    });
    return tenantFromRow(row);
  }

  async listTenants(): Promise<TenantRecord[]> {
    return (await this.c.pool.query('SELECT * FROM tenants ORDER BY tenant_id')).rows.map(tenantFromRow);
  }

  async getDomains(tenantId: string): Promise<string[]> {
    return (await this.c.pool.query('SELECT domain FROM domains WHERE tenant_id = $1 ORDER BY domain', [tenantId])).rows.map((r) => r.domain as string);
  }

  async setDomains(tenantId: string, domains: string[]): Promise<void> {
    const clean = cleanDomains(tenantId, domains);
    await transaction(this.c.pool, async (c) => {
      // Two replacements at once would both delete, then collide on insert: take turns per tenant.
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended('domains/' || $1, 0))", [tenantId]);
      await c.query('DELETE FROM domains WHERE tenant_id = $1', [tenantId]);
      if (clean.length) await c.query('INSERT INTO domains (tenant_id, domain) SELECT $1, unnest($2::text[])', [tenantId, clean]);
    });
  }
}
