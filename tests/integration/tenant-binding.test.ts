/**
 * The service account belongs to the admin's own tenant: a domain is resolved at Entra ID and must
 * name the tenant the admin signed in to, on save and on Run Test (saved or unsaved configuration).
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const FABRIKAM = '2df7d45b-8f36-4ba1-b658-c800407568ea';
const SA = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };

describe('service account tenant binding', () => {
  let p: TestProduct;
  let adele: string;
  let kim: string;
  const config = (tenant: string) => ({
    tenant,
    clientId: SA.clientId,
    clientSecret: SA.secretValue,
    testAccount: 'megan.bowen@contoso.com',
    features: ['emailSync'],
  });
  const expectNotOwnTenant = (res: { status: number; body: any }) => {
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^tenant: /),
      remedy: expect.stringContaining('your own tenant'),
    });
  };

  beforeAll(async () => {
    p = await startTestProduct();
    adele = await p.ssoToken('adele.vance@contoso.com');
    kim = await p.ssoToken('kim.akers@fabrikam.com');
    expect((await p.call('PUT', '/api/admin/domains', { token: adele, body: { domains: ['contoso.com'] } })).status).toBe(200);
    expect((await p.call('PUT', '/api/admin/domains', { token: kim, body: { domains: ['contoso.com', 'fabrikam.com'] } })).status).toBe(200);
  });
  afterAll(async () => {
    await p?.close();
  });

  it("refuses to save a service account whose domain belongs to another tenant (Contoso's admin naming Fabrikam)", async () => {
    for (const tenant of ['fabrikam.com', 'FABRIKAM.onmicrosoft.com', FABRIKAM]) {
      expectNotOwnTenant(await p.call('PUT', '/api/admin/service-account', { token: adele, body: config(tenant) }));
    }
    expect((await p.call('GET', '/api/admin/service-account', { token: adele })).body).toEqual({ serviceAccount: null });
    expect(await p.store.getServiceAccount(CONTOSO)).toBeUndefined();
  });

  it("refuses Fabrikam's admin naming a Contoso domain, on save and on Run Test", async () => {
    expectNotOwnTenant(await p.call('PUT', '/api/admin/service-account', { token: kim, body: config('contoso.com') }));
    const before = p.sandbox.control.stats().entra.tokensIssued;
    expectNotOwnTenant(await p.call('POST', '/api/admin/service-account/test', { token: kim, body: config('contoso.com') }));
    // Refused before any token was asked for the other tenant.
    expect(p.sandbox.control.stats().entra.tokensIssued).toEqual(before);
    expect(await p.store.getServiceAccountTests(FABRIKAM)).toEqual([]);
  });

  it('refuses Run Test of an unsaved configuration naming another tenant', async () => {
    expectNotOwnTenant(await p.call('POST', '/api/admin/service-account/test', { token: adele, body: config('fabrikam.com') }));
    expect(await p.store.getServiceAccountTests(CONTOSO)).toEqual([]);
  });

  it('refuses Run Test of a saved configuration that names another tenant (saved before the check existed)', async () => {
    await p.store.putServiceAccount({
      tenantId: CONTOSO,
      tenant: 'fabrikam.com',
      clientId: SA.clientId,
      clientSecret: SA.secretValue,
      secretHint: 'dem',
      testAccount: 'megan.bowen@contoso.com',
      features: ['emailSync'],
      updatedAt: new Date().toISOString(),
      updatedBy: 'someone@contoso.com',
    });
    try {
      expectNotOwnTenant(await p.call('POST', '/api/admin/service-account/test', { token: adele }));
      expect(await p.store.getServiceAccountTests(CONTOSO)).toEqual([]);
    } finally {
      await p.store.deleteServiceAccount(CONTOSO);
    }
  });

  it("saves and tests the admin's own tenant by domain or by id", async () => {
    const saved = await p.call('PUT', '/api/admin/service-account', { token: adele, body: config('contoso.com') });
    expect(saved.status).toBe(200);
    expect(saved.body.serviceAccount.tenant).toBe('contoso.com');
    expect((await p.call('PUT', '/api/admin/service-account', { token: adele, body: config(CONTOSO) })).status).toBe(200);
    const tested = await p.call('POST', '/api/admin/service-account/test', { token: adele, body: config('contoso.com') });
    expect(tested.status).toBe(200);
    expect(tested.body.steps.find((s: { id: string }) => s.id === 'tenant')).toMatchObject({ status: 'passed' });
  });

  it('refuses to save a domain Entra does not know, naming the field; Run Test still explains it', async () => {
    const res = await p.call('PUT', '/api/admin/service-account', { token: adele, body: config('no-such-tenant.example') });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^tenant: /), remedy: expect.any(String) });
    const tested = await p.call('POST', '/api/admin/service-account/test', { token: adele, body: config('no-such-tenant.example') });
    expect(tested.status).toBe(200);
    expect(tested.body.steps.find((s: { id: string }) => s.id === 'tenant')).toMatchObject({ status: 'failed', code: 'TENANT_NOT_FOUND' });
  });
});
