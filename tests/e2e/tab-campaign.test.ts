/**
 * The reconnect campaign from the admin view, in headless Chromium against the product and the
 * sandbox: the admin starts it, the funnel shows who was reached and who cannot be (with the fix),
 * and the sandbox's Teams stand-in holds the nudges the users received.
 */
import type { Page } from 'playwright-core';
import { openBrowser, screenshot, signIn, UI_TIMEOUT_MS, type TestBrowser } from '../helpers/browser';
import { startTestProduct, type TestProduct } from '../helpers/product';

jest.setTimeout(120_000);

const ADELE = 'adele.vance@contoso.com';

let product: TestProduct;
let browser: TestBrowser;

beforeAll(async () => {
  product = await startTestProduct();
  browser = await openBrowser();
});
afterAll(async () => {
  await browser?.close();
  await product?.close();
});

const stage = (page: Page, label: string) => page.getByRole('list', { name: 'Campaign funnel' }).getByRole('listitem', { name: new RegExp(`^${label}: `) });

test('an admin starts the campaign in the tab and sees the funnel, with who cannot be reached and why', async () => {
  // The product may install its bot; one user's app permission policy blocks it.
  product.sandbox.control.setAppRoles({ clientId: product.identity.clientId, roles: ['TeamsAppInstallation.ReadWriteSelfForUser.All', 'AppCatalog.Read.All'] });
  product.sandbox.teams.setAppBlocked({ upn: 'alex.wilber@contoso.com', blocked: true });

  const page = await browser.newPage();
  await signIn(page, product, ADELE);
  await page.getByRole('tab', { name: 'Organisation' }).click();
  const panel = page.getByRole('region', { name: 'Reconnect campaign', exact: true });
  await panel.getByText('No campaign yet.').waitFor({ timeout: UI_TIMEOUT_MS });

  const answered = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/admin/campaign', {
    timeout: UI_TIMEOUT_MS,
  });
  await panel.getByRole('button', { name: 'Start campaign' }).click();
  expect((await answered).status()).toBe(200);
  await panel.getByText('Running', { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });

  await stage(page, 'Targeted').getByText('9', { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
  await stage(page, 'Bot installed').getByText('8', { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
  await stage(page, 'Nudged').getByText('8', { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
  await panel.getByText('1 user cannot be reached').waitFor({ timeout: UI_TIMEOUT_MS });
  await panel
    .getByText(/Teams app permission policy/)
    .first()
    .waitFor({ timeout: UI_TIMEOUT_MS });
  await panel.getByRole('table', { name: 'Campaign funnel per day' }).waitFor({ timeout: UI_TIMEOUT_MS });
  await screenshot(page, 'e2e-admin-campaign.png', { of: [panel] });

  // What the users received, as the sandbox's Teams shows it (cards rendered by adaptivecards).
  await product.bot.notifier.drain();
  const teams = await browser.newPage();
  await teams.goto(product.sandbox.teams.pageUrl);
  const megan = teams.locator('section[data-upn="megan.bowen@contoso.com"]');
  await megan.getByText('Megan, please reconnect your mailbox').waitFor({ timeout: UI_TIMEOUT_MS });
  await megan.getByText('Welcome to Connection Center').waitFor({ timeout: UI_TIMEOUT_MS });
  expect(await teams.locator('section[data-upn="alex.wilber@contoso.com"]').count()).toBe(0);
  await screenshot(teams, 'e2e-sandbox-teams.png', { of: [megan] });
});
