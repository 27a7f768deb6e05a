/**
 * The tenant's app-only service account: saved (validated, its tenant checked to be the admin's own),
 * removed, tested (the test is stored and audited, and its outcome published to onTestOutcome
 * subscribers), and the permission matrix of the latest test of the saved configuration.
 */
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import type {
  PermissionsResponse,
  ReachPermissionView,
  ServiceAccountInput,
  ServiceAccountResponse,
  ServiceAccountTestResponse,
  ServiceAccountView,
} from '../../contract';
import { looksLikeSecretId } from '../../domain/diagnosis';
import { AppError } from '../../domain/errors';
import { FEATURES, isFeature, type Feature } from '../../domain/features';
import { adminConsentUrl } from '../../domain/admin';
import { DNS_NAME_PATTERN as DNS_NAME, isGuid } from '../../domain/formats';
import type { UserContext } from '../../identity/verify';
import type { Logger } from '../../log';
import type { ServiceAccountRecord, ServiceAccountTestRecord, Store } from '../../store/types';
import type { ServiceAccountTesterPort, TestOutcomeListener } from '../ports';
import { EMAIL, fail, zodFail } from '../validation';

export interface ServiceAccountAdminDeps {
  store: Store;
  tester: ServiceAccountTesterPort;
  logger: Logger;
  now: () => Date;
  authorityHost: string;
  /** Key for the configuration fingerprint (HMAC). */
  hashKey: Buffer;
  /** Whether the product's own app may install its bot (reach); shown beside the service account's matrix. */
  reachPermission?: (tenantId: string) => Promise<ReachPermissionView>;
}

function notOwnTenant(tenant: string): never {
  fail(
    'tenant',
    `${tenant} is not your own tenant (a service account can only be set up for the tenant you are signed in to)`,
    'Enter your own tenant: the Directory (tenant) ID from the app registration’s Overview page, or one of your tenant’s verified domains.',
  );
}

/** The service account as an admin sends it (PUT and the test's body): one definition, whoever validates. */
export const serviceAccountSchema = z.strictObject({
  tenant: z
    .string({ error: 'is required' })
    .trim()
    .min(1, 'is required')
    .transform((v) => v.toLowerCase())
    .refine((v) => isGuid(v) || DNS_NAME.test(v), 'must be a tenant GUID or a domain such as contoso.com'),
  clientId: z
    .string({ error: 'is required' })
    .trim()
    .refine(isGuid, 'must be a GUID (the Application (client) ID from the app’s Overview page)')
    .transform((v) => v.toLowerCase()),
  clientSecret: z.string({ error: 'must be text' }).min(1, 'must not be empty').max(1024, 'is too long').optional(),
  secretExpiresAt: z.iso
    .date('must be a date as YYYY-MM-DD')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  testAccount: z.string({ error: 'is required' }).trim().toLowerCase().regex(EMAIL, 'must be a mailbox address such as user@contoso.com'),
  outOfScopeAccount: z
    .string()
    .trim()
    .toLowerCase()
    .regex(EMAIL, 'must be a mailbox address such as user@contoso.com')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  features: z
    .array(z.string().refine(isFeature, `must be one of ${FEATURES.join(', ')}`), { error: 'must be a list of features' })
    .min(1, 'must enable at least one feature')
    .transform((f) => [...new Set(f)] as Feature[]),
});

export type ParsedServiceAccount = z.infer<typeof serviceAccountSchema>;

/** Keyed (HMAC) so the stored fingerprint of a configuration says nothing about its secret. */
export function configHash(
  key: Buffer,
  c: { tenant: string; clientId: string; clientSecret: string; testAccount: string; outOfScopeAccount?: string; features: readonly string[] },
): string {
  return createHmac('sha256', key)
    .update(JSON.stringify([c.tenant, c.clientId, c.clientSecret, c.testAccount, c.outOfScopeAccount ?? '', [...c.features].sort()]))
    .digest('hex');
}

/** The record as the admin sees it: field by field, so the secret (and anything added later) stays out unless named here. */
function toView(r: ServiceAccountRecord): ServiceAccountView {
  return {
    tenant: r.tenant,
    clientId: r.clientId,
    secretHint: r.secretHint,
    testAccount: r.testAccount,
    features: r.features,
    updatedAt: r.updatedAt,
    updatedBy: r.updatedBy,
    ...(r.secretExpiresAt ? { secretExpiresAt: r.secretExpiresAt } : {}),
    ...(r.outOfScopeAccount ? { outOfScopeAccount: r.outOfScopeAccount } : {}),
  };
}

export class ServiceAccountAdmin {
  private readonly outcomeListeners: TestOutcomeListener[] = [];

  constructor(private readonly deps: ServiceAccountAdminDeps) {}

  /** Subscribes to the outcomes of stored tests of the saved configuration; returns the unsubscribe. */
  onTestOutcome(listener: TestOutcomeListener): () => void {
    this.outcomeListeners.push(listener);
    return () => {
      const i = this.outcomeListeners.indexOf(listener);
      if (i >= 0) this.outcomeListeners.splice(i, 1);
    };
  }

  async getServiceAccount(user: UserContext): Promise<ServiceAccountResponse> {
    const r = await this.deps.store.getServiceAccount(user.tenantId);
    return { serviceAccount: r ? toView(r) : null };
  }

  /** Validates an input, falling back to the saved secret when none is sent. */
  private async parse(user: UserContext, body: unknown): Promise<ParsedServiceAccount & { clientSecret: string }> {
    const parsed = serviceAccountSchema.safeParse(body);
    if (!parsed.success) zodFail(parsed.error);
    const input = parsed.data;
    if (isGuid(input.tenant) && input.tenant !== user.tenantId) notOwnTenant(input.tenant);
    if (input.clientSecret !== undefined && looksLikeSecretId(input.clientSecret)) throw new AppError('SECRET_ID_NOT_VALUE');
    let secret = input.clientSecret;
    if (secret === undefined) {
      const saved = await this.deps.store.getServiceAccount(user.tenantId);
      if (!saved) fail('clientSecret', 'is required (paste the secret’s Value)');
      if (saved.clientId !== input.clientId) fail('clientSecret', 'is required when the client id changes');
      secret = saved.clientSecret;
    }
    return { ...input, clientSecret: secret };
  }

  /**
   * A domain names whichever tenant owns it: resolve it and make sure that is the admin's own
   * tenant, or one tenant's admin could file another tenant's mailboxes under their own.
   * `whenUnresolved: 'refuse'` (saving) also refuses a tenant Entra cannot resolve now;
   * `'allow'` (a test) lets the test itself report why it does not resolve.
   */
  private async requireOwnTenant(ownTenantId: string, tenant: string, whenUnresolved: 'refuse' | 'allow'): Promise<void> {
    if (isGuid(tenant)) {
      if (tenant !== ownTenantId) notOwnTenant(tenant);
      return;
    }
    let resolved: string;
    try {
      resolved = (await this.deps.tester.resolveTenant(tenant)).toLowerCase();
    } catch (err) {
      if (whenUnresolved === 'allow') return;
      if (err instanceof AppError && err.code === 'GRAPH_UNAVAILABLE') {
        throw new AppError('GRAPH_UNAVAILABLE', {
          message: `Entra ID could not be asked which tenant ${tenant} belongs to, so the service account was not saved.`,
        });
      }
      fail(
        'tenant',
        `${tenant} is not a domain Entra ID knows`,
        'Use the Directory (tenant) ID from the app registration’s Overview page, or a verified domain of your tenant.',
      );
    }
    if (resolved !== ownTenantId) notOwnTenant(tenant);
  }

  async putServiceAccount(user: UserContext, body: unknown): Promise<ServiceAccountResponse> {
    const input = await this.parse(user, body);
    const domains = await this.deps.store.getDomains(user.tenantId);
    if (domains.length === 0) throw new AppError('DOMAINS_NOT_PREDEFINED');
    const testDomain = input.testAccount.split('@')[1]!;
    if (!domains.includes(testDomain)) {
      throw new AppError('TEST_ACCOUNT_DOMAIN_NOT_PREDEFINED', {
        message: `The test mailbox ${input.testAccount} is not in a pre-defined domain (${domains.join(', ')}).`,
      });
    }
    // Last, as the only check that asks Entra: a form that fails locally costs no network call.
    await this.requireOwnTenant(user.tenantId, input.tenant, 'refuse');
    const record: ServiceAccountRecord = {
      tenantId: user.tenantId,
      tenant: input.tenant,
      clientId: input.clientId,
      clientSecret: input.clientSecret,
      secretHint: input.clientSecret.slice(0, 3),
      ...(input.secretExpiresAt ? { secretExpiresAt: input.secretExpiresAt } : {}),
      testAccount: input.testAccount,
      ...(input.outOfScopeAccount ? { outOfScopeAccount: input.outOfScopeAccount } : {}),
      features: input.features,
      updatedAt: this.deps.now().toISOString(),
      updatedBy: user.upn,
    };
    const previous = await this.deps.store.getServiceAccount(user.tenantId);
    await this.deps.store.putServiceAccount(record);
    await this.deps.store.audit({
      tenantId: user.tenantId,
      actor: user.upn,
      action: previous ? 'service-account.updated' : 'service-account.created',
      target: input.clientId,
      details: {
        tenant: input.tenant,
        testAccount: input.testAccount,
        features: input.features,
        secretChanged: !previous || previous.clientSecret !== input.clientSecret,
      },
    });
    return { serviceAccount: toView(record) };
  }

  async deleteServiceAccount(user: UserContext): Promise<void> {
    const removed = await this.deps.store.deleteServiceAccount(user.tenantId);
    if (!removed) throw new AppError('NOT_FOUND', { message: 'No service account is saved for this tenant.' });
    await this.deps.store.audit({ tenantId: user.tenantId, actor: user.upn, action: 'service-account.deleted' });
  }

  /** Runs the test on the body's (unsaved) configuration, or on the saved one. */
  async test(user: UserContext, body: unknown): Promise<ServiceAccountTestResponse> {
    let input: ParsedServiceAccount & { clientSecret: string };
    if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body as object).length === 0)) {
      const saved = await this.deps.store.getServiceAccount(user.tenantId);
      if (!saved) throw new AppError('SERVICE_ACCOUNT_NOT_CONFIGURED');
      input = { ...saved, outOfScopeAccount: saved.outOfScopeAccount, secretExpiresAt: saved.secretExpiresAt };
    } else {
      input = await this.parse(user, body);
    }
    // The saved configuration is checked too: it may predate this check.
    await this.requireOwnTenant(user.tenantId, input.tenant, 'allow');
    const result = await this.runAndRecord(user.tenantId, user.upn, input);
    const reach = await this.#reach(user.tenantId);
    return reach ? { ...result, reach } : result;
  }

  async #reach(tenantId: string): Promise<ReachPermissionView | undefined> {
    return this.deps.reachPermission?.(tenantId).catch((err) => {
      this.deps.logger.warn({ err, tenantId }, 'reach permission unknown');
      return undefined;
    });
  }

  /** Also used by the bot's `test` command and the daily schedule. */
  async testSaved(tenantId: string, actor: string): Promise<ServiceAccountTestResponse | undefined> {
    const saved = await this.deps.store.getServiceAccount(tenantId);
    if (!saved) return undefined;
    // A configuration saved before the tenant was checked on save may name another tenant.
    try {
      await this.requireOwnTenant(tenantId, saved.tenant, 'allow');
    } catch (err) {
      this.deps.logger.warn({ tenantId, tenant: saved.tenant }, 'the saved service account names another tenant: not tested');
      throw err;
    }
    return this.runAndRecord(tenantId, actor, saved);
  }

  private async runAndRecord(
    tenantId: string,
    actor: string,
    input: { tenant: string; clientId: string; clientSecret: string; testAccount: string; outOfScopeAccount?: string; features: Feature[] },
  ): Promise<ServiceAccountTestResponse> {
    const domains = await this.deps.store.getDomains(tenantId);
    const outcome = await this.deps.tester.run({ ...input, domains });
    const ranAt = this.deps.now().toISOString();
    const hash = configHash(this.deps.hashKey, input);
    const saved = await this.deps.store.getServiceAccount(tenantId);
    const savedHash = saved ? configHash(this.deps.hashKey, saved) : undefined;
    const previousOfSaved = (await this.deps.store.getServiceAccountTests(tenantId)).find((t) => t.configHash === savedHash);
    const record: ServiceAccountTestRecord = {
      tenantId,
      ranAt,
      ranBy: actor,
      configHash: hash,
      ok: outcome.ok,
      steps: outcome.steps,
      features: outcome.features,
      grantedRoles: outcome.grantedRoles,
    };
    await this.deps.store.putServiceAccountTest(record);
    await this.deps.store.audit({
      tenantId,
      actor,
      action: 'service-account.tested',
      target: input.clientId,
      details: { ok: outcome.ok, failed: outcome.steps.filter((s) => s.status === 'failed').map((s) => s.code) },
    });
    if (hash === savedHash) {
      for (const listener of this.outcomeListeners) {
        await listener(tenantId, previousOfSaved, record).catch((err) => this.deps.logger.error({ err }, 'could not queue the test notification'));
      }
    }
    return { ok: outcome.ok, ranAt, steps: outcome.steps, features: outcome.features };
  }

  async permissions(tenantId: string): Promise<PermissionsResponse> {
    const saved = await this.deps.store.getServiceAccount(tenantId);
    if (!saved) {
      const reach = await this.#reach(tenantId);
      return { ranAt: null, ok: null, features: null, portal: null, ...(reach ? { reach } : {}) };
    }
    const hash = configHash(this.deps.hashKey, saved);
    const test = (await this.deps.store.getServiceAccountTests(tenantId)).find((t) => t.configHash === hash);
    const portal = {
      apiPermissionsUrl: `https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/${saved.clientId}`,
      adminConsentUrl: adminConsentUrl(this.deps.authorityHost, saved.tenant, saved.clientId),
    };
    const reach = await this.#reach(tenantId);
    return { ranAt: test?.ranAt ?? null, ok: test?.ok ?? null, features: test?.features ?? null, portal, ...(reach ? { reach } : {}) };
  }
}

export type { ServiceAccountInput };
