/**
 * Who is a Connection Center administrator: the one rule the tab, the API and the bot all apply.
 * An admin holds the ConnectionCenter.Admin app role, or is named in ADMIN_UPNS and belongs to the
 * deployment's home tenant (a UPN list cannot speak for other organisations of a multi-tenant app).
 */
import { ADMIN_APP_ROLE } from './features';

export interface AdminRuleConfig {
  /** Lower-cased UPNs from ADMIN_UPNS. */
  adminUpns: readonly string[];
  /** The tenant ADMIN_UPNS speaks for (lower-cased GUID); without one, ADMIN_UPNS grants nothing. */
  homeTenantId?: string;
}

export interface AdminClaims {
  roles: readonly string[];
  upn: string;
  tenantId: string;
}

export function isAdmin(claims: AdminClaims, config: AdminRuleConfig): boolean {
  if (claims.roles.includes(ADMIN_APP_ROLE)) return true;
  const upn = claims.upn.trim().toLowerCase();
  return !!upn && !!config.homeTenantId && claims.tenantId.toLowerCase() === config.homeTenantId.toLowerCase() && config.adminUpns.includes(upn);
}

/**
 * How the bot may treat a person: `admin` (the rule holds and a verified token proved it recently),
 * `unproven` (the rule holds on what was last seen, but no verified token proved it within
 * ADMIN_PROOF_MAX_DAYS: they must open the tab once), or `none`.
 */
export type AdminStanding = 'admin' | 'unproven' | 'none';

export const DAY_MS = 24 * 3600_000;

export function adminStanding(
  user: (AdminClaims & { adminProvenAt?: string }) | undefined,
  config: AdminRuleConfig & { proofMaxDays: number },
  now: Date,
): AdminStanding {
  if (!user || !isAdmin(user, config)) return 'none';
  const proven = user.adminProvenAt ? Date.parse(user.adminProvenAt) : NaN;
  if (Number.isNaN(proven)) return 'unproven';
  return now.getTime() - proven <= config.proofMaxDays * DAY_MS ? 'admin' : 'unproven';
}

/**
 * Where a tenant's admin grants an application's permissions for the whole organisation (Entra ID's
 * admin-consent endpoint). `tenant` is a tenant id or a verified domain.
 */
export function adminConsentUrl(authorityHost: string, tenant: string, clientId: string): string {
  return `${authorityHost}/${encodeURIComponent(tenant)}/adminconsent?client_id=${encodeURIComponent(clientId)}`;
}
