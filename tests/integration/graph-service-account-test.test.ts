/**
 * The admin's Run Test against the sandbox tenant: every diagnosis code of the service-account test from a real
 * scenario (roles, secrets, access policy, mailboxes, throttling, outages set through sandbox.control).
 */
import type { Feature } from '../../src/domain/features';
import { runServiceAccountTest, type ServiceAccountTestEnv, type ServiceAccountTestInput } from '../../src/graph/service-account-test';
import type { Sandbox } from '../../src/sandbox';
import { STEP_IDS, type TestStep } from '../../src/contract';
import { startTestSandbox } from '../helpers/sandbox';

const ALL_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'];
let sandbox: Sandbox;
let env: ServiceAccountTestEnv;
let input: ServiceAccountTestInput;

const step = (steps: TestStep[], id: string) => {
  const s = steps.find((x) => x.id === id);
  if (!s) throw new Error(`no step ${id}`);
  return s;
};
const statuses = (steps: TestStep[]) => Object.fromEntries(steps.map((s) => [s.id, s.status]));

function expectWellFormed(steps: TestStep[]) {
  expect(steps.map((s) => s.id)).toEqual([...STEP_IDS]);
  for (const s of steps) {
    expect(s.message.length).toBeGreaterThan(0);
    if (s.status === 'failed' || s.status === 'warning') {
      expect(s.code).toBeDefined();
      expect(s.remedy?.length).toBeGreaterThan(10);
    }
    expect(JSON.stringify(s)).not.toContain(input.clientSecret);
  }
}

beforeAll(async () => {
  sandbox = await startTestSandbox();
  env = {
    authorityHost: sandbox.authorityHost,
    graphEndpoint: sandbox.graphEndpoint,
    knownAuthorities: [sandbox.knownAuthority],
    retry: { maxRetries: 2, delaySeconds: 0, maxRetryAfterSeconds: 2 },
    batch: { maxRounds: 3, maxRetryAfterSeconds: 2 },
  };
});
afterAll(async () => sandbox?.close());

beforeEach(() => {
  sandbox.control.reset();
  const sa = sandbox.seed.serviceAccount;
  input = {
    tenant: sandbox.tenantId,
    clientId: sa.clientId,
    clientSecret: sa.secrets.find((s) => Date.parse(s.endDateTime) > Date.now())!.value,
    testAccount: sa.testAccount,
    outOfScopeAccount: sa.outOfScopeAccount,
    features: ['emailSync', 'calendarSync'] as Feature[],
    domains: ['contoso.com'],
  };
});

it('passes with every role granted and the policy restricting; the verdict says which features work', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  expect(statuses(r.steps)).toEqual({
    domains: 'passed',
    'secret-format': 'passed',
    features: 'passed',
    tenant: 'passed',
    token: 'passed',
    roles: 'passed',
    'test-mailbox': 'passed',
    'mailbox-calendar': 'passed',
    'mailbox-events': 'passed',
    'mailbox-inbox': 'passed',
    'access-policy': 'passed',
  });
  expect(r.ok).toBe(true);
  expect(r.grantedRoles.sort()).toEqual([...ALL_ROLES].sort());
  expect(r.features.emailSync).toEqual({ required: ['Mail.Read', 'Mail.ReadWrite'], granted: ['Mail.Read', 'Mail.ReadWrite'], missing: [], available: true });
  expect(r.features.calendarScheduling.available).toBe(true);
  expect(r.features.taskSync.available).toBe(false);
});

it('the seeded service account: PERMISSION_MISSING naming each feature and role', async () => {
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  const roles = step(r.steps, 'roles');
  expect(roles).toMatchObject({ status: 'failed', code: 'PERMISSION_MISSING' });
  expect(roles.message).toContain('Email Sync needs Mail.ReadWrite');
  expect(roles.message).toContain('Calendar Sync needs Calendars.ReadWrite');
  expect(roles.remedy).toContain('Mail.ReadWrite, Calendars.ReadWrite');
  // The read roles still let the real calls through: they are the proof the mailbox is reachable.
  expect(step(r.steps, 'mailbox-inbox').status).toBe('passed');
  expect(r.ok).toBe(false);
  expect(r.features.emailSync).toMatchObject({ granted: ['Mail.Read'], missing: ['Mail.ReadWrite'], available: false });
});

it('DOMAINS_NOT_PREDEFINED and TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  const none = await runServiceAccountTest({ ...input, domains: [] }, env);
  expect(step(none.steps, 'domains')).toMatchObject({ status: 'failed', code: 'DOMAINS_NOT_PREDEFINED' });
  expect(none.ok).toBe(false);
  const elsewhere = await runServiceAccountTest({ ...input, domains: ['fabrikam.com'] }, env);
  expect(step(elsewhere.steps, 'domains')).toMatchObject({ status: 'failed', code: 'TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED' });
  expect(step(elsewhere.steps, 'domains').message).toContain('contoso.com');
  expectWellFormed(elsewhere.steps);
});

it('SECRET_ID_NOT_VALUE for a Secret ID: no token is even requested', async () => {
  const before = sandbox.control.stats().entra.tokensIssued;
  const r = await runServiceAccountTest({ ...input, clientSecret: sandbox.seed.serviceAccount.secrets[0].id }, env);
  expect(step(r.steps, 'secret-format')).toMatchObject({ status: 'failed', code: 'SECRET_ID_NOT_VALUE' });
  expect(step(r.steps, 'token').status).toBe('skipped');
  expect(step(r.steps, 'mailbox-inbox').status).toBe('skipped');
  expect(sandbox.control.stats().entra.tokensIssued).toEqual(before);
  expect(r.steps.filter((s) => s.status === 'skipped').every((s) => /Not /.test(s.message))).toBe(true);
});

it('SECRET_ID_NOT_VALUE from AADSTS7000215 (a wrong value), SECRET_EXPIRED, APP_NOT_FOUND_IN_TENANT, TENANT_NOT_FOUND', async () => {
  const wrong = await runServiceAccountTest({ ...input, clientSecret: 'xyz8Q~this-is-not-the-secret-value-000' }, env);
  expect(step(wrong.steps, 'token')).toMatchObject({ status: 'failed', code: 'SECRET_ID_NOT_VALUE' });

  sandbox.control.expireSecret({});
  const expired = await runServiceAccountTest(input, env);
  expect(step(expired.steps, 'token')).toMatchObject({ status: 'failed', code: 'SECRET_EXPIRED' });
  expect(step(expired.steps, 'roles').status).toBe('skipped');

  const noApp = await runServiceAccountTest({ ...input, clientId: '0d0d0d0d-1111-4222-8333-444444444444' }, env);
  expect(step(noApp.steps, 'token')).toMatchObject({ status: 'failed', code: 'APP_NOT_FOUND_IN_TENANT' });

  const noTenant = await runServiceAccountTest({ ...input, tenant: 'nope.example' }, env);
  expect(step(noTenant.steps, 'tenant')).toMatchObject({ status: 'failed', code: 'TENANT_NOT_FOUND' });
  expect(step(noTenant.steps, 'token')).toMatchObject({ status: 'skipped' });
  for (const r of [wrong, expired, noApp, noTenant]) {
    expectWellFormed(r.steps);
    expect(r.ok).toBe(false);
  }
});

it('ADMIN_CONSENT_MISSING: a token without any role; the mailbox calls are skipped', async () => {
  sandbox.control.setAppRoles({ roles: [] });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  expect(step(r.steps, 'roles')).toMatchObject({ status: 'failed', code: 'ADMIN_CONSENT_MISSING' });
  expect(step(r.steps, 'mailbox-calendar').status).toBe('skipped');
  expect(r.grantedRoles).toEqual([]);
});

it('ACCESS_DENIED: a feature whose role is missing is denied on the real call', async () => {
  sandbox.control.setAppRoles({ roles: ['Mail.Read', 'Mail.ReadWrite'] });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  expect(step(r.steps, 'mailbox-calendar')).toMatchObject({ status: 'failed', code: 'ACCESS_DENIED' });
  expect(step(r.steps, 'mailbox-events')).toMatchObject({ status: 'failed', code: 'ACCESS_DENIED' });
  expect(step(r.steps, 'mailbox-inbox').status).toBe('passed');
  expect(r.features.emailSync.available).toBe(true);
  expect(r.features.calendarSync.available).toBe(false);
});

it('ACCESS_POLICY_DENIED: the test mailbox outside the policy', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  sandbox.control.setAccessPolicy({ upn: input.testAccount, inPolicy: false });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox'])
    expect(step(r.steps, id)).toMatchObject({ status: 'failed', code: 'ACCESS_POLICY_DENIED' });
  expect(step(r.steps, 'mailbox-inbox').remedy).toContain(input.testAccount);
  expect(r.ok).toBe(false);
});

it('ACCESS_POLICY_NOT_RESTRICTING is a warning: ok stays true', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  sandbox.control.setAccessPolicy({ upn: input.outOfScopeAccount!, inPolicy: true });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  expect(step(r.steps, 'access-policy')).toMatchObject({ status: 'warning', code: 'ACCESS_POLICY_NOT_RESTRICTING' });
  expect(r.ok).toBe(true);
  const skipped = await runServiceAccountTest({ ...input, outOfScopeAccount: undefined }, env);
  expect(step(skipped.steps, 'access-policy').status).toBe('skipped');
});

it('with no feature enabled the mailbox reads are not needed, and the policy is still judged', async () => {
  sandbox.control.setAppRoles({ roles: ['Calendars.Read'] });
  const r = await runServiceAccountTest({ ...input, features: [] }, env);
  expectWellFormed(r.steps);
  expect(step(r.steps, 'mailbox-inbox')).toMatchObject({ status: 'skipped', message: expect.stringMatching(/^Not needed/) });
  expect(step(r.steps, 'access-policy')).toMatchObject({ status: 'passed' });
  expect(r.ok).toBe(true);
});

it('MAILBOX_NOT_REST_ENABLED and TEST_ACCOUNT_NOT_FOUND', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  const onPrem = await runServiceAccountTest({ ...input, testAccount: 'pradeep.gupta@contoso.com' }, env);
  expectWellFormed(onPrem.steps);
  expect(step(onPrem.steps, 'mailbox-inbox')).toMatchObject({ status: 'failed', code: 'MAILBOX_NOT_REST_ENABLED' });

  const nobody = await runServiceAccountTest({ ...input, testAccount: 'nobody@contoso.com' }, env);
  expectWellFormed(nobody.steps);
  expect(step(nobody.steps, 'test-mailbox')).toMatchObject({ status: 'failed', code: 'TEST_ACCOUNT_NOT_FOUND' });
  expect(step(nobody.steps, 'test-mailbox').message).toContain('nobody@contoso.com');
  expect(step(nobody.steps, 'mailbox-calendar').status).toBe('skipped');
});

it('TEST_ACCOUNT_NOT_FOUND from the directory when User.Read.All is granted', async () => {
  sandbox.control.setAppRoles({ roles: [...ALL_ROLES, 'User.Read.All'] });
  const r = await runServiceAccountTest({ ...input, testAccount: 'nobody@contoso.com' }, env);
  expect(step(r.steps, 'test-mailbox')).toMatchObject({ status: 'failed', code: 'TEST_ACCOUNT_NOT_FOUND' });
  const found = await runServiceAccountTest(input, env);
  expect(step(found.steps, 'test-mailbox')).toMatchObject({ status: 'passed', message: `The test mailbox ${input.testAccount} exists.` });
});

it('TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT fails the test', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  const r = await runServiceAccountTest({ ...input, features: ['emailSync', 'taskSync'] }, env);
  expectWellFormed(r.steps);
  expect(step(r.steps, 'features')).toMatchObject({ status: 'failed', code: 'TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT' });
  expect(r.ok).toBe(false);
  expect(step(r.steps, 'mailbox-calendar').status).toBe('skipped');
});

it('THROTTLED after retries is a warning, not a failure', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  sandbox.control.throttle({ target: 'graph', retryAfterSeconds: 0 });
  const r = await runServiceAccountTest(input, env);
  expectWellFormed(r.steps);
  for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox']) expect(step(r.steps, id)).toMatchObject({ status: 'warning', code: 'THROTTLED' });
  expect(r.ok).toBe(true);
  // Each item was sent again before giving up (maxRounds 3).
  expect(sandbox.control.stats().graph.throttled).toBeGreaterThanOrEqual(9);
});

it('a short 429 storm is retried away', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  sandbox.control.throttle({ target: 'graph', count: 3, retryAfterSeconds: 0 });
  const r = await runServiceAccountTest(input, env);
  expect(r.ok).toBe(true);
  expect(r.steps.every((s) => s.status === 'passed')).toBe(true);
});

it('GRAPH_UNAVAILABLE for Graph 5xx and for Entra 5xx', async () => {
  sandbox.control.setAppRoles({ roles: ALL_ROLES });
  sandbox.control.failures({ target: 'graph', status: 503 });
  const graphDown = await runServiceAccountTest(input, env);
  expectWellFormed(graphDown.steps);
  expect(graphDown.steps.filter((s) => s.code === 'GRAPH_UNAVAILABLE').length).toBeGreaterThan(0);
  expect(graphDown.ok).toBe(false);
  sandbox.control.clearFaults();

  sandbox.control.failures({ target: 'entra', status: 503 });
  const entraDown = await runServiceAccountTest(input, env);
  expectWellFormed(entraDown.steps);
  expect(step(entraDown.steps, 'tenant')).toMatchObject({ status: 'failed', code: 'GRAPH_UNAVAILABLE' });
  expect(step(entraDown.steps, 'token').status).toBe('skipped');
});
