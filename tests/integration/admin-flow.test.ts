/**
 * The admin side against the sandbox tenant: domains, the service account, Run Test producing every
 * diagnosis from a real scenario, the permission matrix, the overview, import/export, audit.
 */
import { startTestProduct, type TestProduct } from '../helpers/product';

const SA = {
  clientId: '66193c42-2023-423c-acba-f7f851f7f085',
  secretValue: 'demo-sync-2026-sandbox-only-value',
  secretId: '79345376-8a3d-4a4a-8f6c-878503bb29c6',
  expiredValue: 'expired-sync-2024-sandbox-only-value',
};
const ALL_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'];

describe('admin: service account, test, overview', () => {
  let p: TestProduct;
  let admin: string;
  const base = () => ({
    tenant: 'contoso.com',
    clientId: SA.clientId,
    clientSecret: SA.secretValue,
    testAccount: 'megan.bowen@contoso.com',
    features: ['emailSync', 'calendarSync'],
  });

  beforeAll(async () => {
    p = await startTestProduct();
    admin = await p.ssoToken('adele.vance@contoso.com');
  });
  afterAll(async () => {
    await p?.close();
  });
  afterEach(() => {
    p.sandbox.control.clearFaults();
  });

  const test = async (body: Record<string, unknown> | undefined) => {
    const res = await p.call('POST', '/api/admin/service-account/test', { token: admin, ...(body ? { body } : {}) });
    expect(res.status).toBe(200);
    return res.body as {
      ok: boolean;
      steps: Array<{ id: string; status: string; code?: string; message: string; remedy?: string }>;
      features: Record<string, { available: boolean; missing: string[] }>;
    };
  };
  const stepWith = (r: Awaited<ReturnType<typeof test>>, code: string) => {
    const s = r.steps.find((x) => x.code === code);
    if (!s) throw new Error(`no step with ${code}: ${JSON.stringify(r.steps.map((x) => [x.id, x.status, x.code]))}`);
    return s;
  };

  it('refuses to save a service account before any domain is defined', async () => {
    const res = await p.call('PUT', '/api/admin/service-account', { token: admin, body: base() });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('DOMAINS_NOT_PREDEFINED');
    expect((await p.call('GET', '/api/admin/service-account', { token: admin })).body).toEqual({ serviceAccount: null });
  });

  it('validates and normalises domains, naming the bad one', async () => {
    const bad = await p.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com', 'not a domain'] } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('domains[1]');
    expect((await p.call('GET', '/api/admin/domains', { token: admin })).body.domains).toEqual([]);
    const ok = await p.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['Contoso.com', 'contoso.com', 'contoso.onmicrosoft.com.'] } });
    expect(ok.status).toBe(200);
    expect(ok.body.domains).toEqual(['contoso.com', 'contoso.onmicrosoft.com']);
  });

  it('refuses a test mailbox outside the domains and a Secret ID, before any network call', async () => {
    const outside = await p.call('PUT', '/api/admin/service-account', { token: admin, body: { ...base(), testAccount: 'someone@fabrikam.example' } });
    expect(outside.body.error.code).toBe('TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED');
    const before = p.sandbox.control.stats();
    const secretId = await p.call('PUT', '/api/admin/service-account', { token: admin, body: { ...base(), clientSecret: SA.secretId } });
    expect(secretId.status).toBe(400);
    expect(secretId.body.error).toMatchObject({ code: 'SECRET_ID_NOT_VALUE', remedy: expect.stringMatching(/Value.*only once/) });
    expect(p.sandbox.control.stats()).toEqual(before);
    const missing = await p.call('PUT', '/api/admin/service-account', { token: admin, body: { ...base(), clientId: 'abc' } });
    expect(missing.status).toBe(400);
    expect(missing.body.error.message).toMatch(/^clientId/);
  });

  it('saves the service account; the secret is write-only', async () => {
    const res = await p.call('PUT', '/api/admin/service-account', { token: admin, body: { ...base(), secretExpiresAt: '2027-06-30' } });
    expect(res.status).toBe(200);
    expect(res.body.serviceAccount).toMatchObject({
      tenant: 'contoso.com',
      clientId: SA.clientId,
      secretHint: 'dem',
      secretExpiresAt: '2027-06-30',
      testAccount: 'megan.bowen@contoso.com',
    });
    expect(res.text).not.toContain(SA.secretValue);
    const read = await p.call('GET', '/api/admin/service-account', { token: admin });
    expect(read.text).not.toContain(SA.secretValue);
  });

  it('Run Test names missing permissions per feature, then passes once they are granted', async () => {
    const r = await test(undefined);
    expect(r.ok).toBe(false);
    const s = stepWith(r, 'PERMISSION_MISSING');
    expect(s.status).toBe('failed');
    expect(s.message).toContain('Mail.ReadWrite');
    expect(s.remedy).toEqual(expect.any(String));
    expect(r.features.emailSync).toMatchObject({ available: false, missing: ['Mail.ReadWrite'] });
    const perms = await p.call('GET', '/api/admin/permissions', { token: admin });
    expect(perms.body.features.emailSync.missing).toEqual(['Mail.ReadWrite']);
    expect(perms.body.portal.adminConsentUrl).toContain(SA.clientId);

    p.sandbox.control.setAppRoles({ roles: ALL_ROLES });
    const fixed = await test(undefined);
    expect(fixed.steps.filter((x) => x.status === 'failed')).toEqual([]);
    expect(fixed.ok).toBe(true);
    expect((await p.call('GET', '/api/admin/permissions', { token: admin })).body).toMatchObject({
      ok: true,
      features: { emailSync: { available: true, missing: [] } },
    });
  });

  it.each([
    ['SECRET_ID_NOT_VALUE', { clientSecret: 'not~the-right-value-at-all' }],
    ['SECRET_EXPIRED', { clientSecret: SA.expiredValue }],
    ['APP_NOT_FOUND_IN_TENANT', { clientId: '0f0f0f0f-1111-4222-8333-444444444444' }],
    ['TENANT_NOT_FOUND', { tenant: 'no-such-tenant.example' }],
    ['TEST_ACCOUNT_NOT_FOUND', { testAccount: 'nobody@contoso.com' }],
    ['ACCESS_POLICY_DENIED', { testAccount: 'isaiah.langer@contoso.com' }],
    ['MAILBOX_NOT_REST_ENABLED', { testAccount: 'pradeep.gupta@contoso.com' }],
    ['TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT', { features: ['emailSync', 'taskSync'] }],
  ])('Run Test on an unsaved configuration detects %s', async (code, change) => {
    const r = await test({ ...base(), ...change });
    expect(r.ok).toBe(false);
    const s = stepWith(r, code);
    expect(s.status).toBe('failed');
    expect(s.remedy).toEqual(expect.any(String));
  });

  it('detects ADMIN_CONSENT_MISSING and ACCESS_DENIED', async () => {
    p.sandbox.control.setAppRoles({ roles: [] });
    const none = await test({ ...base() });
    expect(stepWith(none, 'ADMIN_CONSENT_MISSING').status).toBe('failed');
    // A role for one feature only: the other feature's mailbox call is refused by Graph itself.
    p.sandbox.control.setAppRoles({ roles: ['Calendars.Read', 'Calendars.ReadWrite'] });
    const partial = await test({ ...base() });
    expect(partial.steps.some((x) => x.code === 'ACCESS_DENIED' || x.code === 'PERMISSION_MISSING')).toBe(true);
    expect(partial.features.calendarSync.available).toBe(true);
    p.sandbox.control.setAppRoles({ roles: ALL_ROLES });
  });

  it('warns when the access policy does not restrict the app, passes when it does', async () => {
    const open = await test({ ...base(), outOfScopeAccount: 'alex.wilber@contoso.com' });
    const w = stepWith(open, 'ACCESS_POLICY_NOT_RESTRICTING');
    expect(w.status).toBe('warning');
    expect(open.ok).toBe(true);
    const closed = await test({ ...base(), outOfScopeAccount: 'isaiah.langer@contoso.com' });
    expect(closed.steps.some((x) => x.code === 'ACCESS_POLICY_NOT_RESTRICTING')).toBe(false);
    expect(closed.ok).toBe(true);
  });

  it('throttling is a warning, an outage is GRAPH_UNAVAILABLE', async () => {
    p.sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
    const throttled = await test({ ...base() });
    expect(stepWith(throttled, 'THROTTLED').status).toBe('warning');
    p.sandbox.control.clearFaults();
    p.sandbox.control.failures({ target: 'graph', status: 503 });
    const down = await test({ ...base() });
    expect(down.steps.some((x) => x.code === 'GRAPH_UNAVAILABLE')).toBe(true);
    expect(down.ok).toBe(false);
  });

  it('a passing test of an unsaved configuration counts once it is saved unchanged', async () => {
    const candidate = { ...base(), features: ['calendarSync'] };
    expect((await test(candidate)).ok).toBe(true);
    expect((await p.call('PUT', '/api/admin/service-account', { token: admin, body: candidate })).status).toBe(200);
    const perms = await p.call('GET', '/api/admin/permissions', { token: admin });
    expect(perms.body.ok).toBe(true);
    expect(perms.body.ranAt).toEqual(expect.any(String));
  });

  it('summarises the tenant and lists, filters, pages and exports connections', async () => {
    const summary = (await p.call('GET', '/api/admin/summary', { token: admin })).body;
    expect(summary.total).toBeGreaterThanOrEqual(12);
    expect(summary.byKind['ews-basic']).toBeGreaterThanOrEqual(5);
    expect(summary.deadlines.find((d: { id: string }) => d.id === 'ews-removed')).toMatchObject({ date: '2027-04-01', affectedUsers: expect.any(Number) });
    expect(summary.serviceAccount.configured).toBe(true);

    const page1 = (await p.call('GET', '/api/admin/connections?kind=ews-basic&limit=3', { token: admin })).body;
    expect(page1.items).toHaveLength(3);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await p.call('GET', `/api/admin/connections?kind=ews-basic&limit=3&cursor=${encodeURIComponent(page1.nextCursor)}`, { token: admin })).body;
    expect(page2.items[0].upn).not.toBe(page1.items[0].upn);
    const search = (await p.call('GET', '/api/admin/connections?search=GRADY', { token: admin })).body;
    expect(search.items.map((i: { upn: string }) => i.upn)).toEqual(['grady.archie@contoso.com']);
    const bad = await p.call('GET', '/api/admin/connections?state=sleepy', { token: admin });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^state/);

    const csv = await p.call('GET', '/api/admin/connections.csv', { token: admin });
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('upn,displayName,kind,state,lastCheckedAt,lastSyncAt,errorCode');
    expect(lines.length).toBe(summary.total + 1);
  });

  it('imports legacy connections all-or-nothing with a row-numbered error', async () => {
    const before = (await p.call('GET', '/api/admin/summary', { token: admin })).body.total;
    const bad = await p.call('POST', '/api/admin/connections/import', {
      token: admin,
      raw: 'upn,kind,lastSyncAt\nnew.one@contoso.com,ews-basic,2026-11-01T08:00:00Z\nnew.two@contoso.com,pop3,\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    expect(bad.body.error.message).toContain('line 3');
    expect((await p.call('GET', '/api/admin/summary', { token: admin })).body.total).toBe(before);

    const good = await p.call('POST', '/api/admin/connections/import', {
      token: admin,
      raw: 'upn,kind,lastSyncAt\nnew.one@contoso.com,ews-basic,2026-11-01T08:00:00Z\nnew.two@contoso.com,ews-oauth,\n',
      headers: { 'content-type': 'text/csv' },
    });
    expect(good.body).toEqual({ imported: 2 });
    const json = await p.call('POST', '/api/admin/connections/import', {
      token: admin,
      body: { connections: [{ upn: 'new.three@contoso.com', kind: 'ews-basic' }] },
    });
    expect(json.body).toEqual({ imported: 1 });
    const jsonBad = await p.call('POST', '/api/admin/connections/import', {
      token: admin,
      body: {
        connections: [
          { upn: 'x@contoso.com', kind: 'ews-basic' },
          { upn: 'nope', kind: 'ews-basic' },
        ],
      },
    });
    expect(jsonBad.body.error.message).toContain('connections[1]');
    expect((await p.call('GET', '/api/admin/summary', { token: admin })).body.total).toBe(before + 3);
    const wrongType = await p.call('POST', '/api/admin/connections/import', { token: admin, raw: 'upn,kind', headers: { 'content-type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
  });

  it('keeps an audit trail of who did what', async () => {
    const audit = (await p.call('GET', '/api/admin/audit', { token: admin })).body.items;
    const actions = audit.map((a: { action: string }) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['domains.updated', 'service-account.created', 'service-account.tested', 'connections.imported']));
    expect(audit.every((a: { actor: string }) => a.actor === 'adele.vance@contoso.com' || a.actor === 'system')).toBe(true);
  });

  it('deletes the service account', async () => {
    expect((await p.call('DELETE', '/api/admin/service-account', { token: admin })).status).toBe(204);
    expect((await p.call('GET', '/api/admin/service-account', { token: admin })).body.serviceAccount).toBeNull();
    expect((await p.call('DELETE', '/api/admin/service-account', { token: admin })).status).toBe(404);
  });

  it('never puts a client secret in a response or a log line', () => {
    const logs = p.logs.join('\n');
    for (const secret of [SA.secretValue, SA.expiredValue, 'not~the-right-value-at-all']) expect(logs).not.toContain(secret);
  });
});
