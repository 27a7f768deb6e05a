/**
 * Drives the built tab (tab/dist) in headless Chromium with the API mocked by page.route(), checks
 * what a person would see, and writes screenshots to docs/screenshots/tab-*.png.
 * A script, not a test: `npm run build:tab && npx tsx tests/e2e/tab-preview.ts`.
 * Exits non-zero if a check fails, the page logs an error, or a write request lacks the CSRF header.
 */
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/browser';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium, type BrowserContext, type Page, type Request, type Route } from 'playwright-core';
import * as fx from './tab-fixtures';

const ROOT = resolve(__dirname, '..', '..');
const DIST = join(ROOT, 'tab', 'dist');
const SHOTS = join(ROOT, 'docs', 'screenshots');
const VIEWPORT = { width: 1280, height: 900 };
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

const failures: string[] = [];
function check(ok: unknown, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
}

/**
 * A stand-in for Teams: frames the tab and answers the teams-js messages the tab sends
 * (initialize, getContext, getAuthToken, authenticate), and can push a theme change. Same origin as
 * the tab, which teams-js accepts as a message origin. `?theme=` sets the host theme, `?auth=` the
 * outcome of the consent popup ('success' or an error code).
 */
const FAKE_HOST_PAGE = `<!doctype html><meta charset="utf-8"><title>Fake Teams host</title>
<style>html,body{margin:0;height:100%}iframe{width:100%;height:100%;border:0}</style>
<iframe id="tab" src="/tab/"></iframe>
<script>
  const params = new URLSearchParams(location.search);
  const frame = document.getElementById('tab');
  const runtime = { apiVersion: 4, supports: { appEntity: {}, authentication: {}, pages: { appButton: {}, tabs: {}, config: {}, backStack: {}, fullTrust: {} }, teamsCore: {} } };
  let popup = null;
  let pendingAuth = null;
  window.hostCalls = [];
  window.addEventListener('message', (e) => {
    if (!e.data || typeof e.data.func !== 'string') return;
    const fromTab = e.source === frame.contentWindow;
    const fromPopup = popup !== null && e.source === popup;
    if (!fromTab && !fromPopup) return;
    const m = e.data;
    window.hostCalls.push({ from: fromTab ? 'tab' : 'popup', func: m.func, args: m.args });
    const reply = (args) => e.source.postMessage({ id: m.id, uuidAsString: m.uuidAsString, args }, location.origin);
    if (m.func === 'initialize') reply([fromTab ? 'content' : 'authentication', 'web', JSON.stringify(runtime), '2.58.0']);
    else if (m.func === 'getContext') reply([{ theme: params.get('theme') || 'default', hostName: 'Teams', hostClientType: 'web', locale: 'en-gb', entityId: 'connection-center', frameContext: 'content' }]);
    else if (m.func === 'authentication.getAuthToken') reply([true, 'fake-sso-token']);
    else if (m.func === 'authentication.authenticate') {
      // Teams opens the start URL; here Entra and /auth/callback are skipped straight to /auth/end.
      const outcome = params.get('auth') || 'success';
      pendingAuth = reply;
      popup = window.open(outcome === 'success' ? '/auth/end?status=success' : '/auth/end?status=failure&code=' + encodeURIComponent(outcome), 'auth', 'width=600,height=535');
    } else if (m.func === 'authentication.authenticate.success' && pendingAuth) pendingAuth([true, m.args[0]]);
    else if (m.func === 'authentication.authenticate.failure' && pendingAuth) pendingAuth([false, m.args[0]]);
  });
  window.setHostTheme = (theme) => frame.contentWindow.postMessage({ func: 'themeChange', args: [theme] }, location.origin);
</script>`;

/** tab/dist at /tab/, auth-end.html at /auth/end (as the server does), and a fake /auth/start. */
function startStatic(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/auth/start') {
      // Stands in for Entra + /auth/callback: straight back to the tab with the outcome asked for.
      const code = url.searchParams.get('code');
      res.writeHead(302, { Location: code ? `/tab/?connect=failure&code=${encodeURIComponent(code)}` : '/tab/?connect=success' });
      return res.end();
    }
    if (url.pathname === '/host.html') {
      res.writeHead(200, { 'Content-Type': TYPES['.html'] });
      return res.end(FAKE_HOST_PAGE);
    }
    if (url.pathname === '/frame.html') {
      // A foreign page framing the tab: app.initialize() never settles there.
      res.writeHead(200, { 'Content-Type': TYPES['.html'] });
      return res.end('<!doctype html><title>frame</title><iframe src="/tab/" style="width:1200px;height:800px;border:0"></iframe>');
    }
    let file: string | undefined;
    if (url.pathname === '/auth/end') file = join(DIST, 'auth-end.html');
    else if (url.pathname === '/tab' || url.pathname === '/tab/') file = join(DIST, 'index.html');
    else if (url.pathname.startsWith('/tab/')) file = normalize(join(DIST, url.pathname.slice('/tab/'.length)));
    if (!file || !file.startsWith(DIST) || !existsSync(file)) {
      res.writeHead(404, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Nothing was found at this address.' } }));
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

type Reply = { status?: number; json?: unknown; body?: string; contentType?: string };
type Handler = (req: Request, url: URL) => Reply | Promise<Reply>;

interface Mock {
  calls: Array<{ method: string; path: string; body: string | null; headers: Record<string, string> }>;
}

/** Routes `METHOD /path` (query ignored) to handlers; anything unmocked is a failure. */
async function mockApi(page: Page, origin: string, handlers: Record<string, Handler>, auth: 'session' | 'sso' = 'session'): Promise<Mock> {
  const mock: Mock = { calls: [] };
  const handle = async (route: Route) => {
    const req = route.request();
    const url = new URL(req.url());
    const key = `${req.method()} ${url.pathname}`;
    const headers = await req.allHeaders();
    mock.calls.push({ method: req.method(), path: url.pathname + url.search, body: req.postData(), headers });
    if (auth === 'session' && req.method() !== 'GET' && headers['x-csrf-token'] !== 'csrf-preview-token')
      failures.push(`${key} sent without the X-CSRF-Token header`);
    if (auth === 'sso' && headers['authorization'] !== 'Bearer fake-sso-token') failures.push(`${key} sent without the SSO bearer token`);
    const handler = handlers[key];
    if (!handler) {
      failures.push(`unmocked request ${key}`);
      return route.fulfill({
        status: 404,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'NOT_FOUND', message: 'Nothing was found at this address.' } }),
      });
    }
    const r = await handler(req, url);
    if (r.status === 204) return route.fulfill({ status: 204, body: '' });
    await route.fulfill({
      status: r.status ?? 200,
      contentType: r.contentType ?? 'application/json',
      body: r.body ?? JSON.stringify(r.json ?? {}),
    });
  };
  await page.route(`${origin}/api/**`, handle);
  await page.route(`${origin}/auth/signout`, handle);
  return mock;
}

/** Polls `condition` until it holds or 10 s pass: waits on state, never on a fixed delay. */
async function eventually(condition: () => boolean, timeoutMs = 10_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

async function newPage(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().includes('Failed to load resource')) failures.push(`console error: ${m.text()}`);
  });
  return page;
}

async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  // Let Fluent's motion settle so screenshots show the final state.
  await page.waitForTimeout(250);
  await page.screenshot({ path: join(SHOTS, name), fullPage });
  console.log(`     wrote docs/screenshots/${name}`);
}

const visible = (page: Pick<Page, 'getByText'>, text: string | RegExp) =>
  page
    .getByText(text)
    .first()
    .waitFor({ state: 'visible', timeout: 10_000 })
    .then(
      () => true,
      () => false,
    );

async function signInScreen(context: BrowserContext, origin: string) {
  const page = await newPage(context);
  await mockApi(page, origin, { 'GET /api/me': () => ({ status: 401, json: { error: fx.errorOf('INVALID_TOKEN') } }) });
  await page.goto(`${origin}/tab/`);
  check(await visible(page, 'Local preview — not running inside Teams'), 'sign-in: local preview banner');
  const link = page.getByRole('link', { name: 'Sign in with your work account' });
  check(
    await link.waitFor({ timeout: 10_000 }).then(
      () => true,
      () => false,
    ),
    'sign-in: button shown on 401',
  );
  check((await link.getAttribute('href')) === '/auth/signin?returnTo=/tab/', 'sign-in: button goes to /auth/signin?returnTo=/tab/');
  await shot(page, 'tab-signin.png');
  await page.close();
}

async function ewsUser(context: BrowserContext, origin: string, now: Date) {
  const page = await newPage(context);
  let exchangeRemoved = false;
  const mock = await mockApi(page, origin, {
    'GET /api/me': () => ({ json: fx.meFor('user') }),
    'GET /api/me/connection': () => ({ json: exchangeRemoved ? fx.disconnected() : fx.ewsConnection(now) }),
    'POST /api/me/connect': () => ({ json: { url: '/auth/start?code=USER_CONSENT_REQUIRED' } }),
    'DELETE /api/me/connection/exchange': () => {
      exchangeRemoved = true;
      return { status: 204 };
    },
  });
  await page.goto(`${origin}/tab/`);
  check(await visible(page, /Exchange Web Services stops working on 1 April 2027 — \d+ days left/), 'ews: deadline banner with date and days left');
  check(await visible(page, 'Exchange (EWS, Basic Auth)'), 'ews: kind badge');
  check(await visible(page, 'Adele Vance'), 'ews: signed-in user shown');
  check(await page.getByRole('button', { name: 'Sign out' }).isVisible(), 'ews: sign-out link in browser mode');
  check(!(await page.getByRole('button', { name: 'Test connection' }).isVisible()), 'ews: no Test connection without a Graph connection');
  check(!(await page.getByRole('button', { name: 'Disconnect Office 365' }).isVisible()), 'ews: no Disconnect Office 365');
  check(!(await page.getByRole('tab', { name: 'Organisation' }).isVisible()), 'ews: no admin tab for a user');
  await shot(page, 'tab-user-ews.png');

  // Disconnect Exchange asks first; Cancel changes nothing.
  await page.getByRole('button', { name: 'Disconnect Exchange' }).click();
  const dialog = page.getByRole('alertdialog');
  check(await dialog.isVisible(), 'ews: Disconnect Exchange asks for confirmation');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  // Wait for the closing animation, or the next dialog would briefly be the second one on the page.
  await dialog.waitFor({ state: 'hidden' });
  check(!mock.calls.some((c) => c.method === 'DELETE'), 'ews: Cancel sends nothing');

  // Keyboard only: Tab to the button, Enter opens the dialog, confirm with the keyboard too.
  await page.getByRole('button', { name: 'Disconnect Exchange' }).focus();
  await page.keyboard.press('Enter');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Disconnect Exchange' }).focus();
  await page.keyboard.press('Enter');
  check(await visible(page, 'The Exchange connection was removed.'), 'ews: removal confirmed');
  check(await visible(page, 'You have no mailbox connection yet.'), 'ews: empty state after removal');
  const del = mock.calls.find((c) => c.method === 'DELETE');
  check(del?.path === '/api/me/connection/exchange', 'ews: DELETE /api/me/connection/exchange sent');

  // Browser connect: redirect round trip that comes back with a failure code.
  const bg = await page.getByRole('button', { name: 'Connect Office 365', exact: true }).evaluate((el) => getComputedStyle(el).backgroundColor);
  check(bg !== 'rgba(0, 0, 0, 0)' && bg !== 'rgb(255, 255, 255)', 'ews: Connect Office 365 is the primary action');
  await page.getByRole('button', { name: 'Connect Office 365', exact: true }).click();
  await page.waitForURL(`${origin}/tab/`, { timeout: 10_000 });
  check(await visible(page, 'Consent to the requested permissions was not given.'), 'ews: failure code from the round trip shown with its catalogue text');
  check(await visible(page, 'Click Connect Office 365 again and accept the permissions'), 'ews: remedy shown');
  check(!page.url().includes('connect='), 'ews: URL cleaned after the round trip');
  const connect = mock.calls.find((c) => c.path === '/api/me/connect');
  check(connect?.body === JSON.stringify({ mode: 'redirect' }), 'ews: connect asks for redirect mode in a browser');
  await shot(page, 'tab-connect-failure.png');
  await page.close();
}

async function narrow(context: BrowserContext, origin: string, now: Date) {
  const page = await newPage(context);
  await page.setViewportSize({ width: 320, height: 900 });
  await mockApi(page, origin, {
    'GET /api/me': () => ({ json: fx.meFor('user') }),
    'GET /api/me/connection': () => ({ json: fx.ewsConnection(now) }),
  });
  await page.goto(`${origin}/tab/`);
  await visible(page, 'Email Sync');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, `narrow: no horizontal scrolling at 320 px (overflow ${overflow} px)`);
  await shot(page, 'tab-narrow.png', true);
  await page.close();
}

async function graphUser(context: BrowserContext, origin: string, now: Date) {
  const page = await newPage(context);
  const mock = await mockApi(page, origin, {
    'GET /api/me': () => ({ json: fx.meFor('user') }),
    'GET /api/me/connection': () => ({ json: fx.graphConnection(now) }),
    'POST /api/me/connection/test': () => ({ json: fx.graphTestResult(now) }),
  });
  await page.goto(`${origin}/tab/?connect=success`);
  check(await visible(page, 'Office 365 is connected.'), 'graph: success message after the round trip');
  check(await visible(page, 'Office 365 (Microsoft Graph)'), 'graph: kind badge');
  check(!(await page.getByText(/stops working on/).isVisible()), 'graph: no deadline banner on Graph');
  check(await page.getByRole('button', { name: 'Disconnect Office 365' }).isVisible(), 'graph: Disconnect Office 365 offered');
  check(await page.getByRole('button', { name: 'Disconnect Exchange' }).isVisible(), 'graph: Disconnect Exchange offered while a legacy connection exists');
  await shot(page, 'tab-user-connected.png');
  const background = (name: string) => page.getByRole('button', { name, exact: true }).evaluate((el) => getComputedStyle(el).backgroundColor);
  check((await background('Connect Office 365')) === (await background('Test connection')), 'graph: Connect is not the primary action when connected');
  await page.getByRole('button', { name: 'Test connection' }).click();
  check(await visible(page, 'Could not read your Microsoft To Do lists: Tasks.ReadWrite was not granted.'), 'graph: failing probe shown with its message');
  check(await visible(page, 'Missing permissions'), 'graph: state updated from the test');
  check(
    mock.calls.some((c) => c.method === 'POST' && c.path === '/api/me/connection/test'),
    'graph: test posted',
  );
  await shot(page, 'tab-user-test.png');
  await page.close();
}

async function admin(context: BrowserContext, origin: string, now: Date, dark = false) {
  const page = await newPage(context);
  if (dark) await page.emulateMedia({ colorScheme: 'dark' });
  let testBody: string | null = null;
  const mock = await mockApi(page, origin, {
    'GET /api/me': () => ({ json: fx.meFor('admin') }),
    'GET /api/me/connection': () => ({ json: fx.graphConnection(now) }),
    'GET /api/admin/summary': () => ({ json: fx.summary(now) }),
    'GET /api/admin/domains': () => ({ json: fx.domains }),
    'PUT /api/admin/domains': (req) => {
      const body = JSON.parse(req.postData() ?? '{}') as { domains: string[] };
      return { json: { domains: body.domains, suggestions: fx.domains.suggestions } };
    },
    'GET /api/admin/service-account': () => ({ json: fx.serviceAccount(now) }),
    'POST /api/admin/service-account/test': (req) => {
      testBody = req.postData();
      return { json: fx.failingTest(now) };
    },
    'GET /api/admin/permissions': () => ({ json: fx.permissions(now) }),
    'GET /api/admin/connections': (_req, url) => ({ json: fx.connectionsPage(now, url.searchParams) }),
    'POST /api/admin/connections/import': () => ({
      status: 400,
      json: {
        error: {
          code: 'VALIDATION_FAILED',
          message: 'line 3: kind "exchange" must be one of ews-basic, ews-oauth, graph-delegated, graph-app',
          remedy: 'Correct the field named in the message and try again.',
        },
      },
    }),
    'GET /api/admin/audit': () => ({ json: fx.audit(now) }),
    'GET /api/admin/checks/latest': () => ({ json: fx.latestCheck(now) }),
    'GET /api/admin/campaign': () => ({ json: fx.campaign() }),
    'GET /api/admin/connections/history': (_req, url) => ({ json: fx.history(now, url.searchParams.get('upn') ?? '') }),
  });
  await page.goto(`${origin}/tab/#organisation`);
  check(await visible(page, 'Users needing action'), 'admin: summary tiles');
  check(await visible(page, '131'), 'admin: users needing action count');
  const secret = page.getByLabel('Client secret');
  check((await secret.getAttribute('type')) === 'password', 'admin: secret is a password field');
  check((await secret.getAttribute('placeholder')) === '•••• (saved, starts with abc)', 'admin: saved-secret placeholder');
  check(await visible(page, 'not the Secret ID'), 'admin: Secret Value vs Secret ID help');
  check(await page.getByRole('checkbox', { name: /Task Sync/ }).isDisabled(), 'admin: Task Sync disabled for the service account');
  check(await visible(page, 'Alex Wilber'), 'admin: users table');

  if (!dark) {
    await shot(page, 'tab-admin.png');

    // Pasting a Secret ID is caught before anything is sent.
    await secret.fill('3f2b6c1d-8e4a-4b7f-9c2d-1a0e5f6b7c8d');
    await page.getByRole('button', { name: 'Run test' }).click();
    check(await visible(page, 'The client secret looks like the Secret ID, not the Secret Value.'), 'admin: Secret ID caught inline');
    check(testBody === null, 'admin: nothing sent for a Secret ID');
    await secret.fill('');

    // Run the test of the unsaved form: the body carries the form, without a secret (kept server side).
    await page.getByLabel('Test mailbox').fill('sync-test2@contoso.com');
    await page.getByRole('button', { name: 'Run test' }).click();
    check(await visible(page, /The test failed: 2 steps need fixing/), 'admin: test verdict');
    check(await visible(page, 'Calendar Sync and Calendar Scheduling need Calendars.ReadWrite'), 'admin: failing step message');
    check(await visible(page, 'Check the permissions are of type Application'), 'admin: failing step remedy');
    const sent = JSON.parse(testBody ?? '{}') as Record<string, unknown>;
    check(
      sent.testAccount === 'sync-test2@contoso.com' && !('clientSecret' in sent) && sent.clientId === fx.serviceAccount(now).serviceAccount?.clientId,
      'admin: test body is the current form',
    );
    await page.getByRole('heading', { name: 'Service account' }).evaluate((el) => el.scrollIntoView({ block: 'start' }));
    await shot(page, 'tab-admin-test.png');

    // Domains: a suggestion chip adds it; an invalid name is refused inline.
    await page.getByRole('button', { name: 'Add suggested domain northwind.contoso.com' }).click();
    await page.getByLabel('Add a domain').fill('not a domain');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    check(await visible(page, 'is not a valid domain name'), 'admin: invalid domain refused inline');
    await page.getByRole('button', { name: 'Save domains' }).click();
    check(await visible(page, 'Domains saved.'), 'admin: domains saved');
    const put = mock.calls.find((c) => c.method === 'PUT' && c.path === '/api/admin/domains');
    check(put?.body === JSON.stringify({ domains: ['contoso.com', 'fabrikam.com', 'northwind.contoso.com'] }), 'admin: PUT domains body');

    // Users: load more, filter, import error with its line number.
    await page.getByRole('button', { name: 'Load more' }).click();
    check(await visible(page, 'Lynne Robbins'), 'admin: load more appends the next page');
    await page.getByRole('combobox', { name: 'State' }).click();
    await page.getByRole('option', { name: 'Needs reconnect' }).click();
    check(await eventually(() => mock.calls.some((c) => c.path === '/api/admin/connections?state=needs-reconnect')), 'admin: state filter sent');
    await page.getByRole('searchbox').fill('diego');
    check(
      await eventually(() => mock.calls.some((c) => c.path === '/api/admin/connections?state=needs-reconnect&search=diego')),
      'admin: search sent (debounced)',
    );
    check(await visible(page, 'Diego Siciliani'), 'admin: filtered row shown');
    await page.getByRole('button', { name: 'History of diego.siciliani@contoso.com' }).click();
    const historyDialog = page.getByRole('dialog', { name: 'History of Diego Siciliani' });
    check(await visible(historyDialog, /^The user$/), 'admin: history dialog says who found or made each change');
    check(
      await visible(historyDialog, /^Removed when someone else signed in with this address\.$/),
      'admin: history dialog says why the product removed what a previous owner of the address left',
    );
    check(
      mock.calls.some((c) => c.path === '/api/admin/connections/history?upn=diego.siciliani%40contoso.com'),
      'admin: history asked for the row’s user',
    );
    await shot(page, 'tab-admin-history.png');
    await historyDialog.getByRole('button', { name: 'Close' }).click();
    check(
      await page
        .getByText('Alex Wilber')
        .waitFor({ state: 'hidden', timeout: 10_000 })
        .then(
          () => true,
          () => false,
        ),
      'admin: filtered-out rows gone',
    );
    check(!(await page.getByRole('button', { name: 'Load more' }).isVisible()), 'admin: no Load more on the last page');
    const csv = page.getByRole('link', { name: 'Export CSV' });
    check((await csv.getAttribute('href')) === '/api/admin/connections.csv?state=needs-reconnect&search=diego', 'admin: CSV export follows the filters');
    await page.setInputFiles('input[type=file]', {
      name: 'legacy.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from('upn,kind\nadele.vance@contoso.com,ews-basic\nx@contoso.com,exchange\n'),
    });
    check(await visible(page, 'line 3: kind "exchange" must be one of'), 'admin: import error names the line');
    const imp = mock.calls.find((c) => c.path === '/api/admin/connections/import');
    check(imp?.headers['content-type'] === 'text/csv', 'admin: import sent as text/csv');
    await shot(page, 'tab-admin-full.png', true);
  } else {
    check((await page.locator('[data-theme="dark"]').count()) === 1, 'dark: dark theme applied from the OS setting');
    await shot(page, 'tab-admin-dark.png');
  }
  await page.close();
}

async function authEnd(context: BrowserContext, origin: string) {
  const page = await newPage(context);
  await page.goto(`${origin}/auth/end?status=failure&code=ACCOUNT_MISMATCH`);
  check(await visible(page, 'You consented with a different account'), 'auth-end: failure explained in a plain window');
  check((await page.getByRole('link', { name: 'Back to Connection Center' }).getAttribute('href')) === '/tab/', 'auth-end: link back to /tab/');
  await shot(page, 'tab-auth-end.png');
  await page.goto(`${origin}/auth/end?status=success`);
  check(await visible(page, 'Office 365 is connected.'), 'auth-end: success in a plain window');
  await page.close();
}

async function teamsHost(context: BrowserContext, origin: string, now: Date) {
  const page = await newPage(context);
  let connected = false;
  const mock = await mockApi(
    page,
    origin,
    {
      'GET /api/me': () => ({ json: { ...fx.meFor('user'), auth: 'sso', csrfToken: undefined, sandbox: false } }),
      'GET /api/me/connection': () => ({ json: connected ? fx.graphConnection(now) : fx.ewsConnection(now) }),
      'POST /api/me/connect': () => {
        connected = true;
        // teams-js only opens https URLs, as a real TAB_ENDPOINT is.
        return { json: { url: 'https://cc.example.test/auth/start?t=one-time' } };
      },
    },
    'sso',
  );
  await page.goto(`${origin}/host.html?theme=dark`);
  const tab = page.frameLocator('#tab');
  const inTab = (text: string | RegExp) =>
    tab
      .getByText(text)
      .first()
      .waitFor({ timeout: 10_000 })
      .then(
        () => true,
        () => false,
      );
  check(await inTab(/Exchange Web Services stops working on/), 'teams: user view loads with the SSO token');
  check(!(await tab.getByText('Local preview').isVisible()), 'teams: no local-preview banner inside the host');
  check(!(await tab.getByRole('button', { name: 'Sign out' }).isVisible()), 'teams: no Sign out inside the host');
  check((await tab.locator('[data-theme="dark"]').count()) === 1, 'teams: host dark theme applied');
  await shot(page, 'tab-dark.png');

  await page.evaluate(() => (window as unknown as { setHostTheme: (t: string) => void }).setHostTheme('contrast'));
  check(
    await tab
      .locator('[data-theme="contrast"]')
      .waitFor({ timeout: 5_000 })
      .then(
        () => true,
        () => false,
      ),
    'teams: theme change handler switches to high contrast',
  );
  await shot(page, 'tab-contrast.png');
  await page.evaluate(() => (window as unknown as { setHostTheme: (t: string) => void }).setHostTheme('default'));

  await tab.getByRole('button', { name: 'Connect Office 365', exact: true }).click();
  check(await inTab('Office 365 is connected.'), 'teams: popup success refetches and confirms');
  const connect = mock.calls.find((c) => c.path === '/api/me/connect');
  check(connect?.body === JSON.stringify({ mode: 'popup' }), 'teams: connect asks for popup mode');
  const calls = (await page.evaluate(() => (window as unknown as { hostCalls: Array<{ from: string; func: string; args: unknown[] }> }).hostCalls)) ?? [];
  const auth = calls.find((c) => c.func === 'authentication.authenticate');
  check(
    calls.some((c) => c.from === 'popup' && c.func === 'authentication.authenticate.success'),
    'teams: /auth/end in the popup called notifySuccess',
  );
  check(
    auth?.args[0] === 'https://cc.example.test/auth/start?t=one-time' && auth?.args[1] === 600 && auth?.args[2] === 535,
    'teams: authenticate opened with the start URL, 600×535',
  );
  await page.close();

  // The popup reports a failure code: its catalogue text is shown.
  const failing = await newPage(context);
  await mockApi(
    failing,
    origin,
    {
      'GET /api/me': () => ({ json: { ...fx.meFor('user'), auth: 'sso', csrfToken: undefined } }),
      'GET /api/me/connection': () => ({ json: fx.ewsConnection(now) }),
      'POST /api/me/connect': () => ({ json: { url: 'https://cc.example.test/auth/start?t=one-time' } }),
    },
    'sso',
  );
  await failing.goto(`${origin}/host.html?auth=ADMIN_APPROVAL_REQUIRED`);
  const tab2 = failing.frameLocator('#tab');
  await tab2.getByRole('button', { name: 'Connect Office 365', exact: true }).click();
  check(
    await tab2
      .getByText('Your organisation requires an administrator to approve this app.')
      .waitFor({ timeout: 10_000 })
      .then(
        () => true,
        () => false,
      ),
    'teams: popup failure code shown with its catalogue text',
  );
  const failCalls =
    (await failing.evaluate(() => (window as unknown as { hostCalls: Array<{ from: string; func: string; args: unknown[] }> }).hostCalls)) ?? [];
  check(
    failCalls.some((c) => c.from === 'popup' && c.func === 'authentication.authenticate.failure' && c.args[0] === 'ADMIN_APPROVAL_REQUIRED'),
    'teams: /auth/end in the popup called notifyFailure with the code',
  );
  await failing.close();
}

async function foreignFrame(context: BrowserContext, origin: string) {
  const page = await newPage(context);
  await mockApi(page, origin, { 'GET /api/me': () => ({ status: 401, json: { error: fx.errorOf('INVALID_TOKEN') } }) });
  await page.goto(`${origin}/frame.html`);
  const frame = page.frameLocator('iframe');
  const shown = await frame
    .getByText('Local preview — not running inside Teams')
    .waitFor({ timeout: 10_000 })
    .then(
      () => true,
      () => false,
    );
  check(shown, 'iframe: host detection times out in a foreign frame and falls back to browser mode');
  await page.close();
}

async function main() {
  if (!existsSync(join(DIST, 'index.html'))) {
    console.error('tab/dist is missing: run `npm run build:tab` first.');
    process.exit(2);
  }
  mkdirSync(SHOTS, { recursive: true });
  const { server, origin } = await startStatic();
  const profile = mkdtempSync(join(tmpdir(), 'cc-tab-preview-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: VIEWPORT,
  });
  const now = new Date();
  try {
    await signInScreen(context, origin);
    await ewsUser(context, origin, now);
    await narrow(context, origin, now);
    await graphUser(context, origin, now);
    await admin(context, origin, now);
    await admin(context, origin, now, true);
    await teamsHost(context, origin, now);
    await authEnd(context, origin);
    await foreignFrame(context, origin);
  } finally {
    await context.close();
    server.close();
    rmSync(profile, { recursive: true, force: true });
  }
  if (failures.length) {
    console.error(`\n${failures.length} problem(s):\n- ${failures.join('\n- ')}`);
    process.exit(1);
  }
  console.log('\nall checks passed');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
