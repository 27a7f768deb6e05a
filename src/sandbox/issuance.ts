/**
 * Scope resolution and token minting, shared by the token endpoint, the authorize flow and
 * `issueToken`. Tokens carry the claims Entra ID puts in v2.0 tokens.
 */
import { randomUUID } from 'node:crypto';
import type { SandboxContext } from './context';
import { Aad, type AadError } from './aad-errors';
import { canonicalScope, GRAPH_RESOURCE, isOidcScope, parseScope } from './permissions';
import type { AppRegistration, ServicePrincipal, TenantState, UserState } from './state';
import { clientInfo, pairwiseSub } from './tokens';
import { opaqueToken } from './state';

export const ACCESS_TOKEN_SECONDS = 3599;
export const REFRESH_TOKEN_PREFIX = '1.AXsandbox-rt.';

/** A scope parameter resolved to one resource. */
export interface ScopeRequest {
  /** 'graph' or the client id of the app whose API is requested. */
  resource: string;
  /** Permission names on that resource (canonical spelling), `.default` excluded. */
  names: string[];
  oidc: string[];
  isDefault: boolean;
  raw: string;
}

export function resolveScopes(
  ctx: SandboxContext,
  scopeParam: string,
  tenantName: string,
): { ok: true; request: ScopeRequest } | { ok: false; error: AadError } {
  const parts = scopeParam.split(/\s+/).filter(Boolean);
  const resources = new Set<string>();
  const names: string[] = [];
  const oidc: string[] = [];
  let isDefault = false;
  for (const raw of parts) {
    const parsed = parseScope(raw, (uri) => ctx.world.resolveAppUri(uri));
    if ('error' in parsed) return { ok: false, error: Aad.resourceNotFound(raw.slice(0, raw.lastIndexOf('/')), tenantName) };
    if (parsed.resource === 'oidc') {
      if (!oidc.includes(parsed.name)) oidc.push(parsed.name);
      continue;
    }
    resources.add(parsed.resource);
    if (parsed.name === '.default') isDefault = true;
    else if (parsed.name) names.push(canonicalScope(parsed.name));
  }
  if (resources.size > 1) return { ok: false, error: Aad.multipleResources(scopeParam) };
  const resource = [...resources][0] ?? 'graph';
  return { ok: true, request: { resource, names: [...new Set(names)], oidc, isDefault, raw: scopeParam } };
}

export function audienceFor(resource: string): string {
  return resource === 'graph' ? GRAPH_RESOURCE : resource;
}

function issuer(ctx: SandboxContext, tenantId: string): string {
  return `${ctx.authorityHost}/${tenantId}/v2.0`;
}

function times(ctx: SandboxContext, lifetime: number): { iat: number; nbf: number; exp: number } {
  const now = Math.floor(ctx.world.now() / 1000);
  return { iat: now, nbf: now, exp: now + lifetime };
}

/** App roles of `resourceApp` assigned to the user (only the product app defines any). */
function userAppRoles(ctx: SandboxContext, user: UserState, resourceClientId: string): string[] {
  const app = ctx.world.app(resourceClientId);
  if (!app) return [];
  return user.roles.filter((r) => app.appRoles.some((ar) => ar.value === r));
}

export interface DelegatedTokenInput {
  tenant: TenantState;
  user: UserState;
  client: AppRegistration;
  resource: string;
  /** Resource permissions (no OIDC scopes). */
  scopes: string[];
  oidc: string[];
  lifetimeSeconds?: number;
  audienceOverride?: string;
}

export async function mintDelegatedAccessToken(ctx: SandboxContext, input: DelegatedTokenInput): Promise<string> {
  const { tenant, user, client, resource } = input;
  const scp = [...input.scopes, ...input.oidc.filter((s) => s !== 'offline_access')].join(' ');
  const claims: Record<string, unknown> = {
    aud: input.audienceOverride ?? audienceFor(resource),
    iss: issuer(ctx, tenant.id),
    ...times(ctx, input.lifetimeSeconds ?? ACCESS_TOKEN_SECONDS),
    aio: randomUUID(),
    azp: client.clientId,
    azpacr: '1',
    idtyp: 'user',
    name: user.displayName,
    oid: user.oid,
    preferred_username: user.upn,
    rh: '0.sandbox.',
    scp,
    sub: pairwiseSub(user.oid, client.clientId),
    tid: tenant.id,
    ver: '2.0',
  };
  if (user.givenName) claims.given_name = user.givenName;
  if (user.surname) claims.family_name = user.surname;
  if (resource === 'graph') {
    // Graph tokens as people see them in jwt.ms also carry these v1-style names.
    claims.appid = client.clientId;
    claims.app_displayname = client.displayName;
    claims.upn = user.upn;
    claims.unique_name = user.upn;
  } else {
    const roles = userAppRoles(ctx, user, resource);
    if (roles.length) claims.roles = roles;
  }
  return ctx.signer.sign(claims);
}

export async function mintAppAccessToken(ctx: SandboxContext, tenant: TenantState, client: AppRegistration, sp: ServicePrincipal): Promise<string> {
  const claims: Record<string, unknown> = {
    aud: GRAPH_RESOURCE,
    iss: issuer(ctx, tenant.id),
    ...times(ctx, ACCESS_TOKEN_SECONDS),
    aio: randomUUID(),
    app_displayname: client.displayName,
    appid: client.clientId,
    azp: client.clientId,
    azpacr: '1',
    idtyp: 'app',
    oid: sp.id,
    rh: '0.sandbox.',
    sub: sp.id,
    tid: tenant.id,
    ver: '2.0',
  };
  if (sp.graphRoles.length) claims.roles = [...sp.graphRoles];
  return ctx.signer.sign(claims);
}

export async function mintIdToken(
  ctx: SandboxContext,
  tenant: TenantState,
  user: UserState,
  client: AppRegistration,
  nonce: string | undefined,
  oidc: string[],
): Promise<string> {
  const claims: Record<string, unknown> = {
    aud: client.clientId,
    iss: issuer(ctx, tenant.id),
    ...times(ctx, 3600),
    name: user.displayName,
    oid: user.oid,
    preferred_username: user.upn,
    rh: '0.sandbox.',
    sub: pairwiseSub(user.oid, client.clientId),
    tid: tenant.id,
    ver: '2.0',
  };
  if (nonce) claims.nonce = nonce;
  if (oidc.includes('email')) claims.email = user.upn;
  const roles = userAppRoles(ctx, user, client.clientId);
  if (roles.length) claims.roles = roles;
  return ctx.signer.sign(claims);
}

export interface DelegatedResponseInput {
  tenant: TenantState;
  user: UserState;
  client: AppRegistration;
  resource: string;
  scopes: string[];
  oidc: string[];
  nonce?: string;
  /** Return client_info (MSAL asks with client_info=1). */
  clientInfo: boolean;
  /** Return an id_token when openid is in scope. */
  idToken: boolean;
}

/** The token endpoint's JSON for a user: access token, and refresh/id tokens when in scope. */
export async function delegatedTokenResponse(ctx: SandboxContext, input: DelegatedResponseInput): Promise<Record<string, unknown>> {
  const { tenant, user, client } = input;
  const accessToken = await mintDelegatedAccessToken(ctx, input);
  const scopeOut =
    input.resource === 'graph'
      ? input.scopes
      : input.scopes.map((s) => `${ctx.world.app(input.resource)?.identifierUris[0] ?? `api://${input.resource}`}/${s}`);
  const body: Record<string, unknown> = {
    token_type: 'Bearer',
    scope: [...scopeOut, ...input.oidc.filter((s) => s !== 'offline_access')].join(' '),
    expires_in: ACCESS_TOKEN_SECONDS,
    ext_expires_in: ACCESS_TOKEN_SECONDS,
    access_token: accessToken,
  };
  if (input.oidc.includes('offline_access')) {
    const rt = opaqueToken(REFRESH_TOKEN_PREFIX);
    ctx.world.addRefreshToken(rt, { tenantId: tenant.id, oid: user.oid, clientId: client.clientId, issuedAt: ctx.world.now() });
    body.refresh_token = rt;
  }
  if (input.idToken && input.oidc.includes('openid')) body.id_token = await mintIdToken(ctx, tenant, user, client, input.nonce, input.oidc);
  if (input.clientInfo) body.client_info = clientInfo(user.oid, tenant.id);
  return body;
}

/** OIDC scopes are granted implicitly with any consent; split a granted list into the two kinds. */
export function splitGranted(granted: readonly string[]): { resourceScopes: string[]; oidc: string[] } {
  return { resourceScopes: granted.filter((s) => !isOidcScope(s)), oidc: granted.filter(isOidcScope).map((s) => s.toLowerCase()) };
}
