/** What the services need from the identity and Graph layers (implemented in src/identity, src/graph). */
import type { ProbeResult } from '../api/contract';
import type { Feature } from '../domain/features';

export interface RedeemedAccount {
  homeAccountId: string;
  oid: string;
  tid: string;
  upn: string;
  name?: string;
  grantedScopes: string[];
}

export interface DelegatedAuthPort {
  makePkce(): { verifier: string; challenge: string };
  authCodeUrl(options: { scopes: string[]; state: string; codeChallenge: string; loginHint?: string; nonce: string; prompt?: string }): Promise<string>;
  redeemCode(options: { code: string; codeVerifier: string; nonce?: string; scopes: string[]; tenantId: string; expected?: { oid: string; tid: string }; persist?: boolean }): Promise<RedeemedAccount & { accessToken?: string }>;
  acquireSilent(options: { tenantId: string; homeAccountId: string; scopes: string[]; forceRefresh?: boolean }): Promise<{ accessToken: string; grantedScopes: string[]; expiresOn?: Date | null }>;
  removeUser(tenantId: string, homeAccountId: string): Promise<void>;
}

export interface ProbePort {
  run(options: { accessToken: string; features: Feature[] }): Promise<{ probes: ProbeResult[]; inconclusive?: 'THROTTLED' | 'GRAPH_UNAVAILABLE' }>;
}

import type { FeatureMatrixEntry, TestStep } from '../store/types';

export interface ServiceAccountTestInput {
  tenant: string;
  clientId: string;
  clientSecret: string;
  testAccount: string;
  outOfScopeAccount?: string;
  features: Feature[];
  domains: string[];
}
export interface ServiceAccountTestOutcome {
  ok: boolean;
  steps: TestStep[];
  features: Record<Feature, FeatureMatrixEntry>;
  grantedRoles: string[];
}
export interface ServiceAccountTesterPort {
  run(input: ServiceAccountTestInput): Promise<ServiceAccountTestOutcome>;
  /** Verified domains of the tenant read through the service account; [] when not readable. */
  verifiedDomains(input: { tenant: string; clientId: string; clientSecret: string }): Promise<string[]>;
}
