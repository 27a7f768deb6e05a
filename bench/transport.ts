/**
 * `npm run bench:transport [-- --in-flight 32 --latency 50]`: what bench:sweep's requests cost in
 * HTTPS alone on this machine. The same 3,000 requests as a default sweep (1,000 full `$batch`es of
 * 20, and 1,000 users' token redemption followed by their `$batch` of 2), sent with the product's
 * own HTTP layer (`src/graph/http.ts`) at the same pacing, to a bare HTTPS server in a child
 * process that answers a `$batch` after `latency` ms and a token request at once, with answers of
 * the sandbox's sizes but no signing, no store, no MSAL. It prints the time against the sweep's
 * floor and the CPU of each side: a bound no implementation of the sweep on this stack gets under.
 * `--work N` adds N rounds of parsing and serialising a 391-byte JSON record on the client's thread
 * after each answer (about 4.5 µs a round on the 2-vCPU VM of bench/README.md), a stand-in for what
 * the product does with an answer (MSAL, the store, the check's rules): it shows how much the sweep
 * may spend per request beyond HTTPS and stay within a ratio. `--server-work N` does the same in the
 * server per request, a stand-in for the sandbox's own work (tokens, mailboxes, answers).
 */
import { fork } from 'node:child_process';
import { createServer } from 'node:https';
import { availableParallelism, loadavg } from 'node:os';
import { sendRequest } from '../src/graph/http';
import { ensureCertificates } from '../src/sandbox/certs';
import { numberArg } from './args';

const BATCH = 20;
const APP_BATCHES = 1_000;
const DELEGATED_USERS = 1_000;
const PROBES = 2;

const seconds = (us: number) => `${(us / 1e6).toFixed(2)} s`;

const RECORD = JSON.stringify({
  id: 'AAMkAGI2TG93AAA' + 'A'.repeat(140),
  state: 'connected',
  features: { calendarSync: { ok: true }, emailSync: { ok: true } },
  upn: 'someone@contoso.com',
  checkedAt: '2026-12-03T12:00:00.000Z',
  scopes: ['openid', 'profile', 'offline_access', 'Calendars.Read', 'Mail.Read'],
});
/** CPU work of a fixed size (not a fixed time, so that a slower machine pays more for it, as for real work). */
function spend(rounds: number): number {
  let n = 0;
  for (let i = 0; i < rounds; i++) n += JSON.stringify(JSON.parse(RECORD)).length;
  return n;
}

/** The child: a bare HTTPS server with the sandbox's certificate, answering like Graph and Entra. */
async function serve(latencyMs: number, workRounds: number): Promise<void> {
  const certs = await ensureCertificates(process.env.SANDBOX_CERTS_DIR!);
  const jwtLike = (n: number) => 'eyJ' + 'x'.repeat(n);
  const tokenAnswer = JSON.stringify({
    token_type: 'Bearer',
    scope: 'openid profile offline_access Calendars.Read',
    expires_in: 3600,
    ext_expires_in: 3600,
    access_token: jwtLike(1_400),
    refresh_token: jwtLike(900),
    id_token: jwtLike(1_000),
    client_info: jwtLike(120),
  });
  const server = createServer({ key: certs.keyPem, cert: certs.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      spend(workRounds);
      const answer = (body: string) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (req.url?.endsWith('/token')) return answer(tokenAnswer);
      const { requests } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { requests: Array<{ id: string; url: string }> };
      const responses = requests.map((r) => ({
        id: r.id,
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: { '@odata.context': `https://graph.microsoft.com/v1.0/$metadata#${r.url}`, id: 'AAMkAGI2TG93AAA' + 'A'.repeat(140) },
      }));
      setTimeout(() => answer(JSON.stringify({ responses })), latencyMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port }));
  process.on('message', () => process.send!({ cpu: process.cpuUsage() }, () => process.exit(0)));
}

async function main(): Promise<void> {
  const inFlight = numberArg('in-flight', 32);
  const latencyMs = numberArg('latency', 50);
  if (!process.env.SANDBOX_CERTS_DIR) throw new Error('run it as `npm run bench:transport`, which has Node trust the sandbox CA that its server uses');
  const workRounds = numberArg('work', 0);
  const serverWorkRounds = numberArg('server-work', 0);
  const child = fork(__filename, ['--serve', String(latencyMs), String(serverWorkRounds)], { execArgv: process.execArgv });
  const port = await new Promise<number>((resolve) => child.once('message', (m: { port: number }) => resolve(m.port)));
  const base = `https://127.0.0.1:${port}`;
  const headers = { authorization: `Bearer ${'eyJ' + 'x'.repeat(1_400)}`, 'content-type': 'application/json' };

  const send: typeof sendRequest = async (...args) => {
    const answer = await sendRequest(...args);
    spend(workRounds);
    return answer;
  };
  const batchBody = (first: number, size: number) =>
    JSON.stringify({
      requests: Array.from({ length: size }, (_, i) => ({
        id: String(i + 1),
        method: 'GET',
        url: `/users/user${first + Math.floor(i / PROBES)}@contoso.com/${i % PROBES ? 'events?$top=1&$select=id' : 'calendar?$select=id'}`,
      })),
    });
  const redeem = () =>
    send('POST', `${base}/organizations/oauth2/v2.0/token`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `client_id=00000000-0000-0000-0000-000000000000&grant_type=refresh_token&refresh_token=${'r'.repeat(900)}&scope=openid%20profile%20offline_access%20Calendars.Read`,
      timeoutMs: 30_000,
    });
  const batch = (first: number, size: number) => send('POST', `${base}/v1.0/$batch`, { headers, body: batchBody(first, size), timeoutMs: 30_000 });

  // The sweep's work, app-only and delegated interleaved: a delegated user's slot holds its redemption then its batch.
  const work: Array<() => Promise<unknown>> = [];
  for (let i = 0; i < Math.max(APP_BATCHES, DELEGATED_USERS); i++) {
    if (i < APP_BATCHES) work.push(() => batch(i * (BATCH / PROBES), BATCH));
    if (i < DELEGATED_USERS) work.push(async () => (await redeem(), batch(100_000 + i, PROBES)));
  }
  for (let i = 0; i < 64; i++) await work[i]!(); // warm up the connections and the JIT

  const cpu0 = process.cpuUsage();
  const started = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < work.length) await work[next++]!();
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const elapsed = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  child.send('cpu');
  const server = await new Promise<NodeJS.CpuUsage>((resolve) => child.once('message', (m: { cpu: NodeJS.CpuUsage }) => resolve(m.cpu)));

  const requests = APP_BATCHES + 2 * DELEGATED_USERS;
  const floor = Math.ceil(work.length / inFlight) * latencyMs;
  console.log(
    `bench:transport  the requests of a default bench:sweep over HTTPS alone, ${inFlight} in flight, Graph latency ${latencyMs} ms` +
      (workRounds || serverWorkRounds ? `, work per request: ${workRounds} rounds in the client, ${serverWorkRounds} in the server` : ''),
  );
  console.log(`  time         ${(elapsed / 1000).toFixed(2)} s`);
  console.log(`  floor        ${(floor / 1000).toFixed(2)} s = ceil(${work.length} batches / ${inFlight} in flight) × ${latencyMs} ms (as bench:sweep's)`);
  console.log(`  ratio        ${(elapsed / floor).toFixed(2)}`);
  console.log(
    `  client CPU   ${seconds(cpu.user + cpu.system)} (user ${seconds(cpu.user)}, system ${seconds(cpu.system)}): ${((cpu.user + cpu.system) / requests).toFixed(0)} µs per request, ${requests} requests`,
  );
  console.log(`  server CPU   ${seconds(server.user + server.system)} for the whole life of the server process (start and warm-up included)`);
  console.log(`  machine      ${availableParallelism()} CPUs, load ${loadavg()[0]!.toFixed(1)}`);
}

if (process.argv[2] === '--serve') void serve(Number(process.argv[3]), Number(process.argv[4]));
else
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
