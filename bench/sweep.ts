/**
 * `npm run bench:sweep [-- --app 10000 --delegated 1000 --latency 50 --in-flight 32]`: one health
 * check of every connection of a tenant through the real path (CheckService → refresh-token
 * redemption with MSAL → paced `$batch` → the store) against the sandbox tenant, whose Graph answers
 * after `latency` ms and refuses a fifth concurrent request per mailbox with 429 + Retry-After.
 * 10,000 mailboxes covered by the service account and 1,000 users with their own delegated
 * connection, two probes each (Calendar Sync: the calendar and its events). Prints figures only.
 */
import { CookieJar } from '../tests/helpers/cookies';
import { startTestProduct } from '../tests/helpers/product';

const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';
const SERVICE_ACCOUNT = { clientId: '66193c42-2023-423c-acba-f7f851f7f085', secretValue: 'demo-sync-2026-sandbox-only-value' };
const BATCH = 20;
const PROBES = 2;

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

async function main(): Promise<void> {
  const appCount = arg('app', 10_000);
  const delegatedCount = arg('delegated', 1_000);
  const latencyMs = arg('latency', 50);
  const inFlight = arg('in-flight', 32);
  const rssStart = process.memoryUsage().rss;

  const p = await startTestProduct({ env: { LOG_LEVEL: 'error' }, checks: { maxBatchesInFlight: inFlight } });
  try {
    const { store, sandbox } = p;
    // Setup (not timed): the directory, the service account, the connections.
    await store.updateTenant(CONTOSO, { enabledFeatures: ['calendarSync'] });
    const appUsers = appCount > 0 ? sandbox.control.addUsers({ count: appCount, prefix: 'app' }) : [];
    const delegatedUsers = delegatedCount > 0 ? sandbox.control.addUsers({ count: delegatedCount, prefix: 'dlg' }) : [];
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
    const queue = [...delegatedUsers];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let u = queue.shift(); u; u = queue.shift()) await consent(p, u.upn);
      }),
    );
    for (const u of delegatedUsers) {
      const rows = await store.getConnections(CONTOSO, u.upn);
      if (!rows.some((r) => r.kind === 'graph-delegated' && r.state === 'connected')) throw new Error(`consent of ${u.upn} did not connect`);
    }
    process.stdout.write('done\n');

    sandbox.control.setLatency({ ms: latencyMs, target: 'graph' });
    const before = sandbox.control.stats();
    const rssBefore = process.memoryUsage().rss;
    const profiler = process.argv.includes('--profile') ? await startProfiler() : undefined;
    const cpu0 = process.cpuUsage();
    const started = process.hrtime.bigint();
    const { run } = await p.checks.start(CONTOSO, 'bench');
    await p.checks.settled(CONTOSO);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    await profiler?.();
    const after = sandbox.control.stats();
    const latest = (await p.checks.latest(CONTOSO))!;

    // The floor: every probe in a full $batch, a mailbox's two probes in one batch (4 in flight per
    // mailbox allows both at once; 2 requests per mailbox is far under 10,000 per 10 minutes), at
    // most `inFlight` batches in flight, each taking the Graph latency. Delegated users cannot share
    // a batch (each has their own token): one batch each.
    const appBatches = Math.ceil((appCount * PROBES) / BATCH);
    const delegatedBatches = delegatedCount;
    const floor = (Math.ceil((appBatches + delegatedBatches) / inFlight) * latencyMs) / 1000;
    const s = p.checks.stats;
    const throttled = (after.graph.byStatus['429'] ?? 0) - (before.graph.byStatus['429'] ?? 0);
    const wronglyBroken = (await store.countConnections(CONTOSO)).filter((c) => ['needs-reconnect', 'missing-permissions', 'failing'].includes(c.state));

    console.log(
      `bench:sweep  ${appCount} app-only mailboxes + ${delegatedCount} delegated users, ${PROBES} probes each, Graph latency ${latencyMs} ms, ${inFlight} batches in flight`,
    );
    console.log(`  run ${run.id}: ${latest.status}, ${latest.checked} of ${latest.total} checked`);
    console.log(`  time         ${seconds.toFixed(2)} s`);
    console.log(
      `  floor        ${floor.toFixed(2)} s  (${appBatches} app batches of ${BATCH} + ${delegatedBatches} delegated batches, ${inFlight} in flight, ${latencyMs} ms each)`,
    );
    console.log(`  ratio        ${(seconds / floor).toFixed(2)}`);
    console.log(`  CPU          ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s in this process (the product and the sandbox standing in for Microsoft)`);
    console.log(`  sent         ${s.batches} $batch requests, ${s.requests} sub-requests (${s.retried} re-sent), ${s.redeemed} refresh tokens redeemed`);
    console.log(
      `  429s seen    ${s.throttled} by the monitor, ${throttled} answered by the sandbox (${after.graph.concurrencyThrottled - before.graph.concurrencyThrottled} for mailbox concurrency)`,
    );
    console.log(`  states       ${JSON.stringify(latest.byState)}`);
    console.log(`  broken       ${wronglyBroken.reduce((a, c) => a + c.count, 0)} (every mailbox is healthy: any is wrongly marked)`);
    console.log(`  RSS          ${mb(rssStart)} at start, ${mb(rssBefore)} before the run, ${mb(process.memoryUsage().rss)} at the end`);
  } finally {
    await p.close();
  }
}

/** `--profile`: a CPU profile of the run alone, written to sweep.cpuprofile (open it in Chrome DevTools). */
async function startProfiler(): Promise<() => Promise<void>> {
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync('sweep.cpuprofile', JSON.stringify(profile));
    session.disconnect();
  };
}

/** The consent round trip as a browser would follow it (the sandbox's bulk users accept through login_hint). */
async function consent(p: Awaited<ReturnType<typeof startTestProduct>>, upn: string): Promise<void> {
  const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken(upn), body: { mode: 'popup' } });
  let url: string = started.body.url;
  // The product binds the round trip to the browser that started it (a cookie): keep it as a browser does.
  const jar = new CookieJar();
  for (let i = 0; i < 10 && new URL(url).pathname !== '/auth/end'; i++) {
    const res = await jar.fetch(url, [new URL(p.url).origin]);
    const location = res.headers.get('location');
    if (!location) throw new Error(`consent of ${upn} stopped at ${new URL(url).pathname} (${res.status})`);
    url = new URL(location, url).toString();
  }
  if (new URL(url).searchParams.get('status') !== 'success') throw new Error(`consent of ${upn} failed: ${url}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
