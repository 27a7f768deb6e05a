/**
 * The product as separate processes, the way `npm start` runs it (the compiled server in dist/,
 * which scripts/test.ts builds first): several instances on one store, a balancer in front of
 * them, and a sandbox tenant (started by the test) that every instance uses as its Entra ID and
 * Microsoft Graph, as instances of a real deployment share one tenant.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Sandbox } from '../../src/sandbox';
import { freePort } from './postgres-server';

export { freePort };

const ROOT = path.resolve(__dirname, '../..');

export interface ProductProcess {
  child: ChildProcess;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  exited: Promise<number | null>;
  /** Everything the process printed so far. */
  log(): string;
  /** SIGTERM (a graceful stop), then waits for the exit; SIGKILL after 20 s. */
  stop(): Promise<void>;
}

/**
 * Starts one instance (its own working folder, so its ./data is its own) with `env` on top of a
 * minimal environment, and waits until /readyz answers 200. PORT is a free port unless given.
 */
export async function launchProduct(env: Record<string, string>, options: { readyTimeoutMs?: number } = {}): Promise<ProductProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const cwd = mkdtempSync(path.join(tmpdir(), 'cc-instance-'));
  const child = spawn(process.execPath, ['--disable-warning=DEP0111', path.join(ROOT, 'dist', 'src', 'index.js')], {
    cwd,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      // The sandbox's CA, when the test started one (scripts/test.ts made and trusts it).
      ...(process.env.NODE_EXTRA_CA_CERTS ? { NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS } : {}),
      CHECK_INTERVAL_HOURS: '0',
      LOG_LEVEL: 'warn',
      ...env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout!.on('data', (d) => (log += d));
  child.stderr!.on('data', (d) => (log += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const proc: ProductProcess = { child, port, url: `http://127.0.0.1:${port}`, exited, log: () => log, stop };
  let done = false;
  void exited.then(() => (done = true));
  const end = Date.now() + (options.readyTimeoutMs ?? 60_000);
  while (!done && Date.now() < end) {
    try {
      if ((await fetch(`${proc.url}/readyz`)).ok) return proc;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  await exited;
  throw new Error(`instance on port ${port} never became ready:\n${log}`);
}

/**
 * The environment that makes an instance use a running sandbox as its configured tenant (instead
 * of starting a sandbox of its own): its product app, authority and Graph endpoint. `tabEndpoint`
 * is the public URL every instance shares (the balancer's).
 */
export function sandboxTenantEnv(sandbox: Sandbox, tabEndpoint: string): Record<string, string> {
  return {
    TAB_ENDPOINT: tabEndpoint,
    AAD_APP_CLIENT_ID: sandbox.productApp.clientId,
    SECRET_AAD_APP_CLIENT_SECRET: sandbox.productApp.clientSecret,
    AAD_APP_TENANT_ID: sandbox.tenantId,
    AAD_APP_OAUTH_AUTHORITY_HOST: sandbox.authorityHost,
    GRAPH_ENDPOINT: sandbox.graphEndpoint,
  };
}

/** An SSO token for a sandbox user, as Teams would get it for the product behind `tabEndpoint`. */
export function ssoTokenFor(sandbox: Sandbox, tabEndpoint: string, upn: string): Promise<string> {
  const user = sandbox.seed.users.find((u) => u.upn === upn);
  if (!user) throw new Error(`${upn} is not a sandbox user`);
  return sandbox.issueToken({
    upn,
    audience: `api://${new URL(tabEndpoint).host}/${sandbox.productApp.clientId}`,
    scp: 'access_as_user',
    roles: user.roles ?? [],
    appId: sandbox.productApp.clientId,
  });
}

export interface Balancer {
  /** http://localhost:<port>: the public URL (TAB_ENDPOINT) of the instances behind it. */
  url: string;
  /** Which instance (index into the targets) serves each request; round robin unless set. */
  route: (req: http.IncomingMessage) => number;
  /** Per target, how many requests it served. */
  served: number[];
  close(): Promise<void>;
}

/**
 * A plain HTTP load balancer on 127.0.0.1 (no sticky sessions): each request goes to one of the
 * targets, round robin unless `route` says otherwise. The Host header is passed on unchanged.
 */
export async function startBalancer(targets: () => string[]): Promise<Balancer> {
  let next = 0;
  const server = http.createServer((req, res) => {
    const list = targets();
    const i = balancer.route(req) % list.length;
    balancer.served[i] = (balancer.served[i] ?? 0) + 1;
    const target = new URL(list[i]!);
    const upstream = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const balancer: Balancer = {
    url: `http://localhost:${port}`,
    route: () => next++,
    served: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return balancer;
}
