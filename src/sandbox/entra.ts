/**
 * Entra ID v2.0 on the sandbox's HTTPS listener: OpenID discovery, JWKS, instance discovery and the
 * token endpoint (authorization_code + PKCE, refresh_token, client_credentials, on-behalf-of).
 * The browser-facing authorize endpoint lives in authorize.ts on the plain-HTTP pages listener.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Aad, aadErrorBody, type AadError } from './aad-errors';
import { resolveTenantSegment, type SandboxContext } from './context';
import { BodyTooLargeError, mediaType, readBody, redirect, sendJson, aadTimestamp } from './http';
import { delegatedTokenResponse, mintAppAccessToken, resolveScopes, splitGranted, ACCESS_TOKEN_SECONDS, type ScopeRequest } from './issuance';
import { includesScope, isOidcScope } from './permissions';
import type { AppRegistration, TenantState, UserState } from './state';

const CODE_LIFETIME_MS = 10 * 60_000;
const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:jwt-bearer'] as const;

class AadFailure extends Error {
  constructor(readonly aad: AadError) {
    super(`AADSTS${aad.code}`);
  }
}
const fail = (e: AadError): never => {
  throw new AadFailure(e);
};

function sendAadError(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, e: AadError, headers: Record<string, string> = {}): void {
  const corr = req.headers['client-request-id'];
  ctx.faults.stats.entra.errors[String(e.code)] = (ctx.faults.stats.entra.errors[String(e.code)] ?? 0) + 1;
  sendJson(res, e.status, aadErrorBody(e, ctx.authorityHost, typeof corr === 'string' ? corr : undefined, new Date(ctx.world.now())), headers);
}

export function openIdConfiguration(ctx: SandboxContext, segment: string, tenantId: string | undefined): Record<string, unknown> {
  const h = ctx.authorityHost;
  const t = tenantId ?? segment;
  return {
    token_endpoint: `${h}/${t}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${h}/${t}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${h}/${tenantId ?? '{tenantid}'}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: `${ctx.graphEndpoint}/oidc/userinfo`,
    // Browser-facing: served over plain HTTP on loopback so that no certificate warning appears.
    authorization_endpoint: `${ctx.pagesOrigin}/${t}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${h}/${t}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${ctx.pagesOrigin}/${t}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${h}/${t}/kerberos`,
    tenant_region_scope: 'NA',
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: new URL(ctx.graphEndpoint).host,
    rbac_url: 'https://pas.windows.net',
  };
}

/** Route Entra requests on the HTTPS listener; returns false when the path is not Entra's. */
export async function handleEntra(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const segs = url.pathname.split('/').filter(Boolean);
  if (segs.length < 2) return false;
  const [segment, ...rest] = segs;
  const path = rest.join('/');
  const known = [
    'v2.0/.well-known/openid-configuration',
    'discovery/v2.0/keys',
    'discovery/keys',
    'discovery/instance',
    'oauth2/v2.0/token',
    'oauth2/v2.0/authorize',
    'oauth2/v2.0/logout',
  ];
  if (!known.includes(path)) return false;

  ctx.faults.stats.entra.requests += 1;
  if (path === 'discovery/v2.0/keys' || path === 'discovery/keys') {
    // Signing keys are exempt from faults: the real ones are cached and CDN-served, and a product
    // that verifies SSO tokens must keep working while the token endpoint is down.
    sendJson(res, 200, ctx.signer.jwks(ctx.authorityHost), { 'cache-control': 'max-age=86400, private' });
    return true;
  }
  const fault = ctx.faults.next('entra');
  if (fault) {
    const headers: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
    sendAadError(ctx, req, res, fault.kind === 'throttle' ? Aad.throttled() : Aad.transient(fault.status), headers);
    return true;
  }
  await ctx.faults.pace('entra');

  if (path === 'discovery/instance') {
    const host = new URL(ctx.authorityHost).host;
    sendJson(res, 200, {
      tenant_discovery_endpoint: `${ctx.authorityHost}/${segment}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    });
    return true;
  }
  if (path === 'oauth2/v2.0/authorize' || path === 'oauth2/v2.0/logout') {
    // Someone built the URL from the authority host: send the browser to the pages origin.
    redirect(res, `${ctx.pagesOrigin}${url.pathname}${url.search}`);
    return true;
  }
  const tenant = resolveTenantSegment(ctx, segment);
  if (path === 'v2.0/.well-known/openid-configuration') {
    if (tenant.kind === 'error') sendAadError(ctx, req, res, tenant.error);
    else
      sendJson(res, 200, openIdConfiguration(ctx, segment, tenant.kind === 'tenant' ? tenant.tenant.id : undefined), {
        'cache-control': 'max-age=86400, private',
      });
    return true;
  }
  // Token endpoint.
  try {
    if (req.method !== 'POST') fail(Aad.postOnly(req.method ?? 'GET'));
    if (tenant.kind === 'error') fail(tenant.error.code === 90002 ? Aad.tenantNotFound(segment, 'invalid_request') : tenant.error);
    let raw: string;
    try {
      raw = await readBody(req, 256 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLargeError) fail({ ...Aad.malformedGrant(), error: 'invalid_request' });
      throw err;
    }
    const params = mediaType(req) === 'application/x-www-form-urlencoded' ? new URLSearchParams(raw) : new URLSearchParams();
    const body = await token(ctx, req, params, tenant.kind === 'tenant' ? tenant.tenant : undefined);
    sendJson(res, 200, body, { pragma: 'no-cache' });
  } catch (err) {
    if (err instanceof AadFailure) sendAadError(ctx, req, res, err.aad);
    else throw err;
  }
  return true;
}

function param(params: URLSearchParams, name: string): string | undefined {
  const v = params.get(name);
  return v === null || v === '' ? undefined : v;
}
function required(params: URLSearchParams, name: string): string {
  return param(params, name) ?? fail(Aad.missingParameter(name));
}

function secretMatches(given: string, value: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(value).digest();
  return timingSafeEqual(a, b);
}

/** Client authentication: client_secret_post or client_secret_basic against the app's secret values. */
function authenticateClient(ctx: SandboxContext, req: IncomingMessage, params: URLSearchParams, tenant: TenantState | undefined): AppRegistration {
  let clientId = param(params, 'client_id');
  let secret = param(params, 'client_secret');
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  if (basic) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    if (i > 0) {
      try {
        clientId ??= decodeURIComponent(decoded.slice(0, i));
        secret ??= decodeURIComponent(decoded.slice(i + 1));
      } catch {
        fail({
          status: 401,
          error: 'invalid_client',
          code: 7000216,
          text: "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        });
      }
    }
  }
  if (!clientId) fail(Aad.missingParameter('client_id'));
  const id = clientId as string;
  const app = ctx.world.app(id);
  const home = tenant ?? (app ? ctx.world.tenants.find((t) => t.id === app.homeTenantId) : undefined);
  if (!app || !home || !ctx.world.servicePrincipal(home, app.clientId)) fail(Aad.appNotFound(id, tenant?.displayName ?? home?.displayName ?? 'common'));
  const registered = app as AppRegistration;
  if (!secret) fail(Aad.missingCredential());
  const match = registered.secrets.find((s) => secretMatches(secret as string, s.value));
  if (!match) fail(Aad.invalidSecret(registered.clientId));
  if (Date.parse((match as { endDateTime: string }).endDateTime) <= ctx.world.now()) fail(Aad.expiredSecret(registered.clientId));
  return registered;
}

function userFor(ctx: SandboxContext, tenantId: string, oid: string): { tenant: TenantState; user: UserState } {
  const tenant = ctx.world.tenants.find((t) => t.id === tenantId);
  const user = tenant ? ctx.world.findUser(tenant, oid) : undefined;
  if (!tenant || !user) return fail(Aad.grantInvalid());
  return { tenant, user };
}

function checkConditionalAccess(user: UserState, resource: string): void {
  if (user.conditionalAccess === 'blocked') fail(Aad.blockedByCa());
  if (user.conditionalAccess === 'mfa') fail(Aad.mfaRequired(resource === 'graph' ? '00000003-0000-0000-c000-000000000000' : resource));
}

/**
 * The scopes a delegated token may carry for `request`, from what the user (or an admin) granted
 * to `client`. Scopes on the client's own API need no consent. Throws 65001 when one is missing.
 */
function grantedFor(
  ctx: SandboxContext,
  tenant: TenantState,
  user: UserState,
  client: AppRegistration,
  request: ScopeRequest,
): { scopes: string[]; oidc: string[] } {
  const granted = ctx.world.grantsFor(tenant.id, user.oid, client.clientId);
  const { resourceScopes, oidc } = splitGranted(granted);
  // openid/profile/email come with any grant; a refresh token only if offline_access was granted.
  const oidcOut = request.oidc.filter((s) => s !== 'offline_access' || includesScope(oidc, 'offline_access'));
  if (request.resource !== 'graph') {
    const app = ctx.world.app(request.resource);
    const ownOrPreAuthorized = request.resource === client.clientId || (app?.preAuthorizedClientIds.includes(client.clientId) ?? false);
    if (!ownOrPreAuthorized) fail(Aad.consentRequired(client.clientId, client.displayName));
    return { scopes: request.isDefault ? (app?.exposedScopes ?? []) : request.names, oidc: oidcOut };
  }
  if (request.isDefault) {
    if (resourceScopes.length === 0) fail(Aad.consentRequired(client.clientId, client.displayName));
    return { scopes: resourceScopes, oidc: oidcOut };
  }
  const missing = request.names.filter((s) => !includesScope(resourceScopes, s));
  if (missing.length) fail(Aad.consentRequired(client.clientId, client.displayName));
  return { scopes: request.names, oidc: oidcOut };
}

async function token(ctx: SandboxContext, req: IncomingMessage, params: URLSearchParams, tenant: TenantState | undefined): Promise<Record<string, unknown>> {
  const grantType = required(params, 'grant_type');
  if (!(GRANT_TYPES as readonly string[]).includes(grantType)) fail(Aad.unsupportedGrant(grantType));
  const client = authenticateClient(ctx, req, params, tenant);
  const wantsClientInfo = param(params, 'client_info') === '1';
  const count = (g: string) => (ctx.faults.stats.entra.tokensIssued[g] = (ctx.faults.stats.entra.tokensIssued[g] ?? 0) + 1);

  if (grantType === 'client_credentials') {
    if (!tenant)
      fail({
        status: 400,
        error: 'invalid_request',
        code: 50059,
        text: 'No tenant-identifying information found in either the request or implied by any provided credentials.',
      });
    const t = tenant as TenantState;
    const scope = required(params, 'scope');
    const scopes = scope.split(/\s+/).filter(Boolean);
    if (scopes.length !== 1 || !scopes[0].endsWith('/.default')) fail(Aad.scopeNotDefault(scope));
    const resolved = resolveScopes(ctx, scopes[0], t.displayName);
    if (!resolved.ok) return fail(resolved.error);
    if (resolved.request.resource !== 'graph') fail(Aad.resourceNotFound(scopes[0].replace(/\/\.default$/, ''), t.displayName));
    const sp = ctx.world.servicePrincipal(t, client.clientId);
    if (!sp) return fail(Aad.appNotFound(client.clientId, t.displayName));
    count(grantType);
    return {
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_SECONDS,
      ext_expires_in: ACCESS_TOKEN_SECONDS,
      access_token: await mintAppAccessToken(ctx, t, client, sp),
    };
  }

  if (grantType === 'authorization_code') {
    const code = required(params, 'code');
    const redirectUri = required(params, 'redirect_uri');
    const record = ctx.world.codes.get(code);
    if (!record) return fail(Aad.malformedGrant());
    if (record.redeemed) fail(Aad.codeRedeemed());
    if (ctx.world.now() - record.issuedAt > CODE_LIFETIME_MS) fail(Aad.codeExpired());
    if (record.clientId !== client.clientId || (tenant && tenant.id !== record.tenantId)) fail(Aad.grantInvalid());
    if (record.redirectUri !== redirectUri) fail(Aad.redirectMismatchAtToken(redirectUri, record.redirectUri));
    if (record.codeChallenge) {
      const verifier = required(params, 'code_verifier');
      const computed = record.codeChallengeMethod === 'plain' ? verifier : createHash('sha256').update(verifier).digest('base64url');
      if (computed !== record.codeChallenge) fail(Aad.pkceMismatch());
    }
    record.redeemed = true;
    const { tenant: t, user } = userFor(ctx, record.tenantId, record.oid);
    count(grantType);
    return delegatedTokenResponse(ctx, {
      tenant: t,
      user,
      client,
      resource: record.resource,
      scopes: record.scopes.filter((s) => !isOidcScope(s)),
      oidc: record.scopes.filter(isOidcScope),
      nonce: record.nonce,
      clientInfo: wantsClientInfo,
      idToken: true,
    });
  }

  if (grantType === 'refresh_token') {
    const rt = required(params, 'refresh_token');
    const record = ctx.world.refreshToken(rt);
    if (!record) return fail(Aad.malformedGrant());
    if (record.clientId !== client.clientId || (tenant && tenant.id !== record.tenantId)) fail(Aad.grantInvalid());
    const { tenant: t, user } = userFor(ctx, record.tenantId, record.oid);
    const issued = aadTimestamp(new Date(record.issuedAt));
    if (user.refreshRevoked) fail(Aad.revoked(issued, aadTimestamp(new Date(ctx.world.now()))));
    if (record.issuedAt < user.tokensValidFrom)
      fail(user.revokeReason === 'expired' ? Aad.refreshExpired(issued) : Aad.revoked(issued, aadTimestamp(new Date(user.tokensValidFrom))));
    const resolved = resolveScopes(ctx, param(params, 'scope') ?? 'openid profile offline_access https://graph.microsoft.com/.default', t.displayName);
    if (!resolved.ok) return fail(resolved.error);
    checkConditionalAccess(user, resolved.request.resource);
    const granted = grantedFor(ctx, t, user, client, resolved.request);
    count(grantType);
    return delegatedTokenResponse(ctx, {
      tenant: t,
      user,
      client,
      resource: resolved.request.resource,
      scopes: granted.scopes,
      oidc: granted.oidc,
      clientInfo: wantsClientInfo,
      idToken: true,
    });
  }

  // On-behalf-of: exchange the user's token for the product API for a Graph token.
  const assertion = required(params, 'assertion');
  if (required(params, 'requested_token_use') !== 'on_behalf_of')
    fail({
      ...Aad.missingParameter('requested_token_use'),
      text: "The request body must contain the following parameter: 'requested_token_use' with the value 'on_behalf_of'.",
    });
  const scope = required(params, 'scope');
  const verified = await ctx.signer.verify(assertion, ctx.world.now());
  if (!verified.ok)
    fail(
      verified.reason === 'expired' || verified.reason === 'not-yet-valid'
        ? Aad.assertionExpired()
        : verified.reason === 'signature'
          ? Aad.assertionSignature()
          : Aad.assertionMalformed(),
    );
  const claims = (verified as { claims: Record<string, unknown> }).claims;
  const tid = String(claims.tid ?? '');
  if (claims.iss !== `${ctx.authorityHost}/${tid}/v2.0`) fail(Aad.assertionSignature());
  const aud = String(claims.aud ?? '');
  if (ctx.world.resolveAppUri(aud) !== client.clientId) fail(Aad.assertionAudience(aud, client.clientId));
  if (claims.idtyp === 'app' || typeof claims.oid !== 'string') fail(Aad.grantInvalid());
  if (tenant && tenant.id !== tid) fail(Aad.grantInvalid());
  const { tenant: t, user } = userFor(ctx, tid, claims.oid as string);
  const resolved = resolveScopes(ctx, scope, t.displayName);
  if (!resolved.ok) return fail(resolved.error);
  checkConditionalAccess(user, resolved.request.resource);
  const granted = grantedFor(ctx, t, user, client, resolved.request);
  count('on_behalf_of');
  return delegatedTokenResponse(ctx, {
    tenant: t,
    user,
    client,
    resource: resolved.request.resource,
    scopes: granted.scopes,
    oidc: granted.oidc,
    clientInfo: wantsClientInfo,
    idToken: false,
  });
}
