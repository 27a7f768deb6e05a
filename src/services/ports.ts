/** What the services need from the identity and Graph layers (implemented in src/identity, src/graph). */
import type { ProbeResult } from '../api/contract';
import type { Feature } from '../domain/features';
import type { RedeemedAccount } from '../identity/msal';
import type { ServiceAccountTestInput, ServiceAccountTestResult } from '../graph/service-account-test';

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
