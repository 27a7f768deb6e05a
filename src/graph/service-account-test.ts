/**
 * The admin's "Run Test": named steps from configuration checks to real
 * mailbox calls, each passed / failed / warning / skipped with a catalogue code and a remedy a person
 * can act on, then a verdict per feature. The token's roles are read for diagnosis only; the real
 * mailbox calls are the proof.
 */
import { looksLikeSecretId } from '../domain/diagnosis';
import { isGuid } from '../domain/formats';
import { AppError, ERROR_CATALOGUE, type CatalogueEntry, type ErrorCode } from '../domain/errors';
import { APPLICATION_ROLES, FEATURES, FEATURE_LABELS, applicationFeatureMatrix, missingApplicationRoles, type Feature } from '../domain/features';
import { acquireAppToken, type AppToken } from '../identity/service-account';
import { fetchTenantMetadata, type TenantMetadata } from '../identity/tenant-discovery';
import type { FeatureMatrixEntry, StepId, StepStatus, TestStep } from '../contract';
import { batchItemError, createGraphClient, graphBatch, fromGraphFailure, type BatchOptions, type BatchResponseItem, type RetryPolicy } from './client';
import type { Client } from '@microsoft/microsoft-graph-client';

export interface ServiceAccountTestInput {
  tenant: string;
  clientId: string;
  clientSecret: string;
  testAccount: string;
  outOfScopeAccount?: string;
  features: Feature[];
  domains: string[];
}

export interface ServiceAccountTestEnv {
  authorityHost: string;
  graphEndpoint: string;
  knownAuthorities?: string[];
  httpTimeoutMs?: number;
  retry?: RetryPolicy;
  batch?: BatchOptions;
}

export interface ServiceAccountTestResult {
  ok: boolean;
  steps: TestStep[];
  features: Record<Feature, FeatureMatrixEntry>;
  grantedRoles: string[];
}

type MailboxStep = 'mailbox-calendar' | 'mailbox-events' | 'mailbox-inbox';
const MAILBOX_PROBES: Record<MailboxStep, { path: string; what: string; features: readonly Feature[] }> = {
  'mailbox-calendar': { path: '/calendar?$select=id,name', what: 'calendar', features: ['calendarSync', 'calendarScheduling'] },
  'mailbox-events': { path: '/events?$top=1&$select=id', what: 'events', features: ['calendarSync', 'calendarScheduling'] },
  'mailbox-inbox': { path: '/mailFolders/inbox?$select=id,displayName', what: 'inbox', features: ['emailSync', 'calendarScheduling'] },
};

/** Codes that say the check could not run rather than that something is wrong. */
const WARNING_CODES: readonly ErrorCode[] = ['THROTTLED', 'ACCESS_POLICY_NOT_RESTRICTING'];

class Steps {
  readonly list: TestStep[] = [];

  private add(id: StepId, status: StepStatus, message: string, code?: ErrorCode, remedy?: string): TestStep {
    const step: TestStep = { id, status, message };
    if (code) step.code = code;
    if (status === 'failed' || status === 'warning') {
      const r = remedy ?? (code ? (ERROR_CATALOGUE[code] as CatalogueEntry).remedy : undefined);
      if (r) step.remedy = r;
    }
    this.list.push(step);
    return step;
  }
  passed(id: StepId, message: string): TestStep {
    return this.add(id, 'passed', message);
  }
  skipped(id: StepId, message: string): TestStep {
    return this.add(id, 'skipped', message);
  }
  warning(id: StepId, code: ErrorCode, message: string, remedy?: string): TestStep {
    return this.add(id, 'warning', message, code, remedy);
  }
  /** A problem: failed, or a warning for the codes that do not mean a broken setup. */
  problem(id: StepId, code: ErrorCode, message?: string, remedy?: string): TestStep {
    return this.add(id, WARNING_CODES.includes(code) ? 'warning' : 'failed', message ?? ERROR_CATALOGUE[code].message, code, remedy);
  }
  get(id: StepId): TestStep | undefined {
    return this.list.find((s) => s.id === id);
  }
  replace(id: StepId, step: Omit<TestStep, 'id'>): void {
    const i = this.list.findIndex((s) => s.id === id);
    const next: TestStep = { id, ...step };
    if (i >= 0) this.list[i] = next;
  }
}

function domainOf(upn: string): string | undefined {
  const at = upn.lastIndexOf('@');
  return at > 0 && at < upn.length - 1 ? upn.slice(at + 1).toLowerCase() : undefined;
}

function userPath(upn: string): string {
  return `/users/${encodeURIComponent(upn.trim())}`;
}

function rolesRemedy(missing: readonly string[]): string {
  return `In Entra ID open App registrations → your app → API permissions, add the Microsoft Graph application permission${missing.length > 1 ? 's' : ''} ${missing.join(', ')}, then click “Grant admin consent”.`;
}

function mailboxMessage(code: ErrorCode, upn: string, what: string): { message: string; remedy?: string } {
  switch (code) {
    case 'ACCESS_DENIED':
      return { message: `Reading the ${what} of ${upn} was denied (“Access is denied”).` };
    case 'ACCESS_POLICY_DENIED':
      return {
        message: `The ${what} of ${upn} is outside the application access policy.`,
        remedy: `Add ${upn} to the mail-enabled security group of the application access policy (or the RBAC management scope), or use a test mailbox inside it.`,
      };
    case 'MAILBOX_NOT_REST_ENABLED':
      return { message: `The mailbox of ${upn} is not enabled for the REST API (inactive, soft-deleted, on-premises or unlicensed).` };
    case 'TEST_ACCOUNT_NOT_FOUND':
      return { message: `The test mailbox ${upn} does not exist in the tenant.` };
    case 'THROTTLED':
      return { message: `Microsoft Graph kept throttling requests for ${upn}; the ${what} could not be checked this time.` };
    case 'GRAPH_UNAVAILABLE':
      return { message: `Microsoft Graph could not be reached to read the ${what} of ${upn}.` };
    default:
      return { message: `Reading the ${what} of ${upn} failed: ${ERROR_CATALOGUE[code].message}` };
  }
}

function codeOfItem(item: BatchResponseItem): ErrorCode | undefined {
  if (item.status === 0) return 'GRAPH_UNAVAILABLE';
  return batchItemError(item);
}

export async function runServiceAccountTest(input: ServiceAccountTestInput, env: ServiceAccountTestEnv): Promise<ServiceAccountTestResult> {
  const steps = new Steps();
  const features = [...new Set(input.features)];
  const testAccount = input.testAccount.trim();
  const domains = input.domains.map((d) => d.trim().toLowerCase()).filter(Boolean);

  // 1. domains
  const testDomain = domainOf(testAccount);
  if (domains.length === 0) steps.problem('domains', 'DOMAINS_NOT_PREDEFINED');
  else if (!testDomain || !domains.includes(testDomain)) {
    steps.problem(
      'domains',
      'TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED',
      testDomain
        ? `The test mailbox ${testAccount} is in ${testDomain}, which is not one of the pre-defined domains (${domains.join(', ')}).`
        : `The test mailbox “${testAccount}” is not a user principal name (name@domain).`,
    );
  } else steps.passed('domains', `The test mailbox is in the pre-defined domain ${testDomain}.`);

  // 2. secret-format
  const secretIsId = looksLikeSecretId(input.clientSecret);
  if (secretIsId) steps.problem('secret-format', 'SECRET_ID_NOT_VALUE', 'The client secret is a GUID: that is the Secret ID, not the Secret Value.');
  else if (!input.clientSecret) steps.problem('secret-format', 'SECRET_ID_NOT_VALUE', 'No client secret was given.');
  else steps.passed('secret-format', 'The client secret has the shape of a Secret Value.');

  // 3. features
  const appFeatures = features.filter((f) => APPLICATION_ROLES[f] !== null);
  if (features.includes('taskSync')) steps.problem('features', 'TASK_SYNC_UNSUPPORTED_FOR_SERVICE_ACCOUNT');
  else if (features.length === 0) steps.passed('features', 'No feature is enabled for the service account; only its access is tested.');
  else steps.passed('features', `Enabled: ${features.map((f) => FEATURE_LABELS[f]).join(', ')}.`);

  // 4. tenant
  let metadata: TenantMetadata | undefined;
  try {
    metadata = await fetchTenantMetadata(env.authorityHost, input.tenant, { timeoutMs: env.httpTimeoutMs });
    steps.passed('tenant', `The tenant ${input.tenant.trim()} was found${metadata.tenantId && !isGuid(input.tenant) ? ` (${metadata.tenantId})` : ''}.`);
  } catch (err) {
    const e = err instanceof AppError ? err : new AppError('GRAPH_UNAVAILABLE');
    steps.problem('tenant', e.code, e.message);
  }

  // 5. token
  let token: AppToken | undefined;
  if (!input.clientSecret || secretIsId) steps.skipped('token', 'Not tried: the client secret must be the Secret Value.');
  else if (!metadata) steps.skipped('token', 'Not tried: the tenant could not be resolved.');
  else {
    try {
      token = await acquireAppToken({
        authorityHost: env.authorityHost,
        tenant: input.tenant,
        clientId: input.clientId,
        clientSecret: input.clientSecret,
        knownAuthorities: env.knownAuthorities,
        httpTimeoutMs: env.httpTimeoutMs,
        metadata,
      });
      steps.passed('token', 'An app-only token was issued by client credentials.');
    } catch (err) {
      const e = err instanceof AppError ? err : new AppError('GRAPH_UNAVAILABLE');
      steps.problem('token', e.code, e.message);
    }
  }

  // 6. roles
  const grantedRoles = token?.roles ?? [];
  let noRoles = false;
  if (!token) steps.skipped('roles', 'Not checked: no app-only token.');
  else if (grantedRoles.length === 0) {
    noRoles = true;
    steps.problem('roles', 'ADMIN_CONSENT_MISSING');
  } else {
    const gaps = appFeatures.map((f) => ({ f, missing: missingApplicationRoles(f, grantedRoles) })).filter((g) => g.missing.length > 0);
    if (gaps.length === 0) steps.passed('roles', `Granted: ${grantedRoles.join(', ')}.`);
    else {
      const allMissing = [...new Set(gaps.flatMap((g) => g.missing))];
      steps.problem(
        'roles',
        'PERMISSION_MISSING',
        gaps.map((g) => `${FEATURE_LABELS[g.f]} needs ${g.missing.join(', ')}`).join('; ') + ` (granted: ${grantedRoles.join(', ')}).`,
        rolesRemedy(allMissing),
      );
    }
  }

  // 7–10. the real calls
  const wanted = (Object.keys(MAILBOX_PROBES) as MailboxStep[]).filter((s) => MAILBOX_PROBES[s].features.some((f) => features.includes(f)));
  const blocked = !token ? 'Not tried: no app-only token.' : noRoles ? 'Not tried: the app has no application permissions granted.' : undefined;
  if (blocked) {
    for (const id of ['test-mailbox', 'mailbox-calendar', 'mailbox-events', 'mailbox-inbox', 'access-policy'] as const) steps.skipped(id, blocked);
  } else {
    const client = createGraphClient({
      graphEndpoint: env.graphEndpoint,
      accessToken: token!.accessToken,
      fetchTimeoutMs: env.httpTimeoutMs,
      retry: env.retry,
    });
    await mailboxSteps(steps, client, testAccount, wanted, env);
    await accessPolicyStep(steps, client, input.outOfScopeAccount?.trim(), testAccount, grantedRoles, env);
  }

  // Verdict per feature: roles from the token, confirmed by the mailbox calls that feature needs.
  const matrix = applicationFeatureMatrix(grantedRoles, features);
  const verdict = {} as Record<Feature, FeatureMatrixEntry>;
  for (const f of FEATURES) {
    const m = matrix[f];
    const needs = (Object.keys(MAILBOX_PROBES) as MailboxStep[]).filter((s) => MAILBOX_PROBES[s].features.includes(f));
    const mailboxFailed = needs.some((s) => steps.get(s)?.status === 'failed') || steps.get('test-mailbox')?.status === 'failed';
    const proven = !!token && !noRoles;
    verdict[f] = { required: m.required, granted: m.granted, missing: m.missing, available: m.available && proven && !(features.includes(f) && mailboxFailed) };
  }
  return { ok: !steps.list.some((s) => s.status === 'failed'), steps: steps.list, features: verdict, grantedRoles };
}

async function mailboxSteps(steps: Steps, client: Client, upn: string, wanted: MailboxStep[], env: ServiceAccountTestEnv): Promise<void> {
  // test-mailbox: the directory says whether the user exists (needs User.Read.All, which the
  // service account usually lacks — then the mailbox calls below decide).
  let directory: 'found' | 'missing' | 'unknown' = 'unknown';
  let directoryNote = '';
  try {
    await client.api(userPath(upn)).select('id,userPrincipalName').get();
    directory = 'found';
  } catch (err) {
    const e = fromGraphFailure(err);
    if (e.code === 'TEST_ACCOUNT_NOT_FOUND' || e.code === 'MAILBOX_NOT_REST_ENABLED') directory = e.code === 'TEST_ACCOUNT_NOT_FOUND' ? 'missing' : 'found';
    else if (e.code === 'THROTTLED' || e.code === 'GRAPH_UNAVAILABLE') directoryNote = e.code;
  }
  if (directory === 'missing') {
    steps.problem('test-mailbox', 'TEST_ACCOUNT_NOT_FOUND', `The test mailbox ${upn} does not exist in the tenant.`);
    for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox'] as const) steps.skipped(id, 'Not tried: the test mailbox does not exist.');
    return;
  }
  if (directoryNote === 'GRAPH_UNAVAILABLE') {
    steps.problem('test-mailbox', 'GRAPH_UNAVAILABLE', mailboxMessage('GRAPH_UNAVAILABLE', upn, 'directory entry').message);
    for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox'] as const) steps.skipped(id, 'Not tried: Microsoft Graph could not be reached.');
    return;
  }
  steps.passed('test-mailbox', directory === 'found' ? `The test mailbox ${upn} exists.` : `The test mailbox ${upn} is checked through its mailbox below.`);

  const results = new Map<MailboxStep, ErrorCode | undefined>();
  if (wanted.length > 0) {
    try {
      const answers = await graphBatch(
        client,
        wanted.map((id) => ({ id, url: `${userPath(upn)}${MAILBOX_PROBES[id].path}` })),
        env.batch,
      );
      for (const a of answers) results.set(a.id as MailboxStep, codeOfItem(a));
    } catch (err) {
      const code = fromGraphFailure(err).code;
      for (const id of wanted) results.set(id, code);
    }
  }
  // Without directory access, a "no such user" from the mailbox calls is the test mailbox's verdict.
  if (directory === 'unknown' && [...results.values()].some((c) => c === 'TEST_ACCOUNT_NOT_FOUND')) {
    steps.replace('test-mailbox', {
      status: 'failed',
      code: 'TEST_ACCOUNT_NOT_FOUND',
      message: `The test mailbox ${upn} does not exist in the tenant.`,
      remedy: ERROR_CATALOGUE.TEST_ACCOUNT_NOT_FOUND.remedy,
    });
    for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox'] as const) steps.skipped(id, 'Not tried: the test mailbox does not exist.');
    return;
  }
  const answered = [...results.values()].some((c) => c === undefined || c === 'ACCESS_POLICY_DENIED' || c === 'MAILBOX_NOT_REST_ENABLED');
  if (directory === 'unknown' && answered)
    steps.replace('test-mailbox', { status: 'passed', message: `The test mailbox ${upn} exists (its mailbox answered).` });
  for (const id of ['mailbox-calendar', 'mailbox-events', 'mailbox-inbox'] as const) {
    const what = MAILBOX_PROBES[id].what;
    if (!wanted.includes(id)) {
      steps.skipped(id, `Not needed: no enabled feature reads the ${what}.`);
      continue;
    }
    const code = results.get(id);
    if (!code) steps.passed(id, `Read the ${what} of ${upn}.`);
    else {
      const m = mailboxMessage(code, upn, what);
      steps.problem(id, code, m.message, m.remedy);
    }
  }
}

async function accessPolicyStep(
  steps: Steps,
  client: Client,
  outOfScope: string | undefined,
  testAccount: string,
  grantedRoles: readonly string[],
  env: ServiceAccountTestEnv,
): Promise<void> {
  if (!outOfScope) {
    steps.skipped('access-policy', 'Not checked: no out-of-scope mailbox was given.');
    return;
  }
  if (outOfScope.toLowerCase() === testAccount.toLowerCase()) {
    steps.skipped('access-policy', 'Not checked: the out-of-scope mailbox is the test mailbox.');
    return;
  }
  // Read a resource the test mailbox answered, so that a denial can only be the policy's doing.
  const comparable = (['mailbox-inbox', 'mailbox-calendar'] as const).find((id) => steps.get(id)?.status === 'passed');
  const byRoles = grantedRoles.some((r) => /^mail\./i.test(r)) ? 'mailbox-inbox' : 'mailbox-calendar';
  const path = MAILBOX_PROBES[comparable ?? byRoles].path;
  let code: ErrorCode | undefined;
  try {
    const [answer] = await graphBatch(client, [{ id: 'oos', url: `${userPath(outOfScope)}${path}` }], env.batch);
    code = codeOfItem(answer);
  } catch (err) {
    code = fromGraphFailure(err).code;
  }
  switch (code) {
    case undefined:
      steps.problem(
        'access-policy',
        'ACCESS_POLICY_NOT_RESTRICTING',
        `The out-of-scope mailbox ${outOfScope} was reachable: the app can read every mailbox in the tenant.`,
      );
      return;
    case 'ACCESS_POLICY_DENIED':
      steps.passed('access-policy', `The access policy denied the out-of-scope mailbox ${outOfScope}, as it should.`);
      return;
    case 'ACCESS_DENIED':
      if (comparable) steps.passed('access-policy', `Access to the out-of-scope mailbox ${outOfScope} was denied, as it should be.`);
      else steps.skipped('access-policy', 'Not judged: the test mailbox could not be read the same way, so a denial here proves nothing.');
      return;
    case 'TEST_ACCOUNT_NOT_FOUND':
      // A wrong optional field: worth fixing, but the service account itself works.
      steps.warning(
        'access-policy',
        'TEST_ACCOUNT_NOT_FOUND',
        `The out-of-scope mailbox ${outOfScope} does not exist, so the access policy could not be checked.`,
        'Enter an existing mailbox that the access policy should deny, or leave the field empty.',
      );
      return;
    case 'MAILBOX_NOT_REST_ENABLED':
      steps.skipped('access-policy', `Not judged: the out-of-scope mailbox ${outOfScope} is not enabled for the REST API.`);
      return;
    default: {
      const m = mailboxMessage(code, outOfScope, 'mailbox');
      steps.problem('access-policy', code, m.message, m.remedy);
    }
  }
}
