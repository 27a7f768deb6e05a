/**
 * Starts the whole product on 127.0.0.1:<free port> against a sandbox tenant, with an in-memory
 * store and a log captured in memory (so tests can prove no secret was logged).
 */
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { startProduct, type RunningProduct } from '../../src/server';
import type { Sandbox, SandboxOptions } from '../../src/sandbox';
import { startTestSandbox } from './sandbox';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestProduct extends RunningProduct {
  sandbox: Sandbox;
  logs: string[];
  /** An SSO token for a demo user, as Teams' getAuthToken would return it. */
  ssoToken(upn: string, overrides?: { audience?: string; scp?: string; roles?: string[]; expiresInSeconds?: number; tenantId?: string }): Promise<string>;
  /** fetch against the product with an optional bearer token. */
  call(
    method: string,
    path: string,
    options?: { token?: string; body?: unknown; headers?: Record<string, string>; raw?: string | Buffer },
  ): Promise<{ status: number; body: any; headers: Headers; text: string }>;
  close(): Promise<void>;
}

export const KEY = Buffer.alloc(32, 3).toString('base64');

export async function startTestProduct(
  options: {
    env?: Record<string, string>;
    now?: () => Date;
    background?: boolean;
    tabDir?: string;
    lazyBot?: boolean;
    /** Overrides for a sandbox of this product's own. */
    sandbox?: Partial<SandboxOptions>;
    /** A running sandbox that outlives this product (a restart against the same tenant); its owner closes it. */
    sharedSandbox?: Sandbox;
    checks?: { maxBatchesInFlight?: number };
  } = {},
): Promise<TestProduct> {
  const sandbox = options.sharedSandbox ?? (await startTestSandbox(options.sandbox));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const logger = createLogger({ level: options.env?.LOG_LEVEL ?? 'debug', destination });
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cc-product-'));
  const config = loadConfig({ PORT: '0', ENCRYPTION_KEY: KEY, DATA_STORE: 'sqlite::memory:', ...options.env }, { dataDir });
  const product = await startProduct(config, {
    logger,
    sandbox,
    host: '127.0.0.1',
    now: options.now,
    background: options.background ?? false,
    tabDir: options.tabDir,
    lazyBot: options.lazyBot,
    checks: options.checks,
  });
  const tabDomain = `localhost:${product.port}`;
  const clientId = product.identity.clientId;
  const extra: Pick<TestProduct, 'sandbox' | 'logs' | 'ssoToken' | 'call' | 'close'> = {
    sandbox,
    logs,
    async ssoToken(upn, overrides = {}) {
      const user =
        sandbox.seed.users.find((u) => u.upn === upn) ??
        sandbox.seed.otherTenants?.flatMap((t: { users: Array<{ upn: string; roles?: string[] }> }) => t.users).find((u: { upn: string }) => u.upn === upn);
      return sandbox.issueToken({
        upn,
        audience: overrides.audience ?? `api://${tabDomain}/${clientId}`,
        scp: overrides.scp ?? 'access_as_user',
        roles: overrides.roles ?? user?.roles ?? [],
        ...(overrides.expiresInSeconds !== undefined ? { expiresInSeconds: overrides.expiresInSeconds } : {}),
        ...(overrides.tenantId ? { tenantId: overrides.tenantId } : {}),
        appId: clientId,
      });
    },
    async call(method, p, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let body: string | Buffer | undefined;
      if (o.raw !== undefined) body = o.raw;
      else if (o.body !== undefined) {
        body = JSON.stringify(o.body);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(`${product.url}${p}`, { method, headers, body: body as BodyInit | undefined, redirect: 'manual' });
      const text = await res.text();
      let parsed: unknown;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        parsed = undefined;
      }
      return { status: res.status, body: parsed, headers: res.headers, text };
    },
    async close() {
      await product.stop();
      if (!options.sharedSandbox) await sandbox.close();
    },
  };
  // Copied by descriptor, not spread: spreading would read the `bot` getter and load a lazy bot.
  return Object.assign(Object.defineProperties({}, Object.getOwnPropertyDescriptors(product)) as RunningProduct, extra);
}
