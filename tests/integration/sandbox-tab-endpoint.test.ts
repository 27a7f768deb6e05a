/**
 * `npm start` in sandbox mode with TAB_ENDPOINT on another host than localhost: the demo app
 * registration follows TAB_ENDPOINT (App ID URI and redirect URI), so browser sign-in works there.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SESSION_COOKIE } from '../../src/api/auth-steps';
import { freePort } from '../../src/server';
import { CookieJar } from '../helpers/cookies';
import { authorizeWithoutPages } from '../helpers/sandbox';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../..');

describe('sandbox with TAB_ENDPOINT http://127.0.0.1:<port>', () => {
  it('signs a demo user in through the browser round trip', async () => {
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cc-tab-endpoint-'));
    // As `npm start` runs it (the compiled launcher). Its own working directory: ./data (dev key, sandbox CA and state) must not be the developer's.
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'start.js')], {
      cwd: dataDir,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        PORT: String(port),
        TAB_ENDPOINT: origin,
        DATA_STORE: `sqlite:${path.join(dataDir, 'cc.db')}`,
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      let up = false;
      let gone = false;
      void exited.then(() => (gone = true));
      for (let i = 0; i < 300 && !up && !gone; i++) {
        up = await fetch(`${origin}/healthz`).then(
          (r) => r.ok,
          () => false,
        );
        if (!up) await new Promise((r) => setTimeout(r, 100));
      }
      if (!up) throw new Error(`the server never answered /healthz: ${stderr}`);

      const jar = new CookieJar();
      const start = await jar.fetch(`${origin}/auth/signin?returnTo=/tab/`, [origin]);
      const authorize = new URL(start.headers.get('location')!);
      // The scope names the App ID URI derived from TAB_ENDPOINT.
      expect(authorize.searchParams.get('scope')).toContain(`api://127.0.0.1:${port}/`);
      authorize.searchParams.delete('prompt');
      authorize.searchParams.set('login_hint', 'alex.wilber@contoso.com');
      const callback = await authorizeWithoutPages(authorize.toString());
      expect(callback.origin).toBe(origin);
      expect(callback.searchParams.get('error')).toBeNull();
      const back = await jar.fetch(callback.toString(), [origin]);
      expect(back.headers.get('location')).toBe('/tab/');
      expect(jar.get(SESSION_COOKIE)).toBeDefined();
      const me = await jar.fetch(`${origin}/api/me`, [origin]);
      expect(me.status).toBe(200);
      expect(await me.json()).toMatchObject({ user: { upn: 'alex.wilber@contoso.com' }, auth: 'session' });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});
