/**
 * The admin-consent link the tab shows comes from the server, built for the signed-in user's tenant.
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const FABRIKAM = '2df7d45b-8f36-4ba1-b658-c800407568ea';

describe('GET /api/me/connection carries the admin-consent URL of the user’s tenant', () => {
  let p: TestProduct;
  beforeAll(async () => {
    p = await startTestProduct();
  });
  afterAll(async () => {
    await p?.close();
  });

  it.each([
    ['lynne.robbins@contoso.com', CONTOSO],
    ['kim.akers@fabrikam.com', FABRIKAM],
  ])('%s', async (upn, tenantId) => {
    const res = await p.call('GET', '/api/me/connection', { token: await p.ssoToken(upn) });
    expect(res.status).toBe(200);
    expect(res.body.adminConsentUrl).toBe(`${p.identity.authorityHost}/${tenantId}/adminconsent?client_id=${p.identity.clientId}`);
  });
});
