/**
 * Microsoft Graph permission facts the sandbox enforces: what the consent page says about each
 * delegated scope, which scopes need an administrator, the ids of Graph's application roles, and
 * which permissions each Graph operation accepts (as listed on the Graph reference pages).
 */

export const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'] as const;

export function isOidcScope(scope: string): boolean {
  return (OIDC_SCOPES as readonly string[]).includes(scope.toLowerCase());
}

/** What the consent page shows for a delegated scope ("This app would like to: …"). */
export const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Sign you in',
  profile: 'View your basic profile',
  email: 'View your email address',
  offline_access: 'Maintain access to data you have given it access to',
  'user.read': 'Sign you in and read your profile',
  'user.readbasic.all': 'Read all users’ basic profiles',
  'mail.read': 'Read your mail',
  'mail.readbasic': 'Read basic mail properties',
  'mail.readwrite': 'Read and write access to your mail',
  'mail.send': 'Send mail as you',
  'calendars.read': 'Read your calendars',
  'calendars.readwrite': 'Have full access to your calendars',
  'tasks.read': 'Read your tasks and task lists',
  'tasks.readwrite': 'Create, read, update, and delete your tasks and task lists',
};

/** Delegated Graph scopes that a user can never grant alone (they need an administrator). */
export const ADMIN_ONLY_DELEGATED = new Set([
  'user.read.all',
  'user.readwrite.all',
  'directory.read.all',
  'directory.readwrite.all',
  'domain.read.all',
  'application.read.all',
  'organization.read.all',
]);

/** Ids of Microsoft Graph application roles, as `appRoleAssignments` reports them. */
export const GRAPH_APP_ROLE_IDS: Record<string, string> = {
  'Mail.Read': '810c84a8-4a9e-49e6-bf7d-12d183f40d01',
  'Mail.ReadWrite': 'e2a3a72e-5f79-4c64-b1b1-878b674786c9',
  'Mail.Send': 'b633e1c5-b582-4048-a93e-9f11b44c7e96',
  'Calendars.Read': '798ee544-9d2d-430c-a058-570e29e34338',
  'Calendars.ReadWrite': 'ef54d2bf-783f-4e0f-bca1-3210c0444d99',
  'User.Read.All': 'df021288-bdef-4463-88db-98f22de89214',
  'Directory.Read.All': '7ab1d382-f21e-4acd-a863-ba3e13f7da61',
  'Application.Read.All': '9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30',
};

/** Stable made-up id for a role the table above does not list (the sandbox accepts any role name). */
export function appRoleId(role: string): string {
  const known = Object.entries(GRAPH_APP_ROLE_IDS).find(([name]) => name.toLowerCase() === role.toLowerCase());
  if (known) return known[1];
  let h = 0x811c9dc5;
  const hex: string[] = [];
  for (let round = 0; round < 4; round++) {
    for (const ch of `${round}:${role.toLowerCase()}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    hex.push(h.toString(16).padStart(8, '0'));
  }
  const s = hex.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-4${s.slice(13, 16)}-8${s.slice(17, 20)}-${s.slice(20, 32)}`;
}

/** The operations the sandbox's Graph serves and the permissions each accepts (any one suffices). */
export type GraphOperation =
  'me' | 'user' | 'organization' | 'domains' | 'servicePrincipals' | 'mailRead' | 'mailWrite' | 'calendarRead' | 'calendarWrite' | 'tasksRead' | 'tasksWrite';

const USER_DIRECTORY = ['User.ReadBasic.All', 'User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'];

export const OPERATION_PERMISSIONS: Record<GraphOperation, { delegated: string[]; application: string[] }> = {
  me: { delegated: ['User.Read', 'User.ReadWrite', ...USER_DIRECTORY], application: [] },
  user: { delegated: USER_DIRECTORY, application: ['User.Read.All', 'User.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'] },
  organization: {
    delegated: ['User.Read', 'Organization.Read.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    application: ['Organization.Read.All', 'Organization.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  domains: {
    delegated: ['Domain.Read.All', 'Domain.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    application: ['Domain.Read.All', 'Domain.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  servicePrincipals: {
    delegated: ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
    application: ['Application.Read.All', 'Application.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'],
  },
  mailRead: { delegated: ['Mail.ReadBasic', 'Mail.Read', 'Mail.ReadWrite'], application: ['Mail.ReadBasic.All', 'Mail.Read', 'Mail.ReadWrite'] },
  mailWrite: { delegated: ['Mail.ReadWrite'], application: ['Mail.ReadWrite'] },
  calendarRead: {
    delegated: ['Calendars.ReadBasic', 'Calendars.Read', 'Calendars.ReadWrite'],
    application: ['Calendars.ReadBasic.All', 'Calendars.Read', 'Calendars.ReadWrite'],
  },
  calendarWrite: { delegated: ['Calendars.ReadWrite'], application: ['Calendars.ReadWrite'] },
  tasksRead: { delegated: ['Tasks.Read', 'Tasks.ReadWrite'], application: ['Tasks.Read.All', 'Tasks.ReadWrite.All'] },
  tasksWrite: { delegated: ['Tasks.ReadWrite'], application: ['Tasks.ReadWrite.All'] },
};

export function allows(operation: GraphOperation, kind: 'delegated' | 'application', granted: readonly string[]): boolean {
  const accepted = OPERATION_PERMISSIONS[operation][kind];
  let lower = acceptedLower.get(accepted);
  if (!lower) {
    lower = new Set(accepted.map((p) => p.toLowerCase()));
    acceptedLower.set(accepted, lower);
  }
  for (const g of granted) if (lower.has(g.toLowerCase())) return true;
  return false;
}
/** Each list of OPERATION_PERMISSIONS lower-cased, computed at first use (the lists are read again every call). */
const acceptedLower = new WeakMap<readonly string[], Set<string>>();

/** A requested scope split into the resource it targets and the permission name. */
export interface ParsedScope {
  raw: string;
  /** 'graph', 'oidc', or the client id of an app registration in the sandbox (its own API). */
  resource: string;
  /** Permission as it appears in tokens (e.g. `Mail.Read`, `access_as_user`, `.default`). */
  name: string;
}

/**
 * Resolve a scope string: bare names and `https://graph.microsoft.com/…` are Graph; `api://…/x` or
 * `<clientId>/x` address an app's own API (resolved through `resolveAppUri`).
 */
export function parseScope(raw: string, resolveAppUri: (uri: string) => string | undefined): ParsedScope | { raw: string; error: 'unknown_resource' } {
  if (isOidcScope(raw)) return { raw, resource: 'oidc', name: raw.toLowerCase() };
  const graphPrefixes = [`${GRAPH_RESOURCE}/`, `${GRAPH_APP_ID}/`, 'https://graph.microsoft.com//'];
  for (const p of graphPrefixes) if (raw.toLowerCase().startsWith(p)) return { raw, resource: 'graph', name: raw.slice(p.length) };
  const slash = raw.lastIndexOf('/');
  if (slash < 0) return { raw, resource: 'graph', name: raw };
  const uri = raw.slice(0, slash);
  const app = resolveAppUri(uri);
  if (!app) return { raw, error: 'unknown_resource' };
  return { raw, resource: app, name: raw.slice(slash + 1) };
}

const CANONICAL_SCOPES = [
  ...OIDC_SCOPES,
  'User.Read',
  'User.ReadWrite',
  'User.ReadBasic.All',
  'User.Read.All',
  'Mail.Read',
  'Mail.ReadBasic',
  'Mail.ReadWrite',
  'Mail.Send',
  'Calendars.Read',
  'Calendars.ReadBasic',
  'Calendars.ReadWrite',
  'Tasks.Read',
  'Tasks.ReadWrite',
  'Directory.Read.All',
  'Domain.Read.All',
  'Organization.Read.All',
  'Application.Read.All',
];

/** Scopes are case-insensitive; tokens carry Microsoft's spelling. */
export function canonicalScope(name: string): string {
  return CANONICAL_SCOPES.find((k) => k.toLowerCase() === name.toLowerCase()) ?? name;
}

export function includesScope(set: readonly string[], scope: string): boolean {
  return set.some((s) => s.toLowerCase() === scope.toLowerCase());
}
