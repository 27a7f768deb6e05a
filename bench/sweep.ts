/**
 * `npm run bench:sweep [-- --app 10000 --delegated 1000 --latency 50 --in-flight 32]`: one health
 * check of every connection of a tenant through the real path (CheckService → refresh-token
 * redemption with MSAL → paced `$batch` → the store) against the sandbox tenant, whose Graph answers
 * after `latency` ms and refuses a fifth concurrent request per mailbox with 429 + Retry-After.
 * 10,000 mailboxes covered by the service account and 1,000 users with their own delegated
 * connection, two probes each (Calendar Sync: the calendar and its events). Prints figures only.
 *
 * The sandbox runs in a child process of its own (`--same-process` keeps it in this one), so the
 * time and CPU measured here are the product's, as they would be against Microsoft. `--postgres`
 * keeps the product's store in a throwaway PostgreSQL database (BENCH_DATABASE_URL, or a server
 * started from Debian's PostgreSQL 15 binaries) instead of SQLite. `--profile`
 * writes sweep.cpuprofile (the product) and sweep-sandbox.cpuprofile (the sandbox) for the run.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { IssueTokenOptions, Sandbox, SandboxControl } from '../src/sandbox';
import { openBenchDatabase } from '../tests/helpers/postgres-server';
import { startTestProduct } from '../tests/helpers/product';
import { startTestSandbox } from '../tests/helpers/sandbox';
import { numberArg } from './args';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const SERVICE_ACCOUNT = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };
/** What Microsoft allows, as the floor counts it: requests per `$batch`, concurrent requests per mailbox per app. */
const BATCH = 20;
const MAILBOX_CONCURRENCY = 4;
/** Exchange Online: requests per app per mailbox per 10 minutes. */
const MAILBOX_BUDGET_PER_10_MIN = 10_000;
const PROBES = 2;
/** The monitor's default refresh-token redemptions at once (CheckServiceDeps.redeemConcurrency). */
const REDEEM_CONCURRENCY = 16;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;
/** A full garbage collection, so that heapUsed before and after the run compares what is kept, not what awaits collection. */
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The sandbox as the bench drives it: in this process or in a child. */
interface BenchSandbox {
  sandbox: Sandbox;
  control<K extends keyof SandboxControl>(name: K, opts?: Parameters<SandboxControl[K]>[0]): Promise<ReturnType<SandboxControl[K]>>;
  cpu(): Promise<NodeJS.CpuUsage>;
  profile(on: boolean): Promise<void>;
  close(): Promise<void>;
  where: string;
}

async function main(): Promise<void> {
  const appCount = numberArg('app', 10_000);
  const delegatedCount = numberArg('delegated', 1_000);
  const latencyMs = numberArg('latency', 50);
  const inFlight = numberArg('in-flight', 32);
  const profiling = process.argv.includes('--profile');
  const memStart = process.memoryUsage();

  const pg = process.argv.includes('--postgres') ? await openBenchDatabase('bench_sweep') : undefined;
  if (process.argv.includes('--postgres') && !pg) throw new Error('--postgres: no server (set BENCH_DATABASE_URL or install PostgreSQL 15)');
  const bench = process.argv.includes('--same-process') ? await sandboxHere() : await sandboxInChild();
  const env = { LOG_LEVEL: 'error', ...(pg ? { DATA_STORE: pg.url } : {}) };
  const p = await startTestProduct({ env, checks: { maxBatchesInFlight: inFlight }, sharedSandbox: bench.sandbox });
  try {
    const { store } = p;
    // Setup (not timed): the directory, the service account, the connections.
    await store.updateTenant(CONTOSO, { enabledFeatures: ['calendarSync'] });
    const appUsers = appCount > 0 ? await bench.control('addUsers', { count: appCount, prefix: 'app' }) : [];
    const delegatedUsers = delegatedCount > 0 ? await bench.control('addUsers', { count: delegatedCount, prefix: 'dlg' }) : [];
    await store.setDomains(CONTOSO, ['contoso.com']);
    await store.putServiceAccount({
      tenantId: CONTOSO,
      tenant: 'contoso.com',
      clientId: SERVICE_ACCOUNT.clientId,
      clientSecret: SERVICE_ACCOUNT.secretValue,
      secretHint: SERVICE_ACCOUNT.secretValue.slice(0, 3),
      testAccount: 'megan.bowen@contoso.com',
      features: ['calendarSync'],
      updatedAt: new Date().toISOString(),
      updatedBy: 'bench',
    });
    // Only the benchmark's connections: the demo seed's are set aside.
    for (const c of (await store.queryConnections(CONTOSO, { limit: 1000 })).items) await store.deleteConnection(CONTOSO, c.upn, c.kind);
    const at = new Date().toISOString();
    await store.importConnections(
      appUsers.map((u) => ({
        tenantId: CONTOSO,
        upn: u.upn,
        oid: u.oid,
        kind: 'graph-app',
        state: 'connected',
        grantedScopes: [],
        createdAt: at,
        updatedAt: at,
      })),
    );
    process.stdout.write(`setup: ${appCount} app-only mailboxes; consenting ${delegatedCount} delegated users… `);
    const queue = delegatedUsers.map((u, n) => ({ ...u, n }));
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let u = queue.shift(); u; u = queue.shift()) await consent(p, u.upn, u.n);
      }),
    );
    for (const u of delegatedUsers) {
      const rows = await store.getConnections(CONTOSO, u.upn);
      if (!rows.some((r) => r.kind === 'graph-delegated' && r.state === 'connected')) throw new Error(`consent of ${u.upn} did not connect`);
    }
    process.stdout.write('done\n');

    await bench.control('setLatency', { ms: latencyMs, target: 'graph' });
    const before = await bench.control('stats');
    gc();
    const memBefore = process.memoryUsage();
    const peak = { rss: memBefore.rss, heapUsed: memBefore.heapUsed };
    // The sampler runs on the product's thread: RSS alone is cheap to read, the heap's figures are not.
    let samples = 0;
    const sampler = setInterval(() => {
      peak.rss = Math.max(peak.rss, process.memoryUsage.rss());
      if (++samples % 5 === 0) peak.heapUsed = Math.max(peak.heapUsed, process.memoryUsage().heapUsed);
    }, 50);
    const profiler = profiling ? await startProfiler('sweep.cpuprofile') : undefined;
    if (profiling) await bench.profile(true);
    const sandboxCpu0 = await bench.cpu();
    const machine0 = machineTicks();
    const cpu0 = process.cpuUsage();
    // How long the product's event loop kept timers (and so answers from Graph) waiting.
    const loopDelay = monitorEventLoopDelay({ resolution: 1 });
    loopDelay.enable();
    const started = process.hrtime.bigint();
    const { run } = await p.checks.start(CONTOSO, 'bench');
    await p.checks.settled(CONTOSO);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const machine = machineShare(machine0, machineTicks());
    const sandboxCpu = await bench.cpu();
    loopDelay.disable();
    clearInterval(sampler);
    await profiler?.();
    if (profiling) await bench.profile(false);
    const memEnd = process.memoryUsage();
    gc();
    const memSettled = process.memoryUsage();
    const after = await bench.control('stats');
    const latest = (await p.checks.latest(CONTOSO))!;

    const f = floor({ appCount, delegatedCount, latencyMs, inFlight });
    const s = p.checks.stats;
    const throttled = (after.graph.byStatus['429'] ?? 0) - (before.graph.byStatus['429'] ?? 0);
    const wronglyBroken = (await store.countConnections(CONTOSO)).filter((c) => ['needs-reconnect', 'missing-permissions', 'failing'].includes(c.state));
    const seconds_ = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

    console.log(
      `bench:sweep  ${appCount} app-only mailboxes + ${delegatedCount} delegated users, ${PROBES} probes each, Graph latency ${latencyMs} ms, ${inFlight} batches in flight; store ${pg ? 'PostgreSQL' : 'SQLite'}; sandbox ${bench.where}`,
    );
    console.log(`  run ${run.id}: ${latest.status}, ${latest.checked} of ${latest.total} checked`);
    console.log(`  time         ${seconds.toFixed(2)} s`);
    console.log(`  floor        ${f.seconds.toFixed(2)} s, the largest of:`);
    for (const line of f.lines) console.log(`                 ${line}`);
    console.log(`  ratio        ${(seconds / f.seconds).toFixed(2)}`);
    console.log(
      `  CPU          ${seconds_(cpu).toFixed(2)} s in the product's process, ${(seconds_(sandboxCpu) - seconds_(sandboxCpu0)).toFixed(2)} s in the sandbox's (${bench.where}); load ${loadavg()[0].toFixed(1)}`,
    );
    if (machine) {
      console.log(
        `  machine      ${machine.busy} % busy, ${machine.stolen} % stolen, ${machine.idle} % idle of its ${availableParallelism()} CPUs during the run (stolen: time the hypervisor gave to other guests)`,
      );
    }
    const ms = (ns: number) => (ns / 1e6).toFixed(1);
    console.log(
      `  round trip   ${(s.roundTripMs / s.batches).toFixed(1)} ms per $batch on average for Graph's ${latencyMs} ms; ${(s.roundTripMs / 1000 / seconds).toFixed(1)} of ${inFlight} batches in flight on average`,
    );
    console.log(
      `  loop delay   ${ms(loopDelay.mean)} ms mean, ${ms(loopDelay.percentile(50))} p50, ${ms(loopDelay.percentile(99))} p99, ${ms(loopDelay.max)} max (the product's event loop)`,
    );
    console.log(`  sent         ${s.batches} $batch requests, ${s.requests} sub-requests (${s.retried} re-sent), ${s.redeemed} refresh tokens redeemed`);
    console.log(
      `  429s seen    ${s.throttled} by the monitor, ${throttled} answered by the sandbox (${after.graph.concurrencyThrottled - before.graph.concurrencyThrottled} for mailbox concurrency)`,
    );
    console.log(`  states       ${JSON.stringify(latest.byState)}`);
    console.log(`  broken       ${wronglyBroken.reduce((a, c) => a + c.count, 0)} (every mailbox is healthy: any is wrongly marked)`);
    console.log(`  RSS          ${mb(memStart.rss)} at start, ${mb(memBefore.rss)} before the run, ${mb(peak.rss)} peak, ${mb(memEnd.rss)} at the end`);
    console.log(
      `  heapUsed     ${mb(memStart.heapUsed)} at start, ${mb(memBefore.heapUsed)} before the run (after a full GC), ${mb(peak.heapUsed)} peak, ${mb(memEnd.heapUsed)} at the end, ${mb(memSettled.heapUsed)} after a full GC`,
    );
  } finally {
    await p.close();
    await bench.close();
    await pg?.close();
  }
}

/**
 * The least time the run can take within the limits, each bound printed with how it is derived:
 * - Graph: a `$batch` holds 20 requests and shares one token, so app-only probes fill batches (a
 *   mailbox's 2 probes fit together: 4 concurrent requests per mailbox allows both), while each
 *   delegated user's probes need a batch of their own; the product keeps `inFlight` batches in
 *   flight, each taking the Graph latency.
 * - Per mailbox: its requests in rounds of 4 concurrent, each round the latency; and its budget of
 *   10,000 requests per 10 minutes.
 * - Entra: every delegated user's refresh token is redeemed, 16 at once (the sandbox adds no
 *   latency to Entra here, so this bound is 0 unless its latency is set).
 */
function floor(o: { appCount: number; delegatedCount: number; latencyMs: number; inFlight: number }): { seconds: number; lines: string[] } {
  const appBatches = Math.ceil((o.appCount * PROBES) / BATCH);
  const delegatedBatches = o.delegatedCount;
  const graph = (Math.ceil((appBatches + delegatedBatches) / o.inFlight) * o.latencyMs) / 1000;
  const perMailboxRounds = Math.ceil(PROBES / MAILBOX_CONCURRENCY);
  const perMailbox = (perMailboxRounds * o.latencyMs) / 1000;
  const budget = PROBES > MAILBOX_BUDGET_PER_10_MIN ? 600 : 0;
  const entraLatencyMs = 0;
  const entra = (Math.ceil(o.delegatedCount / REDEEM_CONCURRENCY) * entraLatencyMs) / 1000;
  const seconds = Math.max(graph, perMailbox, budget, entra);
  return {
    seconds,
    lines: [
      `Graph: ${graph.toFixed(2)} s = ceil((${appBatches} app batches of ${BATCH} + ${delegatedBatches} delegated batches, one per user's token) / ${o.inFlight} in flight) × ${o.latencyMs} ms`,
      `a mailbox: ${perMailbox.toFixed(2)} s = ceil(${PROBES} probes / ${MAILBOX_CONCURRENCY} in flight per mailbox) × ${o.latencyMs} ms; ${PROBES} of ${MAILBOX_BUDGET_PER_10_MIN} requests per 10 min (budget: ${budget} s)`,
      `Entra: ${entra.toFixed(2)} s = ceil(${o.delegatedCount} refresh tokens / ${REDEEM_CONCURRENCY} at once) × ${entraLatencyMs} ms`,
    ],
  };
}

/** The machine's CPU time so far by kind, in clock ticks (Linux's /proc/stat); undefined elsewhere. */
function machineTicks(): { busy: number; idle: number; stolen: number } | undefined {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  } catch {
    return undefined;
  }
  // cpu  user nice system idle iowait irq softirq steal guest guest_nice (guest time is already in user)
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (steal === undefined || Number.isNaN(steal)) return undefined;
  return { busy: user! + nice! + system! + irq! + softirq!, idle: idle! + iowait!, stolen: steal };
}

/**
 * How the machine's CPUs spent a stretch of time, in whole percent. On a shared VM `stolen` is the
 * time the hypervisor ran other guests instead of this one: a run with much of it is slower for a
 * reason outside the product.
 */
function machineShare(from: ReturnType<typeof machineTicks>, to: ReturnType<typeof machineTicks>): { busy: number; idle: number; stolen: number } | undefined {
  if (!from || !to) return undefined;
  const busy = to.busy - from.busy;
  const idle = to.idle - from.idle;
  const stolen = to.stolen - from.stolen;
  const all = busy + idle + stolen;
  if (all <= 0) return undefined;
  const pct = (n: number) => Math.round((100 * n) / all);
  return { busy: pct(busy), idle: pct(idle), stolen: pct(stolen) };
}

/** A CPU profile of the run alone, written to `file` (open it in Chrome DevTools). */
async function startProfiler(file: string): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
  };
}

async function sandboxHere(): Promise<BenchSandbox> {
  const sandbox = await startTestSandbox();
  return {
    sandbox,
    where: 'in this process',
    control: async (name, opts) => (sandbox.control[name] as (o: unknown) => never)(opts),
    cpu: async () => ({ user: 0, system: 0 }),
    profile: async () => undefined,
    close: () => sandbox.close(),
  };
}

/** Messages between the bench and its sandbox child. */
type Request = { id: number; method: string; arg?: unknown };
type Reply = { id: number; result?: unknown; error?: string };

async function sandboxInChild(): Promise<BenchSandbox> {
  const child: ChildProcess = fork(__filename, ['--sandbox-child'], { serialization: 'advanced', stdio: 'inherit' });
  let next = 1;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const info = await new Promise<
    Omit<Sandbox, 'control' | 'issueToken' | 'close' | 'teams'> & { teams: Pick<Sandbox['teams'], 'teamsAppId' | 'connectorUrl' | 'pageUrl'> }
  >((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the sandbox process ended (${code}) before it was ready`)));
    child.on('message', (m: { ready?: never } & Reply) => {
      if (m.ready) return resolve(m.ready);
      const w = waiting.get(m.id);
      if (!w) return;
      waiting.delete(m.id);
      if (m.error !== undefined) w.reject(new Error(m.error));
      else w.resolve(m.result);
    });
  });
  child.removeAllListeners('exit');
  const call = <T>(method: string, arg?: unknown): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, method, arg } satisfies Request);
    });
  const notHere = () => {
    throw new Error('the sandbox runs in another process: drive it through the bench');
  };
  const sandbox: Sandbox = {
    ...info,
    control: new Proxy({}, { get: notHere }) as SandboxControl,
    issueToken: (o: IssueTokenOptions) => call<string>('issueToken', o),
    teams: {
      ...info.teams,
      setBotEndpoint: (url) => void call('setBotEndpoint', url),
      installations: notHere,
      chat: notHere,
      install: notHere,
      uninstall: notHere,
      say: notHere,
      setAppBlocked: notHere,
      setTeamsLicense: notHere,
    },
    close: async () => undefined,
  };
  return {
    sandbox,
    where: `in its own process (pid ${child.pid})`,
    control: (name, opts) => call(`control.${name}`, opts),
    cpu: () => call('cpu'),
    profile: (on) => call('profile', on),
    close: async () => {
      await call('close');
      child.disconnect();
    },
  };
}

/** `--sandbox-child`: the sandbox tenant alone, driven by the bench over IPC. */
async function sandboxChild(): Promise<void> {
  const sandbox = await startTestSandbox();
  let stopProfile: (() => Promise<void>) | undefined;
  const send = (m: unknown) => process.send!(m);
  process.on('message', async ({ id, method, arg: a }: Request) => {
    try {
      let result: unknown;
      if (method === 'issueToken') result = await sandbox.issueToken(a as IssueTokenOptions);
      else if (method === 'setBotEndpoint') sandbox.teams.setBotEndpoint(a as string | undefined);
      else if (method === 'cpu') result = process.cpuUsage();
      else if (method === 'profile') {
        if (a) stopProfile = await startProfiler('sweep-sandbox.cpuprofile');
        else await stopProfile?.();
      } else if (method === 'close') await sandbox.close();
      else if (method.startsWith('control.')) result = (sandbox.control[method.slice('control.'.length) as keyof SandboxControl] as (o: unknown) => unknown)(a);
      else throw new Error(`unknown method ${method}`);
      send({ id, result } satisfies Reply);
    } catch (err) {
      send({ id, error: err instanceof Error ? err.message : String(err) } satisfies Reply);
    }
  });
  process.on('disconnect', () => process.exit(0));
  const { control: _c, issueToken: _i, close: _x, teams, ...info } = sandbox;
  send({ ready: { ...info, teams: { teamsAppId: teams.teamsAppId, connectorUrl: teams.connectorUrl, pageUrl: teams.pageUrl } } });
}

/**
 * The consent round trip as a browser would follow it (the sandbox's bulk users accept through
 * login_hint), keeping the cookie the product binds it with. The product paces /auth/* per client
 * address, so each user's browser comes from its own loopback address (127.1.x.y).
 */
async function consent(p: Awaited<ReturnType<typeof startTestProduct>>, upn: string, n: number): Promise<void> {
  const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken(upn), body: { mode: 'popup' } });
  let url: string = started.body.url;
  const product = [p.url, p.url.replace('127.0.0.1', 'localhost')];
  const localAddress = `127.1.${(n >> 8) & 255}.${n & 255}`;
  const cookies = new Map<string, string>();
  for (let i = 0; i < 10 && new URL(url).pathname !== '/auth/end'; i++) {
    let location: string | undefined;
    let status: number;
    if (product.includes(new URL(url).origin)) {
      const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await getFrom(url, localAddress, cookie);
      status = res.status;
      location = res.location;
      for (const line of res.setCookie) {
        const [pair] = line.split(';');
        const at = pair.indexOf('=');
        if (/;\s*Max-Age=0\b/i.test(line)) cookies.delete(pair.slice(0, at).trim());
        else cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
      }
    } else {
      const res = await fetch(url, { redirect: 'manual' });
      await res.arrayBuffer();
      status = res.status;
      location = res.headers.get('location') ?? undefined;
    }
    if (!location) throw new Error(`consent of ${upn} stopped at ${new URL(url).pathname} (${status})`);
    url = new URL(location, url).toString();
  }
  if (new URL(url).searchParams.get('status') !== 'success') throw new Error(`consent of ${upn} failed: ${url}`);
}

/** GET on the product's loopback listener from a chosen local address. */
function getFrom(url: string, localAddress: string, cookie: string): Promise<{ status: number; location?: string; setCookie: string[] }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpGet(
      { host: '127.0.0.1', port: u.port, path: `${u.pathname}${u.search}`, localAddress, headers: { host: u.host, ...(cookie ? { cookie } : {}) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, setCookie: res.headers['set-cookie'] ?? [] }));
      },
    );
    req.on('error', reject);
  });
}

(process.argv.includes('--sandbox-child') ? sandboxChild() : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
