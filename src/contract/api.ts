/**
 * JSON shapes of the HTTP API (the README's API table), shared by the server, the tab and the bot.
 * Types only: the tab imports this file too, so it must stay free of Node imports.
 */
import type { ConnectionKind, ConnectionState, FeatureAvailability } from '../domain/connection';
import type { ErrorBody } from '../domain/errors';
import type { Feature } from '../domain/features';
import type { DeadlineView } from '../domain/deadlines';
import type { CampaignStatus, UnreachableReason } from '../domain/reach';
import type { FeatureMatrixEntry, FeatureResults, TestStep } from './steps';

export type { ErrorBody };
export interface ErrorEnvelope {
  error: ErrorBody;
}

/** GET /api/me — who is signed in and how. */
export interface MeResponse {
  user: { oid: string; upn: string; name?: string; tenantId: string };
  isAdmin: boolean;
  /** `sso`: Teams/Outlook bearer token; `session`: browser sign-in cookie (send X-CSRF-Token on writes). */
  auth: 'sso' | 'session';
  csrfToken?: string;
  /** True when the server runs against its built-in sandbox tenant. */
  sandbox: boolean;
  enabledFeatures: Feature[];
}

/** GET /api/me/connection */
export interface ConnectionView {
  kind: ConnectionKind | null;
  state: ConnectionState;
  features: Record<Feature, FeatureAvailability>;
  grantedScopes: string[];
  lastCheckedAt: string | null;
  error?: ErrorBody;
  /** A legacy EWS connection still on record beside the Graph one (it can be removed). */
  legacy?: { kind: ConnectionKind; lastSyncAt?: string };
}
export interface ConnectionResponse {
  connection: ConnectionView;
  deadline?: DeadlineView;
  /**
   * The page where an administrator grants tenant-wide consent, built by the server for the
   * user's own tenant. The tab links only to this, never to a URL from its address bar.
   */
  adminConsentUrl: string;
}

/** POST /api/me/connect, body `{ mode?: 'popup' | 'redirect' }`. */
export interface ConnectResponse {
  url: string;
}

/** POST /api/me/connection/test */
export interface ProbeResult {
  feature: Feature | 'profile';
  /** Which Graph resource was read, e.g. `inbox`, `calendar`, `events`, `todoLists`, `me`. */
  probe: string;
  ok: boolean;
  code?: string;
  message?: string;
}
export interface ConnectionTestResponse {
  probes: ProbeResult[];
  connection: ConnectionView;
}

/** GET/PUT /api/admin/domains */
export interface DomainsResponse {
  domains: string[];
  /** Verified domains of the tenant read from Graph, when readable. */
  suggestions: string[];
}

/** GET/PUT /api/admin/service-account (the secret is write-only: only its hint comes back). */
export interface ServiceAccountView {
  /** The tenant as the admin typed it: GUID or verified domain. */
  tenant: string;
  clientId: string;
  /** First three characters of the secret, for the admin's recognition. */
  secretHint: string;
  /** ISO date the admin entered (the portal's "Expires" column). */
  secretExpiresAt?: string;
  testAccount: string;
  outOfScopeAccount?: string;
  features: Feature[];
  updatedAt: string;
  updatedBy: string;
}
export interface ServiceAccountResponse {
  serviceAccount: ServiceAccountView | null;
}
/** PUT body; `clientSecret` may be omitted to keep the stored one. */
export interface ServiceAccountInput {
  tenant: string;
  clientId: string;
  clientSecret?: string;
  secretExpiresAt?: string;
  testAccount: string;
  outOfScopeAccount?: string;
  features: Feature[];
}

/** Test steps and the per-feature matrix are stored as they are shown. */
export type TestStepView = TestStep;
export type FeatureMatrixView = FeatureMatrixEntry;
/** POST /api/admin/service-account/test */
export interface ServiceAccountTestResponse {
  ok: boolean;
  ranAt: string;
  steps: TestStepView[];
  features: Record<Feature, FeatureMatrixView>;
  /** The product's own app and TeamsAppInstallation.ReadWriteSelfForUser.All (optional; reach). */
  reach?: ReachPermissionView;
}

/** GET /api/admin/permissions */
export interface PermissionsResponse {
  ranAt: string | null;
  ok: boolean | null;
  features: Record<Feature, FeatureMatrixView> | null;
  portal: { apiPermissionsUrl: string; adminConsentUrl: string } | null;
  /** The product's own app and TeamsAppInstallation.ReadWriteSelfForUser.All (optional; reach). */
  reach?: ReachPermissionView;
}

/** GET /api/admin/summary */
export interface SummaryResponse {
  total: number;
  byKind: Record<ConnectionKind, number>;
  byState: Record<ConnectionState, number>;
  /** Users still on a legacy kind (ews-basic, ews-oauth) or needing to reconnect. */
  needAction: number;
  deadlines: Array<DeadlineView & { affectedUsers: number }>;
  serviceAccount: { configured: boolean; lastTest?: { ok: boolean; ranAt: string } };
}

/** GET /api/admin/connections */
export interface ConnectionRow {
  upn: string;
  displayName?: string;
  kind: ConnectionKind;
  state: ConnectionState;
  lastCheckedAt?: string;
  lastSyncAt?: string;
  error?: ErrorBody;
  /** Per-feature result of the last health check; a legacy connection's says whether the service account reaches it. */
  featureResults?: FeatureResults;
}
export interface ConnectionsResponse {
  items: ConnectionRow[];
  nextCursor?: string;
}

/**
 * Who saw or made a change of state. `check`: a health-check run found it; `user`: the user's own
 * Test, reconnect (and the check right after it) or removal; `system`: the product (what a UPN's
 * previous owner left, removed when someone new signed in with it).
 */
export type ChangeSeenBy = 'check' | 'user' | 'system';

/** GET /api/admin/connections/history?upn= : a user's state changes, newest first. */
export interface ConnectionHistoryResponse {
  upn: string;
  /** The user's connections as they are now, one per kind. */
  connections: Array<{ kind: ConnectionKind; state: ConnectionState; lastCheckedAt?: string }>;
  changes: Array<{
    kind: ConnectionKind;
    from: ConnectionState;
    to: ConnectionState;
    /** The catalogue code of the new state's error, when it has one. */
    code?: string;
    at: string;
    seenBy: ChangeSeenBy;
  }>;
}

/** POST /api/admin/connections/import (text/csv `upn,kind[,lastSyncAt]` or JSON `{ connections: [...] }`). */
export interface ImportResponse {
  imported: number;
}

/** POST /api/admin/checks (202), GET /api/admin/checks/latest */
export interface CheckStartedResponse {
  check: { id: string; status: 'running'; startedAt: string };
}
/** A health-check run as the admin sees it: progress, counts by state and what changed. */
export interface CheckView {
  id: string;
  status: 'running' | 'done' | 'failed';
  startedAt: string;
  finishedAt?: string;
  checked: number;
  total: number;
  byState: Partial<Record<ConnectionState, number>>;
  changes: Array<{ upn: string; from: ConnectionState; to: ConnectionState; code?: string }>;
}
export interface CheckLatestResponse {
  check: CheckView | null;
}

/** GET /api/admin/audit */
export interface AuditResponse {
  items: Array<{ at: string; actor: string; action: string; target?: string; details?: Record<string, unknown> }>;
}

// ---- reach: the reconnect campaign (GET/POST /api/admin/campaign)

export interface UnreachableView {
  reason: UnreachableReason;
  code: string;
  count: number;
  message: string;
  remedy: string;
}

export interface FunnelCounts {
  targeted: number;
  installed: number;
  nudged: number;
  opened: number;
  reconnected: number;
}

export interface FunnelView extends FunnelCounts {
  unreachable: UnreachableView[];
  /** Each stage by the UTC day it happened, oldest first. */
  perDay: Array<{ day: string } & FunnelCounts>;
}

export interface ReachPermissionView {
  permission: string;
  granted: boolean;
  enables: string;
  without: string;
  remedy?: string;
  adminConsentUrl: string;
}

/** GET /api/admin/campaign: `{ campaign: CampaignView }` */
export interface CampaignView {
  status: CampaignStatus;
  startedAt?: string;
  domains?: string[];
  lastStepAt?: string;
  minDaysBetween: number;
  funnel: FunnelView;
  permission?: ReachPermissionView;
}

export interface CampaignResponse {
  campaign: CampaignView;
}
