/**
 * Health checks, as rules: what each connection kind is probed for, how
 * probe answers become a state and per-feature results, and which state changes matter to whom.
 * Pure: the monitor (src/services/checks.ts) feeds it answers and stores what it returns.
 */
import { delegatedState, type ConnectionKind, type ConnectionState } from './connection';
import type { ErrorCode } from './errors';
import { APPLICATION_ROLES, FEATURES, missingDelegatedScopes, type Feature } from './features';

/** Graph resources a check reads, relative to a mailbox (`/me` or `/users/{id}`). */
export type CheckProbe = 'inbox' | 'calendar' | 'events' | 'todoLists';
export const CHECK_PROBE_PATHS: Record<CheckProbe, string> = {
  inbox: '/mailFolders/inbox?$select=id',
  calendar: '/calendar?$select=id',
  events: '/events?$top=1&$select=id',
  todoLists: '/todo/lists?$top=1&$select=id',
};
/** What each feature reads; Calendar Scheduling needs both mail and calendar. */
export const FEATURE_CHECK_PROBES: Record<Feature, readonly CheckProbe[]> = {
  emailSync: ['inbox'],
  calendarSync: ['calendar', 'events'],
  calendarScheduling: ['calendar', 'events', 'inbox'],
  taskSync: ['todoLists'],
};

/** Key of the per-feature results under which a legacy connection records service-account reach. */
export const VIA_SERVICE_ACCOUNT = 'viaServiceAccount';

export interface FeatureOutcome {
  ok: boolean;
  code?: ErrorCode;
}
export type FeatureOutcomes = Partial<Record<Feature | typeof VIA_SERVICE_ACCOUNT, FeatureOutcome>>;

export interface CheckVerdict {
  state: ConnectionState;
  /** The code that decided the state (absent when connected). */
  code?: ErrorCode;
  features: FeatureOutcomes;
}

/** Codes that say nothing about the connection: the check itself could not run. */
export const INCONCLUSIVE: readonly ErrorCode[] = ['GRAPH_UNAVAILABLE', 'THROTTLED'];
export function isInconclusive(code: ErrorCode | undefined): boolean {
  return code !== undefined && INCONCLUSIVE.includes(code);
}

/** The distinct probes for a set of features. */
export function probesFor(features: readonly Feature[]): CheckProbe[] {
  return [...new Set(features.flatMap((f) => FEATURE_CHECK_PROBES[f]))];
}

/** Features the service account can check (Task Sync is not supported app-only). */
export function appCheckFeatures(features: readonly Feature[]): Feature[] {
  return FEATURES.filter((f) => features.includes(f) && APPLICATION_ROLES[f] !== null);
}

/** A mailbox that is not there, seen through a user id, is a mailbox problem, not a test account's. */
export function mailboxCode(code: ErrorCode): ErrorCode {
  return code === 'TEST_ACCOUNT_NOT_FOUND' ? 'MAILBOX_NOT_REST_ENABLED' : code;
}

/** Each feature's outcome from its probes' codes (undefined = the probe passed). */
export function featureOutcomes(features: readonly Feature[], probeCode: (p: CheckProbe) => ErrorCode | undefined): FeatureOutcomes {
  const out: FeatureOutcomes = {};
  for (const f of features) {
    const codes = FEATURE_CHECK_PROBES[f].map(probeCode).filter((c): c is ErrorCode => c !== undefined);
    // A definite failure says more than a throttled or unreachable probe of the same feature.
    const code = codes.find((c) => !isInconclusive(c)) ?? codes[0];
    out[f] = code ? { ok: false, code } : { ok: true };
  }
  return out;
}

/** The same outcome for every feature: a failure before any probe ran (the token). */
export function allFeatures(features: readonly Feature[], code: ErrorCode): FeatureOutcomes {
  return Object.fromEntries(features.map((f) => [f, { ok: false, code }])) as FeatureOutcomes;
}

/** The first definite failure decides; otherwise an inconclusive one leaves the state unknown. */
function decidingCode(outcomes: FeatureOutcomes, extra: Array<ErrorCode | undefined> = []): ErrorCode | undefined {
  const codes = [...extra, ...Object.values(outcomes).map((o) => o?.code)].filter((c): c is ErrorCode => c !== undefined);
  return codes.find((c) => !isInconclusive(c)) ?? codes.find((c) => c === 'GRAPH_UNAVAILABLE') ?? codes[0];
}

/**
 * A delegated connection: the token redemption (`tokenCode` when it failed), then the probes of the
 * granted features. A feature whose scope was never granted is not probed and reads as missing.
 */
export function delegatedVerdict(input: {
  enabled: readonly Feature[];
  grantedScopes: readonly string[];
  tokenCode?: ErrorCode;
  /** The profile probe's code (`/me`), when it failed. */
  profileCode?: ErrorCode;
  probeCode?: (p: CheckProbe) => ErrorCode | undefined;
}): CheckVerdict {
  const granted = input.enabled.filter((f) => missingDelegatedScopes(f, input.grantedScopes).length === 0);
  const missing = input.enabled.filter((f) => !granted.includes(f));
  const features: FeatureOutcomes = input.tokenCode ? allFeatures(granted, input.tokenCode) : featureOutcomes(granted, input.probeCode ?? (() => undefined));
  for (const f of missing) features[f] = { ok: false, code: 'PERMISSION_MISSING' };
  const grantedOutcomes = Object.fromEntries(granted.map((f) => [f, features[f]])) as FeatureOutcomes;
  const code = decidingCode(grantedOutcomes, [input.tokenCode, input.profileCode]);
  return { state: delegatedState(input.grantedScopes, input.enabled, code), ...(code ? { code } : {}), features };
}

/** A mailbox covered by the service account: its app token, then the enabled features' probes. */
export function appOnlyVerdict(input: {
  features: readonly Feature[];
  tokenCode?: ErrorCode;
  probeCode?: (p: CheckProbe) => ErrorCode | undefined;
}): CheckVerdict {
  const checked = appCheckFeatures(input.features);
  const features = input.tokenCode ? allFeatures(checked, input.tokenCode) : featureOutcomes(checked, input.probeCode ?? (() => undefined));
  const code = decidingCode(features, [input.tokenCode]);
  return { state: appOnlyState(code), ...(code ? { code } : {}), features };
}

export function appOnlyState(code: ErrorCode | undefined): ConnectionState {
  if (!code) return 'connected';
  if (isInconclusive(code)) return 'unknown';
  if (code === 'ACCESS_DENIED' || code === 'PERMISSION_MISSING' || code === 'ADMIN_CONSENT_MISSING') return 'missing-permissions';
  return 'failing';
}

/** States that mean the connection no longer works and someone has to act. */
export const BROKEN_STATES: readonly ConnectionState[] = ['needs-reconnect', 'missing-permissions', 'failing'];

export type ChangeKind = 'broke' | 'recovered';
/**
 * What a state change means for people: `broke` (it worked, or was not known to fail, and now
 * fails), `recovered` (it failed and works again). Changes into or out of `unknown` alone (an
 * outage, throttling) are kept in the history but tell nobody anything.
 */
export function changeKind(from: ConnectionState, to: ConnectionState): ChangeKind | undefined {
  if (from === to) return undefined;
  if (BROKEN_STATES.includes(to) && (from === 'connected' || from === 'unknown')) return 'broke';
  if (to === 'connected' && BROKEN_STATES.includes(from)) return 'recovered';
  return undefined;
}

/** The user can fix it by reconnecting: only their own (delegated) connection. */
export function nudgesUser(kind: ConnectionKind, from: ConnectionState, to: ConnectionState): boolean {
  return kind === 'graph-delegated' && changeKind(from, to) === 'broke';
}
