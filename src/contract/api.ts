/**
 * JSON shapes of the HTTP API (DESIGN §7), shared by the server, the tab and the bot.
 * Types only: the tab imports this file too, so it must stay free of Node imports.
 */
import type { ConnectionKind, ConnectionState, FeatureAvailability } from '../domain/connection';
import type { ErrorBody } from '../domain/errors';
import type { Feature } from '../domain/features';
import type { DeadlineView } from '../domain/deadlines';
import type { FeatureMatrixEntry, TestStep } from './steps';

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
  tenant: string;
  clientId: string;
  secretHint: string;
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
}

/** GET /api/admin/permissions */
export interface PermissionsResponse {
  ranAt: string | null;
  ok: boolean | null;
  features: Record<Feature, FeatureMatrixView> | null;
  portal: { apiPermissionsUrl: string; adminConsentUrl: string } | null;
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
}
export interface ConnectionsResponse {
  items: ConnectionRow[];
  nextCursor?: string;
}

/** POST /api/admin/connections/import (text/csv `upn,kind[,lastSyncAt]` or JSON `{ connections: [...] }`). */
export interface ImportResponse {
  imported: number;
}

/** GET /api/admin/audit */
export interface AuditResponse {
  items: Array<{ at: string; actor: string; action: string; target?: string; details?: Record<string, unknown> }>;
}
