/**
 * Shared pieces for the bot's tests and benchmark: a real SQLite store in memory, a log captured
 * in memory, a virtual clock, scriptable BotServices, realistic product data and Teams activities.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { FunnelView, PermissionsResponse, ServiceAccountTestResponse, SummaryResponse } from '../../src/contract';
import { ERROR_CATALOGUE } from '../../src/domain/errors';
import { applicationFeatureMatrix, FEATURES, type Feature } from '../../src/domain/features';
import { Keyring, openStore } from '../../src/store';
import type { ConnectionRecord, Store } from '../../src/store/types';
import type { BotServices, TestOutcome } from '../../bot';
import { createLogger } from '../../src/log';
import type { Clock } from '../../bot/notifier';
import * as restify from 'restify';
import { createBot, type Bot, type CreateBotOptions } from '../../bot';
import { tenantDeadlines, viewOf } from '../../src/domain/deadlines';
import type { ConnectionKind, ConnectionState } from '../../src/domain/connection';
import type { CheckDigest } from '../../src/services/checks';
import {
  checkDigestModel,
  deadlineDigestModel,
  errorModel,
  helpModel,
  permissionsMissingModel,
  reconnectNudgeModel,
  statusModel,
  welcomeModel,
  testFailedModel,
  testPassedModel,
  type CardModels,
  type CardName,
} from '../../bot/cards';
import { DIGEST_USERS } from '../../bot/triggers';
import { MAX_CARD_BYTES } from '../../bot/cards/build';
// The package's `main` is ES module source; its UMD bundle loads in Node without a DOM (parsing and validation need none; rendering would).
const AC: typeof import('adaptivecards') = require('adaptivecards/dist/adaptivecards.js');

export const TENANT = '66305621-97b8-41f8-953b-d70d11d91d5b';
export const ADMIN_OID = '5bcd79c3-5b4b-4b18-a10e-417b85901dda';
export const USER_OID = 'd9c0d723-007e-4729-8415-c346126b127a';
export const TAB_URL = 'https://teams.microsoft.com/l/entity/00000000-0000-0000-0000-000000000abc/connection-center';

export function openTestStore(): Promise<Store> {
  return openStore('sqlite::memory:', Keyring.fromKeys(randomBytes(32)));
}

/**
 * A log captured in memory: the product's logger (its redaction and `err` serializer) by default,
 * or a bare pino logger, to show the bot keeps secrets out of any logger it is given.
 */
export function captureLogger(kind: 'product' | 'bare' = 'product'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: kind === 'bare' ? pino({ level: 'debug' }, destination) : createLogger({ level: 'debug', destination }), lines };
}

/** Time moves only when something sleeps; a sleep yields to the event loop so I/O can finish. */
export class VirtualClock implements Clock {
  constructor(public t = Date.now()) {}
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (!signal?.aborted) this.t = this.now() + Math.max(0, ms);
    return new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A virtual clock that never runs behind the wall clock. The Store stamps enqueued items with the
 * real time, so items enqueued after a slow setup are still due however long that setup took.
 */
export class WallFloorClock extends VirtualClock {
  override now(): number {
    return Math.max(this.t, Date.now());
  }
}

// ---- product data ------------------------------------------------------------------------------

export function testResult(kind: 'passed' | 'secret' | 'permissions' | 'consent', ranAt = '2026-11-26T09:30:00.000Z'): ServiceAccountTestResponse {
  const enabled: Feature[] = ['emailSync', 'calendarSync', 'calendarScheduling'];
  const roles =
    kind === 'passed'
      ? ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite']
      : kind === 'permissions'
        ? ['Mail.Read', 'Calendars.Read']
        : kind === 'consent'
          ? []
          : [];
  const matrix = applicationFeatureMatrix(roles, enabled);
  const features = Object.fromEntries(
    FEATURES.map((f) => [f, { required: matrix[f].required, granted: matrix[f].granted, missing: matrix[f].missing, available: matrix[f].available }]),
  ) as ServiceAccountTestResponse['features'];
  const steps: ServiceAccountTestResponse['steps'] = [{ id: 'tenant', status: 'passed', message: 'The tenant contoso.com was found.' }];
  if (kind === 'secret') {
    steps.push({
      id: 'token',
      status: 'failed',
      code: 'SECRET_ID_NOT_VALUE',
      message: 'Entra ID refused the client secret: it looks like the Secret ID, not the Secret Value (AADSTS7000215).',
      remedy:
        'In Entra ID open App registrations → Contoso Mail Sync → Certificates & secrets, create a new client secret and copy its Value column, not the Secret ID.',
    });
    steps.push({ id: 'roles', status: 'skipped', message: 'Skipped: no token.' });
  } else if (kind === 'permissions' || kind === 'consent') {
    steps.push({ id: 'token', status: 'passed', message: 'A token was issued for the app.' });
    steps.push({
      id: 'roles',
      status: 'failed',
      code: kind === 'consent' ? 'ADMIN_CONSENT_MISSING' : 'PERMISSION_MISSING',
      message:
        kind === 'consent' ? 'The token carries no application roles.' : 'Granted: Mail.Read, Calendars.Read. Missing: Mail.ReadWrite, Calendars.ReadWrite.',
    });
  } else {
    steps.push({ id: 'token', status: 'passed', message: 'A token was issued for the app.' });
    steps.push({ id: 'roles', status: 'passed', message: 'Every role the enabled features need is granted.' });
    steps.push({ id: 'test-mailbox', status: 'passed', message: 'megan.bowen@contoso.com: calendar, events and inbox readable.' });
    steps.push({
      id: 'access-policy',
      status: 'warning',
      code: 'ACCESS_POLICY_NOT_RESTRICTING',
      message: 'The out-of-scope mailbox isaiah.langer@contoso.com was reachable.',
      remedy: 'Create an application access policy for the app.',
    });
  }
  return { ok: kind === 'passed', ranAt, steps, features };
}

export function summary(): SummaryResponse {
  return {
    total: 13,
    byKind: { 'ews-basic': 6, 'ews-oauth': 1, 'graph-delegated': 4, 'graph-app': 2 },
    byState: { connected: 8, 'needs-reconnect': 1, 'missing-permissions': 1, failing: 2, unknown: 1, disconnected: 0 },
    needAction: 8,
    deadlines: [
      {
        id: 'smtp-auth-basic-disabled',
        date: '2026-12-31',
        daysLeft: 35,
        what: 'SMTP AUTH with Basic Authentication is disabled by default for existing tenants.',
        affectedUsers: 6,
      },
      {
        id: 'ews-removed',
        date: '2027-04-01',
        daysLeft: 126,
        what: 'EWS is removed from Exchange Online: no EWS for any app, no exceptions.',
        affectedUsers: 7,
      },
    ],
    serviceAccount: { configured: true, lastTest: { ok: false, ranAt: '2026-11-26T09:30:00.000Z' } },
  };
}

const NAMES = [
  'Megan Bowen',
  'Alex Wilber',
  'Lee Gu',
  'Lidia Holloway',
  'Lynne Robbins',
  'Pradeep Gupta',
  'Nestor Wilke',
  'Diego Siciliani',
  'Johanna Lorenz',
  'Grady Archie',
  'Isaiah Langer',
  'Miriam Graham',
];

export function connection(
  upn: string,
  kind: ConnectionRecord['kind'],
  state: ConnectionRecord['state'],
  extra: Partial<ConnectionRecord> = {},
): ConnectionRecord {
  const at = '2026-11-20T08:00:00.000Z';
  return { tenantId: TENANT, upn, kind, state, grantedScopes: [], createdAt: at, updatedAt: at, ...extra };
}

/** `n` legacy users with names, for digests and nudges. */
export function legacyUsers(n: number): ConnectionRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const name = NAMES[i % NAMES.length] + (i >= NAMES.length ? ` ${Math.floor(i / NAMES.length) + 1}` : '');
    const upn = `${name.toLowerCase().replace(/\s+/g, '.')}@contoso.com`;
    return connection(upn, i % 5 === 4 ? 'ews-oauth' : 'ews-basic', i % 7 === 3 ? 'failing' : 'connected', { displayName: name });
  });
}

export const PORTAL: NonNullable<PermissionsResponse['portal']> = {
  apiPermissionsUrl:
    'https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationMenuBlade/~/CallAnAPI/appId/66193c42-2023-423c-acba-f7f851f7f085',
  adminConsentUrl: `https://login.microsoftonline.com/${TENANT}/adminconsent?client_id=66193c42-2023-423c-acba-f7f851f7f085`,
};

export interface FakeServices extends BotServices {
  /** Admins proven recently (standing `admin`). */
  admins: Set<string>;
  /** Admins by the rule whose proof is too old (standing `unproven`). */
  unproven: Set<string>;
  nextTest: ServiceAccountTestResponse | { notConfigured: true };
  nudge: ConnectionRecord[];
  /** UPNs that have done what a nudge asks: nudges waiting for them are no longer due. */
  reconnected: Set<string>;
  testsRun: Array<{ tenantId: string; actor: string }>;
  /**
   * Set it to do what the server does after every stored test (bot.emitTestOutcome with the
   * previous outcome), inside runServiceAccountTest.
   */
  emitOutcome?: (tenantId: string, previous: TestOutcome | undefined, current: TestOutcome) => Promise<unknown>;
  lastTest?: TestOutcome;
}

/** BotServices over plain data the test controls. */
export function fakeServices(init: Partial<Pick<FakeServices, 'nextTest' | 'nudge'>> & { admins?: string[] } = {}): FakeServices {
  const s: FakeServices = {
    admins: new Set(init.admins ?? [ADMIN_OID]),
    unproven: new Set(),
    nextTest: init.nextTest ?? testResult('secret'),
    nudge: init.nudge ?? [],
    reconnected: new Set(),
    testsRun: [],
    async adminStanding(_tenantId, oid) {
      return s.admins.has(oid.toLowerCase()) ? 'admin' : s.unproven.has(oid.toLowerCase()) ? 'unproven' : 'none';
    },
    async summary() {
      return summary();
    },
    async runServiceAccountTest(tenantId, actor) {
      s.testsRun.push({ tenantId, actor });
      const result = s.nextTest;
      if (!('notConfigured' in result)) {
        const previous = s.lastTest;
        s.lastTest = result;
        await s.emitOutcome?.(tenantId, previous, result);
      }
      return result;
    },
    async usersToNudge() {
      return s.nudge;
    },
    async nudgeStillDue(_tenantId, upn) {
      return !s.reconnected.has(upn.toLowerCase());
    },
    async permissions() {
      return { ranAt: '2026-11-26T09:30:00.000Z', ok: false, features: testResult('permissions').features, portal: PORTAL };
    },
    tabUrl: () => TAB_URL,
  };
  return s;
}

// ---- Teams activities --------------------------------------------------------------------------

export interface ActivityOptions {
  serviceUrl: string;
  conversationId?: string;
  conversationType?: 'personal' | 'channel' | 'groupChat';
  fromOid?: string;
  fromId?: string;
  tenantId?: string;
}

export function activity(type: string, o: ActivityOptions, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const conversationId = o.conversationId ?? 'a:personal-chat-1';
  return {
    type,
    id: `incoming-${Math.random().toString(36).slice(2)}`,
    timestamp: new Date().toISOString(),
    serviceUrl: o.serviceUrl,
    channelId: 'msteams',
    from: { id: o.fromId ?? `29:${o.fromOid ?? ADMIN_OID}`, aadObjectId: o.fromOid ?? ADMIN_OID, name: 'Adele Vance' },
    recipient: { id: '28:bot-id', name: 'Connection Center' },
    conversation: { id: conversationId, conversationType: o.conversationType ?? 'personal', tenantId: o.tenantId ?? TENANT },
    channelData: { tenant: { id: o.tenantId ?? TENANT } },
    locale: 'en-US',
    ...extra,
  };
}

export function message(text: string, o: ActivityOptions, extra: Record<string, unknown> = {}) {
  return activity('message', o, { text, textFormat: 'plain', ...extra });
}

export function installation(o: ActivityOptions, action: 'add' | 'remove' = 'add') {
  return activity('installationUpdate', o, { action });
}

export function botAdded(o: ActivityOptions) {
  return activity('conversationUpdate', o, { membersAdded: [{ id: '28:bot-id' }] });
}

export function botRemoved(o: ActivityOptions) {
  return activity('conversationUpdate', o, { membersRemoved: [{ id: '28:bot-id' }] });
}

export function cardAction(verb: string, o: ActivityOptions) {
  return activity('invoke', o, { name: 'adaptiveCard/action', value: { action: { type: 'Action.Execute', verb, data: { verb } }, trigger: 'manual' } });
}

// ---- card samples ------------------------------------------------------------------------------

/** One realistic model per card, built through the views from the data above. */
/** A run in which 14 connections broke and 2 recovered, with 25 still on Exchange. */
export function sampleDigest(now = new Date('2026-11-26T10:00:00Z')): CheckDigest {
  const people = legacyUsers(16);
  const broke = people.slice(0, 14).map((u, i) => ({
    upn: u.upn,
    kind: (i % 3 === 0 ? 'graph-app' : 'graph-delegated') as ConnectionKind,
    displayName: u.displayName,
    from: 'connected' as const,
    to: (i % 3 === 0 ? 'failing' : 'needs-reconnect') as ConnectionState,
    code: i % 3 === 0 ? 'ACCESS_POLICY_DENIED' : 'REFRESH_TOKEN_REVOKED',
  }));
  const recovered = people
    .slice(14)
    .map((u) => ({ upn: u.upn, kind: 'graph-delegated' as const, displayName: u.displayName, from: 'needs-reconnect' as const, to: 'connected' as const }));
  return {
    runId: 'run-1',
    startedAt: new Date(now.getTime() - 60_000).toISOString(),
    finishedAt: now.toISOString(),
    checked: 120,
    total: 120,
    broke,
    recovered,
    onExchange: 25,
  };
}

export function sampleModels(now = new Date('2026-11-26T10:00:00Z'), digestUsers = 25): { [K in CardName]: CardModels[K] } {
  const ctx = { tabUrl: TAB_URL, tenantName: 'Contoso', enabled: ['emailSync', 'calendarSync', 'calendarScheduling'] as Feature[], portal: PORTAL };
  const deadlines = tenantDeadlines();
  const users = legacyUsers(digestUsers);
  const shown = users.slice(0, DIGEST_USERS);
  const counts = { 'ews-basic': users.filter((u) => u.kind === 'ews-basic').length, 'ews-oauth': users.filter((u) => u.kind === 'ews-oauth').length };
  const smtp = deadlines.find((d) => d.id === 'smtp-auth-basic-disabled')!;
  return {
    TestFailed: testFailedModel(testResult('secret'), ctx),
    TestPassed: testPassedModel(testResult('passed'), ctx),
    PermissionsMissing: permissionsMissingModel(testResult('permissions'), ctx),
    DeadlineDigest: deadlineDigestModel({
      deadline: viewOf(smtp, now),
      deadlines,
      now,
      counts: { 'ews-basic': counts['ews-basic'] },
      users: shown.filter((u) => u.kind === 'ews-basic'),
      moreUsers: counts['ews-basic'] - shown.filter((u) => u.kind === 'ews-basic').length,
      tabUrl: TAB_URL,
    }),
    ReconnectNudge: reconnectNudgeModel(users[0], now, TAB_URL),
    CheckDigest: checkDigestModel(sampleDigest(now), TAB_URL, deadlines),
    Help: helpModel({ isAdmin: true, welcome: true, subscribed: true, tabUrl: TAB_URL }),
    Welcome: welcomeModel({ isAdmin: true, subscribed: true, tabUrl: TAB_URL }),
    Status: statusModel(summary(), now, TAB_URL, 'Contoso', sampleFunnel()),
    Error: errorModel({
      title: 'This button is not supported',
      message: 'This card asked for an action I do not know ("archive").',
      remedy: 'Type "help" to see what I can do.',
      tabUrl: TAB_URL,
    }),
  };
}

/** A campaign part-way: some reached, some not (the permission is missing for a few). */
export function sampleFunnel(): FunnelView {
  return {
    targeted: 120,
    installed: 97,
    nudged: 95,
    opened: 61,
    reconnected: 44,
    unreachable: [
      {
        reason: 'blocked-by-policy',
        code: 'REACH_APP_BLOCKED',
        count: 3,
        message: ERROR_CATALOGUE.REACH_APP_BLOCKED.message,
        remedy: ERROR_CATALOGUE.REACH_APP_BLOCKED.remedy,
      },
      {
        reason: 'no-teams-license',
        code: 'REACH_NO_TEAMS_LICENSE',
        count: 2,
        message: ERROR_CATALOGUE.REACH_NO_TEAMS_LICENSE.message,
        remedy: ERROR_CATALOGUE.REACH_NO_TEAMS_LICENSE.remedy,
      },
    ],
    perDay: [],
  };
}

// ---- card validation ---------------------------------------------------------------------------

/**
 * Everything wrong with a card, as readable lines: the adaptivecards parser's events and
 * validation results (it is lenient, so version, schema, size and bindings are checked here too).
 */
export function cardProblems(card: Record<string, any>): string[] {
  const problems: string[] = [];
  if (card.$schema !== 'http://adaptivecards.io/schemas/adaptive-card.json') problems.push(`$schema is ${card.$schema}`);
  if (card.type !== 'AdaptiveCard') problems.push(`type is ${card.type}`);
  if (card.version !== '1.5') problems.push(`version is ${card.version}`);
  if (typeof card.fallbackText !== 'string' || card.fallbackText.trim() === '') problems.push('no fallbackText');
  const json = JSON.stringify(card);
  if (json.includes('${')) problems.push(`unbound template expression: ${json.match(/.{0,40}\$\{[^}]*\}/)?.[0]}`);
  if (Buffer.byteLength(json) > MAX_CARD_BYTES) problems.push(`card is ${Buffer.byteLength(json)} bytes`);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      if (o.type === 'Action.Execute' && (!o.fallback || typeof o.verb !== 'string')) problems.push(`Action.Execute "${o.title}" lacks a fallback or verb`);
      Object.values(o).forEach(walk);
    }
  };
  walk(card);
  const context = new AC.SerializationContext();
  const parsed = new AC.AdaptiveCard();
  parsed.parse(card, context);
  for (let i = 0; i < context.eventCount; i++) problems.push(`parser: ${context.getEventAt(i).message}`);
  for (const e of parsed.validateProperties().validationEvents) problems.push(`validation: ${e.message}`);
  return problems;
}

/** All texts a card shows (TextBlocks, facts, action titles), for content checks. */
export function cardTexts(card: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      const o = node as Record<string, unknown>;
      for (const key of ['text', 'title', 'value']) if (typeof o[key] === 'string') out.push(o[key] as string);
      for (const [k, v] of Object.entries(o)) if (k !== 'fallback') walk(v);
    }
  };
  walk(card);
  return out;
}

// ---- a bot server ------------------------------------------------------------------------------

export interface BotServer {
  url: string;
  port: number;
  bot: Bot;
  store: Store;
  services: FakeServices;
  logs: string[];
  post(body: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

/** A minimal restify server mounting createBot, as the product server does, on 127.0.0.1:0. */
export async function startBotServer(
  options: {
    store?: Store;
    services?: FakeServices;
    botId?: string;
    botPassword?: string;
    notifier?: CreateBotOptions['notifier'];
    now?: () => Date;
    logger?: 'product' | 'bare';
  } = {},
): Promise<BotServer> {
  const store = options.store ?? (await openTestStore());
  await store.ensureTenant(TENANT, { displayName: 'Contoso' });
  const services = options.services ?? fakeServices();
  const { logger, lines } = captureLogger(options.logger);
  const bot = createBot({ botId: options.botId, botPassword: options.botPassword, store, services, logger, notifier: options.notifier, now: options.now });
  const server = restify.createServer({ handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ mapParams: false }));
  // restify 11 takes an async handler with (req, res) only: it tells them apart by being async.
  server.post('/api/messages', async (req: restify.Request, res: restify.Response) => {
    await bot.handleMessages(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    bot,
    store,
    services,
    logs: lines,
    async post(body, headers = {}) {
      const res = await fetch(`${url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed };
    },
    async close() {
      await bot.close();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await store.close();
    },
  };
}
