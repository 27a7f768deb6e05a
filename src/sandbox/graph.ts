/**
 * Microsoft Graph v1.0, the subset the product uses, enforcing what the real service enforces:
 * bearer token (signature, audience, tenant, lifetime), scopes for delegated and roles for app-only
 * tokens, the application access policy (RAOP), mailboxes not enabled for REST, 4 concurrent
 * requests per mailbox, and `$batch` (≤ 20 requests, dependsOn, 429s inside a 200 batch).
 */
import { randomUUID } from 'node:crypto';
import FindMyWay, { type HTTPVersion } from 'find-my-way';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SandboxContext } from './context';
import { BodyTooLargeError, mediaType, readBody } from './http';
import { allows, appRoleId, GRAPH_APP_ID, GRAPH_RESOURCE, type GraphOperation } from './permissions';
import { graphId, type GraphEvent, type GraphMessage, type Mailbox, type TenantState, type UserState } from './state';

const MAILBOX_CONCURRENCY = 4;
const BATCH_LIMIT = 20;

export interface GraphResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

export interface Principal {
  kind: 'delegated' | 'application';
  tenant: TenantState;
  appId: string;
  oid: string;
  permissions: string[];
  user?: UserState;
}

export interface Call {
  method: string;
  segments: string[];
  query: URLSearchParams;
  body: unknown;
  requestId: string;
  clientRequestId: string;
}

const JSON_TYPE = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

function innerDate(ctx: SandboxContext): string {
  return new Date(ctx.world.now()).toISOString().replace(/\.\d{3}Z$/, '');
}

const DIAGNOSTIC = '{"ServerInfo":{"DataCenter":"Sandbox","Slice":"E","Ring":"5","ScaleUnit":"000","RoleInstance":"SANDBOX"}}';

function baseHeaders(call: Pick<Call, 'requestId' | 'clientRequestId'>): Record<string, string> {
  return { 'request-id': call.requestId, 'client-request-id': call.clientRequestId, 'x-ms-ags-diagnostic': DIAGNOSTIC };
}

export function graphError(
  ctx: SandboxContext,
  call: Pick<Call, 'requestId' | 'clientRequestId'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): GraphResponse {
  return {
    status,
    headers: { ...baseHeaders(call), 'content-type': 'application/json', ...headers },
    body: { error: { code, message, innerError: { date: innerDate(ctx), 'request-id': call.requestId, 'client-request-id': call.clientRequestId } } },
  };
}

function ok(call: Call, status: number, body: unknown): GraphResponse {
  return {
    status,
    headers: { 'request-id': call.requestId, 'client-request-id': call.clientRequestId, 'x-ms-ags-diagnostic': DIAGNOSTIC, 'content-type': JSON_TYPE },
    body,
  };
}

const ACCESS_DENIED = 'Access is denied. Check credentials and try again.';
const RAOP = 'Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly AccessPolicy settings.';
const NOT_REST = 'The mailbox is either inactive, soft-deleted, or is hosted on-premise.';
const DIRECTORY_DENIED = 'Insufficient privileges to complete the operation.';

/** Entry point for the HTTPS listener; returns false when the path is not Graph's. */
export async function handleGraph(ctx: SandboxContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const segs = url.pathname.split('/').filter(Boolean);
  if (segs[0] !== 'v1.0' && segs[0] !== 'beta') return false;
  const header = req.headers['client-request-id'];
  const ids = { requestId: randomUUID(), clientRequestId: typeof header === 'string' && header.length <= 100 ? header : randomUUID() };
  let response: GraphResponse;
  try {
    response = await serve(ctx, req, url, segs.slice(1), ids);
  } catch (err) {
    if (err instanceof BodyTooLargeError) response = graphError(ctx, ids, 413, 'RequestEntityTooLarge', 'The request body is too large.');
    else {
      ctx.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'sandbox graph: unexpected error');
      response = graphError(ctx, ids, 500, 'generalException', 'General exception while processing.');
    }
  }
  const body = response.body === undefined ? '' : JSON.stringify(response.body);
  if (!res.headersSent) {
    res.writeHead(response.status, { ...response.headers, 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
  return true;
}

async function serve(
  ctx: SandboxContext,
  req: IncomingMessage,
  url: URL,
  segments: string[],
  ids: { requestId: string; clientRequestId: string },
): Promise<GraphResponse> {
  const method = (req.method ?? 'GET').toUpperCase();
  const raw = method === 'GET' || method === 'HEAD' ? '' : await readBody(req);
  let body: unknown;
  if (raw) {
    if (!mediaType(req).includes('json'))
      return count(
        ctx,
        graphError(
          ctx,
          ids,
          415,
          'UnsupportedMediaType',
          'A supported MIME type could not be found that matches the content type of the response. None of the supported type(s) application/json matches.',
        ),
      );
    try {
      body = JSON.parse(raw);
    } catch {
      return count(
        ctx,
        graphError(
          ctx,
          ids,
          400,
          'BadRequest',
          'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
        ),
      );
    }
  }
  const isBatch = segments.length === 1 && segments[0] === '$batch';
  ctx.faults.stats.graph.requests += 1;
  if (!isBatch) {
    const injected = injectFault(ctx, ids);
    if (injected) return count(ctx, injected);
  }
  const auth = await authenticate(ctx, req.headers.authorization, ids);
  if ('status' in auth) return count(ctx, auth);
  const call: Call = { method, segments, query: url.searchParams, body, ...ids };
  if (isBatch) {
    if (method !== 'POST') return count(ctx, graphError(ctx, ids, 405, 'BadRequest', `The HTTP method '${method}' is not allowed for $batch.`));
    return count(ctx, await batch(ctx, auth, call));
  }
  for (const extension of ctx.graphExtensions ?? []) {
    const answered = await extension(ctx, auth, call, replyFor(ctx, call));
    if (answered) return count(ctx, answered);
  }
  return count(ctx, await dispatch(ctx, auth, call));
}

/** How an extension answers: Graph's headers and error envelope, as the built-in routes. */
export interface GraphReply {
  ok(status: number, body: unknown): GraphResponse;
  error(status: number, code: string, message: string, innerCode?: string): GraphResponse;
}

/**
 * More Graph resources, served by other sandbox modules (e.g. teamwork.ts) for authenticated calls
 * (not inside $batch); `undefined` passes the call on to the next extension and then to the built-in routes.
 */
export type GraphExtension = (ctx: SandboxContext, principal: Principal, call: Readonly<Call>, reply: GraphReply) => Promise<GraphResponse | undefined>;

function replyFor(ctx: SandboxContext, call: Call): GraphReply {
  return {
    ok: (status, body) => ok(call, status, body),
    error: (status, code, message, innerCode) => {
      const r = graphError(ctx, call, status, code, message);
      if (innerCode) ((r.body as { error: Record<string, unknown> }).error.innerError as Record<string, unknown>).code = innerCode;
      return r;
    },
  };
}

function count(ctx: SandboxContext, r: GraphResponse): GraphResponse {
  const s = String(r.status);
  ctx.faults.stats.graph.byStatus[s] = (ctx.faults.stats.graph.byStatus[s] ?? 0) + 1;
  return r;
}

function injectFault(ctx: SandboxContext, ids: { requestId: string; clientRequestId: string }): GraphResponse | undefined {
  const fault = ctx.faults.next('graph');
  if (!fault) return undefined;
  const retry: Record<string, string> = fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
  if (fault.kind === 'throttle')
    return graphError(ctx, ids, 429, 'TooManyRequests', 'Too many requests. Please retry after the time specified in the Retry-After header.', retry);
  const code = fault.status === 503 ? 'serviceNotAvailable' : fault.status === 504 ? 'gatewayTimeout' : 'generalException';
  return graphError(ctx, ids, fault.status, code, 'The service is temporarily unavailable. Please try again later.', retry);
}

function deny(ctx: SandboxContext, ids: { requestId: string; clientRequestId: string }, message: string): GraphResponse {
  const www = { 'www-authenticate': `Bearer realm="", authorization_uri="${ctx.authorityHost}/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"` };
  return graphError(ctx, ids, 401, 'InvalidAuthenticationToken', message, www);
}

async function authenticate(
  ctx: SandboxContext,
  authorization: string | undefined,
  ids: { requestId: string; clientRequestId: string },
): Promise<Principal | GraphResponse> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!m) return deny(ctx, ids, 'Access token is empty.');
  const verified = await ctx.signer.verify(m[1], ctx.world.now());
  if (!verified.ok) {
    if (verified.reason === 'expired') return deny(ctx, ids, 'Lifetime validation failed, the token is expired.');
    if (verified.reason === 'not-yet-valid') return deny(ctx, ids, 'Lifetime validation failed, the token is not yet valid.');
    if (verified.reason === 'signature') return deny(ctx, ids, 'Access token validation failure. Invalid signature.');
    return deny(ctx, ids, 'CompactToken parsing failed with error code: 80049217');
  }
  const c = verified.claims;
  const aud = String(c.aud ?? '');
  if (aud !== GRAPH_RESOURCE && aud !== `${GRAPH_RESOURCE}/` && aud !== GRAPH_APP_ID)
    return deny(ctx, ids, 'Access token validation failure. Invalid audience.');
  const tenant = ctx.world.tenants.find((t) => t.id === c.tid);
  if (!tenant || c.iss !== `${ctx.authorityHost}/${tenant.id}/v2.0`) return deny(ctx, ids, 'Access token validation failure. Invalid issuer.');
  const appId = String(c.azp ?? c.appid ?? '');
  if (c.idtyp === 'app' || (c.scp === undefined && Array.isArray(c.roles))) {
    return { kind: 'application', tenant, appId, oid: String(c.oid ?? ''), permissions: Array.isArray(c.roles) ? c.roles.map(String) : [] };
  }
  const user = ctx.world.findUser(tenant, String(c.oid ?? ''));
  if (!user) return deny(ctx, ids, 'Access token validation failure. The user or service principal no longer exists.');
  return {
    kind: 'delegated',
    tenant,
    appId,
    oid: user.oid,
    user,
    permissions: String(c.scp ?? '')
      .split(' ')
      .filter(Boolean),
  };
}

type Handler = (mb: MailboxCtx) => GraphResponse;
interface MailboxCtx {
  ctx: SandboxContext;
  call: Call;
  user: UserState;
  mailbox: Mailbox;
  base: string;
}

interface Route {
  operation: GraphOperation;
  mailbox?: { target: string; handler: Handler };
  directory?: () => GraphResponse;
}

/** One Graph call with an already authenticated principal (also used for each $batch item). */
export async function dispatch(ctx: SandboxContext, principal: Principal, call: Call): Promise<GraphResponse> {
  const route = resolve(ctx, principal, call);
  if ('status' in route) return route;
  const kind = principal.kind === 'delegated' ? 'delegated' : 'application';

  if (route.directory) {
    if (!allows(route.operation, kind, principal.permissions)) return graphError(ctx, call, 403, 'Authorization_RequestDenied', DIRECTORY_DENIED);
    await ctx.faults.pace('graph');
    return route.directory();
  }
  const { target, handler } = route.mailbox as { target: string; handler: Handler };
  const user = target === 'me' ? principal.user : ctx.world.findUser(principal.tenant, target);
  if (!user) return graphError(ctx, call, 404, 'ErrorInvalidUser', `The requested user '${target}' is invalid.`);
  if (principal.kind === 'delegated' && user.oid !== principal.oid) return graphError(ctx, call, 403, 'ErrorAccessDenied', ACCESS_DENIED);
  if (!allows(route.operation, kind, principal.permissions)) return graphError(ctx, call, 403, 'ErrorAccessDenied', ACCESS_DENIED);
  const policy = principal.tenant.accessPolicy;
  if (principal.kind === 'application' && policy?.appIds.includes(principal.appId) && !user.inAccessPolicy)
    return graphError(ctx, call, 403, 'ErrorAccessDenied', RAOP);
  const mailbox = ctx.world.mailboxes.get(user.oid);
  if (user.mailbox !== 'active' || !mailbox) return graphError(ctx, call, 404, 'MailboxNotEnabledForRESTAPI', NOT_REST);

  // Counted synchronously so that parallel $batch items see each other.
  const inFlight = ctx.faults.stats.inFlight;
  const current = inFlight[user.upn] ?? 0;
  if (current >= MAILBOX_CONCURRENCY) {
    ctx.faults.stats.graph.concurrencyThrottled += 1;
    return graphError(ctx, call, 429, 'ApplicationThrottled', 'Application is over its MailboxConcurrency limit.', {
      'retry-after': String(ctx.faults.concurrencyRetryAfterSeconds),
    });
  }
  inFlight[user.upn] = current + 1;
  try {
    await ctx.faults.pace('graph');
    const base = target === 'me' ? 'me' : `users('${user.oid}')`;
    return handler({ ctx, call, user, mailbox, base });
  } finally {
    inFlight[user.upn] -= 1;
    if (inFlight[user.upn] === 0) delete inFlight[user.upn];
  }
}

function seg(call: Call, i: number): string {
  return safeDecode(call.segments[i] ?? '');
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** What a matched path sees: the lower-cased segments (a user's id kept as sent) and whose mailbox a mailbox path means. */
interface Match {
  ctx: SandboxContext;
  principal: Principal;
  call: Call;
  s: string[];
  ctxUrl: string;
  target: string;
}
type Resolver = (m: Match) => Route | GraphResponse;
/** A path's answer per method; any other method gets 405. */
type Methods = Partial<Record<'GET' | 'POST', Resolver>>;

/**
 * Graph's paths, matched by find-my-way on the lower-cased segments (Graph's path segments are case
 * insensitive). Every path is registered under GET: the method is checked by the route itself, so a
 * known path with another method is a 405 and an unknown path a 400, as Graph answers.
 * The `/serviceprincipals(appid='…')` key segment is looked up as `/SP-BY-APPID/<appId>`: upper case
 * never occurs in a lower-cased request path, so no request can reach it any other way.
 */
const router = FindMyWay<HTTPVersion.V1>({ maxParamLength: Number.MAX_SAFE_INTEGER });
const SP_BY_APP_ID = '/SP-BY-APPID';
const SP_APP_ID_SEGMENT = /^serviceprincipals\(appid='([0-9a-f-]{36})'\)$/;
function route(path: string, methods: Methods): void {
  router.on('GET', path, () => undefined, { methods });
}

function notFound(m: Pick<Match, 'ctx' | 'call'>): GraphResponse {
  return graphError(m.ctx, m.call, 400, 'BadRequest', `Resource not found for the segment '${m.call.segments[m.call.segments.length - 1] ?? ''}'.`);
}
function methodNotAllowed(m: Pick<Match, 'ctx' | 'call'>): GraphResponse {
  return graphError(m.ctx, m.call, 405, 'BadRequest', `The HTTP method '${m.call.method}' is not supported for this resource.`);
}
function onlyDelegated(m: Pick<Match, 'ctx' | 'call'>): GraphResponse {
  return graphError(m.ctx, m.call, 400, 'BadRequest', '/me request is only valid with delegated authentication flow.');
}
function resourceNotFound(m: Match, what: string): GraphResponse {
  return graphError(
    m.ctx,
    m.call,
    404,
    'Request_ResourceNotFound',
    `Resource '${what}' does not exist or one of its queried reference-property objects are not present.`,
  );
}

function resolve(ctx: SandboxContext, principal: Principal, call: Call): Route | GraphResponse {
  const s = call.segments.map((x, i) => (i === 1 && call.segments[0].toLowerCase() === 'users' ? x : x.toLowerCase()));
  const m: Match = {
    ctx,
    principal,
    call,
    s,
    ctxUrl: `${ctx.graphEndpoint}/v1.0/$metadata`,
    target: s[0] === 'me' ? 'me' : seg(call, 1),
  };
  if (s[0] === 'me' && s.length > 1 && principal.kind !== 'delegated') return onlyDelegated(m);
  const byAppId = SP_APP_ID_SEGMENT.exec(s[0] ?? '');
  // Characters find-my-way reads as URL syntax (escapes, query, matrix parameters) never occur in a route's static segments.
  const lookup = (byAppId ? [SP_BY_APP_ID.slice(1), byAppId[1], ...s.slice(1)] : s).map((x) => x.replace(/[%;?#]/g, '\uFFFD'));
  const found = router.find('GET', `/${lookup.join('/')}`);
  if (!found) return notFound(m);
  const resolver = (found.store as { methods: Methods }).methods[call.method as 'GET' | 'POST'];
  return resolver ? resolver(m) : methodNotAllowed(m);
}

// Directory.
route('/me', {
  GET: (m) =>
    m.principal.kind !== 'delegated'
      ? onlyDelegated(m)
      : { operation: 'me', directory: () => ok(m.call, 200, { '@odata.context': `${m.ctxUrl}#users/$entity`, ...userJson(m.principal.user as UserState) }) },
});
route('/users', {
  GET: (m) => ({
    operation: 'user',
    directory: () => ok(m.call, 200, { '@odata.context': `${m.ctxUrl}#users`, value: page(select(m.principal.tenant.users.map(userJson), m.call), m.call) }),
  }),
});
route('/users/:id', {
  GET: (m) => {
    const { principal, call } = m;
    const id = seg(call, 1);
    const own = principal.kind === 'delegated' && (principal.user?.oid === id.toLowerCase() || principal.user?.upn.toLowerCase() === id.toLowerCase());
    return {
      operation: own ? 'me' : 'user',
      directory: () => {
        const u = m.ctx.world.findUser(principal.tenant, id);
        return u ? ok(call, 200, { '@odata.context': `${m.ctxUrl}#users/$entity`, ...pick(userJson(u), call) }) : resourceNotFound(m, id);
      },
    };
  },
});
route('/organization', {
  GET: (m) => ({
    operation: 'organization',
    directory: () => ok(m.call, 200, { '@odata.context': `${m.ctxUrl}#organization`, value: [organizationJson(m.principal.tenant)] }),
  }),
});
function domainsJson(tenant: TenantState) {
  return tenant.domains.map((d) => ({
    id: d.name,
    authenticationType: 'Managed',
    isAdminManaged: true,
    isDefault: d.isDefault,
    isInitial: d.isInitial,
    isRoot: true,
    isVerified: d.isVerified,
    supportedServices: d.isVerified ? ['Email', 'OfficeCommunicationsOnline'] : [],
  }));
}
route('/domains', {
  GET: (m) => ({ operation: 'domains', directory: () => ok(m.call, 200, { '@odata.context': `${m.ctxUrl}#domains`, value: domainsJson(m.principal.tenant) }) }),
});
route('/domains/:name', {
  GET: (m) => {
    const name = seg(m.call, 1).toLowerCase();
    return {
      operation: 'domains',
      directory: () => {
        const d = domainsJson(m.principal.tenant).find((x) => x.id.toLowerCase() === name);
        return d ? ok(m.call, 200, { '@odata.context': `${m.ctxUrl}#domains/$entity`, ...d }) : resourceNotFound(m, name);
      },
    };
  },
});

// Service principals, by object id or by app id; deeper paths under a known one are 405 for writes, 400 for reads.
const spById = (m: Match) => m.principal.tenant.servicePrincipals.find((sp) => sp.id === m.s[1]);
const spByAppId = (m: Match) => m.ctx.world.servicePrincipal(m.principal.tenant, SP_APP_ID_SEGMENT.exec(m.s[0])![1]);
for (const [prefix, find] of [
  ['/serviceprincipals/:id', spById],
  [`${SP_BY_APP_ID}/:appId`, spByAppId],
] as const) {
  route(prefix, { GET: (m) => servicePrincipal(m, find, false) });
  route(`${prefix}/approleassignments`, { GET: (m) => servicePrincipal(m, find, true) });
  route(`${prefix}/*`, { GET: notFound });
}

function servicePrincipal(m: Match, find: (m: Match) => ReturnType<SandboxContext['world']['servicePrincipal']>, assignments: boolean): Route {
  const { ctx, principal, call, ctxUrl } = m;
  const graphSpId = graphId(principal.tenant.id, 'graph-sp').slice(5, 41);
  return {
    operation: 'servicePrincipals',
    directory: () => {
      const sp = find(m);
      if (!sp) return resourceNotFound(m, call.segments[0]);
      if (!assignments)
        return ok(call, 200, {
          '@odata.context': `${ctxUrl}#servicePrincipals/$entity`,
          id: sp.id,
          appId: sp.appId,
          displayName: sp.displayName,
          servicePrincipalType: 'Application',
          accountEnabled: true,
        });
      const value = sp.graphRoles.map((role) => ({
        id: graphId(sp.id, role).slice(5, 41),
        deletedDateTime: null,
        appRoleId: appRoleId(role),
        createdDateTime: new Date(ctx.world.now() - 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        principalDisplayName: sp.displayName,
        principalId: sp.id,
        principalType: 'ServicePrincipal',
        resourceDisplayName: 'Microsoft Graph',
        resourceId: graphSpId,
        // Not in Graph's payload; lets a person reading the JSON see which role this is.
        '@sandbox.appRoleValue': role,
      }));
      return ok(call, 200, { '@odata.context': `${ctxUrl}#servicePrincipals('${sp.id}')/appRoleAssignments`, value });
    },
  };
}

// Mailbox resources, under /me/… and /users/{id|upn}/…; `raw` holds the decoded segments after that prefix.
function mailbox(path: string, read: [GraphOperation, Handler], write?: [GraphOperation, Handler]): void {
  const methods: Methods = { GET: (m) => ({ operation: read[0], mailbox: { target: m.target, handler: read[1] } }) };
  if (write) methods.POST = (m) => ({ operation: write[0], mailbox: { target: m.target, handler: write[1] } });
  for (const prefix of ['/me', '/users/:user']) route(`${prefix}/${path}`, methods);
}
type RawHandler = (mb: MailboxCtx, raw: string[]) => GraphResponse;
/** A handler that needs the ids in the path: the decoded segments after /me or /users/{id}. */
const withRaw =
  (h: RawHandler): Handler =>
  (mb) =>
    h(mb, mb.call.segments.slice(mb.base === 'me' ? 1 : 2).map(safeDecode));

mailbox('calendar', [
  'calendarRead',
  (mb) => ok(mb.call, 200, { '@odata.context': ctxOf(mb, 'calendar/$entity'), ...pick(calendarJson(mb, mb.mailbox.calendars[0]), mb.call) }),
]);
mailbox('calendars', [
  'calendarRead',
  (mb) =>
    list(
      mb,
      'calendars',
      mb.mailbox.calendars.map((c) => calendarJson(mb, c)),
    ),
]);
mailbox(
  'calendar/events',
  ['calendarRead', (mb) => events(mb, mb.mailbox.calendars[0].id)],
  ['calendarWrite', (mb) => createEvent(mb, mb.mailbox.calendars[0].id)],
);
mailbox('events', ['calendarRead', (mb) => events(mb)], ['calendarWrite', (mb) => createEvent(mb, mb.mailbox.calendars[0].id)]);
mailbox('calendarview', ['calendarRead', calendarView]);
mailbox('events/:id', [
  'calendarRead',
  withRaw((mb, raw) =>
    item(
      mb,
      'events/$entity',
      mb.mailbox.events.find((e) => e.id === raw[1]),
      eventJson,
    ),
  ),
]);
mailbox('calendars/:id', [
  'calendarRead',
  withRaw((mb, raw) =>
    item(
      mb,
      'calendars/$entity',
      mb.mailbox.calendars.find((c) => c.id === raw[1]),
      (c) => calendarJson(mb, c),
    ),
  ),
]);
mailbox(
  'calendars/:id/events',
  ['calendarRead', withRaw((mb, raw) => (mb.mailbox.calendars.some((c) => c.id === raw[1]) ? events(mb, raw[1]) : notFoundItem(mb)))],
  [
    'calendarWrite',
    withRaw((mb, raw) =>
      mb.mailbox.calendars.some((c) => c.id === raw[1] && c.canEdit) ? createEvent(mb, raw[1]) : graphErrorFor(mb, 403, 'ErrorAccessDenied', ACCESS_DENIED),
    ),
  ],
);
mailbox('mailfolders', [
  'mailRead',
  (mb) =>
    list(
      mb,
      'mailFolders',
      mb.mailbox.folders.map((f) => folderJson(mb, f)),
    ),
]);
mailbox('mailfolders/:id', ['mailRead', withRaw((mb, raw) => item(mb, 'mailFolders/$entity', findFolder(mb, raw[1]), (f) => folderJson(mb, f)))]);
mailbox(
  'mailfolders/:id/messages',
  [
    'mailRead',
    withRaw((mb, raw) => {
      const f = findFolder(mb, raw[1]);
      return f ? list(mb, 'messages', sortByDate(mb.mailbox.messages.filter((x) => x.parentFolderId === f.id)).map(messageJson)) : notFoundItem(mb);
    }),
  ],
  [
    'mailWrite',
    withRaw((mb, raw) => {
      const f = findFolder(mb, raw[1]);
      return f ? createMessage(mb, f.id) : notFoundItem(mb);
    }),
  ],
);
mailbox(
  'messages',
  ['mailRead', (mb) => list(mb, 'messages', sortByDate(mb.mailbox.messages).map(messageJson))],
  ['mailWrite', (mb) => createMessage(mb, findFolder(mb, 'drafts')?.id ?? '')],
);
mailbox('messages/:id', [
  'mailRead',
  withRaw((mb, raw) =>
    item(
      mb,
      'messages/$entity',
      mb.mailbox.messages.find((x) => x.id === raw[1]),
      messageJson,
    ),
  ),
]);
mailbox('todo/lists', ['tasksRead', (mb) => list(mb, 'todo/lists', mb.mailbox.todoLists.map(todoListJson))]);
mailbox('todo/lists/:id', [
  'tasksRead',
  withRaw((mb, raw) =>
    item(
      mb,
      'todo/lists/$entity',
      mb.mailbox.todoLists.find((l) => l.id === raw[2]),
      todoListJson,
    ),
  ),
]);
mailbox(
  'todo/lists/:id/tasks',
  [
    'tasksRead',
    withRaw((mb, raw) => {
      const l = mb.mailbox.todoLists.find((x) => x.id === raw[2]);
      return l ? list(mb, `todo/lists('${l.id}')/tasks`, l.tasks.map(taskJson)) : notFoundItem(mb);
    }),
  ],
  ['tasksWrite', withRaw((mb, raw) => createTask(mb, raw[2]))],
);

function graphErrorFor(mb: MailboxCtx, status: number, code: string, message: string): GraphResponse {
  return graphError(mb.ctx, mb.call, status, code, message);
}
function notFoundItem(mb: MailboxCtx): GraphResponse {
  return graphErrorFor(mb, 404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
}
function ctxOf(mb: MailboxCtx, what: string): string {
  return `${mb.ctx.graphEndpoint}/v1.0/$metadata#${mb.base}/${what}`;
}
function item<T>(mb: MailboxCtx, what: string, found: T | undefined, json: (x: T) => Record<string, unknown>): GraphResponse {
  return found ? ok(mb.call, 200, { '@odata.context': ctxOf(mb, what), ...pick(json(found), mb.call) }) : notFoundItem(mb);
}
function list(mb: MailboxCtx, what: string, all: Record<string, unknown>[]): GraphResponse {
  return ok(mb.call, 200, { '@odata.context': ctxOf(mb, what), value: select(page(all, mb.call), mb.call) });
}

function select(items: Record<string, unknown>[], call: Call): Record<string, unknown>[] {
  const fields = selected(call);
  return fields ? items.map((x) => pickFields(x, fields)) : items;
}
function pick(x: Record<string, unknown>, call: Call): Record<string, unknown> {
  const fields = selected(call);
  return fields ? pickFields(x, fields) : x;
}
function selected(call: Call): Set<string> | undefined {
  const sel = call.query.get('$select');
  return sel ? new Set(sel.split(',').map((f) => f.trim().toLowerCase())) : undefined;
}
function pickFields(x: Record<string, unknown>, fields: Set<string>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(x).filter(([k]) => k === 'id' || k.startsWith('@') || fields.has(k.toLowerCase())));
}
function page<T>(items: T[], call: Call): T[] {
  const top = Number(call.query.get('$top') ?? '');
  return Number.isInteger(top) && top > 0 ? items.slice(0, top) : items;
}
function sortByDate(messages: GraphMessage[]): GraphMessage[] {
  return [...messages].sort((a, b) => b.receivedDateTime.localeCompare(a.receivedDateTime));
}

function userJson(u: UserState): Record<string, unknown> {
  return {
    id: u.oid,
    businessPhones: [],
    displayName: u.displayName,
    givenName: u.givenName ?? null,
    jobTitle: u.jobTitle ?? null,
    mail: u.mailbox === 'none' ? null : u.upn,
    mobilePhone: null,
    officeLocation: null,
    preferredLanguage: 'en-US',
    surname: u.surname ?? null,
    userPrincipalName: u.upn,
  };
}

function organizationJson(t: TenantState): Record<string, unknown> {
  return {
    id: t.id,
    displayName: t.displayName,
    countryLetterCode: t.countryLetterCode,
    tenantType: 'AAD',
    verifiedDomains: t.domains
      .filter((d) => d.isVerified)
      .map((d) => ({ capabilities: 'Email, OfficeCommunicationsOnline', isDefault: d.isDefault, isInitial: d.isInitial, name: d.name, type: 'Managed' })),
  };
}

function calendarJson(mb: MailboxCtx, c: Mailbox['calendars'][number]): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    color: c.color,
    hexColor: '',
    isDefaultCalendar: c.isDefaultCalendar,
    canShare: c.canEdit,
    canViewPrivateItems: c.canEdit,
    canEdit: c.canEdit,
    owner: { name: mb.user.displayName, address: mb.user.upn },
  };
}

function eventJson(e: GraphEvent): Record<string, unknown> {
  const { calendarId: _calendarId, ...rest } = e;
  return { ...rest, webLink: `https://outlook.office365.com/owa/?itemid=${encodeURIComponent(e.id)}` };
}

function events(mb: MailboxCtx, calendarId?: string): GraphResponse {
  const all = mb.mailbox.events.filter((e) => !calendarId || e.calendarId === calendarId).sort((a, b) => a.start.dateTime.localeCompare(b.start.dateTime));
  // Only the page is turned into JSON: a `$top=1` probe of a full calendar reads one event.
  return list(mb, 'events', page(all, mb.call).map(eventJson));
}

function calendarView(mb: MailboxCtx): GraphResponse {
  const from = Date.parse(mb.call.query.get('startDateTime') ?? '');
  const to = Date.parse(mb.call.query.get('endDateTime') ?? '');
  if (Number.isNaN(from) || Number.isNaN(to))
    return graphErrorFor(
      mb,
      400,
      'ErrorInvalidParameter',
      'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.',
    );
  const inWindow = mb.mailbox.events.filter(
    (e) => Date.parse(`${e.end.dateTime.slice(0, 19)}Z`) > from && Date.parse(`${e.start.dateTime.slice(0, 19)}Z`) < to,
  );
  return list(mb, 'calendarView', inWindow.map(eventJson));
}

function dateTimeOf(v: unknown): string | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const dt = (v as { dateTime?: unknown }).dateTime;
  return typeof dt === 'string' && !Number.isNaN(Date.parse(dt.endsWith('Z') ? dt : `${dt}Z`)) ? dt : undefined;
}

function createEvent(mb: MailboxCtx, calendarId: string): GraphResponse {
  const b = (mb.call.body ?? {}) as Record<string, unknown>;
  const start = dateTimeOf(b.start);
  const end = dateTimeOf(b.end);
  if (typeof mb.call.body !== 'object' || mb.call.body === null) return graphErrorFor(mb, 400, 'BadRequest', 'Empty Payload. JSON content expected.');
  if (!start || !end)
    return graphErrorFor(mb, 400, 'ErrorInvalidRequest', "Your request can't be completed. The start and end of the event must be specified.");
  const now = new Date(mb.ctx.world.now()).toISOString();
  const tz = (b.start as { timeZone?: string }).timeZone ?? 'UTC';
  const e: GraphEvent = {
    id: graphId(mb.user.oid, 'event', randomUUID()),
    calendarId,
    subject: typeof b.subject === 'string' ? b.subject : '',
    bodyPreview: '',
    start: { dateTime: start, timeZone: tz },
    end: { dateTime: end, timeZone: (b.end as { timeZone?: string }).timeZone ?? tz },
    location: {
      displayName: typeof (b.location as { displayName?: unknown })?.displayName === 'string' ? (b.location as { displayName: string }).displayName : '',
    },
    organizer: { emailAddress: { name: mb.user.displayName, address: mb.user.upn } },
    attendees: Array.isArray(b.attendees) ? b.attendees : [],
    isOnlineMeeting: b.isOnlineMeeting === true,
    createdDateTime: now,
    lastModifiedDateTime: now,
  };
  mb.mailbox.events.push(e);
  return ok(mb.call, 201, { '@odata.context': ctxOf(mb, 'events/$entity'), ...eventJson(e) });
}

function findFolder(mb: MailboxCtx, idOrName: string): Mailbox['folders'][number] | undefined {
  const key = idOrName.toLowerCase();
  return mb.mailbox.folders.find((f) => f.id === idOrName || f.wellKnownName === key);
}

function folderJson(mb: MailboxCtx, f: Mailbox['folders'][number]): Record<string, unknown> {
  const inFolder = mb.mailbox.messages.filter((m) => m.parentFolderId === f.id);
  return {
    id: f.id,
    displayName: f.displayName,
    parentFolderId: graphId(mb.user.oid, 'folder', 'root'),
    childFolderCount: 0,
    unreadItemCount: inFolder.filter((m) => !m.isRead).length,
    totalItemCount: inFolder.length,
    sizeInBytes: inFolder.length * 4096,
    isHidden: false,
  };
}

function messageJson(m: GraphMessage): Record<string, unknown> {
  return { ...m, webLink: `https://outlook.office365.com/owa/?ItemID=${encodeURIComponent(m.id)}` };
}

function createMessage(mb: MailboxCtx, folderId: string): GraphResponse {
  if (typeof mb.call.body !== 'object' || mb.call.body === null) return graphErrorFor(mb, 400, 'BadRequest', 'Empty Payload. JSON content expected.');
  const b = mb.call.body as Record<string, unknown>;
  const now = new Date(mb.ctx.world.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const body = b.body as { content?: unknown } | undefined;
  const m: GraphMessage = {
    id: graphId(mb.user.oid, 'message', randomUUID()),
    parentFolderId: folderId,
    subject: typeof b.subject === 'string' ? b.subject : '',
    bodyPreview: typeof body?.content === 'string' ? body.content.slice(0, 255) : '',
    receivedDateTime: now,
    sentDateTime: now,
    isRead: true,
    isDraft: true,
    importance: typeof b.importance === 'string' ? b.importance : 'normal',
    hasAttachments: false,
    from: { emailAddress: { name: mb.user.displayName, address: mb.user.upn } },
    toRecipients: Array.isArray(b.toRecipients) ? (b.toRecipients as GraphMessage['toRecipients']) : [],
  };
  mb.mailbox.messages.push(m);
  return ok(mb.call, 201, { '@odata.context': ctxOf(mb, 'messages/$entity'), ...messageJson(m) });
}

function todoListJson(l: Mailbox['todoLists'][number]): Record<string, unknown> {
  return { id: l.id, displayName: l.displayName, isOwner: true, isShared: false, wellknownListName: l.wellknownListName };
}
function taskJson(t: Mailbox['todoLists'][number]['tasks'][number]): Record<string, unknown> {
  return {
    id: t.id,
    title: t.title,
    status: t.status,
    importance: 'normal',
    isReminderOn: false,
    createdDateTime: t.createdDateTime,
    lastModifiedDateTime: t.createdDateTime,
    body: { content: '', contentType: 'text' },
  };
}
function createTask(mb: MailboxCtx, listId: string): GraphResponse {
  const l = mb.mailbox.todoLists.find((x) => x.id === listId);
  if (!l) return notFoundItem(mb);
  const b = (mb.call.body ?? {}) as Record<string, unknown>;
  if (typeof b.title !== 'string' || !b.title) return graphErrorFor(mb, 400, 'invalidRequest', 'Invalid request: title is required.');
  const t = {
    id: graphId(mb.user.oid, 'task', randomUUID()),
    title: b.title,
    status: 'notStarted',
    createdDateTime: new Date(mb.ctx.world.now()).toISOString(),
  };
  l.tasks.push(t);
  return ok(mb.call, 201, { '@odata.context': ctxOf(mb, `todo/lists('${l.id}')/tasks/$entity`), ...taskJson(t) });
}

interface BatchItem {
  id: string;
  method: string;
  url: string;
  body?: unknown;
  headers?: Record<string, string>;
  dependsOn?: string[];
}

async function batch(ctx: SandboxContext, principal: Principal, call: Call): Promise<GraphResponse> {
  const payload = call.body as { requests?: unknown } | undefined;
  if (!payload || !Array.isArray(payload.requests)) return badBatch(ctx, call, 'Invalid batch payload format.');
  const items = payload.requests as BatchItem[];
  if (items.length === 0) return badBatch(ctx, call, 'Invalid batch payload format.');
  if (items.length > BATCH_LIMIT) return badBatch(ctx, call, `Number of batch requests exceeds the limit of ${BATCH_LIMIT}.`);
  const seen = new Set<string>();
  for (const it of items) {
    if (!it || typeof it !== 'object' || typeof it.id !== 'string' || !it.id || typeof it.method !== 'string' || typeof it.url !== 'string')
      return badBatch(ctx, call, 'Invalid batch payload format: each request needs id, method and url.');
    if (seen.has(it.id)) return badBatch(ctx, call, `Batch request id '${it.id}' is not unique.`);
    seen.add(it.id);
  }
  for (const it of items) {
    if (it.dependsOn !== undefined && (!Array.isArray(it.dependsOn) || it.dependsOn.some((d) => typeof d !== 'string' || !seen.has(d) || d === it.id))) {
      return badBatch(ctx, call, `Request '${it.id}' depends on a request that is not in the batch.`);
    }
  }
  const results = new Map<string, Promise<GraphResponse>>();
  for (const it of items) {
    const deps = it.dependsOn ?? [];
    const ids = { requestId: randomUUID(), clientRequestId: call.clientRequestId };
    // Items without dependencies start now, in the same tick, as Graph runs them in parallel.
    results.set(
      it.id,
      deps.length === 0
        ? runItem(ctx, principal, it, ids)
        : Promise.all(deps.map((d) => results.get(d) as Promise<GraphResponse>)).then((done) =>
            done.some((r) => r.status >= 400)
              ? graphError(ctx, ids, 424, 'FailedDependency', 'Failed dependency: a request this one depends on failed.')
              : runItem(ctx, principal, it, ids),
          ),
    );
  }
  const done = await Promise.all(items.map((it) => results.get(it.id) as Promise<GraphResponse>));
  const responses = new Array<{ id: string; status: number; headers: Record<string, string>; body: unknown }>(items.length);
  for (let i = 0; i < items.length; i++) {
    const r = done[i];
    const headers: Record<string, string> = { 'Content-Type': r.headers['content-type'] ?? 'application/json' };
    if (r.headers['retry-after']) headers['Retry-After'] = r.headers['retry-after'];
    responses[i] = { id: items[i].id, status: r.status, headers, body: r.body };
  }
  for (const r of responses) ctx.faults.stats.graph.byStatus[String(r.status)] = (ctx.faults.stats.graph.byStatus[String(r.status)] ?? 0) + 1;
  return ok(call, 200, { responses });
}

function badBatch(ctx: SandboxContext, call: Call, message: string): GraphResponse {
  return graphError(ctx, call, 400, 'BadRequest', message);
}

/** One `$batch` item: its URL read relative to the version, a fault if one is due, then the call. */
function runItem(ctx: SandboxContext, principal: Principal, it: BatchItem, ids: { requestId: string; clientRequestId: string }): Promise<GraphResponse> {
  let rel = it.url.startsWith('/') ? it.url : `/${it.url}`;
  rel = rel.replace(/^\/(v1\.0|beta)(?=\/)/i, '');
  const u = new URL(rel, 'https://sandbox.invalid');
  const injected = injectFault(ctx, ids);
  if (injected) return Promise.resolve(injected);
  return dispatch(ctx, principal, {
    method: it.method.toUpperCase(),
    segments: u.pathname.split('/').filter(Boolean),
    query: u.searchParams,
    body: it.body,
    ...ids,
  });
}
