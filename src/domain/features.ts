/**
 * The permission matrix: the one place that says what each product feature needs.
 * Pure data plus the derivations that read it; no I/O.
 */

export const FEATURES = ['emailSync', 'calendarSync', 'calendarScheduling', 'taskSync'] as const;
export type Feature = (typeof FEATURES)[number];

export const FEATURE_LABELS: Record<Feature, string> = {
  emailSync: 'Email Sync',
  calendarSync: 'Calendar Sync',
  calendarScheduling: 'Calendar Scheduling',
  taskSync: 'Task Sync',
};

/** Scopes every delegated connection asks for, whatever the features. */
export const SIGN_IN_SCOPES = ['openid', 'profile', 'offline_access', 'User.Read'] as const;

export const DELEGATED_SCOPES: Record<Feature, readonly string[]> = {
  emailSync: ['Mail.ReadWrite'],
  calendarSync: ['Calendars.ReadWrite'],
  calendarScheduling: ['Calendars.ReadWrite', 'Mail.ReadWrite'],
  // Microsoft To Do: the Outlook tasks API stopped returning data on 2022-08-20.
  taskSync: ['Tasks.ReadWrite'],
};

/** Application roles the service account needs; `null` = not supported app-only. */
export const APPLICATION_ROLES: Record<Feature, readonly string[] | null> = {
  emailSync: ['Mail.Read', 'Mail.ReadWrite'],
  calendarSync: ['Calendars.Read', 'Calendars.ReadWrite'],
  calendarScheduling: ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'],
  taskSync: null,
};

export const ADMIN_APP_ROLE = 'ConnectionCenter.Admin';
export const SSO_SCOPE = 'access_as_user';

export function isFeature(value: unknown): value is Feature {
  return typeof value === 'string' && (FEATURES as readonly string[]).includes(value);
}

/** Graph scopes as they appear in token responses may carry the resource prefix; compare bare, case-insensitive. */
export function normaliseScope(scope: string): string {
  const bare = scope.replace(/^https:\/\/graph\.microsoft\.(com|us|de|cn)\//i, '').replace(/^00000003-0000-0000-c000-000000000000\//i, '');
  return bare.toLowerCase();
}

function hasAll(granted: readonly string[], needed: readonly string[]): string[] {
  const have = new Set(granted.map(normaliseScope));
  return needed.filter((n) => !have.has(normaliseScope(n)));
}

/** Delegated scopes to request for the given features (sign-in scopes included, de-duplicated). */
export function delegatedScopesFor(features: readonly Feature[]): string[] {
  const out = new Set<string>(SIGN_IN_SCOPES);
  for (const f of features) for (const s of DELEGATED_SCOPES[f]) out.add(s);
  return [...out];
}

/** Application roles needed by the given features (unsupported features contribute nothing). */
export function applicationRolesFor(features: readonly Feature[]): string[] {
  const out = new Set<string>();
  for (const f of features) for (const r of APPLICATION_ROLES[f] ?? []) out.add(r);
  return [...out];
}

export function missingDelegatedScopes(feature: Feature, granted: readonly string[]): string[] {
  return hasAll(granted, DELEGATED_SCOPES[feature]);
}

export function missingApplicationRoles(feature: Feature, granted: readonly string[]): string[] {
  const needed = APPLICATION_ROLES[feature];
  return needed ? hasAll(granted, needed) : [];
}

export interface FeatureVerdict {
  feature: Feature;
  required: string[];
  granted: string[];
  missing: string[];
  available: boolean;
  /** Why it is unavailable, in words a person can act on. */
  reason?: string;
}

/** Per-feature verdict for the service account, from the roles in its app-only token. */
export function applicationFeatureMatrix(grantedRoles: readonly string[], enabled: readonly Feature[] = FEATURES): Record<Feature, FeatureVerdict> {
  const grantedSet = new Set(grantedRoles.map(normaliseScope));
  const result = {} as Record<Feature, FeatureVerdict>;
  for (const feature of FEATURES) {
    const needed = APPLICATION_ROLES[feature];
    if (needed === null) {
      result[feature] = {
        feature,
        required: [],
        granted: [],
        missing: [],
        available: false,
        reason: `${FEATURE_LABELS[feature]} is not supported through the service account; users connect it with their own consent.`,
      };
      continue;
    }
    const granted = needed.filter((r) => grantedSet.has(normaliseScope(r)));
    const missing = needed.filter((r) => !grantedSet.has(normaliseScope(r)));
    const on = enabled.includes(feature);
    result[feature] = {
      feature,
      required: [...needed],
      granted,
      missing,
      available: missing.length === 0,
      ...(missing.length > 0
        ? { reason: `Missing application permission${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}${on ? '' : ' (feature not enabled)'}.` }
        : {}),
    };
  }
  return result;
}

/** Microsoft Graph's application id: the `resourceAppId` of Graph permissions in an Entra app manifest. */
export const GRAPH_RESOURCE_APP_ID = '00000003-0000-0000-c000-000000000000';

/**
 * Permission ids of the delegated Graph scopes the product requests (same in every tenant), as an Entra
 * app manifest's `requiredResourceAccess` needs them (appPackage/aad.manifest.json).
 */
export const GRAPH_DELEGATED_SCOPE_IDS: Readonly<Record<string, string>> = {
  openid: '37f7f235-527c-4136-accd-4a02d197296e',
  profile: '14dad69e-099b-42c9-810b-d002981feec1',
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
  'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d',
  'Mail.ReadWrite': '024d486e-b451-40bb-833d-3e66d98c5c73',
  'Calendars.ReadWrite': '1ec239c2-d7c9-4623-a91a-a9775856bb36',
  'Tasks.ReadWrite': '2219042f-cab5-40cc-b0d2-16b1540b4c5f',
};
