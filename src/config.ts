/**
 * Configuration: read once from the environment at start-up (names follow the Microsoft 365
 * Agents Toolkit's, e.g. AAD_APP_CLIENT_ID, SECRET_AAD_APP_CLIENT_SECRET), validated with a schema, frozen. A malformed value stops start-up with one line
 * naming the key; an empty value counts as unset.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
// The store's key id: the one stored beside every ciphertext, so both must agree.
import { keyIdOf } from './store/crypto';
import { deepFreeze, GUID_PATTERN as GUID } from './domain/formats';

export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`Configuration error: ${key} ${message}`);
    this.name = 'ConfigError';
  }
}

export interface EncryptionKey {
  id: string;
  key: Buffer;
}

export interface AppConfig {
  nodeEnv: 'development' | 'production' | 'test';
  port: number;
  /** Public base URL of the server, no trailing slash. */
  tabEndpoint: string;
  /** host[:port] of tabEndpoint, as in the App ID URI api://<tabDomain>/<clientId>. */
  tabDomain: string;
  /** True when no tenant is configured: the built-in sandbox tenant stands in for Microsoft. */
  sandbox: boolean;
  aad: {
    clientId?: string;
    clientSecret?: string;
    /** A tenant id, or `organizations` for a multi-tenant deployment. */
    tenantId?: string;
    authorityHost: string;
  };
  graphEndpoint: string;
  bot: { id?: string; password?: string; tenantId?: string };
  /** `sqlite:<path>` (default sqlite:./data/connection-center.db) or `postgres://user:pass@host:port/db`. */
  dataStore: string;
  dataDir: string;
  /** First key encrypts; the others only decrypt (rotation). */
  encryptionKeys: EncryptionKey[];
  encryptionKeyGenerated: boolean;
  /** UPNs treated as admins besides the ConnectionCenter.Admin app role, in the home tenant only. */
  adminUpns: string[];
  /**
   * The tenant ADMIN_UPNS speaks for: AAD_APP_TENANT_ID when it is a tenant id. In sandbox mode
   * without one, the server makes the sandbox's own tenant home.
   */
  homeTenantId?: string;
  /** The bot treats someone as an admin only if a verified token proved it within this many days. */
  adminProofMaxDays: number;
  /** Reconnect campaign: at most one nudge per user in this many days. */
  campaignMinDaysBetween: number;
  /** The Teams app's manifest id, for proactive installation (the sandbox has its own). */
  teamsAppId?: string;
  /** Hours between scheduled health checks of every connection; 0 = none. */
  checkIntervalHours: number;
  /**
   * Several instances: how long an outbox item claimed by one instance stays its own before another
   * takes it over (a dead instance's messages wait this long). Scheduled jobs hold their leases ten
   * times as long, renewed between steps.
   */
  leaseSeconds: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/** A postgres:// (or postgresql://) URL naming a host and a database; the password is never echoed. */
function isPostgresDataStore(v: string): boolean {
  try {
    const u = new URL(v);
    return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '' && /^\/[^/]+$/.test(u.pathname);
  } catch {
    return false;
  }
}

/** A DATA_STORE URL may carry the database password: show `user:***@` instead. */
function maskUrlPassword(v: string): string {
  return v.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^/]*@/i, '$1:***@');
}

const httpsUrl = (allowHttpLoopback: boolean) =>
  z.string().refine(
    (v) => {
      try {
        const u = new URL(v);
        if (u.protocol === 'https:') return true;
        return allowHttpLoopback && u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
      } catch {
        return false;
      }
    },
    allowHttpLoopback ? 'must be an https:// URL (http:// only for localhost)' : 'must be an https:// URL',
  );

const schema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce
      .number({ error: 'must be a whole number (a TCP port)' })
      .int('must be a whole number')
      .min(0, 'must be 0–65535')
      .max(65535, 'must be 0–65535')
      .default(3978),
    TAB_ENDPOINT: httpsUrl(true).optional(),
    AAD_APP_CLIENT_ID: z.string().regex(GUID, 'must be a GUID (the Application (client) ID)').optional(),
    SECRET_AAD_APP_CLIENT_SECRET: z.string().min(1).optional(),
    AAD_APP_TENANT_ID: z
      .string()
      .refine((v) => GUID.test(v) || v === 'organizations', 'must be a tenant GUID or "organizations"')
      .optional(),
    AAD_APP_OAUTH_AUTHORITY_HOST: httpsUrl(false).optional(),
    GRAPH_ENDPOINT: httpsUrl(false).optional(),
    BOT_ID: z.string().regex(GUID, 'must be a GUID (the bot’s Microsoft App ID)').optional(),
    SECRET_BOT_PASSWORD: z.string().min(1).optional(),
    BOT_TENANT_ID: z.string().regex(GUID, 'must be a tenant GUID').optional(),
    DATA_STORE: z
      .string()
      .refine(
        (v) => /^sqlite:.+/.test(v) || isPostgresDataStore(v),
        'must be sqlite:<path> (e.g. sqlite:./data/connection-center.db) or postgres://user:pass@host:port/db',
      )
      .optional(),
    ENCRYPTION_KEY: z.string().optional(),
    ADMIN_UPNS: z.string().optional(),
    ADMIN_PROOF_MAX_DAYS: z.coerce
      .number({ error: 'must be a whole number of days' })
      .int('must be a whole number of days')
      .min(1, 'must be 1–365 days')
      .max(365, 'must be 1–365 days')
      .default(7),
    CAMPAIGN_MIN_DAYS_BETWEEN: z.coerce
      .number({ error: 'must be a whole number of days' })
      .int('must be a whole number of days')
      .min(1, 'must be 1–365')
      .max(365, 'must be 1–365')
      .default(3),
    TEAMS_APP_ID: z.string().regex(GUID, 'must be a GUID (the Teams app’s manifest id)').optional(),
    CHECK_INTERVAL_HOURS: z.coerce
      .number({ error: 'must be a number of hours (0 turns scheduled checks off)' })
      .min(0, 'must be 0 or more hours (0 turns scheduled checks off)')
      .max(24 * 30, 'must be at most 720 hours')
      .default(6),
    LEASE_SECONDS: z.coerce.number({ error: 'must be a number of seconds' }).min(1, 'must be 1–3600 seconds').max(3600, 'must be 1–3600 seconds').default(60),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .strip();

/** Keys with our prefixes that the Agents Toolkit writes and we do not read: not typos. */
const TOOLKIT_KEYS = new Set([
  'AAD_APP_OBJECT_ID',
  'AAD_APP_OAUTH_AUTHORITY',
  'AAD_APP_ACCESS_AS_USER_PERMISSION_ID',
  'BOT_ENDPOINT',
  'BOT_DOMAIN',
  'BOT_OBJECT_ID',
  'TAB_DOMAIN',
  'TAB_HOSTNAME',
  'TEAMS_APP_ID',
  'TEAMS_APP_TENANT_ID',
  'TEAMSFX_ENV',
  'APP_NAME_SUFFIX',
  'GRAPH_ENDPOINT',
]);
const OUR_PREFIXES = ['AAD_APP_', 'SECRET_AAD_APP_', 'BOT_', 'SECRET_BOT_', 'TAB_', 'DATA_STORE', 'ENCRYPTION_KEY'];

function parseKeys(raw: string): EncryptionKey[] {
  return raw.split(',').map((part, i) => {
    const b64 = part.trim();
    const key = Buffer.from(b64, 'base64');
    if (key.length !== 32 || !/^[A-Za-z0-9+/=_-]+$/.test(b64)) {
      throw new ConfigError(
        'ENCRYPTION_KEY',
        `${i > 0 ? `(entry ${i + 1}) ` : ''}must be 32 bytes encoded as base64 (generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))")`,
      );
    }
    return { id: keyIdOf(key), key };
  });
}

export interface LoadOptions {
  /** Where the development key and the default database live; default ./data */
  dataDir?: string;
  /** Collects warnings meant for a loud banner at start-up. */
  warn?: (message: string) => void;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Readonly<AppConfig> {
  const warn = options.warn ?? (() => undefined);
  // An empty value counts as unset (BOT_ID= means local, anonymous bot).
  const cleaned: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') cleaned[k] = v.trim();

  for (const key of Object.keys(cleaned)) {
    if (OUR_PREFIXES.some((p) => key.startsWith(p)) && !(key in schema.shape) && !TOOLKIT_KEYS.has(key)) {
      warn(`Unknown setting ${key} is ignored (check the spelling against the README's configuration table).`);
    }
  }

  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'environment');
    const value = key === 'DATA_STORE' && cleaned[key] !== undefined ? maskUrlPassword(cleaned[key]) : cleaned[key];
    const shown = key.startsWith('SECRET_') || key === 'ENCRYPTION_KEY' ? '' : value !== undefined ? ` (got "${value}")` : '';
    throw new ConfigError(key, `${issue.message}${shown}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const sandbox = !e.AAD_APP_CLIENT_ID;

  if (sandbox && production) {
    throw new ConfigError('AAD_APP_CLIENT_ID', 'is required when NODE_ENV=production: the built-in sandbox tenant never runs in production');
  }
  if (!sandbox) {
    if (!e.SECRET_AAD_APP_CLIENT_SECRET) throw new ConfigError('SECRET_AAD_APP_CLIENT_SECRET', 'is required when AAD_APP_CLIENT_ID is set');
    if (!e.AAD_APP_TENANT_ID) throw new ConfigError('AAD_APP_TENANT_ID', 'is required when AAD_APP_CLIENT_ID is set (a tenant GUID, or "organizations")');
    if (GUID.test(e.SECRET_AAD_APP_CLIENT_SECRET)) {
      throw new ConfigError('SECRET_AAD_APP_CLIENT_SECRET', 'looks like a Secret ID (a GUID); use the secret’s Value, shown once when it is created');
    }
  }
  // Without credentials the bot runs anonymously, which only a developer's own machine may do.
  if (production && !e.BOT_ID)
    throw new ConfigError('BOT_ID', 'is required when NODE_ENV=production (with SECRET_BOT_PASSWORD): the anonymous bot only serves local runs');
  if (production && !e.SECRET_BOT_PASSWORD)
    throw new ConfigError('SECRET_BOT_PASSWORD', 'is required when NODE_ENV=production (the bot’s client secret for BOT_ID)');
  if (e.BOT_ID && !e.SECRET_BOT_PASSWORD) throw new ConfigError('SECRET_BOT_PASSWORD', 'is required when BOT_ID is set');
  if (production && !e.TAB_ENDPOINT) throw new ConfigError('TAB_ENDPOINT', 'is required when NODE_ENV=production (the public https:// base URL)');
  if (production && e.TAB_ENDPOINT?.startsWith('http:')) throw new ConfigError('TAB_ENDPOINT', 'must be https:// when NODE_ENV=production');

  const adminUpns = (e.ADMIN_UPNS ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const homeTenantId = e.AAD_APP_TENANT_ID && GUID.test(e.AAD_APP_TENANT_ID) ? e.AAD_APP_TENANT_ID.toLowerCase() : undefined;
  if (adminUpns.length > 0 && !homeTenantId && !sandbox) {
    throw new ConfigError(
      'ADMIN_UPNS',
      'needs a home tenant: with AAD_APP_TENANT_ID=organizations a list of UPNs would speak for every organisation; assign the ConnectionCenter.Admin app role instead, or set AAD_APP_TENANT_ID to your tenant id',
    );
  }

  const dataDir = path.resolve(options.dataDir ?? 'data');
  const tabEndpoint = (e.TAB_ENDPOINT ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');

  let encryptionKeys: EncryptionKey[];
  let encryptionKeyGenerated = false;
  if (e.ENCRYPTION_KEY) {
    encryptionKeys = parseKeys(e.ENCRYPTION_KEY);
  } else if (production) {
    throw new ConfigError('ENCRYPTION_KEY', 'is required when NODE_ENV=production (32 bytes, base64)');
  } else {
    encryptionKeys = parseKeys(developmentKey(dataDir));
    encryptionKeyGenerated = true;
    warn(`ENCRYPTION_KEY is not set: using a development key stored in ${path.join(dataDir, 'encryption.key')}. Set ENCRYPTION_KEY before real use.`);
  }

  const config: AppConfig = {
    nodeEnv: e.NODE_ENV,
    port: e.PORT,
    tabEndpoint,
    tabDomain: new URL(tabEndpoint).host,
    sandbox,
    aad: {
      clientId: e.AAD_APP_CLIENT_ID,
      clientSecret: e.SECRET_AAD_APP_CLIENT_SECRET,
      tenantId: e.AAD_APP_TENANT_ID,
      authorityHost: (e.AAD_APP_OAUTH_AUTHORITY_HOST ?? 'https://login.microsoftonline.com').replace(/\/+$/, ''),
    },
    graphEndpoint: (e.GRAPH_ENDPOINT ?? 'https://graph.microsoft.com').replace(/\/+$/, ''),
    bot: { id: e.BOT_ID, password: e.SECRET_BOT_PASSWORD, tenantId: e.BOT_TENANT_ID },
    dataStore: e.DATA_STORE ?? `sqlite:${path.join(dataDir, 'connection-center.db')}`,
    dataDir,
    encryptionKeys,
    encryptionKeyGenerated,
    adminUpns,
    ...(homeTenantId ? { homeTenantId } : {}),
    adminProofMaxDays: e.ADMIN_PROOF_MAX_DAYS,
    campaignMinDaysBetween: e.CAMPAIGN_MIN_DAYS_BETWEEN,
    ...(e.TEAMS_APP_ID ? { teamsAppId: e.TEAMS_APP_ID.toLowerCase() } : {}),
    checkIntervalHours: e.CHECK_INTERVAL_HOURS,
    leaseSeconds: e.LEASE_SECONDS,
    logLevel: e.LOG_LEVEL,
  };
  return deepFreeze(config);
}

function developmentKey(dataDir: string): string {
  const file = path.join(dataDir, 'encryption.key');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true });
  const key = randomBytes(32).toString('base64');
  writeFileSync(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}
