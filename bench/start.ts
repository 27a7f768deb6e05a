/**
 * Start-up time: from spawning the process to the first `GET /readyz` 200, for the product as
 * `npm start` runs it (node scripts/start.js: compiled JavaScript, SQLite, sandbox tenant, a fresh
 * temporary data folder each run, so the sandbox's certificates, signing key and database are created
 * as on a first start) and for a bare restify server with one /readyz route, alternating so both
 * see the same machine load. Prints each median and their ratio. Targets: product ≤ 1.5 s, ≤ 4× bare.
 * Wall time depends on what else the machine is doing; so each run also reports the CPU time (user +
 * system) its process tree had used when /readyz first answered 200, a figure that load barely moves
 * (Linux: read from /proc; elsewhere not shown).
 * Prints figures; asserts nothing.
 *
 *   npm run bench:start [-- --runs 7 --restart]
 *
 * `--restart` also measures a second start on the same data folder (certificates and state kept).
 * npm's own start-up (about 0.2 s before it runs the script) is not counted.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer } from 'node:net';
import { numberArg } from './args';

const ROOT = path.resolve(__dirname, '..');
const { ensureBuilt } = require('../scripts/build-server') as { ensureBuilt: () => number };

/** The bare server: restify itself and one route, in a file so it starts like any script. */
const BARE = `const restify = require(${JSON.stringify(require.resolve('restify'))});
const server = restify.createServer();
server.get('/readyz', (req, res, next) => { res.send({ status: 'ready' }); next(); });
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux build in use). */
const USER_HZ = 100;

/**
 * CPU milliseconds (user + system) used so far by a process and everything below it: the live ones'
 * own time, plus what their exited children had used (cutime, cstime). Undefined without /proc.
 */
function treeCpuMs(root: number): number | undefined {
  if (!existsSync(`/proc/${root}/stat`)) return undefined;
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name may hold spaces: the fields after it start past its closing parenthesis.
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
      stats.set(Number(entry), { ppid: Number(fields[1]), ticks: utime! + stime! + cutime! + cstime! });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop()!;
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const [child, s] of stats) if (s.ppid === pid) pending.push(child);
  }
  return (ticks * 1000) / USER_HZ;
}

interface Start {
  /** Milliseconds from spawn to the first 200 on /readyz. */
  wallMs: number;
  /** CPU milliseconds the process tree had used by then. */
  cpuMs?: number;
}

/** Time and CPU from spawn to the first 200 on /readyz (polled every 5 ms), then stops the process. */
async function timeToReady(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Start> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd, env: { ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const gone = new Promise<void>((resolve) => child.on('exit', () => ((exited = true), resolve())));
  try {
    for (;;) {
      if (exited) throw new Error(`${args.join(' ')} exited before it was ready:\n${stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) {
          const wallMs = performance.now() - started;
          return { wallMs, cpuMs: treeCpuMs(child.pid!) };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    child.kill('SIGTERM');
    await gone;
  }
}

/** A free loopback port (not from src/server: loading the product here would slow the runs it measures). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const fmtStart = (s: Start) => `${fmt(s.wallMs)}${s.cpuMs === undefined ? '' : ` (cpu ${fmt(s.cpuMs)})`}`;
/** The median of each figure; CPU only when every run has one. */
const medians = (starts: Start[]) => {
  const cpu = starts.map((s) => s.cpuMs);
  return { wallMs: median(starts.map((s) => s.wallMs)), cpuMs: cpu.every((c) => c !== undefined) ? median(cpu as number[]) : undefined };
};

async function main(): Promise<void> {
  const runs = numberArg('runs', 7);
  const restart = process.argv.includes('--restart');
  if (ensureBuilt() !== 0) throw new Error('compiling the server failed');
  const scratch = mkdtempSync(path.join(tmpdir(), 'cc-bench-start-'));
  const bareFile = path.join(scratch, 'bare.js');
  writeFileSync(bareFile, BARE);
  // Only what a developer's shell would pass; no inherited CA, tenant or data settings.
  const baseEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn' };

  const product: Start[] = [];
  const again: Start[] = [];
  const bare: Start[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const dataDir = mkdtempSync(path.join(scratch, 'data-'));
      const env = { ...baseEnv, DATA_STORE: `sqlite:${path.join(dataDir, 'cc.db')}` };
      product.push(await timeToReady([path.join(ROOT, 'scripts', 'start.js')], dataDir, env));
      if (restart) again.push(await timeToReady([path.join(ROOT, 'scripts', 'start.js')], dataDir, env));
      bare.push(await timeToReady([bareFile], scratch, baseEnv));
      process.stdout.write(
        `run ${i + 1}/${runs}: product ${fmtStart(product[i]!)}${restart ? `, restart ${fmtStart(again[i]!)}` : ''}, bare restify ${fmtStart(bare[i]!)}\n`,
      );
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const p = medians(product);
  const b = medians(bare);
  const ratio = (x?: number, y?: number) => (x === undefined || y === undefined ? 'n/a' : (x / y).toFixed(2));
  process.stdout.write(
    [
      '',
      `time to /readyz 200 (median of ${runs}; node ${process.version}; cpu = user + system of the process tree):`,
      `  product (npm start, first start): ${fmtStart(p)}   target ≤ 1500 ms`,
      ...(restart ? [`  product (restart, same data):    ${fmtStart(medians(again))}`] : []),
      `  bare restify:                     ${fmtStart(b)}`,
      `  ratio product / bare:             ${ratio(p.wallMs, b.wallMs)} (cpu ${ratio(p.cpuMs, b.cpuMs)})   target ≤ 4`,
      '',
    ].join('\n'),
  );
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
