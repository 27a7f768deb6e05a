/**
 * The ports: what the services need from the identity and Graph layers (implemented in src/identity,
 * src/graph), and what the services offer the bot (BotServices, implemented in ./bot-services.ts).
 */
import type { CampaignView, FunnelView, PermissionsResponse, ProbeResult, ServiceAccountTestResponse, SummaryResponse } from '../contract';
import type { AdminStanding } from '../domain/admin';
import type { Feature } from '../domain/features';
import type { NudgeKind } from '../domain/reach';
import type { RedeemedAccount } from '../identity/delegated-auth';
import type { ServiceAccountTestInput, ServiceAccountTestResult } from '../graph/service-account-test';
import type { ConnectionRecord, ServiceAccountTestRecord } from '../store/types';

export type { RedeemedAccount, ServiceAccountTestInput, ServiceAccountTestResult };

export interface DelegatedAuthPort {
  makePkce(): { verifier: string; challenge: string };
  authCodeUrl(options: { scopes: string[]; state: string; codeChallenge: string; loginHint?: string; nonce: string; prompt?: string }): Promise<string>;
  redeemCode(options: {
    code: string;
    codeVerifier: string;
    nonce?: string;
    scopes: string[];
    tenantId: string;
    expected?: { oid: string; tid: string };
    /** false: a browser sign-in; the tokens are used once and not kept. */
    persist?: boolean;
  }): Promise<RedeemedAccount & { accessToken?: string }>;
  acquireSilent(options: {
    tenantId: string;
    homeAccountId: string;
    scopes: string[];
    forceRefresh?: boolean;
  }): Promise<{ accessToken: string; grantedScopes: string[]; expiresOn?: Date | null }>;
  removeUser(tenantId: string, homeAccountId: string): Promise<void>;
}

export interface ProbePort {
  run(options: { accessToken: string; features: Feature[] }): Promise<{ probes: ProbeResult[]; inconclusive?: 'THROTTLED' | 'GRAPH_UNAVAILABLE' }>;
}

export interface ServiceAccountTesterPort {
  run(input: ServiceAccountTestInput): Promise<ServiceAccountTestResult>;
  /** Verified domains of the tenant read through the service account; [] when not readable. */
  verifiedDomains(input: { tenant: string; clientId: string; clientSecret: string }): Promise<string[]>;
  /**
   * The tenant id (GUID) a tenant GUID or domain resolves to at Entra ID. Throws an AppError:
   * TENANT_NOT_FOUND when Entra does not know it, GRAPH_UNAVAILABLE when Entra could not be asked.
   */
  resolveTenant(tenant: string): Promise<string>;
}

/** Hears each stored test of the saved configuration (AdminService.onTestOutcome; the bot's alerts subscribe in src/server.ts). */
export type TestOutcomeListener = (tenantId: string, previous: ServiceAccountTestRecord | undefined, current: ServiceAccountTestRecord) => Promise<void>;

/**
 * What the bot needs from the rest of the product, so the bot reads services through this port and
 * never imports src/api or src/graph: Teams specifics stay in bot/ (docs/ARCHITECTURE.md).
 */
export interface BotServices {
  /**
   * Whether this Entra user (tenant id + object id) may run admin commands and receive admin cards:
   * `admin`; `unproven` when no verified token proved it within ADMIN_PROOF_MAX_DAYS (they must
   * open the tab once); `none`.
   */
  adminStanding(tenantId: string, userOid: string): Promise<AdminStanding>;
  summary(tenantId: string): Promise<SummaryResponse>;
  /**
   * Runs the test of the saved service account and stores it. The admin service's test
   * outcomes reach `bot.emitTestOutcome` for every stored test, so the bot does not do it again; it does so before
   * this promise settles, which is how the alert knows to skip the conversation that asked.
   */
  runServiceAccountTest(tenantId: string, actor: string): Promise<ServiceAccountTestResponse | { notConfigured: true }>;
  /** The connections that need their users, of users not yet on Microsoft Graph (the `remind` audience, as the campaign's). */
  usersToNudge(tenantId: string): Promise<ConnectionRecord[]>;
  /** Asked when a nudge is delivered: does it still ask something of this user (domain/reach nudgeStillDue)? */
  nudgeStillDue(tenantId: string, upn: string, kind: NudgeKind): Promise<boolean>;
  permissions(tenantId: string): Promise<PermissionsResponse>;
  /** Deep link to the personal tab (the "Reconnect" button). */
  tabUrl(): string;
  /** The reconnect campaign (src/services/campaign.ts); without it `remind` nudges only those who have the bot. */
  campaign?: CampaignBotServices;
}

export interface CampaignBotServices {
  /** `remind`: starts the campaign (or resumes it, or runs its next step) and returns where it stands. */
  remind(tenantId: string, actor: string): Promise<CampaignView>;
  /** The funnel for `status`; undefined before any campaign ran. */
  funnel(tenantId: string): Promise<FunnelView | undefined>;
  /** A user removed the bot from their personal scope: never install it for them again. */
  botRemoved(tenantId: string, who: { oid?: string; upn?: string }): Promise<void>;
}
