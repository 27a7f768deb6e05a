/** Delegated scopes as Entra grants them, and as a silent request may ask for them. */

/** Graph scopes as Entra returns them may carry the resource prefix; show them bare. */
export function bareScopes(scopes: readonly string[]): string[] {
  return [...new Set(scopes.map((s) => s.replace(/^https:\/\/[^/]+\//i, '').replace(/^00000003-0000-0000-c000-000000000000\//i, '')).filter(Boolean))];
}

const OIDC_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);

/** Scopes the user granted, from the access tokens MSAL cached in the partition (lower-case, bare). */
export function grantedTargetsIn(serialized: string | undefined, homeAccountId: string): Set<string> {
  try {
    const parsed = JSON.parse(serialized ?? '{}') as { AccessToken?: Record<string, CachedAccessToken> };
    return grantedTargetsOf(parsed.AccessToken, homeAccountId);
  } catch {
    return new Set(); // unreadable: nothing known
  }
}

/** An access-token entry of a serialized MSAL cache, the fields read here. */
export interface CachedAccessToken {
  home_account_id?: string;
  target?: string;
}

/** grantedTargetsIn, from a cache already parsed. */
export function grantedTargetsOf(accessTokens: Record<string, CachedAccessToken> | undefined, homeAccountId: string): Set<string> {
  const out = new Set<string>();
  for (const at of Object.values(accessTokens ?? {})) {
    if (at.home_account_id !== homeAccountId) continue;
    for (const s of bareScopes(String(at.target ?? '').split(' '))) out.add(s.toLowerCase());
  }
  return out;
}

/** The requested scopes the user granted; all granted ones when none of the requested were. */
export function grantedSubset(requested: readonly string[], granted: ReadonlySet<string>): string[] {
  const resource = requested.filter((s) => !OIDC_SCOPES.has(s.toLowerCase()));
  if (granted.size === 0) return [...requested];
  const kept = resource.filter((s) => granted.has(bareScopes([s])[0]?.toLowerCase() ?? ''));
  if (kept.length > 0) return kept;
  const fallback = [...granted].filter((s) => !OIDC_SCOPES.has(s));
  return fallback.length > 0 ? fallback : [...requested];
}
