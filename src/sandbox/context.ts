/** What every sandbox surface shares: the world, the signing key, the faults, the addresses. */
import type { Faults } from './faults';
import type { World, TenantState } from './state';
import type { TokenSigner } from './tokens';
import { Aad, type AadError } from './aad-errors';

/** The subset of pino the sandbox uses (pino loggers fit). */
export interface SandboxLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export const silentLogger: SandboxLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface AuthRequest {
  id: string;
  tenantSegment: string;
  /** Set when the authority names one tenant (GUID or domain); unset for common/organizations. */
  tenantId?: string;
  clientId: string;
  redirectUri: string;
  responseMode: 'query' | 'fragment' | 'form_post';
  state?: string;
  nonce?: string;
  scope: string;
  codeChallenge?: string;
  codeChallengeMethod?: string;
  loginHint?: string;
  prompt?: string;
  clientInfo: boolean;
  createdAt: number;
  userOid?: string;
}

export interface SandboxContext {
  world: World;
  signer: TokenSigner;
  faults: Faults;
  authorityHost: string;
  graphEndpoint: string;
  pagesOrigin: string;
  logger: SandboxLogger;
  authRequests: Map<string, AuthRequest>;
  /** Graph resources served by other modules (graph.ts GraphExtension), tried in order. */
  graphExtensions?: import('./graph').GraphExtension[];
}

export const MULTI_TENANT_SEGMENTS = ['common', 'organizations'];

export type TenantResolution = { kind: 'tenant'; tenant: TenantState } | { kind: 'multi'; segment: string } | { kind: 'error'; error: AadError };

/** `/{tenant}/…`: a GUID, a verified domain, or common/organizations. */
export function resolveTenantSegment(ctx: SandboxContext, segment: string, notFoundError = 'invalid_tenant'): TenantResolution {
  const s = segment.toLowerCase();
  if (MULTI_TENANT_SEGMENTS.includes(s)) return { kind: 'multi', segment: s };
  if (!/^[a-z0-9.-]+$/.test(s)) return { kind: 'error', error: Aad.tenantMalformed(segment) };
  const tenant = ctx.world.findTenant(s);
  if (!tenant) return { kind: 'error', error: Aad.tenantNotFound(segment, notFoundError) };
  return { kind: 'tenant', tenant };
}
