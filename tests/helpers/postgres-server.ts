/**
 * A throw-away PostgreSQL server for the test run and the store benchmark: a fresh data folder
 * under the system temp folder, listening on 127.0.0.1 only, trust authentication, no fsync.
 *
 * `initdb` refuses to run as root, so as root both it and the server run as the `postgres` user.
 * The server is started by a small shell that reads its stdin: when the process that started it
 * exits, however it exits, the pipe closes and the shell stops the server (fast shutdown), so a
 * killed test run leaves no server behind.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/** One statement on its own connection: for test and bench set-up, not for the product. */
export async function sql<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

export interface ThrowawayPostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
}

/** Where initdb and postgres live: PG_BIN, else the newest /usr/lib/postgresql/<n>/bin; undefined if none. */
export function findPostgresBinaries(): string | undefined {
  const fromEnv = process.env.PG_BIN;
  const candidates = fromEnv
    ? [fromEnv]
    : safeList('/usr/lib/postgresql')
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
        .map((v) => `/usr/lib/postgresql/${v}/bin`);
  return candidates.find((dir) => existsSync(path.join(dir, 'initdb')) && existsSync(path.join(dir, 'postgres')));
}

export async function startThrowawayPostgres(binDir: string): Promise<ThrowawayPostgres> {
  const owner = serverUser();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cc-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'server.log');
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const as = owner ? { uid: owner.uid, gid: owner.gid } : {};
  try {
    const init = spawnSync(path.join(binDir, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8', '--locale=C.UTF-8'], {
      ...as,
      cwd: dir,
      encoding: 'utf8',
    });
    if (init.status !== 0) throw new Error(`initdb failed: ${(init.stderr || init.stdout || String(init.error)).trim().slice(0, 500)}`);

    const port = await freePort();
    const settings = [
      '-c listen_addresses=127.0.0.1',
      `-c unix_socket_directories=${dir}`,
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
    ];
    const script = `"$0" -D "$1" -p "$2" ${settings.join(' ')} >>"$3" 2>&1 & pid=$!; read -r _; kill -INT "$pid"; wait "$pid"`;
    const child = spawn('/bin/sh', ['-c', script, path.join(binDir, 'postgres'), data, String(port), log], {
      ...as,
      cwd: dir,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await waitUntilReady(url, child, log);
    } catch (err) {
      await stopChild(child, exited);
      throw err;
    }
    return {
      url,
      stop: async () => {
        await stopChild(child, exited);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

async function waitUntilReady(url: string, child: ChildProcess, log: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL exited at start: ${readTail(log)}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 30 s: ${readTail(log)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** As root, the `postgres` system user (initdb and the server refuse root); otherwise the caller. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) throw new Error('running as root, and there is no "postgres" user to run the throw-away PostgreSQL server as');
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function readTail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no server log)';
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export interface BenchDatabase {
  /** URL of a new, empty database. */
  url: string;
  /** Drops the database, and stops the throw-away server if one was started for it. */
  close(): Promise<void>;
}

/**
 * A fresh database for a benchmark: on BENCH_DATABASE_URL, else TEST_DATABASE_URL, else a
 * throw-away server started for it; undefined when there is no PostgreSQL at all.
 */
export async function openBenchDatabase(label: string): Promise<BenchDatabase | undefined> {
  let serverUrl = process.env.BENCH_DATABASE_URL?.trim() || process.env.TEST_DATABASE_URL?.trim();
  let server: ThrowawayPostgres | undefined;
  if (!serverUrl) {
    const bin = findPostgresBinaries();
    if (!bin) return undefined;
    server = await startThrowawayPostgres(bin);
    serverUrl = server.url;
  }
  const admin = async (text: string) => void (await sql(serverUrl!, text));
  const name = `cc_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${process.pid}_${Date.now().toString(36)}`;
  await admin(`CREATE DATABASE "${name}"`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    close: async () => {
      await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).catch(() => undefined);
      await server?.stop();
    },
  };
}
