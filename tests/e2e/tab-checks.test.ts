/**
 * Health checks in a real browser: an admin presses "Check all now", follows the run's progress and
 * reads what changed (a user whose grant was revoked now needs to reconnect), then that user's
 * history from the Users table, where a disconnect shows too.
 */
import { openBrowser, publicOrigin, screenshot, signIn, UI_TIMEOUT_MS, type TestBrowser } from '../helpers/browser';
import { CookieJar } from '../helpers/cookies';
import { startTestProduct, type TestProduct } from '../helpers/product';

jest.setTimeout(120_000);

const ADELE = 'adele.vance@contoso.com';
const MEGAN = 'megan.bowen@contoso.com';
const CONTOSO = '66305621-97b8-41f8-953b-d70d11d91d5b';

/** Megan consents through the product (the sandbox accepts through login_hint). */
async function consent(p: TestProduct, upn: string): Promise<void> {
  const started = await p.call('POST', '/api/me/connect', { token: await p.ssoToken(upn), body: { mode: 'popup' } });
  let url: string = started.body.url;
  // A browser: the consent cookie set by /auth/start goes back with the callback.
  const jar = new CookieJar();
  for (let i = 0; i < 10 && new URL(url).pathname !== '/auth/end'; i++) {
    const res = await jar.fetch(url, [p.url, p.url.replace('127.0.0.1', 'localhost')]);
    url = new URL(res.headers.get('location')!, url).toString();
  }
  expect(new URL(url).searchParams.get('status')).toBe('success');
}

describe('tab in a browser: health checks', () => {
  let product: TestProduct;
  let browser: TestBrowser;

  beforeAll(async () => {
    product = await startTestProduct();
    browser = await openBrowser();
    const admin = await product.ssoToken(ADELE);
    await product.call('PUT', '/api/admin/domains', { token: admin, body: { domains: ['contoso.com'] } });
    const saved = await product.call('PUT', '/api/admin/service-account', {
      token: admin,
      body: {
        tenant: 'contoso.com',
        clientId: '66193c42-2023-423c-acba-f7f851f7f085',
        clientSecret: 'demo-sync-2026-sandbox-only-value',
        testAccount: MEGAN,
        features: ['emailSync', 'calendarSync'],
      },
    });
    expect(saved.status).toBe(200);
    await consent(product, MEGAN);
    // A first run settles the seed's states, so the one in the browser shows only what is new.
    expect((await product.call('POST', '/api/admin/checks', { token: admin })).status).toBe(202);
    await product.checks.settled(CONTOSO);
  });
  afterAll(async () => {
    await browser?.close();
    await product?.close();
  });

  it('shows the run’s changes after "Check all now"', async () => {
    product.sandbox.control.revokeRefreshTokens({ upn: MEGAN });
    const page = await browser.newPage();
    await signIn(page, product, ADELE);
    await page.getByRole('tab', { name: 'Organisation' }).click();
    const checks = page.getByRole('region', { name: 'Health checks', exact: true });
    await checks.getByText(/^Last check /).waitFor({ timeout: UI_TIMEOUT_MS });

    await checks.getByRole('button', { name: 'Check all now' }).click();
    const changes = checks.getByRole('table', { name: 'What changed in the latest check' });
    const row = changes.getByRole('row').filter({ hasText: MEGAN });
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(row.getByText('Connected', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('Needs reconnect', { exact: true }).count()).resolves.toBe(1);
    await checks.getByText(/^Last check /).waitFor({ timeout: UI_TIMEOUT_MS });
    const total = (await product.call('GET', '/api/admin/checks/latest', { token: await product.ssoToken(ADELE) })).body.check.total;
    await checks.getByText(`${total} of ${total} connections checked`).waitFor({ timeout: UI_TIMEOUT_MS });
    await checks.getByRole('button', { name: 'Check all now' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, 'e2e-admin-checks.png', { of: [checks] });
    expect(browser.problems).toEqual([]);
  });

  it("shows a user's history from the Users table", async () => {
    // The browser is still signed in as the admin from the test before.
    const page = await browser.newPage();
    await page.goto(`${publicOrigin(product)}/tab/`);
    await page.getByRole('tab', { name: 'Organisation' }).click({ timeout: UI_TIMEOUT_MS });
    const users = page.getByRole('region', { name: 'Users', exact: true });
    await users
      .getByRole('button', { name: `History of ${MEGAN}` })
      .first()
      .click();
    const dialog = page.getByRole('dialog', { name: 'History of Megan Bowen' });
    const changes = dialog.getByRole('table', { name: `State changes of ${MEGAN}` });
    const row = changes.getByRole('row').filter({ hasText: 'Needs reconnect' }).first();
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(row.getByText('Health check', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('Connected', { exact: true }).count()).resolves.toBe(1);
    await screenshot(page, 'e2e-admin-history.png', { of: [dialog] });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });
    expect(browser.problems).toEqual([]);
  });

  it('shows in the history that the user disconnected, and asks again at each opening', async () => {
    const page = await browser.newPage();
    await page.goto(`${publicOrigin(product)}/tab/`);
    await page.getByRole('tab', { name: 'Organisation' }).click({ timeout: UI_TIMEOUT_MS });
    const users = page.getByRole('region', { name: 'Users', exact: true });
    const open = users.getByRole('button', { name: `History of ${MEGAN}` }).first();
    const dialog = page.getByRole('dialog', { name: 'History of Megan Bowen' });
    await open.click();
    await dialog.getByRole('table', { name: `State changes of ${MEGAN}` }).waitFor({ timeout: UI_TIMEOUT_MS });
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'hidden', timeout: UI_TIMEOUT_MS });

    // Megan lets Office 365 go (in her own tab); her Exchange connection keeps her in the Users table.
    expect((await product.call('DELETE', '/api/me/connection', { token: await product.ssoToken(MEGAN) })).status).toBe(204);
    await open.click();
    const row = dialog.getByRole('row').filter({ hasText: 'Removed by the user.' });
    await row.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(row.getByText('Disconnected', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('Needs reconnect', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('The user', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('Office 365 (Microsoft Graph)', { exact: true }).count()).resolves.toBe(1);
    await screenshot(page, 'e2e-admin-history-disconnected.png', { of: [dialog] });
    expect(browser.problems).toEqual([]);
  });

  it('opens from the audit log the history of a user whose connections are all gone', async () => {
    const DIEGO = 'diego.siciliani@contoso.com';
    // Diego's only connection is removed: he leaves the Users table, his disconnect stays in the audit log.
    expect((await product.call('DELETE', '/api/me/connection', { token: await product.ssoToken(DIEGO) })).status).toBe(204);
    const page = await browser.newPage();
    await page.goto(`${publicOrigin(product)}/tab/`);
    await page.getByRole('tab', { name: 'Organisation' }).click({ timeout: UI_TIMEOUT_MS });
    const audit = page.getByRole('region', { name: 'Audit log', exact: true });
    const entry = audit.getByRole('row').filter({ hasText: 'connection.disconnected' }).filter({ hasText: DIEGO });
    // Entries about anything other than a user's connection offer no history. Checked before the
    // dialog opens: a modal dialog hides the rest of the page from the accessibility tree.
    const domains = audit.getByRole('row').filter({ hasText: 'domains.updated' });
    await domains.waitFor({ timeout: UI_TIMEOUT_MS });
    await expect(domains.count()).resolves.toBe(1);
    await expect(domains.getByRole('button').count()).resolves.toBe(0);
    await entry.getByRole('button', { name: `History of ${DIEGO}` }).click({ timeout: UI_TIMEOUT_MS });

    const dialog = page.getByRole('dialog', { name: `History of ${DIEGO}` });
    await dialog.getByText('No connection now: they have all been removed.').waitFor({ timeout: UI_TIMEOUT_MS });
    const row = dialog.getByRole('row').filter({ hasText: 'Removed by the user.' });
    await expect(row.getByText('Needs reconnect', { exact: true }).count()).resolves.toBe(1);
    await expect(row.getByText('Disconnected', { exact: true }).count()).resolves.toBe(1);
    await screenshot(page, 'e2e-admin-history-from-audit.png', { of: [dialog] });
    expect(browser.problems).toEqual([]);
  });
});
