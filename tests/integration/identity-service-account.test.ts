/** acquireAppToken against the sandbox tenant: client credentials through real MSAL, each failure named. */
import { AppError } from '../../src/domain/errors';
import { acquireAppToken, type AppTokenOptions } from '../../src/identity/service-account';
import type { Sandbox } from '../../src/sandbox';
import { startTestSandbox } from '../helpers/sandbox';

let sandbox: Sandbox;
let base: AppTokenOptions;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return (err as AppError).code;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
});
afterAll(async () => sandbox?.close());

beforeEach(() => {
  sandbox.control.reset();
  const sa = sandbox.seed.serviceAccount;
  const current = sa.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!;
  base = {
    authorityHost: sandbox.authorityHost,
    tenant: sandbox.tenantId,
    clientId: sa.clientId,
    clientSecret: current.value,
    knownAuthorities: [sandbox.knownAuthority],
  };
});

it('issues an app-only token and reads its roles', async () => {
  const token = await acquireAppToken(base);
  expect(token.roles.sort()).toEqual(['Calendars.Read', 'Mail.Read']);
  expect(token.tenantId).toBe(sandbox.tenantId);
  expect(token.accessToken.split('.')).toHaveLength(3);
});

it('resolves a verified domain as the tenant, and sees roles granted later', async () => {
  sandbox.control.setAppRoles({ roles: ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'] });
  const token = await acquireAppToken({ ...base, tenant: 'contoso.com' });
  expect(token.tenantId).toBe(sandbox.tenantId);
  expect(token.roles).toHaveLength(4);
});

it('refuses a Secret ID (a GUID) before any network call', async () => {
  const before = sandbox.control.stats().entra.requests;
  const secretId = sandbox.seed.serviceAccount.secrets[0].id;
  expect(await codeOf(acquireAppToken({ ...base, clientSecret: secretId }))).toBe('SECRET_ID_NOT_VALUE');
  expect(sandbox.control.stats().entra.requests).toBe(before);
});

it('a wrong secret value is AADSTS7000215 → SECRET_ID_NOT_VALUE', async () => {
  expect(await codeOf(acquireAppToken({ ...base, clientSecret: 'abc8Q~not-the-right-value-at-all-000000' }))).toBe('SECRET_ID_NOT_VALUE');
});

it('an expired secret is SECRET_EXPIRED', async () => {
  const expired = sandbox.seed.serviceAccount.secrets.find((s) => Date.parse(s.endDateTime) < Date.now())!;
  expect(await codeOf(acquireAppToken({ ...base, clientSecret: expired.value }))).toBe('SECRET_EXPIRED');
  sandbox.control.expireSecret({});
  expect(await codeOf(acquireAppToken(base))).toBe('SECRET_EXPIRED');
});

it('an unknown client id is APP_NOT_FOUND_IN_TENANT', async () => {
  expect(await codeOf(acquireAppToken({ ...base, clientId: '0b0b0b0b-1111-4222-8333-444444444444' }))).toBe('APP_NOT_FOUND_IN_TENANT');
});

it('an unknown tenant is TENANT_NOT_FOUND (GUID, domain, or garbage)', async () => {
  expect(await codeOf(acquireAppToken({ ...base, tenant: '0c0c0c0c-1111-4222-8333-444444444444' }))).toBe('TENANT_NOT_FOUND');
  expect(await codeOf(acquireAppToken({ ...base, tenant: 'nope.example' }))).toBe('TENANT_NOT_FOUND');
  expect(await codeOf(acquireAppToken({ ...base, tenant: '../../etc' }))).toBe('TENANT_NOT_FOUND');
});

it('Entra down, throttling or unreachable at discovery is GRAPH_UNAVAILABLE / THROTTLED', async () => {
  sandbox.control.failures({ target: 'entra', status: 503, count: 1 });
  expect(await codeOf(acquireAppToken(base))).toBe('GRAPH_UNAVAILABLE');
  sandbox.control.throttle({ target: 'entra', count: 1, retryAfterSeconds: 1 });
  expect(await codeOf(acquireAppToken(base))).toBe('THROTTLED');
  expect(await codeOf(acquireAppToken({ ...base, authorityHost: 'https://127.0.0.1:1', knownAuthorities: ['127.0.0.1:1'] }))).toBe('GRAPH_UNAVAILABLE');
  await expect(acquireAppToken(base)).resolves.toHaveProperty('roles');
});

it('the token endpoint failing after discovery succeeded is still GRAPH_UNAVAILABLE', async () => {
  const { fetchTenantMetadata } = await import('../../src/identity/tenant-discovery');
  const metadata = await fetchTenantMetadata(sandbox.authorityHost, sandbox.tenantId);
  sandbox.control.failures({ target: 'entra', status: 502, count: 1 });
  expect(await codeOf(acquireAppToken({ ...base, metadata }))).toBe('GRAPH_UNAVAILABLE');
  sandbox.control.throttle({ target: 'entra', count: 1, retryAfterSeconds: 1 });
  expect(await codeOf(acquireAppToken({ ...base, metadata }))).toBe('THROTTLED');
});
