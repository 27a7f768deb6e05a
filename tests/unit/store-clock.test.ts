import { randomBytes } from 'node:crypto';
import { Keyring, openStore } from '../../src/store';

describe('the store stamps records with the clock it is given', () => {
  it('uses the injected clock for created and updated times and audit entries', async () => {
    let at = new Date('2030-01-02T03:04:05.000Z');
    const store = await openStore('sqlite::memory:', Keyring.fromKeys(randomBytes(32)), { now: () => at });
    try {
      const created = await store.ensureTenant('tenant-clock');
      expect(created.createdAt).toBe('2030-01-02T03:04:05.000Z');
      at = new Date('2030-02-01T00:00:00.000Z');
      const updated = await store.updateTenant('tenant-clock', { displayName: 'Clocked' });
      expect(updated).toMatchObject({ createdAt: '2030-01-02T03:04:05.000Z', updatedAt: '2030-02-01T00:00:00.000Z' });
      await store.audit({ tenantId: 'tenant-clock', actor: 'system', action: 'clock.tested' });
      expect((await store.listAudit('tenant-clock'))[0]?.at).toBe('2030-02-01T00:00:00.000Z');
    } finally {
      await store.close();
    }
  });
});
