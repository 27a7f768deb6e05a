/**
 * The composition root: from a validated config to a listening product (store, sandbox when no
 * tenant is configured, identity, Graph, services, routes, bot). Used by src/index.ts and by the
 * integration tests (port 0, an injected sandbox).
 */
import { existsSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import type { AppConfig } from './config';
import { buildApp, type BuiltApp } from './app';
import type { Logger } from './log';
import { AppError } from './domain/errors';
import { Keyring, openStore } from './store';
import type { Store } from './store/types';
import { TokenVerifier } from './identity/verify';
import { DelegatedAuth } from './identity/delegated-auth';
import { fetchTenantMetadata } from './identity/tenant-discovery';
import { acquireAppToken } from './identity/service-account';
import { listVerifiedDomains } from './graph/domains';
import { runDelegatedProbes } from './graph/probes';
import { runServiceAccountTest } from './graph/service-account-test';
import { MailboxPacer, Sweep } from './graph/batch';
import { CheckService } from './services/checks';
import { checkRoutes } from './api/routes-checks';
import { ConnectionService } from './services/connections';
import { SignInService } from './services/signin';
import { Sealer } from './services/sealed';
import { AdminService } from './services/admin';
import type { DelegatedAuthPort, ServiceAccountTesterPort } from './services/ports';
import { meRoutes } from './api/routes-me';
import { authRoutes } from './api/routes-auth';
import { adminRoutes } from './api/routes-admin';
import { botRoutes } from './api/routes-bot';
import { createBotServices } from './services/bot-services';
import type { Sandbox } from './sandbox';
import { adminConsentUrl, isAdmin, type AdminRuleConfig } from './domain/admin';
import { isGuid } from './domain/formats';
import { Scheduler } from './services/scheduler';
import { grantSeededConnections } from './demo-grants';

type Bot = ReturnType<typeof import('../bot').createBot>;

/** With `lazyBot`, background work (scheduled checks, notifier, daily and reach jobs) starts this long after listening. */
const LAZY_BACKGROUND_DELAY_MS = 5_000;
import { TeamsInstaller } from './graph/teams-install';
import { CampaignService } from './services/campaign';
import { campaignBotServices, campaignRoutes } from './api/routes-campaign';

export class StartupError extends Error {
  override name = 'StartupError';
}

/** Where Microsoft (or the sandbox standing in for it) answers. */
export interface IdentityEndpoints {
  clientId: string;
  clientSecret: string;
  tenantId: string;
  authorityHost: string;
  graphEndpoint: string;
  knownAuthorities?: string[];
}

export interface StartOptions {
  logger: Logger;
  /** Prints the start-up banner (index.ts: stdout). */
  banner?: (text: string) => void;
  /** Tests pass a sandbox they started themselves. */
  sandbox?: Sandbox;
  host?: string;
  store?: Store;
  now?: () => Date;
  tabDir?: string;
  /** Background loops (notifier, daily checks) and the demo's seeded consents; tests turn them off. */
  background?: boolean;
  /**
   * Load the bot (botbuilder and Adaptive Card templating: most of the start-up time) on its first use
   * (a message on /api/messages, a test outcome to announce, the background loops a few seconds after
   * listening) instead of before listening. src/index.ts turns it on; tests keep the eager bot.
   */
  lazyBot?: boolean;
  /** Health-check tuning (benchmarks): `$batch` requests in flight at once (default 32). */
  checks?: { maxBatchesInFlight?: number };
}

export interface RunningProduct {
  url: string;
  port: number;
  store: Store;
  sandbox?: Sandbox;
  app: BuiltApp;
  identity: IdentityEndpoints;
  /** With `lazyBot`, reading it loads the bot. */
  readonly bot: Bot;
  admin: AdminService;
  campaign: CampaignService;
  checks: CheckService;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startProduct(config: Readonly<AppConfig>, options: StartOptions): Promise<RunningProduct> {
  const logger = options.logger;
  const now = options.now ?? (() => new Date());
  const host = options.host ?? (config.nodeEnv === 'production' ? '0.0.0.0' : '127.0.0.1');
  const port = config.port === 0 ? await freePort(host) : config.port;
  const tabEndpoint = config.port === 0 ? `http://localhost:${port}` : config.tabEndpoint;
  const tabDomain = new URL(tabEndpoint).host;

  let sandbox = options.sandbox;
  let ownSandbox = false;
  if (config.sandbox && !sandbox) {
    sandbox = await startOwnSandbox(config, tabEndpoint, logger);
    ownSandbox = true;
  }
  const identity: IdentityEndpoints = sandbox
    ? {
        clientId: sandbox.productApp.clientId,
        clientSecret: sandbox.productApp.clientSecret,
        // The demo app is multi-tenant (Contoso and Fabrikam); AAD_APP_TENANT_ID pins one tenant.
        tenantId: config.aad.tenantId ?? 'organizations',
        authorityHost: sandbox.authorityHost,
        graphEndpoint: sandbox.graphEndpoint,
        knownAuthorities: [sandbox.knownAuthority],
      }
    : {
        clientId: config.aad.clientId!,
        clientSecret: config.aad.clientSecret!,
        tenantId: config.aad.tenantId!,
        authorityHost: config.aad.authorityHost,
        graphEndpoint: config.graphEndpoint,
      };

  let store: Store;
  try {
    store = options.store ?? (await openStore(config.dataStore, new Keyring([...config.encryptionKeys], config.encryptionKeys[0]!.id), { now }));
  } catch (err) {
    if (ownSandbox) await sandbox?.close().catch(() => undefined);
    throw err;
  }
  // ADMIN_UPNS speaks for the home tenant only; in sandbox mode that is the sandbox's own tenant
  // unless AAD_APP_TENANT_ID pins another.
  const homeTenantId = config.homeTenantId ?? (sandbox ? sandbox.seed.tenant.id.toLowerCase() : undefined);
  const adminRule: AdminRuleConfig = { adminUpns: config.adminUpns, ...(homeTenantId ? { homeTenantId } : {}) };
  // The demo's Graph connections are seeded without grants; their consents are given just after
  // start (src/demo-grants.ts). Until then a health check would turn them into "needs
  // reconnect" and undo the story the banner tells, so the demo tenant's first scheduled check
  // waits one interval from when it was seeded, across restarts. Check all now runs at any time.
  const demoSeededAt = sandbox ? await seedSandboxTenant(store, sandbox, adminRule, now) : undefined;

  const verifier = new TokenVerifier({
    authorityHost: identity.authorityHost,
    clientId: identity.clientId,
    tabDomain,
    tenantId: identity.tenantId,
    adminRule,
  });
  const delegated = new DelegatedAuth({
    authorityHost: identity.authorityHost,
    tenantId: identity.tenantId,
    clientId: identity.clientId,
    clientSecret: identity.clientSecret,
    redirectUri: `${tabEndpoint}/auth/callback`,
    knownAuthorities: identity.knownAuthorities,
    store,
    logger,
  });
  const authPort: DelegatedAuthPort = {
    makePkce: () => delegated.makePkce(),
    authCodeUrl: (o) => delegated.authCodeUrl(o),
    redeemCode: async (o) =>
      o.persist === false
        ? delegated.redeemForSignIn({ code: o.code, codeVerifier: o.codeVerifier, nonce: o.nonce, scopes: o.scopes })
        : delegated.redeemCode({
            code: o.code,
            codeVerifier: o.codeVerifier,
            nonce: o.nonce,
            scopes: o.scopes,
            tenantId: o.tenantId,
            expectedOid: o.expected?.oid,
          }),
    acquireSilent: (o) => delegated.acquireSilent(o),
    removeUser: async (t, h) => {
      await delegated.removeUser(t, h);
    },
  };
  const env = { authorityHost: identity.authorityHost, graphEndpoint: identity.graphEndpoint, knownAuthorities: identity.knownAuthorities };
  // The tenant's service account, app-only.
  const appToken = async (sa: { tenant: string; clientId: string; clientSecret: string }) =>
    (
      await acquireAppToken({
        authorityHost: env.authorityHost,
        tenant: sa.tenant,
        clientId: sa.clientId,
        clientSecret: sa.clientSecret,
        knownAuthorities: env.knownAuthorities,
      })
    ).accessToken;
  const tester: ServiceAccountTesterPort = {
    run: (input) => runServiceAccountTest(input, env),
    resolveTenant: async (tenant) => {
      const { tenantId } = await fetchTenantMetadata(env.authorityHost, tenant);
      if (!tenantId) throw new AppError('TENANT_NOT_FOUND', { message: `Entra ID did not name a tenant id for ${tenant}.` });
      return tenantId;
    },
    verifiedDomains: async (sa) => listVerifiedDomains(env.graphEndpoint, await appToken(sa)),
  };

  const connections = new ConnectionService({
    store,
    auth: authPort,
    probes: { run: (o) => runDelegatedProbes({ graphEndpoint: identity.graphEndpoint, accessToken: o.accessToken, features: o.features }) },
    logger,
    now,
    tabEndpoint,
    authorityHost: identity.authorityHost,
    clientId: identity.clientId,
  });
  // Pre-login state (sealed cookies) under a key derived from the first ENCRYPTION_KEY.
  const sealer = new Sealer(config.encryptionKeys[0]!.key);
  const signIn = new SignInService({
    store,
    auth: authPort,
    verifier,
    now,
    sealer,
    appIdUri: `api://${tabDomain}/${identity.clientId}`,
    tenantId: identity.tenantId,
  });

  // Several instances on one store: outbox items and scheduled jobs are claimed under leases.
  const leaseMs = config.leaseSeconds * 1000;
  const jobLeaseMs = 10 * leaseMs;
  const admin = new AdminService({
    store,
    tester,
    logger,
    now,
    authorityHost: identity.authorityHost,
    hashKey: config.encryptionKeys[0]!.key,
    reachPermission: (tenantId) => campaign.permission(tenantId),
  });
  // Reach: the product's own app installs the bot (sandbox: its demo catalog's app id).
  const teamsAppId = sandbox ? sandbox.teams.teamsAppId : config.teamsAppId;
  const botServices = createBotServices({
    store,
    admin,
    tabEndpoint,
    // Deep links into Teams only for a configured app; the sandbox's demo app opens the web tab.
    teamsAppId: config.teamsAppId,
    adminRule: { ...adminRule, proofMaxDays: config.adminProofMaxDays },
    now,
  });
  // Nudges are cards: bot/reach loads card templating (adaptive-expressions, a large part of the
  // start-up time), so it is loaded on the first nudge rather than at start.
  const nudgeSender = lazily(() =>
    (require('../bot/reach') as typeof import('../bot/reach')).campaignNudges({
      store,
      tabUrl: () => botServices.tabUrl(),
      wake: () => bot.loaded()?.notifier.wake(),
    }),
  );
  const campaign = new CampaignService({
    store,
    logger: logger.child({ component: 'reach' }),
    now,
    installer: teamsAppId
      ? new TeamsInstaller({
          authorityHost: identity.authorityHost,
          graphEndpoint: identity.graphEndpoint,
          knownAuthorities: identity.knownAuthorities,
          clientId: identity.clientId,
          clientSecret: identity.clientSecret,
          teamsAppId,
        })
      : undefined,
    nudges: {
      nudge: (n) => nudgeSender.get().nudge(n),
      wake: () => bot.loaded()?.notifier.wake(),
    },
    minDaysBetween: config.campaignMinDaysBetween,
    leaseMs: jobLeaseMs,
    adminUpns: config.adminUpns,
    homeTenantId: isGuid(identity.tenantId) ? identity.tenantId.toLowerCase() : sandbox?.tenantId.toLowerCase(),
    adminConsentUrl: (tenantId) => adminConsentUrl(identity.authorityHost, tenantId, identity.clientId),
  });
  // The bot reads the admin service and hears its test outcomes; it is loaded on first use (at once
  // unless lazyBot), because botbuilder and card templating are most of the start-up time.
  const bot = lazily((): Bot =>
    (require('../bot') as typeof import('../bot')).createBot({
      botId: config.bot.id,
      botPassword: config.bot.password,
      botTenantId: config.bot.tenantId,
      store,
      services: { ...botServices, campaign: campaignBotServices(campaign) },
      logger: logger.child({ component: 'bot' }),
      now,
      notifier: { leaseMs },
    }),
  );
  admin.onTestOutcome(async (tenantId, previous, current) => {
    await bot.get().emitTestOutcome(tenantId, previous, current);
  });
  if (!options.lazyBot) bot.get();

  const checks = new CheckService({
    store,
    auth: authPort,
    appToken,
    pacer: new MailboxPacer(),
    sweep: (pacer) => new Sweep({ graphEndpoint: identity.graphEndpoint, pacer, maxBatchesInFlight: options.checks?.maxBatchesInFlight }),
    events: {
      connectionLost: async (tenantId, connection, runId) => {
        await bot.get().emitConnectionLost(tenantId, connection, runId);
      },
      runFinished: async (tenantId, digest) => {
        await bot.get().emitCheckDigest(tenantId, digest);
      },
    },
    logger: logger.child({ component: 'checks' }),
    now,
    leaseMs: jobLeaseMs,
  });

  const authDeps = { verifier, store, adminRule, now };
  const app = buildApp({
    logger,
    store,
    tabDir: options.tabDir ?? path.join(projectRoot(), 'tab', 'dist'),
    tabEndpoint,
    authorityHost: identity.authorityHost,
    now,
    routes: [
      meRoutes({ ...authDeps, logger, connections, sandbox: !!sandbox }),
      authRoutes({ logger, store, connections, signIn, sealer, now, secureCookies: tabEndpoint.startsWith('https:') }),
      adminRoutes({ ...authDeps, logger, admin }),
      campaignRoutes({ ...authDeps, logger, campaign }),
      checkRoutes({ ...authDeps, logger, checks }),
      botRoutes({ logger, bot: { handleMessages: (req, res) => bot.get().handleMessages(req, res) } }),
    ],
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new StartupError(`port ${port} is already in use; stop the other process or set PORT to a free port`));
      else if (err.code === 'EACCES') reject(new StartupError(`port ${port} needs elevated rights; set PORT to a port above 1024`));
      else reject(err);
    };
    // restify re-emits the http server's errors on itself.
    app.server.once('error', onError);
    app.server.listen(port, host, () => {
      app.server.off('error', onError);
      resolve();
    });
  }).catch(async (err) => {
    await store.close().catch(() => undefined);
    if (ownSandbox) await sandbox?.close().catch(() => undefined);
    throw err;
  });

  const url = `http://${host === '0.0.0.0' ? 'localhost' : host}:${port}`;
  // The sandbox's Teams stand-in announces installations to the bot, which then runs anonymously.
  if (sandbox && !config.bot.id) sandbox.teams.setBotEndpoint(`${url}/api/messages`);
  // A run interrupted by a stop or a crash is finished, not forgotten.
  void checks.resumeInterrupted().catch((err) => logger.error({ err }, 'resuming health checks failed'));
  const scheduler =
    options.background === false
      ? undefined
      : new Scheduler({
          store,
          admin,
          checks,
          campaign,
          bot: () => {
            const b = bot.get();
            return { startNotifier: () => b.notifier.start(), runDailyChecks: (at) => b.runDailyChecks(at) };
          },
          logger,
          now,
          leaseMs,
          checkIntervalHours: config.checkIntervalHours,
          ...(demoSeededAt ? { firstCheckNotBefore: new Date(demoSeededAt.getTime() + config.checkIntervalHours * 3600_000) } : {}),
          delayMs: options.lazyBot ? LAZY_BACKGROUND_DELAY_MS : 0,
        });
  scheduler?.start();
  // At every start, not only the first: a consent the first start could not give (the process
  // stopped, the sign-in failed) is given at the next. Connections that hold a grant are skipped.
  if (sandbox && options.background !== false) {
    const tenantId = sandbox.seed.tenant.id.toLowerCase();
    void grantSeededConnections(tenantId, { store, connections, redirectUri: `${tabEndpoint}/auth/callback`, logger, now }).then(
      (granted) => {
        if (granted > 0) logger.info({ granted }, 'demo: seeded Graph connections consented');
      },
      (err: unknown) => logger.warn({ err }, 'demo: seeded consents failed'),
    );
  }

  options.banner?.(bannerText({ config, tabEndpoint, sandbox }));
  logger.info({ url, tabEndpoint, sandbox: !!sandbox }, 'Connection Center is listening');

  return {
    url,
    port,
    store,
    sandbox,
    app,
    identity,
    get bot() {
      return bot.get();
    },
    admin,
    campaign,
    checks,
    async stop() {
      scheduler?.stop();
      await checks.stop();
      await app.drain();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
      await bot
        .loaded()
        ?.close()
        .catch((err) => logger.warn({ err }, 'bot close failed'));
      if (!options.store) await store.close();
      if (ownSandbox) await sandbox?.close();
    },
  };
}

/** A value built on its first `get()`; `loaded()` tells whether that happened, without building it. */
function lazily<T>(build: () => T): { get(): T; loaded(): T | undefined } {
  const memo: { value?: T } = {};
  return {
    get: () => (memo.value ??= build()),
    loaded: () => memo.value,
  };
}

/** The folder holding package.json: one level up from src/ (tsx, Jest), two from dist/src/ (compiled). */
function projectRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return path.join(__dirname, '..');
  }
}

async function startOwnSandbox(config: Readonly<AppConfig>, tabEndpoint: string, logger: Logger): Promise<Sandbox> {
  const { ensureCertificates, startSandbox } = await import('./sandbox');
  const certs = await ensureCertificates(path.join(config.dataDir, 'sandbox'));
  if (path.resolve(process.env.NODE_EXTRA_CA_CERTS ?? '') !== path.resolve(certs.caCertPath)) {
    throw new StartupError(`the sandbox tenant needs its local CA trusted at process start: run "npm start" (it sets NODE_EXTRA_CA_CERTS=${certs.caCertPath})`);
  }
  return startSandbox({
    certs,
    // The demo app registration follows TAB_ENDPOINT (redirect URI and App ID URI), whatever host it names.
    tabEndpoint,
    logger: logger.child({ component: 'sandbox' }),
    stateFile: path.join(config.dataDir, 'sandbox', 'state.json'),
  });
}

/**
 * Seeds the demo tenant's users, and on a first start its legacy connections, so that there is
 * something to migrate; returns when the demo tenant was first seeded.
 */
async function seedSandboxTenant(store: Store, sandbox: Sandbox, adminRule: AdminRuleConfig, now: () => Date): Promise<Date> {
  const seed = sandbox.seed;
  const tenantId = seed.tenant.id.toLowerCase();
  const existing = await store.countConnections(tenantId);
  const tenant = await store.ensureTenant(tenantId, { displayName: seed.tenant.displayName });
  const at = now().toISOString();
  // The demo directory's roles, so the bot knows the admins before anyone opened the tab. The
  // sandbox is this deployment's identity provider, so its directory proves them once, at first
  // start; after ADMIN_PROOF_MAX_DAYS they open the tab like any admin.
  for (const u of seed.users) {
    if (!(await store.getUser(tenantId, u.oid.toLowerCase()))) {
      const upn = u.upn.toLowerCase();
      const roles = u.roles ?? [];
      const admin = isAdmin({ roles, upn, tenantId }, adminRule);
      await store.putUser({
        tenantId,
        oid: u.oid.toLowerCase(),
        upn,
        displayName: u.displayName,
        roles,
        lastSeenAt: at,
        ...(admin ? { adminProvenAt: at } : {}),
      });
    }
  }
  if (existing.length > 0) return new Date(tenant.createdAt);
  const users = new Map(seed.users.map((u) => [u.upn.toLowerCase(), u]));
  await store.importConnections(
    seed.legacyConnections.map((c) => ({
      tenantId,
      upn: c.upn.toLowerCase(),
      kind: c.kind,
      state: c.state,
      displayName: users.get(c.upn.toLowerCase())?.displayName,
      oid: users.get(c.upn.toLowerCase())?.oid,
      grantedScopes: [],
      ...(c.lastSyncAt ? { lastSyncAt: c.lastSyncAt } : {}),
      createdAt: at,
      updatedAt: at,
    })),
  );
  return new Date(tenant.createdAt);
}

function bannerText({ config, tabEndpoint, sandbox }: { config: Readonly<AppConfig>; tabEndpoint: string; sandbox?: Sandbox }): string {
  const lines = [
    '',
    '  Connection Center is running',
    `    Tab (browser):     ${tabEndpoint}/tab/`,
    `    Bot endpoint:      ${tabEndpoint}/api/messages${config.bot.id ? '' : '  (anonymous: BOT_ID is empty, for local runs)'}`,
    `    Health:            ${tabEndpoint}/healthz`,
    `    Agents Playground: npm run playground   (talk to the bot without a Microsoft tenant)`,
    '',
  ];
  if (sandbox) {
    lines.push(
      '  ************************************************************************************',
      '  *  SANDBOX MODE: no tenant is configured (AAD_APP_CLIENT_ID is empty), so the      *',
      '  *  built-in demo tenant stands in for Entra ID and Microsoft Graph. Nothing here   *',
      '  *  talks to Microsoft. Set AAD_APP_CLIENT_ID & co. to use a real tenant.           *',
      '  ************************************************************************************',
      '',
      `  What the bot sent each demo user (sandbox Teams): ${sandbox.teams.pageUrl}`,
      '',
      `  Sign in at ${tabEndpoint}/tab/ as one of the demo users:`,
    );
    lines.push(sandboxUsersText(sandbox));
  }
  return `${lines.join('\n')}\n`;
}

function sandboxUsersText(sandbox: Sandbox): string {
  // describeDemoUsers lives with the seed so the list stays true to the data.
  const { describeDemoUsers } = require('./sandbox') as typeof import('./sandbox');
  return describeDemoUsers(sandbox.seed);
}
