/**
 * The composition root: from a validated config to a listening product (store, sandbox when no
 * tenant is configured, identity, Graph, services, routes, bot). Used by src/index.ts and by the
 * integration tests (port 0, an injected sandbox).
 */
import { createServer as createNetServer } from 'node:net';
import path from 'node:path';
import type { AppConfig } from './config';
import { buildApp, type BuiltApp } from './app';
import type { Logger } from './log';
import { Keyring, openStore } from './store';
import type { Store } from './store/types';
import { TokenVerifier } from './identity/verify';
import { DelegatedAuth } from './identity/msal';
import { acquireAppToken } from './identity/service-account';
import { createGraphClient } from './graph/client';
import { runDelegatedProbes } from './graph/probes';
import { runServiceAccountTest } from './graph/service-account-test';
import { MailboxPacer, Sweep } from './graph/batch';
import { CheckService } from './services/checks';
import { checkRoutes } from './api/routes-checks';
import { ConnectionService } from './services/connections';
import { SignInService } from './services/signin';
import { AdminService } from './services/admin';
import type { DelegatedAuthPort, ServiceAccountTesterPort } from './services/ports';
import { meRoutes } from './api/routes-me';
import { authRoutes } from './api/routes-auth';
import { adminRoutes } from './api/routes-admin';
import { botRoutes, createBotServices } from './api/routes-bot';
import type { Sandbox } from './sandbox';
import { createBot } from '../bot';

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
  /** Background loops (notifier, daily checks); tests turn them off. */
  background?: boolean;
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
  bot: ReturnType<typeof createBot>;
  admin: AdminService;
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
    store = options.store ?? (await openStore(config.dataStore, new Keyring([...config.encryptionKeys], config.encryptionKeys[0]!.id)));
  } catch (err) {
    if (ownSandbox) await sandbox?.close().catch(() => undefined);
    throw err;
  }
  if (sandbox) await seedSandboxTenant(store, sandbox, now);

  const verifier = new TokenVerifier({
    authorityHost: identity.authorityHost,
    clientId: identity.clientId,
    tabDomain,
    tenantId: identity.tenantId,
    adminUpns: config.adminUpns,
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
  const tester: ServiceAccountTesterPort = {
    run: (input) => runServiceAccountTest(input, env),
    verifiedDomains: async (sa) => {
      const token = await acquireAppToken({
        authorityHost: env.authorityHost,
        tenant: sa.tenant,
        clientId: sa.clientId,
        clientSecret: sa.clientSecret,
        knownAuthorities: env.knownAuthorities,
      });
      const client = createGraphClient({ graphEndpoint: env.graphEndpoint, accessToken: token.accessToken });
      const res = (await client.api('/domains').select('id,isVerified').get()) as { value?: Array<{ id: string; isVerified?: boolean }> };
      return (res.value ?? []).filter((d) => d.isVerified).map((d) => d.id.toLowerCase());
    },
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
  const signIn = new SignInService({ store, auth: authPort, verifier, now, appIdUri: `api://${tabDomain}/${identity.clientId}`, tenantId: identity.tenantId });

  // The admin service notifies the bot, which itself reads the admin service: tie the knot once both exist.
  const late: { bot?: ReturnType<typeof createBot> } = {};
  const admin = new AdminService({
    store,
    tester,
    logger,
    now,
    authorityHost: identity.authorityHost,
    hashKey: config.encryptionKeys[0]!.key,
    onTestOutcome: async (tenantId, previous, current) => {
      await late.bot?.emitTestOutcome(tenantId, previous, current);
    },
  });
  const bot = createBot({
    botId: config.bot.id,
    botPassword: config.bot.password,
    botTenantId: config.bot.tenantId,
    store,
    services: createBotServices({ store, admin, tabEndpoint, teamsAppId: process.env.TEAMS_APP_ID }),
    logger: logger.child({ component: 'bot' }),
    now,
  });
  late.bot = bot;

  const checks = new CheckService({
    store,
    auth: authPort,
    appToken: async (sa) =>
      (
        await acquireAppToken({
          authorityHost: env.authorityHost,
          tenant: sa.tenant,
          clientId: sa.clientId,
          clientSecret: sa.clientSecret,
          knownAuthorities: env.knownAuthorities,
        })
      ).accessToken,
    pacer: new MailboxPacer(),
    sweep: (pacer) => new Sweep({ graphEndpoint: identity.graphEndpoint, pacer, maxBatchesInFlight: options.checks?.maxBatchesInFlight }),
    events: {
      connectionLost: async (tenantId, connection, runId) => {
        await late.bot?.emitConnectionLost(tenantId, connection, runId);
      },
      runFinished: async (tenantId, digest) => {
        await late.bot?.emitCheckDigest(tenantId, digest);
      },
    },
    logger: logger.child({ component: 'checks' }),
    now,
  });

  const authDeps = { verifier, store, adminUpns: config.adminUpns, now };
  const app = buildApp({
    logger,
    store,
    tabDir: options.tabDir ?? path.join(__dirname, '..', 'tab', 'dist'),
    routes: [
      meRoutes({ ...authDeps, logger, connections, sandbox: !!sandbox }),
      authRoutes({ logger, store, connections, signIn, now, secureCookies: tabEndpoint.startsWith('https:') }),
      adminRoutes({ ...authDeps, logger, admin }),
      checkRoutes({ ...authDeps, logger, checks }),
      botRoutes({ logger, bot }),
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
  const timers: NodeJS.Timeout[] = [];
  // A run interrupted by a stop or a crash is finished, not forgotten.
  void checks.resumeInterrupted().catch((err) => logger.error({ err }, 'resuming health checks failed'));
  if (options.background !== false) {
    void checks.schedule(config.checkIntervalHours);
    bot.notifier.start();
    const daily = async () => {
      // Re-test every saved service account: a revoked consent or an expired secret is caught without anyone looking.
      for (const tenant of await store.listTenants().catch(() => [])) {
        if (await store.getServiceAccount(tenant.tenantId).catch(() => undefined)) {
          await admin
            .testSaved(tenant.tenantId, 'system')
            .catch((err) => logger.error({ err, tenantId: tenant.tenantId }, 'scheduled service-account test failed'));
        }
      }
      await bot.runDailyChecks(now()).catch((err) => logger.error({ err }, 'daily checks failed'));
      await store.purgeExpired(now()).catch((err) => logger.warn({ err }, 'purge failed'));
    };
    void daily();
    timers.push(setInterval(() => void daily(), 6 * 3600_000));
    timers.forEach((t) => t.unref());
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
    bot,
    admin,
    checks,
    async stop() {
      timers.forEach(clearInterval);
      await checks.stop();
      await app.drain();
      await new Promise<void>((resolve) => app.server.close(() => resolve()));
      await bot.close().catch((err) => logger.warn({ err }, 'bot close failed'));
      if (!options.store) await store.close();
      if (ownSandbox) await sandbox?.close();
    },
  };
}

async function startOwnSandbox(config: Readonly<AppConfig>, tabEndpoint: string, logger: Logger): Promise<Sandbox> {
  const { ensureCertificates, startSandbox } = await import('./sandbox');
  const certs = await ensureCertificates(path.join(config.dataDir, 'sandbox'));
  if (path.resolve(process.env.NODE_EXTRA_CA_CERTS ?? '') !== path.resolve(certs.caCertPath)) {
    throw new StartupError(`the sandbox tenant needs its local CA trusted at process start: run "npm start" (it sets NODE_EXTRA_CA_CERTS=${certs.caCertPath})`);
  }
  return startSandbox({
    certs,
    productRedirectUris: [`${tabEndpoint}/auth/callback`],
    logger: logger.child({ component: 'sandbox' }),
    stateFile: path.join(config.dataDir, 'sandbox', 'state.json'),
  });
}

/** First start in sandbox mode: the demo tenant's legacy connections, so there is something to migrate. */
async function seedSandboxTenant(store: Store, sandbox: Sandbox, now: () => Date): Promise<void> {
  const seed = sandbox.seed;
  const tenantId = seed.tenant.id.toLowerCase();
  const existing = await store.countConnections(tenantId);
  await store.ensureTenant(tenantId, { displayName: seed.tenant.displayName });
  const at = now().toISOString();
  // The demo directory's roles, so the bot knows the admins before anyone opened the tab.
  for (const u of seed.users) {
    if (!(await store.getUser(tenantId, u.oid.toLowerCase()))) {
      await store.putUser({ tenantId, oid: u.oid.toLowerCase(), upn: u.upn.toLowerCase(), displayName: u.displayName, roles: u.roles ?? [], lastSeenAt: at });
    }
  }
  if (existing.length > 0) return;
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
