/**
 * The built-in sandbox tenant: Entra ID (v2.0) and the Microsoft Graph subset the product uses, over
 * real HTTPS on loopback, so the product's unchanged MSAL, Graph client and JWKS code run against it.
 *
 * One HTTPS listener serves Entra (discovery, JWKS, token), Graph (/v1.0) and the control API
 * (/_control, loopback only). A second, plain-HTTP loopback listener serves the pages a person's
 * browser opens (authorize: account picker, consent), so no certificate warning ever appears; the
 * openid-configuration's authorization_endpoint points there and MSAL follows it.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { handlePages } from './authorize';
import type { CertificateFiles } from './certs';
import { silentLogger, type AuthRequest, type SandboxContext, type SandboxLogger } from './context';
import { createControl, handleControl, type SandboxControl } from './control';
import { handleEntra } from './entra';
import { Faults } from './faults';
import { handleGraph } from './graph';
import { isLoopback, mediaType, readBody, requestUrl, sendJson, sendHtml } from './http';
import { ACCESS_TOKEN_SECONDS } from './issuance';
import { loadStateFile, restoreState, snapshotState, StateWriter, type LoadedState } from './persist';
import { GRAPH_APP_ID, GRAPH_RESOURCE } from './permissions';
import { loadContosoSeed, type SandboxSeed } from './seed';
import { World } from './state';
import { TokenSigner, pairwiseSub } from './tokens';
import { SANDBOX_TEAMS_APP, TeamsState, teamworkRoutes, type Installation } from './teamwork';
import { startTeamsConnector, type SandboxChat } from './teams-connector';

export { ensureCertificates, type CertificateFiles } from './certs';
export {
  describeDemoUsers,
  loadContosoSeed,
  parseSeed,
  type SandboxSeed,
  type SeedUser,
  type ConsentDecision,
  type MailboxState,
  type LegacyConnection,
} from './seed';
export type { SandboxControl, FaultTarget, SandboxStats } from './control';
export type { SandboxLogger } from './context';
export type { Installation as SandboxInstallation } from './teamwork';
export type { SandboxChat } from './teams-connector';

/** Client id of Microsoft Teams (desktop/mobile): the `azp` of Teams SSO tokens. */
export const TEAMS_CLIENT_ID = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';

export interface SandboxOptions {
  certs: CertificateFiles;
  /** Loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** HTTPS port for Entra + Graph + control (default: the restored state's port when free, else any free port). */
  port?: number;
  /** Plain-HTTP port for the browser sign-in pages (default as for `port`). */
  pagesPort?: number;
  /**
   * The product's public base URL (TAB_ENDPOINT): registers `<tabEndpoint>/auth/callback` as a
   * redirect URI and `api://<host[:port]>/<clientId>` as an App ID URI of the product app, as an
   * admin does for a real tenant.
   */
  tabEndpoint?: string;
  /** Added to the product app's redirect URIs, e.g. http://localhost:3978/auth/callback. */
  productRedirectUris?: string[];
  /** Added to the product app's App ID URIs: `api://host[:port]` or `api://host[:port]/<clientId>`. */
  productIdentifierUris?: string[];
  /** Default: the Contoso seed (src/sandbox/contoso.json). */
  seed?: SandboxSeed;
  logger?: SandboxLogger;
  /**
   * Keep the tenant's state (grants, consent presets, roles, secrets, mailboxes, revocations, refresh
   * tokens, clock, signing key) in this JSON file across restarts. Unset: in memory only (tests).
   */
  stateFile?: string;
}

export interface IssueTokenOptions {
  upn: string;
  /** `api://…/<clientId>`, the product client id, or https://graph.microsoft.com; any other string is used as is. */
  audience: string;
  /** Default: `access_as_user` for the product API, the user's granted scopes (or User.Read) for Graph. */
  scp?: string;
  /** Default: the user's app roles on the product app (e.g. ConnectionCenter.Admin). */
  roles?: string[];
  /** Default 3599; zero or negative gives an already expired token. */
  expiresInSeconds?: number;
  /** Default: the user's tenant. */
  tenantId?: string;
  /** `azp` (the calling client). Default: Microsoft Teams for the product API, the product app otherwise. */
  appId?: string;
}

export interface Sandbox {
  /** https://127.0.0.1:PORT — AAD_APP_OAUTH_AUTHORITY_HOST. */
  authorityHost: string;
  /** https://127.0.0.1:PORT (no /v1.0) — GRAPH_ENDPOINT. Graph client customHosts: the host without port. */
  graphEndpoint: string;
  /** http://127.0.0.1:PORT2 — where the browser signs in. */
  pagesOrigin: string;
  /** '127.0.0.1:PORT' for MSAL knownAuthorities. */
  knownAuthority: string;
  /** The Contoso tenant id. */
  tenantId: string;
  productApp: { clientId: string; clientSecret: string };
  seed: SandboxSeed;
  control: SandboxControl;
  /** Absolute path of the state file in use; undefined when the state lives in memory only. */
  stateFile?: string;
  issueToken(opts: IssueTokenOptions): Promise<string>;
  /** Microsoft Teams for proactive installation: Graph's installedApps and a stand-in Bot Connector. */
  teams: SandboxTeams;
  /** Stops both listeners, then writes the state file one last time (when there is one). */
  close(): Promise<void>;
}

export interface SandboxTeams {
  /** The manifest id of the Connection Center app in the sandbox tenants' catalogs (TEAMS_APP_ID). */
  teamsAppId: string;
  /** http://127.0.0.1:PORT/ — the serviceUrl of the stand-in Bot Connector. */
  connectorUrl: string;
  /** Each demo user's chat with the bot, cards rendered (loopback only). */
  pageUrl: string;
  /** Where installations are announced: the product's …/api/messages (its bot must run anonymously). */
  setBotEndpoint(url: string | undefined): void;
  installations(): Installation[];
  chat(upn: string): SandboxChat | undefined;
  /** The user adds the bot themselves, as from the Teams store. */
  install(opts: { upn: string }): Promise<void>;
  /** The user removes the bot from Teams. */
  uninstall(opts: { upn: string }): Promise<void>;
  /** The user types a message to the bot in their personal chat (they must have the bot). */
  say(opts: { upn: string; text: string }): Promise<void>;
  /** The tenant's Teams app permission policy blocks (or allows) the app for this user. */
  setAppBlocked(opts: { upn: string; blocked: boolean }): void;
  /** With `licensed: false` the user has no Teams licence: Graph answers 404 for their installed apps. */
  setTeamsLicense(opts: { upn: string; licensed: boolean }): void;
}

const TEAMS_CONTROL = ['install', 'uninstall', 'say', 'setAppBlocked', 'setTeamsLicense', 'installations'] as const;

/** `POST /_control/teams/<method>` with the options as JSON (`GET …/installations`), loopback only. */
async function handleTeamsControl(teams: SandboxTeams, req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
  if (!isLoopback(req)) return sendJson(res, 403, { error: { code: 'Forbidden', message: 'The sandbox control API answers loopback clients only.' } });
  const name = url.pathname.slice('/_control/teams/'.length) as (typeof TEAMS_CONTROL)[number];
  if (!(TEAMS_CONTROL as readonly string[]).includes(name))
    return sendJson(res, 404, { error: { code: 'NotFound', message: `No teams control method '${name}'. Methods: ${TEAMS_CONTROL.join(', ')}` } });
  if (name === 'installations') return sendJson(res, 200, { ok: true, result: teams.installations() });
  if (req.method !== 'POST' || mediaType(req) !== 'application/json')
    return sendJson(res, 415, { error: { code: 'UnsupportedMediaType', message: 'POST application/json.' } });
  try {
    const opts = JSON.parse((await readBody(req, 64 * 1024)) || '{}') as never;
    const result = await (teams[name] as (o: never) => unknown)(opts);
    sendJson(res, 200, { ok: true, result: result ?? null });
  } catch (err) {
    sendJson(res, 400, { error: { code: 'BadRequest', message: err instanceof Error ? err.message : String(err) } });
  }
}

const READ_ONLY_CONTROL = new Set<keyof SandboxControl>(['stats', 'inFlight']);

/** The same control, asking for a save after every method that may change the world. */
function savingAfterChanges(control: SandboxControl, touch: () => void): SandboxControl {
  const wrapped: Record<string, unknown> = { ...control };
  for (const name of Object.keys(control) as (keyof SandboxControl)[]) {
    if (READ_ONLY_CONTROL.has(name)) continue;
    const fn = control[name] as (opts?: unknown) => unknown;
    wrapped[name] = (opts?: unknown) => {
      try {
        return fn(opts);
      } finally {
        touch();
      }
    };
  }
  return wrapped as unknown as SandboxControl;
}

function listen(server: http.Server | https.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Listen on `wanted` if given; else on `previous` (a restored run's port) if free, warning and taking any port if not. */
async function listenPreferring(
  server: http.Server | https.Server,
  wanted: number | undefined,
  previous: number | undefined,
  host: string,
  logger: SandboxLogger,
  what: string,
): Promise<number> {
  if (wanted !== undefined || previous === undefined) return listen(server, wanted ?? 0, host);
  try {
    return await listen(server, previous, host);
  } catch (err) {
    const port = await listen(server, 0, host);
    logger.warn(
      { previousPort: previous, port, err: (err as NodeJS.ErrnoException).code ?? String(err) },
      `sandbox ${what} port ${previous} of the previous run is taken; using ${port}: users connected in that run may have to reconnect`,
    );
    return port;
  }
}

function closeServer(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  if (process.env.NODE_ENV === 'production') {
    throw new Error(
      'Refusing to start the sandbox tenant with NODE_ENV=production: configure a real tenant (AAD_APP_CLIENT_ID, SECRET_AAD_APP_CLIENT_SECRET, AAD_APP_TENANT_ID).',
    );
  }
  const host = options.host ?? '127.0.0.1';
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) throw new Error(`The sandbox listens on loopback only, not '${host}'.`);
  const urlHost = host === '::1' ? '[::1]' : host;
  const seed = options.seed ?? loadContosoSeed();
  const logger = options.logger ?? silentLogger;
  const tab = options.tabEndpoint ? new URL(options.tabEndpoint) : undefined;
  const world = new World(
    seed,
    [...(options.productRedirectUris ?? []), ...(tab ? [`${tab.origin}${tab.pathname.replace(/\/+$/, '')}/auth/callback`] : [])],
    [...(options.productIdentifierUris ?? []), ...(tab ? [`api://${tab.host}`] : [])],
  );
  const stateFile = options.stateFile === undefined ? undefined : path.resolve(options.stateFile);
  let restoredSigner: TokenSigner | undefined;
  let loaded: LoadedState | undefined;
  if (stateFile) {
    loaded = await loadStateFile(stateFile, seed, logger, async (doc) => {
      const saved = await TokenSigner.create(doc.signingKey.pkcs8);
      if (saved.kid !== doc.signingKey.kid) throw new Error('its signing key does not match its kid');
      try {
        restoreState(world, doc);
      } catch (err) {
        world.build();
        throw err;
      }
      restoredSigner = saved;
    });
    if (loaded.doc) logger.info({ stateFile, refreshTokens: world.refreshTokens.size, grants: world.grants.size }, 'sandbox state restored');
  }
  const signer = restoredSigner ?? (await TokenSigner.create());
  const ports: { port?: number; pagesPort?: number } = {};
  let writer: StateWriter | undefined;
  if (stateFile && loaded?.writable) {
    const key = { kid: signer.kid, pkcs8: signer.privateKeyPem() };
    writer = new StateWriter(stateFile, () => snapshotState(world, key, ports), logger);
  }
  const ctx: SandboxContext = {
    world,
    signer,
    faults: new Faults(),
    authorityHost: '',
    graphEndpoint: '',
    pagesOrigin: '',
    logger,
    authRequests: new Map<string, AuthRequest>(),
  };
  const teams = new TeamsState();
  ctx.graphExtensions = [teamworkRoutes(teams)];
  const control = writer ? savingAfterChanges(createControl(ctx), () => writer?.touch()) : createControl(ctx);

  const api = https.createServer({ key: options.certs.keyPem, cert: options.certs.certPem }, (req, res) => {
    const started = Date.now();
    const url = requestUrl(req.url, 'https://sandbox.invalid');
    if (!url) return sendJson(res, 400, { error: 'invalid_request', error_description: 'The request target is not a valid URL.' });
    res.on('finish', () =>
      logger.debug({ sandbox: 'api', method: req.method, path: url.pathname, status: res.statusCode, ms: Date.now() - started }, 'sandbox request'),
    );
    // Token grants, Graph writes and control calls arrive as POSTs; GETs here never change the world.
    if (writer && req.method !== 'GET' && req.method !== 'HEAD') res.on('close', () => writer.touch());
    void (async () => {
      try {
        if (url.pathname.startsWith('/_control/teams/')) return void (await handleTeamsControl(teamsApi, req, res, url));
        if (await handleControl(control, req, res, url)) return;
        if (await handleGraph(ctx, req, res, url)) return;
        if (await handleEntra(ctx, req, res, url)) return;
        sendJson(res, 404, { error: { code: 'NotFound', message: 'No sandbox endpoint at this path.' } });
      } catch (err) {
        logger.error({ err: err instanceof Error ? err.message : String(err), path: url.pathname }, 'sandbox: unexpected error');
        sendJson(res, 500, { error: 'server_error', error_description: 'The sandbox failed to handle this request.' });
      }
    })();
  });
  const pages = http.createServer((req, res) => {
    // A GET of the authorize page can record consent (a preset decision applies without a page).
    if (writer) res.on('close', () => writer.touch());
    void handlePages(ctx, req, res).catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'sandbox pages: unexpected error');
      sendHtml(res, 500, '<!doctype html><title>Error</title><p>The sandbox sign-in page failed.</p>');
    });
  });
  // Slow or stuck clients must not keep a test run alive.
  for (const s of [api, pages]) {
    s.keepAliveTimeout = 5000;
    s.headersTimeout = 10_000;
    s.requestTimeout = 30_000;
  }

  // A restored sandbox comes back on its previous ports: the product's MSAL cache keys tokens by the
  // authority's host:port, so another port would make every connected user reconnect.
  const saved = loaded?.doc?.listen;
  const port = await listenPreferring(api, options.port, saved?.port, host, logger, 'Entra/Graph');
  let pagesPort: number;
  try {
    pagesPort = await listenPreferring(pages, options.pagesPort, saved?.pagesPort, host, logger, 'sign-in pages');
  } catch (err) {
    await closeServer(api);
    throw err;
  }
  let connector: Awaited<ReturnType<typeof startTeamsConnector>>;
  try {
    connector = await startTeamsConnector({ world, teams, logger, host });
  } catch (err) {
    await Promise.all([closeServer(api), closeServer(pages)]);
    throw err;
  }
  teams.listener = connector;
  ports.port = port;
  ports.pagesPort = pagesPort;
  ctx.authorityHost = `https://${urlHost}:${port}`;
  ctx.graphEndpoint = ctx.authorityHost;
  ctx.pagesOrigin = `http://${urlHost}:${pagesPort}`;
  logger.info({ authorityHost: ctx.authorityHost, pagesOrigin: ctx.pagesOrigin }, 'sandbox tenant listening');
  // Saves the signing key of a first start at once, so the JWKS is stable from the first token on.
  writer?.touch();

  const productSecret = world.apps[0].secrets.find((s) => Date.parse(s.endDateTime) > Date.now()) ?? world.apps[0].secrets[0];

  async function issueToken(o: IssueTokenOptions): Promise<string> {
    const tenant = o.tenantId ? world.findTenant(o.tenantId) : undefined;
    if (o.tenantId && !tenant) throw new Error(`issueToken: no sandbox tenant '${o.tenantId}'`);
    const user = tenant ? world.findUser(tenant, o.upn) : world.findUserAnywhere(o.upn);
    if (!user) throw new Error(`issueToken: no sandbox user '${o.upn}'${tenant ? ` in ${tenant.displayName}` : ''}`);
    const tid = tenant?.id ?? user.tenantId;
    const resourceApp = world.resolveAppUri(o.audience);
    const isGraph = o.audience === GRAPH_RESOURCE || o.audience === `${GRAPH_RESOURCE}/` || o.audience === GRAPH_APP_ID;
    const product = world.apps[0];
    const azp = o.appId ?? (resourceApp ? TEAMS_CLIENT_ID : product.clientId);
    const granted = world.grantsFor(tid, user.oid, product.clientId).filter((s) => !['openid', 'profile', 'email', 'offline_access'].includes(s.toLowerCase()));
    const scp = o.scp ?? (resourceApp ? 'access_as_user' : isGraph ? (granted.length ? granted.join(' ') : 'User.Read') : 'access_as_user');
    const app = resourceApp ? world.app(resourceApp) : undefined;
    const roles = o.roles ?? (app ? user.roles.filter((r) => app.appRoles.some((ar) => ar.value === r)) : []);
    const lifetime = o.expiresInSeconds ?? ACCESS_TOKEN_SECONDS;
    const now = Math.floor(world.now() / 1000);
    const iat = lifetime > 0 ? now : now + lifetime - 3600;
    const claims: Record<string, unknown> = {
      aud: o.audience,
      iss: `${ctx.authorityHost}/${tid}/v2.0`,
      iat,
      nbf: iat,
      exp: now + lifetime,
      aio: randomUUID(),
      azp,
      azpacr: '0',
      idtyp: 'user',
      name: user.displayName,
      oid: user.oid,
      preferred_username: user.upn,
      rh: '0.sandbox.',
      scp,
      sub: pairwiseSub(user.oid, resourceApp ?? azp),
      tid,
      ver: '2.0',
    };
    if (roles.length) claims.roles = roles;
    if (isGraph) {
      claims.appid = azp;
      claims.upn = user.upn;
    }
    return signer.sign(claims);
  }

  const teamsApi: SandboxTeams = {
    teamsAppId: SANDBOX_TEAMS_APP.externalId,
    connectorUrl: connector.url,
    pageUrl: `${connector.url}_sandbox/teams`,
    setBotEndpoint(url) {
      connector.botEndpoint = url;
    },
    installations: () => [...teams.installations.values()],
    chat(upn) {
      const u = world.requireUser(upn);
      return [...connector.chats.values()].find((c) => c.userOid === u.oid);
    },
    async install({ upn }) {
      const u = world.requireUser(upn);
      if (teams.installationOf(u.tenantId, u.oid)) return;
      await connector.installed(teams.install(world.tenantOf(u), u, world.now()), u);
    },
    async uninstall({ upn }) {
      const u = world.requireUser(upn);
      const inst = teams.remove(u.tenantId, u.oid);
      if (inst) await connector.removed(inst, u);
    },
    async say({ upn, text }) {
      const u = world.requireUser(upn);
      const inst = teams.installationOf(u.tenantId, u.oid);
      if (!inst) throw new Error(`${u.upn} does not have the bot`);
      await connector.say(inst, u, text);
    },
    setAppBlocked({ upn, blocked }) {
      const u = world.requireUser(upn);
      if (blocked) teams.blocked.add(teams.key(u.tenantId, u.oid));
      else teams.blocked.delete(teams.key(u.tenantId, u.oid));
    },
    setTeamsLicense({ upn, licensed }) {
      const u = world.requireUser(upn);
      if (licensed) teams.unlicensed.delete(teams.key(u.tenantId, u.oid));
      else teams.unlicensed.add(teams.key(u.tenantId, u.oid));
    },
  };

  let closed = false;
  return {
    authorityHost: ctx.authorityHost,
    graphEndpoint: ctx.graphEndpoint,
    pagesOrigin: ctx.pagesOrigin,
    knownAuthority: `${urlHost}:${port}`,
    tenantId: seed.tenant.id,
    productApp: { clientId: seed.productApp.clientId, clientSecret: productSecret.value },
    seed,
    control,
    stateFile,
    issueToken,
    teams: teamsApi,
    async close() {
      if (closed) return;
      closed = true;
      ctx.faults.release();
      await Promise.all([closeServer(api), closeServer(pages), connector.close()]);
      await writer?.close();
    },
  };
}
