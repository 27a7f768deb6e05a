/**
 * A tenant's deadline overrides show wherever deadlines show: the bot's reminders, the admin
 * summary and the user's banner all read the same dates.
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

describe('tenant deadline overrides', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct({ now: () => new Date('2026-06-01T09:00:00Z') });
    const tenantId = p.sandbox.seed.tenant.id;
    await p.store.ensureTenant(tenantId);
    await p.store.updateTenant(tenantId, { deadlineOverrides: { 'ews-disabled-by-default': '2026-11-15', 'ews-removed': '2027-06-30' } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('shows an overridden deadline in GET /api/admin/summary', async () => {
    const admin = await p.ssoToken('adele.vance@contoso.com');
    const res = await p.call('GET', '/api/admin/summary', { token: admin });
    expect(res.status).toBe(200);
    const byId = Object.fromEntries(res.body.deadlines.map((d: { id: string; date: string }) => [d.id, d]));
    expect(byId['ews-removed']).toMatchObject({ date: '2027-06-30', daysLeft: 394 });
    expect(byId['ews-disabled-by-default']).toMatchObject({ date: '2026-11-15' });
    expect(byId['smtp-auth-basic-disabled']).toMatchObject({ date: '2026-12-31' });
  });

  it("shows the tenant's date to a user whose legacy connection it stops", async () => {
    const res = await p.call('GET', '/api/me/connection', { token: await p.ssoToken('alex.wilber@contoso.com') });
    expect(res.status).toBe(200);
    expect(res.body.connection.kind).toBe('ews-basic');
    expect(res.body.deadline).toMatchObject({ date: '2026-11-15' });
    expect(res.body.connection.features.emailSync.reason).toContain('30 June 2027');
  });
});
