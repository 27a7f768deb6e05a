/**
 * The product as `npm start` runs it (the command of package.json's `start` script: scripts/start.js
 * → the compiled dist/src/index.js, sandbox mode): it answers /healthz, stops cleanly on SIGTERM, and
 * expected start-up failures end with one clear line. scripts/test.ts compiles dist/ before Jest runs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/server';

const ROOT = path.resolve(__dirname, '../..');
/** `npm start` without npm: `node scripts/start.js` run by this Node. */
const START = (require(path.join(ROOT, 'package.json')) as { scripts: { start: string } }).scripts.start.split(' ');

function launch(env: Record<string, string>) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'cc-start-'));
  // Its own working directory: ./data (dev key, sandbox CA and state) must not be the developer's.
  const child = spawn(
    process.execPath,
    START.slice(1).map((a) => path.resolve(ROOT, a)),
    {
      cwd: dataDir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_STORE: `sqlite:${path.join(dataDir, 'cc.db')}`, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, out: () => stdout, err: () => stderr, dataDir };
}

async function waitForHealth(url: string, exited: Promise<unknown>): Promise<void> {
  let done = false;
  void exited.then(() => (done = true));
  for (let i = 0; i < 300 && !done; i++) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the server never answered /healthz');
}

describe('npm start', () => {
  it('runs node on the compiled launcher', () => {
    expect(START).toEqual(['node', 'scripts/start.js']);
  });

  it('runs on its embedded defaults, prints where to go, and stops cleanly on SIGTERM', async () => {
    const port = await freePort();
    const run = launch({ PORT: String(port) });
    await waitForHealth(`http://127.0.0.1:${port}/healthz`, run.exited);
    expect(await (await fetch(`http://127.0.0.1:${port}/readyz`)).json()).toEqual({ status: 'ready' });
    expect((await fetch(`http://127.0.0.1:${port}/tab/`)).status).toBe(200);
    expect(run.out()).toContain(`http://localhost:${port}/tab/`);
    expect(run.out()).toContain('/api/messages');
    expect(run.out()).toContain('SANDBOX MODE');
    expect(run.out()).toContain('adele.vance@contoso.com');
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
  });

  it.each([
    ['a malformed setting', { PORT: 'eighty' }, /^connection-center: Configuration error: PORT must be a whole number/m],
    ['the sandbox in production', { NODE_ENV: 'production', ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }, /sandbox/i],
  ])('refuses %s with one line and exit code 1', async (_what, env, pattern) => {
    const run = launch(env as Record<string, string>);
    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(pattern);
    expect(run.err()).not.toMatch(/^\s+at /m);
  });

  describe('in production, an anonymous bot', () => {
    const production = {
      NODE_ENV: 'production',
      ENCRYPTION_KEY: Buffer.alloc(32).toString('base64'),
      AAD_APP_CLIENT_ID: '11111111-2222-3333-4444-555555555555',
      SECRET_AAD_APP_CLIENT_SECRET: 'abc~value',
      AAD_APP_TENANT_ID: '66305621-97b8-41f8-953b-d70d11d91d5b',
      TAB_ENDPOINT: 'https://cc.contoso.com',
      BOT_ID: '22222222-3333-4444-5555-666666666666',
      SECRET_BOT_PASSWORD: 'bot~value',
    };
    it.each([
      ['without BOT_ID', { BOT_ID: '' }, /^connection-center: Configuration error: BOT_ID is required when NODE_ENV=production/],
      [
        'without SECRET_BOT_PASSWORD',
        { SECRET_BOT_PASSWORD: '' },
        /^connection-center: Configuration error: SECRET_BOT_PASSWORD is required when NODE_ENV=production/,
      ],
    ])('is refused %s: one line naming the key, exit code 1', async (_what, change, pattern) => {
      const run = launch({ ...production, PORT: '0', ...change });
      expect(await run.exited).toBe(1);
      expect(run.err()).toMatch(pattern);
      expect(run.err().trim().split('\n')).toHaveLength(1);
    });
  });

  it('refuses a corrupt database file without touching it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cc-corrupt-'));
    const file = path.join(dir, 'cc.db');
    writeFileSync(file, 'this is not a database\n');
    const run = launch({ PORT: String(await freePort()), DATA_STORE: `sqlite:${file}` });
    expect(await run.exited).toBe(1);
    expect(run.err()).toMatch(/^connection-center: Cannot open the data store .*not a SQLite database/m);
    expect(run.err()).not.toMatch(/^\s+at /m);
    expect(readFileSync(file, 'utf8')).toBe('this is not a database\n');
  });

  it('refuses a port already in use', async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const port = (busy.address() as { port: number }).port;
    try {
      const run = launch({ PORT: String(port) });
      expect(await run.exited).toBe(1);
      expect(run.err()).toMatch(new RegExp(`^connection-center: port ${port} is already in use`, 'm'));
      expect(run.err()).not.toMatch(/^\s+at /m);
    } finally {
      busy.close();
    }
  });
});
