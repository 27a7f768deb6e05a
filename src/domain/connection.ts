/** Connection kinds and states and what a connection allows. Pure. */
import { FEATURES, FEATURE_LABELS, type Feature, missingDelegatedScopes, APPLICATION_ROLES, missingApplicationRoles } from './features';
import type { ErrorCode } from './errors';
import { formatLongDate } from './deadlines';

export const CONNECTION_KINDS = ['ews-basic', 'ews-oauth', 'graph-delegated', 'graph-app'] as const;
export type ConnectionKind = (typeof CONNECTION_KINDS)[number];

export const CONNECTION_STATES = ['connected', 'needs-reconnect', 'missing-permissions', 'failing', 'unknown', 'disconnected'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export const KIND_LABELS: Record<ConnectionKind, string> = {
  'ews-basic': 'Exchange (EWS, Basic Auth)',
  'ews-oauth': 'Exchange (EWS, OAuth)',
  'graph-delegated': 'Office 365 (Microsoft Graph)',
  'graph-app': 'Office 365 (service account)',
};

/** How a state reads to a person (tab badges, bot cards). */
export const STATE_LABELS: Record<ConnectionState, string> = {
  connected: 'Connected',
  'needs-reconnect': 'Needs reconnect',
  'missing-permissions': 'Missing permissions',
  failing: 'Failing',
  unknown: 'Status unknown',
  disconnected: 'Disconnected',
};

export function isConnectionKind(v: unknown): v is ConnectionKind {
  return typeof v === 'string' && (CONNECTION_KINDS as readonly string[]).includes(v);
}
export function isConnectionState(v: unknown): v is ConnectionState {
  return typeof v === 'string' && (CONNECTION_STATES as readonly string[]).includes(v);
}

export function isLegacyKind(kind: ConnectionKind): boolean {
  return kind === 'ews-basic' || kind === 'ews-oauth';
}

export interface FeatureAvailability {
  available: boolean;
  reason?: string;
}
export type FeatureMap = Record<Feature, FeatureAvailability>;

/** Error codes that mean the user has to consent again, as opposed to a passing outage. */
const RECONNECT_CODES: readonly ErrorCode[] = ['REFRESH_TOKEN_REVOKED', 'USER_CONSENT_REQUIRED', 'INVALID_TOKEN', 'MFA_OR_CONDITIONAL_ACCESS'];
/** Codes that say nothing about the grant: the check itself could not run. */
const INCONCLUSIVE_CODES: readonly ErrorCode[] = ['GRAPH_UNAVAILABLE', 'THROTTLED'];

/**
 * State of a delegated Graph connection from its granted scopes and the last check's error.
 * Never `needs-reconnect` because Graph was down: that is `unknown`.
 */
export function delegatedState(grantedScopes: readonly string[], enabled: readonly Feature[], lastError?: ErrorCode): ConnectionState {
  if (lastError && INCONCLUSIVE_CODES.includes(lastError)) return 'unknown';
  if (lastError && RECONNECT_CODES.includes(lastError)) return 'needs-reconnect';
  if (lastError === 'ADMIN_APPROVAL_REQUIRED') return 'missing-permissions';
  if (lastError) return 'failing';
  const anyMissing = enabled.some((f) => missingDelegatedScopes(f, grantedScopes).length > 0);
  return anyMissing ? 'missing-permissions' : 'connected';
}

/** What each feature allows for a delegated connection. */
export function delegatedFeatures(grantedScopes: readonly string[], state: ConnectionState, enabled: readonly Feature[] = FEATURES): FeatureMap {
  const out = {} as FeatureMap;
  for (const f of FEATURES) {
    const missing = missingDelegatedScopes(f, grantedScopes);
    if (!enabled.includes(f)) out[f] = { available: false, reason: `${FEATURE_LABELS[f]} is turned off for your organisation.` };
    else if (state === 'needs-reconnect') out[f] = { available: false, reason: 'Reconnect Office 365 to use this feature again.' };
    else if (state === 'disconnected') out[f] = { available: false, reason: 'Connect Office 365 to use this feature.' };
    else if (missing.length > 0) out[f] = { available: false, reason: `Permission not granted: ${missing.join(', ')}.` };
    else if (state === 'unknown') out[f] = { available: true, reason: 'Granted; the last check could not reach Microsoft 365.' };
    else out[f] = { available: true };
  }
  return out;
}

/** What each feature allows on a legacy EWS connection: it works until EWS goes away. */
export function legacyFeatures(kind: ConnectionKind, state: ConnectionState, ewsEndDate: string): FeatureMap {
  const out = {} as FeatureMap;
  for (const f of FEATURES) {
    if (f === 'taskSync') out[f] = { available: false, reason: 'Task Sync needs an Office 365 connection (Microsoft To Do).' };
    else if (state !== 'connected') out[f] = { available: false, reason: 'The Exchange connection is not working; connect Office 365 instead.' };
    else
      out[f] = {
        available: true,
        reason: `Through ${kind === 'ews-basic' ? 'EWS with Basic Auth' : 'EWS'}, which stops working on ${formatLongDate(ewsEndDate)}.`,
      };
  }
  return out;
}

/** What each feature allows through the tenant's service account, from its roles. */
export function appOnlyFeatures(grantedRoles: readonly string[], state: ConnectionState, enabled: readonly Feature[] = FEATURES): FeatureMap {
  const out = {} as FeatureMap;
  for (const f of FEATURES) {
    if (APPLICATION_ROLES[f] === null) out[f] = { available: false, reason: `${FEATURE_LABELS[f]} needs your own consent: click Connect Office 365.` };
    else if (!enabled.includes(f)) out[f] = { available: false, reason: `${FEATURE_LABELS[f]} is not enabled for the service account.` };
    else if (state !== 'connected' && state !== 'unknown')
      out[f] = { available: false, reason: 'The service account is not working; your administrator has been told.' };
    else {
      const missing = missingApplicationRoles(f, grantedRoles);
      out[f] = missing.length ? { available: false, reason: `Application permission missing: ${missing.join(', ')}.` } : { available: true };
    }
  }
  return out;
}
