/**
 * The browser side of Entra ID: /{tenant}/oauth2/v2.0/authorize with a sign-in page (pick a demo
 * user), a consent page (Accept / Cancel) and Microsoft's error redirects. Served on a plain-HTTP
 * loopback listener so a person's browser shows no certificate warning.
 *
 * Non-interactive for tests: when login_hint names a user whose consent decision is preset (or who
 * needs no new consent), the request completes at once with a redirect, unless `prompt` asks for a page.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Aad, type AadError } from './aad-errors';
import { resolveTenantSegment, type AuthRequest, type SandboxContext } from './context';
import { aadTimestamp, BodyTooLargeError, mediaType, readBody, redirect, requestUrl, sendHtml } from './http';
import { resolveScopes, type ScopeRequest } from './issuance';
import { ADMIN_ONLY_DELEGATED, includesScope, isOidcScope } from './permissions';
import { opaqueToken, type AppRegistration, type TenantState, type UserState } from './state';
import { clientInfo } from './tokens';
import { adminApprovalPage, consentPage, errorPage, formPostPage, homePage, pickerPage, signedOutPage } from './pages';

const SESSION_LIFETIME_MS = 30 * 60_000;
const DEFAULT_SIGN_IN = ['openid', 'profile', 'offline_access', 'User.Read'];

interface Pending {
  request: AuthRequest;
  client: AppRegistration;
  scopes: ScopeRequest;
}

export async function handlePages(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = requestUrl(req.url, ctx.pagesOrigin);
  if (!url) return sendHtml(res, 400, errorPage(ctx, undefined, 'This address is not valid.'));
  const segs = url.pathname.split('/').filter(Boolean);
  pruneSessions(ctx);
  if (url.pathname === '/' && req.method === 'GET') return sendHtml(res, 200, homePage(ctx));
  if (segs.length === 4 && segs[1] === 'oauth2' && segs[2] === 'v2.0' && segs[3] === 'authorize') {
    const params = req.method === 'POST' ? await formParams(req) : url.searchParams;
    return authorize(ctx, res, segs[0], params);
  }
  if (segs.length === 4 && segs[1] === 'oauth2' && segs[2] === 'v2.0' && segs[3] === 'logout') {
    const back = url.searchParams.get('post_logout_redirect_uri');
    if (back && isRegisteredOrigin(ctx, back)) return redirect(res, back);
    return sendHtml(res, 200, signedOutPage(ctx));
  }
  if (req.method === 'POST' && segs[0] === '_sandbox' && segs.length === 2) {
    const form = await formParams(req);
    const pending = lookup(ctx, form.get('session') ?? '');
    if (!pending) return sendHtml(res, 400, errorPage(ctx, Aad.malformedGrant(), 'This sign-in page has expired. Go back to the app and start again.'));
    if (segs[1] === 'signin') return chooseUser(ctx, res, pending, form.get('user') ?? '');
    if (segs[1] === 'consent') return consentDecision(ctx, res, pending, form.get('decision') === 'accept');
    if (segs[1] === 'return') return finishWithError(ctx, res, pending, Aad.adminApproval());
  }
  sendHtml(res, 404, errorPage(ctx, undefined, 'There is no sandbox page at this address.'));
}

async function formParams(req: IncomingMessage): Promise<URLSearchParams> {
  try {
    const raw = await readBody(req, 64 * 1024);
    return mediaType(req) === 'application/x-www-form-urlencoded' ? new URLSearchParams(raw) : new URLSearchParams();
  } catch (err) {
    if (err instanceof BodyTooLargeError) return new URLSearchParams();
    throw err;
  }
}

function isRegisteredOrigin(ctx: SandboxContext, uri: string): boolean {
  try {
    const origin = new URL(uri).origin;
    return ctx.world.apps.some((a) => a.redirectUris.some((r) => new URL(r).origin === origin));
  } catch {
    return false;
  }
}

function pruneSessions(ctx: SandboxContext): void {
  const now = ctx.world.now();
  for (const [id, r] of ctx.authRequests) if (now - r.createdAt > SESSION_LIFETIME_MS) ctx.authRequests.delete(id);
}

function lookup(ctx: SandboxContext, id: string): Pending | undefined {
  const request = ctx.authRequests.get(id);
  if (!request) return undefined;
  const client = ctx.world.app(request.clientId);
  if (!client) return undefined;
  const tenantName = request.tenantId ? (ctx.world.tenants.find((t) => t.id === request.tenantId)?.displayName ?? '') : request.tenantSegment;
  const scopes = resolveScopes(ctx, request.scope, tenantName);
  if (!scopes.ok) return undefined;
  return { request, client, scopes: scopes.request };
}

function authorize(ctx: SandboxContext, res: ServerResponse, segment: string, params: URLSearchParams): void {
  const get = (n: string) => {
    const v = params.get(n);
    return v === null || v === '' ? undefined : v;
  };
  // Until client and redirect URI are known to be good, errors are shown, never redirected.
  const resolved = resolveTenantSegment(ctx, segment);
  if (resolved.kind === 'error') return sendHtml(res, 400, errorPage(ctx, resolved.error));
  const tenant = resolved.kind === 'tenant' ? resolved.tenant : undefined;
  const clientId = get('client_id');
  if (!clientId) return sendHtml(res, 400, errorPage(ctx, Aad.missingParameter('client_id')));
  const client = ctx.world.app(clientId);
  const home = client ? ctx.world.tenants.find((t) => t.id === client.homeTenantId) : undefined;
  const reachable = client && (tenant ? ctx.world.servicePrincipal(tenant, client.clientId) : client.multiTenant ? home : undefined);
  if (!client || !reachable) return sendHtml(res, 400, errorPage(ctx, Aad.appNotFound(clientId, tenant?.displayName ?? segment)));
  const redirectUri = get('redirect_uri');
  if (!redirectUri) return sendHtml(res, 400, errorPage(ctx, Aad.missingParameter('redirect_uri')));
  if (!ctx.world.redirectUriAllowed(client, redirectUri)) return sendHtml(res, 400, errorPage(ctx, Aad.redirectMismatch(redirectUri, client.clientId)));

  const responseModeParam = get('response_mode') ?? 'query';
  const responseMode = (['query', 'fragment', 'form_post'].includes(responseModeParam) ? responseModeParam : 'query') as AuthRequest['responseMode'];
  const request: AuthRequest = {
    id: randomBytes(24).toString('base64url'),
    tenantSegment: segment,
    tenantId: tenant?.id,
    clientId: client.clientId,
    redirectUri,
    responseMode,
    state: get('state'),
    nonce: get('nonce'),
    scope: get('scope') ?? '',
    codeChallenge: get('code_challenge'),
    codeChallengeMethod: get('code_challenge') ? (get('code_challenge_method') ?? 'plain') : undefined,
    loginHint: get('login_hint'),
    prompt: get('prompt')?.toLowerCase(),
    clientInfo: get('client_info') === '1',
    createdAt: ctx.world.now(),
  };
  const pendingBase = { request, client };
  const responseType = get('response_type');
  if (!responseType) return finishWithError(ctx, res, { ...pendingBase, scopes: emptyScopes() }, Aad.missingParameter('response_type'));
  if (responseType !== 'code') return finishWithError(ctx, res, { ...pendingBase, scopes: emptyScopes() }, Aad.unsupportedResponseType(responseType));
  if (!request.scope) return finishWithError(ctx, res, { ...pendingBase, scopes: emptyScopes() }, Aad.missingParameter('scope'));
  if (request.codeChallengeMethod && !['S256', 'plain'].includes(request.codeChallengeMethod)) {
    return finishWithError(ctx, res, { ...pendingBase, scopes: emptyScopes() }, Aad.badChallengeMethod(request.codeChallengeMethod));
  }
  const scopes = resolveScopes(ctx, request.scope, tenant?.displayName ?? segment);
  if (!scopes.ok) return finishWithError(ctx, res, { ...pendingBase, scopes: emptyScopes() }, scopes.error);
  const pending: Pending = { request, client, scopes: scopes.request };
  ctx.authRequests.set(request.id, request);

  const hinted = request.loginHint ? findUser(ctx, tenant, request.loginHint) : undefined;
  const prompt = request.prompt;
  if (prompt === 'none') {
    if (!hinted) return finishWithError(ctx, res, pending, Aad.loginRequired());
    request.userOid = hinted.oid;
    const plan = consentPlan(ctx, hinted, pending);
    if (plan.needed.length) return finishWithError(ctx, res, pending, Aad.interactiveConsentRequired(client.clientId, client.displayName));
    return complete(ctx, res, pending, hinted, plan.requested);
  }
  const wantsPicker = prompt === 'select_account' || prompt === 'login';
  if (!hinted || wantsPicker)
    return sendHtml(res, 200, pickerPage(ctx, pending.request, usersFor(ctx, tenant), client, request.loginHint && !hinted ? request.loginHint : undefined));
  request.userOid = hinted.oid;
  return afterSignIn(ctx, res, pending, hinted, true);
}

function emptyScopes(): ScopeRequest {
  return { resource: 'graph', names: [], oidc: [], isDefault: false, raw: '' };
}

function findUser(ctx: SandboxContext, tenant: TenantState | undefined, hint: string): UserState | undefined {
  return tenant ? ctx.world.findUser(tenant, hint) : ctx.world.findUserAnywhere(hint);
}

function usersFor(ctx: SandboxContext, tenant: TenantState | undefined): UserState[] {
  return tenant ? tenant.users : ctx.world.tenants.flatMap((t) => t.users);
}

/** What this sign-in would add to the user's grants, and what the user already has. */
function consentPlan(
  ctx: SandboxContext,
  user: UserState,
  pending: Pending,
): { requested: string[]; needed: string[]; granted: string[]; adminOnly: string[] } {
  const { scopes, client } = pending;
  const existing = ctx.world.grantsFor(user.tenantId, user.oid, client.clientId);
  let requested: string[];
  if (scopes.resource !== 'graph') requested = [...scopes.oidc];
  else if (scopes.isDefault) requested = existing.length ? [...existing, ...scopes.oidc] : [...DEFAULT_SIGN_IN, ...scopes.oidc];
  else requested = [...scopes.names, ...scopes.oidc];
  requested = [...new Set(requested)];
  const needed = requested.filter((s) => !includesScope(existing, s));
  const adminOnly = needed.filter((s) => ADMIN_ONLY_DELEGATED.has(s.toLowerCase()));
  return { requested, needed, granted: existing, adminOnly };
}

/** A user is known: decide from the preset, or show the consent page. */
function afterSignIn(ctx: SandboxContext, res: ServerResponse, pending: Pending, user: UserState, fromHint: boolean): void {
  const plan = consentPlan(ctx, user, pending);
  const forceConsent = pending.request.prompt === 'consent';
  if (user.conditionalAccess === 'blocked') return finishWithError(ctx, res, pending, { ...Aad.blockedByCa(), error: 'access_denied' });
  if (!forceConsent && plan.needed.length === 0) return complete(ctx, res, pending, user, plan.requested);
  const preset = user.presetConsent;
  if (fromHint && preset !== undefined && !forceConsent)
    return applyDecision(ctx, res, pending, user, plan, preset === 'accept' ? 'accept' : preset === 'decline' ? 'cancel' : preset);
  if (plan.adminOnly.length || preset === 'adminApproval') return sendHtml(res, 200, adminApprovalPage(ctx, pending.request, pending.client, user));
  return sendHtml(res, 200, consentPage(ctx, pending.request, pending.client, user, forceConsent ? plan.requested : plan.needed, preset));
}

function applyDecision(
  ctx: SandboxContext,
  res: ServerResponse,
  pending: Pending,
  user: UserState,
  plan: ReturnType<typeof consentPlan>,
  decision: 'accept' | 'cancel' | 'adminApproval' | { partial: string[] },
): void {
  if (decision === 'cancel') return finishWithError(ctx, res, pending, Aad.declined(), 'cancel');
  if (decision === 'adminApproval' || (plan.adminOnly.length && decision === 'accept')) return finishWithError(ctx, res, pending, Aad.adminApproval());
  const allowed = decision === 'accept' ? plan.needed : plan.needed.filter((s) => isOidcScope(s) || includesScope(decision.partial, s));
  ctx.world.addGrants(user.tenantId, user.oid, pending.client.clientId, allowed);
  const nowGranted = ctx.world.grantsFor(user.tenantId, user.oid, pending.client.clientId);
  return complete(
    ctx,
    res,
    pending,
    user,
    plan.requested.filter((s) => includesScope(nowGranted, s)),
  );
}

function chooseUser(ctx: SandboxContext, res: ServerResponse, pending: Pending, oid: string): void {
  const tenant = pending.request.tenantId ? ctx.world.tenants.find((t) => t.id === pending.request.tenantId) : undefined;
  const user = findUser(ctx, tenant, oid);
  if (!user) return sendHtml(res, 200, pickerPage(ctx, pending.request, usersFor(ctx, tenant), pending.client, oid));
  pending.request.userOid = user.oid;
  // Picking an account never applies a preset: the person decides on the consent page.
  return afterSignIn(ctx, res, pending, user, false);
}

function consentDecision(ctx: SandboxContext, res: ServerResponse, pending: Pending, accepted: boolean): void {
  const user = pending.request.userOid ? ctx.world.findUserAnywhere(pending.request.userOid) : undefined;
  if (!user) return sendHtml(res, 400, errorPage(ctx, Aad.malformedGrant(), 'Pick an account first.'));
  const plan = consentPlan(ctx, user, pending);
  if (!accepted) return applyDecision(ctx, res, pending, user, plan, 'cancel');
  const preset = user.presetConsent;
  // A user limited to some permissions grants only those, even when clicking Accept.
  const decision = preset && typeof preset === 'object' ? preset : 'accept';
  return applyDecision(ctx, res, pending, user, pending.request.prompt === 'consent' ? { ...plan, needed: plan.requested } : plan, decision);
}

/** Issue the code and send the browser back to the app. */
function complete(ctx: SandboxContext, res: ServerResponse, pending: Pending, user: UserState, grantedRequested: string[]): void {
  const { request, client, scopes } = pending;
  ctx.authRequests.delete(request.id);
  const code = opaqueToken('1.AXsandbox-code.');
  const resourceScopes =
    scopes.resource === 'graph'
      ? grantedRequested.filter((s) => !isOidcScope(s))
      : scopes.isDefault
        ? (ctx.world.app(scopes.resource)?.exposedScopes ?? [])
        : scopes.names;
  ctx.world.codes.set(code, {
    tenantId: user.tenantId,
    oid: user.oid,
    clientId: client.clientId,
    redirectUri: request.redirectUri,
    codeChallenge: request.codeChallenge,
    codeChallengeMethod: request.codeChallengeMethod,
    resource: scopes.resource,
    scopes: [...resourceScopes, ...scopes.oidc.filter((s) => includesScope(grantedRequested, s) || s !== 'offline_access')],
    nonce: request.nonce,
    issuedAt: ctx.world.now(),
    redeemed: false,
  });
  const out: Record<string, string> = { code };
  if (request.state !== undefined) out.state = request.state;
  out.session_state = randomUUID();
  if (request.clientInfo) out.client_info = clientInfo(user.oid, user.tenantId);
  respond(ctx, res, request, out);
}

function finishWithError(ctx: SandboxContext, res: ServerResponse, pending: Pending, e: AadError, subcode?: string): void {
  ctx.authRequests.delete(pending.request.id);
  const out: Record<string, string> = { error: e.error };
  const trace = randomUUID();
  out.error_description = `AADSTS${e.code}: ${e.text} Trace ID: ${trace} Correlation ID: ${randomUUID()} Timestamp: ${aadTimestamp(new Date(ctx.world.now()))}`;
  if (subcode) out.error_subcode = subcode;
  if (pending.request.state !== undefined) out.state = pending.request.state;
  out.error_uri = `${ctx.authorityHost}/error?code=${e.code}`;
  respond(ctx, res, pending.request, out);
}

function respond(ctx: SandboxContext, res: ServerResponse, request: AuthRequest, out: Record<string, string>): void {
  if (request.responseMode === 'form_post') return sendFormPost(ctx, res, request.redirectUri, out);
  const target = new URL(request.redirectUri);
  if (request.responseMode === 'fragment') target.hash = new URLSearchParams(out).toString();
  else for (const [k, v] of Object.entries(out)) target.searchParams.set(k, v);
  redirect(res, target.toString());
}

function sendFormPost(ctx: SandboxContext, res: ServerResponse, action: string, fields: Record<string, string>): void {
  const nonce = randomBytes(16).toString('base64');
  sendHtml(res, 200, formPostPage(ctx, action, fields, nonce), {
    'content-security-policy': `default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-${nonce}'; form-action *; base-uri 'none'`,
  });
}
