/**
 * Every route that reads a body validates it at the edge: a bad body is a 400 VALIDATION_FAILED
 * whose message names the field, and nothing is written (store and audit unchanged, no call to
 * the tenant).
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const SA = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };

describe('request bodies at the route edge', () => {
  let p: TestProduct;
  let admin: string;
  let user: string;
  let tenantId: string;

  beforeAll(async () => {
    p = await startTestProduct();
    admin = await p.ssoToken('adele.vance@contoso.com');
    user = await p.ssoToken('megan.bowen@contoso.com');
    tenantId = p.sandbox.seed.tenant.id.toLowerCase();
    // Something to keep: domains and a saved service account, so a refused write would show.
    expect((await p.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com'] } })).status).toBe(200);
    const saved = await p.call('PUT', '/api/admin/service-account', {
      token: admin,
      body: { tenant: 'contoso.com', clientId: SA.clientId, clientSecret: SA.secretValue, testAccount: 'megan.bowen@contoso.com', features: ['emailSync'] },
    });
    expect(saved.status).toBe(200);
  });
  afterAll(async () => {
    await p?.close();
  });

  /** What a refused request must leave as it was. */
  const snapshot = async () => ({
    audit: await p.store.listAudit(tenantId, { limit: 100 }),
    domains: await p.store.getDomains(tenantId),
    serviceAccount: await p.store.getServiceAccount(tenantId),
    campaign: await p.store.getCampaign(tenantId),
    connections: await p.store.countConnections(tenantId),
    megan: await p.store.getConnections(tenantId, 'megan.bowen@contoso.com'),
    tenantCalls: p.sandbox.control.stats(),
  });

  const cases: Array<{ route: string; method: string; token: () => string; body: unknown; field: RegExp }> = [
    { method: 'POST', route: '/api/me/connect', token: () => user, body: { mode: 'sideways' }, field: /^mode: must be "popup" or "redirect"/ },
    { method: 'POST', route: '/api/me/connect', token: () => user, body: [1, 2], field: /^body: must be a JSON object/ },
    { method: 'PUT', route: '/api/admin/domains', token: () => admin, body: { domains: 'contoso.com' }, field: /^domains: must be a list of domain names/ },
    { method: 'PUT', route: '/api/admin/domains', token: () => admin, body: { domains: ['contoso.com', 7] }, field: /^domains\[1\]: must be a text value/ },
    {
      method: 'PUT',
      route: '/api/admin/service-account',
      token: () => admin,
      body: { tenant: 'contoso.com', clientId: 'abc', testAccount: 'megan.bowen@contoso.com', features: ['emailSync'] },
      field: /^clientId: must be a GUID/,
    },
    {
      method: 'PUT',
      route: '/api/admin/service-account',
      token: () => admin,
      body: { tenant: 'contoso.com', clientId: SA.clientId, testAccount: 'megan.bowen@contoso.com', features: ['emailSync'], colour: 'blue' },
      field: /^body: .*colour/,
    },
    {
      method: 'POST',
      route: '/api/admin/service-account/test',
      token: () => admin,
      body: { tenant: 42, clientId: SA.clientId, testAccount: 'megan.bowen@contoso.com', features: ['emailSync'] },
      field: /^tenant: is required/,
    },
    { method: 'POST', route: '/api/admin/connections/import', token: () => admin, body: { connections: 'megan' }, field: /^connections: must be a list/ },
    {
      method: 'POST',
      route: '/api/admin/connections/import',
      token: () => admin,
      body: { connections: [null] },
      field: /^connections\[0\]: must be an object/,
    },
    {
      method: 'POST',
      route: '/api/admin/campaign',
      token: () => admin,
      body: { action: 'explode' },
      field: /^action: must be one of start, pause, resume, step/,
    },
    {
      method: 'POST',
      route: '/api/admin/campaign',
      token: () => admin,
      body: { action: 'start', domains: ['contoso.com', 'not a domain'] },
      field: /^domains\[1\]: must be a mail domain/,
    },
  ];

  test.each(cases)('$method $route refuses $body naming the field, and writes nothing', async ({ method, route, token, body, field }) => {
    const before = await snapshot();
    const res = await p.call(method, route, { token: token(), body });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(field) });
    expect(await snapshot()).toEqual(before);
  });

  it('names several wrong fields at once, the first first', async () => {
    const res = await p.call('PUT', '/api/admin/service-account', { token: admin, body: { tenant: '', clientId: 'abc', testAccount: 'nobody', features: [] } });
    expect(res.status).toBe(400);
    const message: string = res.body.error.message;
    expect(message).toMatch(/^tenant: is required; clientId: must be a GUID.*; testAccount: must be a mailbox address/);
    expect(message).toContain('(and 1 more)');
  });

  it('refuses an activity without a type on the bot endpoint, naming the field', async () => {
    const before = await snapshot();
    const res = await p.call('POST', '/api/messages', { body: { text: 'hello' } });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/^type: is required/) });
    expect(await snapshot()).toEqual(before);
  });

  it('refuses an empty body where one is required, and takes none where it is optional', async () => {
    const empty = await p.call('PUT', '/api/admin/domains', { token: admin, raw: '', headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(400);
    expect(empty.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.stringContaining('empty') });
    const connect = await p.call('POST', '/api/me/connect', { token: user, raw: '', headers: { 'content-type': 'application/json' } });
    expect(connect.status).toBe(200);
    expect(connect.body.url).toEqual(expect.any(String));
  });
});
