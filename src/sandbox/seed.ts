/**
 * The sandbox seed: the demo tenant as data (contoso.json), its schema, and the sign-in help that
 * `npm start` prints. The seed is validated once so that a typo in the JSON fails loudly at start.
 */
import { z } from 'zod';
import contosoJson from './contoso.json';

export const guid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a GUID');

const domainSchema = z.object({
  name: z.string().min(3),
  isVerified: z.boolean(),
  isDefault: z.boolean().default(false),
  isInitial: z.boolean().default(false),
});

export const tenantSchema = z.object({
  id: guid,
  displayName: z.string(),
  countryLetterCode: z.string().length(2).default('US'),
  domains: z.array(domainSchema).min(1),
  accessPolicy: z.object({ appIds: z.array(guid), group: z.string() }).optional(),
});

/** What a user does when asked to consent (without a person clicking: login_hint + preset). */
const consentDecisionSchema = z.union([z.literal('accept'), z.literal('decline'), z.literal('adminApproval'), z.object({ partial: z.array(z.string()) })]);

export const userSchema = z.object({
  oid: guid,
  upn: z.string().includes('@'),
  displayName: z.string(),
  givenName: z.string().optional(),
  surname: z.string().optional(),
  jobTitle: z.string().optional(),
  mailbox: z.enum(['active', 'notRestEnabled', 'none']),
  inAccessPolicy: z.boolean(),
  presetConsent: consentDecisionSchema.optional(),
  /** Delegated scopes this user already granted to the product app. */
  consentedScopes: z.array(z.string()).optional(),
  /** Every refresh of this user's tokens fails with AADSTS50173 (password just reset); sign-in itself works. */
  refreshRevoked: z.boolean().optional(),
  roles: z.array(z.string()).optional(),
  note: z.string().optional(),
});

export const secretSchema = z.object({
  id: guid,
  displayName: z.string().optional(),
  value: z.string().min(8),
  endDateTime: z.string(),
});

const productAppSchema = z.object({
  clientId: guid,
  displayName: z.string(),
  servicePrincipalId: guid,
  secrets: z.array(secretSchema).min(1),
  redirectUris: z.array(z.string()),
  identifierUris: z.array(z.string()),
  appRoles: z.array(z.object({ id: guid, value: z.string(), displayName: z.string(), description: z.string().optional() })),
  scopes: z.array(z.object({ id: guid, value: z.string(), adminConsentDisplayName: z.string() })),
  preAuthorizedClientIds: z.array(guid).default([]),
});

const serviceAccountSchema = z.object({
  clientId: guid,
  displayName: z.string(),
  servicePrincipalId: guid,
  secrets: z.array(secretSchema).min(1),
  grantedRoles: z.array(z.string()),
  testAccount: z.string(),
  outOfScopeAccount: z.string().optional(),
});

/**
 * The demo tenant's connections as its previous sync system recorded them. The sandbox keeps its own
 * list of the values it hands out instead of importing the product's (it stands in for the outside
 * world); tests/unit/sandbox-seed.test.ts checks the product accepts every one of them.
 */
export const SEED_CONNECTION_KINDS = ['ews-basic', 'ews-oauth', 'graph-delegated', 'graph-app'] as const;
export const SEED_CONNECTION_STATES = ['connected', 'needs-reconnect', 'missing-permissions', 'failing', 'unknown', 'disconnected'] as const;

const legacySchema = z.object({
  upn: z.string().includes('@'),
  kind: z.enum(SEED_CONNECTION_KINDS),
  state: z.enum(SEED_CONNECTION_STATES),
  lastSyncAt: z.string().optional(),
});

const mailboxContentSchema = z.object({
  calendarName: z.string(),
  otherCalendars: z.array(z.string()).default([]),
  events: z.array(
    z.object({
      subject: z.string(),
      dayOffset: z.number(),
      start: z.string().regex(/^\d\d:\d\d$/),
      minutes: z.number().positive(),
      location: z.string().optional(),
    }),
  ),
  messages: z.array(z.object({ subject: z.string(), from: z.string(), hoursAgo: z.number(), isRead: z.boolean(), bodyPreview: z.string() })),
  todoLists: z.array(z.object({ displayName: z.string(), wellknownListName: z.string(), tasks: z.array(z.string()) })),
});

export const sandboxSeedSchema = z.object({
  tenant: tenantSchema,
  productApp: productAppSchema,
  serviceAccount: serviceAccountSchema,
  users: z.array(userSchema).min(1),
  legacyConnections: z.array(legacySchema),
  otherTenants: z.array(z.object({ tenant: tenantSchema, productServicePrincipalId: guid, users: z.array(userSchema) })).default([]),
  mailboxContent: mailboxContentSchema,
});

export type SandboxSeed = z.infer<typeof sandboxSeedSchema>;
export type SeedUser = z.infer<typeof userSchema>;
export type SeedTenant = z.infer<typeof tenantSchema>;
export type SeedSecret = z.infer<typeof secretSchema>;
export type ConsentDecision = z.infer<typeof consentDecisionSchema>;
export type MailboxState = SeedUser['mailbox'];
export type LegacyConnection = z.infer<typeof legacySchema>;

/** Parse and cross-check a seed; throws with the JSON path of the first problem. */
export function parseSeed(input: unknown): SandboxSeed {
  const result = sandboxSeedSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`Sandbox seed is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const seed = result.data;
  const upns = new Set<string>();
  const oids = new Set<string>();
  for (const u of [...seed.users, ...seed.otherTenants.flatMap((t) => t.users)]) {
    const upn = u.upn.toLowerCase();
    if (upns.has(upn)) throw new Error(`Sandbox seed is invalid: user ${u.upn} appears twice`);
    if (oids.has(u.oid)) throw new Error(`Sandbox seed is invalid: oid ${u.oid} appears twice`);
    upns.add(upn);
    oids.add(u.oid);
  }
  for (const c of seed.legacyConnections) {
    if (!seed.users.some((u) => u.upn.toLowerCase() === c.upn.toLowerCase())) {
      throw new Error(`Sandbox seed is invalid: legacy connection for unknown user ${c.upn}`);
    }
  }
  return seed;
}

let contoso: SandboxSeed | undefined;
/** The built-in Contoso seed (a fresh deep copy each call, so callers may modify it). */
export function loadContosoSeed(): SandboxSeed {
  contoso ??= parseSeed(contosoJson);
  return structuredClone(contoso);
}

function consentLabel(decision: ConsentDecision | undefined): string {
  if (decision === undefined) return 'asks';
  if (typeof decision === 'string') return decision === 'adminApproval' ? 'needs admin approval' : decision === 'accept' ? 'accepts' : 'declines';
  return `grants only ${decision.partial.filter((s) => !['openid', 'profile', 'offline_access'].includes(s)).join(', ')}`;
}

/** The sign-in help printed by `npm start` in sandbox mode: who is who in the demo tenant. */
export function describeDemoUsers(seed: SandboxSeed): string {
  const lines: string[] = [];
  const legacy = new Map(seed.legacyConnections.map((c) => [c.upn.toLowerCase(), c]));
  const width = Math.max(...seed.users.map((u) => u.upn.length), ...seed.otherTenants.flatMap((t) => t.users.map((u) => u.upn.length)));
  lines.push(`Sandbox tenant ${seed.tenant.displayName} (${seed.tenant.id}). No passwords: pick a user on the sandbox sign-in page.`);
  for (const u of seed.users) {
    const c = legacy.get(u.upn.toLowerCase());
    const now = c ? `${c.kind}/${c.state}` : 'no connection';
    lines.push(`  ${u.upn.padEnd(width)}  ${u.displayName} — ${u.note ?? ''} [${now}; consent: ${consentLabel(u.presetConsent)}]`);
  }
  for (const t of seed.otherTenants) {
    lines.push(`Second tenant ${t.tenant.displayName} (${t.tenant.id}):`);
    for (const u of t.users) lines.push(`  ${u.upn.padEnd(width)}  ${u.displayName} — ${u.note ?? ''}`);
  }
  const sa = seed.serviceAccount;
  const valid = sa.secrets.find((s) => Date.parse(s.endDateTime) > Date.now());
  const expired = sa.secrets.find((s) => Date.parse(s.endDateTime) <= Date.now());
  lines.push(`Service account for the admin page: tenant ${seed.tenant.domains.find((d) => d.isDefault)?.name ?? seed.tenant.id}, client id ${sa.clientId}`);
  if (valid) lines.push(`  secret value ${valid.value} (its Secret ID ${valid.id} reproduces the classic mistake)`);
  if (expired) lines.push(`  expired secret value ${expired.value}`);
  lines.push(
    `  granted roles: ${sa.grantedRoles.join(', ') || 'none'}; test mailbox ${sa.testAccount}${sa.outOfScopeAccount ? `; outside the access policy: ${sa.outOfScopeAccount}` : ''}`,
  );
  return lines.join('\n');
}
