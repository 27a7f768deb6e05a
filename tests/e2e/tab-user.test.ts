/**
 * The user reconnect in a real browser: headless Chromium against the whole product and the sandbox
 * tenant, signing in and consenting on the sandbox's own pages.
 */
import type { Page } from 'playwright-core';
import type { ConnectionResponse } from '../../src/contract';
import { KIND_LABELS, STATE_LABELS } from '../../src/domain/connection';
import { DEADLINE_HEADLINES } from '../../src/domain/deadlines';
import { ERROR_CATALOGUE } from '../../src/domain/errors';
import { FEATURE_LABELS, FEATURES } from '../../src/domain/features';
import { daysLeftText, formatDay } from '../../tab/src/format';
import { openBrowser, publicOrigin, screenshot, signIn, UI_TIMEOUT_MS, waitForPath, type TestBrowser } from '../helpers/browser';
import { startTestProduct, type TestProduct } from '../helpers/product';

jest.setTimeout(120_000);

const MEGAN = 'megan.bowen@contoso.com';
const LIDIA = 'lidia.holloway@contoso.com';

describe('tab in a browser: a user reconnects to Office 365', () => {
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

  const connectionOf = async (upn: string): Promise<ConnectionResponse> => {
    const res = await product.call('GET', '/api/me/connection', { token: await product.ssoToken(upn) });
    expect(res.status).toBe(200);
    return res.body as ConnectionResponse;
  };

  const feature = (page: Page, label: string, availability: 'available' | 'unavailable') =>
    page.getByRole('list', { name: 'Features' }).getByText(`${label} — ${availability}`, { exact: true });

  /** On the sandbox consent page: the person reads the permissions and clicks a button. */
  const onConsentPage = async (page: Page) => {
    await page.waitForURL((u) => u.origin === product.sandbox.pagesOrigin, { timeout: UI_TIMEOUT_MS });
    await page.getByRole('heading', { name: 'Permissions requested' }).waitFor({ timeout: UI_TIMEOUT_MS });
    return page.getByRole('list');
  };

  it('an ews-basic user sees the deadline, connects Office 365 on the consent page and ends up connected', async () => {
    // The sandbox shows its real pages only to users without a preset decision.
    product.sandbox.control.setConsent({ upn: MEGAN, decision: null });
    const before = await connectionOf(MEGAN);
    expect(before.connection.kind).toBe('ews-basic');
    const deadline = before.deadline!;
    expect(deadline).toBeDefined();

    const page = await browser.newPage();
    await signIn(page, product, MEGAN);

    const headline = `${DEADLINE_HEADLINES[deadline.id]} on ${formatDay(deadline.date)} — ${daysLeftText(deadline.daysLeft)}`;
    await page.getByText(headline, { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(deadline.daysLeft).toBeGreaterThan(0);
    await page.getByText(KIND_LABELS['ews-basic'], { exact: true }).waitFor();
    await page.getByText('Megan Bowen', { exact: true }).waitFor();
    expect(await page.getByRole('button', { name: 'Test connection' }).count()).toBe(0);
    expect(await page.getByRole('tab', { name: 'Organisation' }).count()).toBe(0);
    await screenshot(page, 'e2e-user-before.png');

    await page.getByRole('button', { name: 'Connect Office 365', exact: true }).click();
    const perms = await onConsentPage(page);
    for (const scope of ['Mail.ReadWrite', 'Calendars.ReadWrite', 'Tasks.ReadWrite']) await perms.getByText(scope, { exact: true }).waitFor();
    await page.getByText(MEGAN, { exact: true }).waitFor();
    await screenshot(page, 'e2e-user-consent.png');
    await page.getByRole('button', { name: 'Accept' }).click();

    await waitForPath(page, publicOrigin(product), '/tab/');
    await page.getByText('Office 365 is connected.', { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByText(KIND_LABELS['graph-delegated'], { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByText(STATE_LABELS.connected, { exact: true }).waitFor();
    for (const f of FEATURES) await feature(page, FEATURE_LABELS[f], 'available').waitFor();
    expect(await page.getByText(headline).count()).toBe(0);
    expect(page.url()).toBe(`${publicOrigin(product)}/tab/`);
    await screenshot(page, 'e2e-user-after.png');

    // The server agrees with the screen.
    const after = await connectionOf(MEGAN);
    expect(after.connection).toMatchObject({ kind: 'graph-delegated', state: 'connected' });

    await page.getByRole('button', { name: 'Test connection' }).click();
    const results = page.getByRole('list', { name: 'Test results' });
    await results.waitFor({ timeout: UI_TIMEOUT_MS });
    const items = results.getByRole('listitem');
    const count = await items.count();
    expect(count).toBeGreaterThanOrEqual(FEATURES.length);
    for (let i = 0; i < count; i++) {
      expect(await items.nth(i).getByRole('img', { name: 'Passed' }).count()).toBe(1);
      expect(await items.nth(i).textContent()).toMatch(/— passed/);
    }
    expect(await results.getByText(/— failed/).count()).toBe(0);
    for (const f of FEATURES) expect(await results.getByText(`${FEATURE_LABELS[f]} — passed`, { exact: true }).count()).toBeGreaterThan(0);
    await screenshot(page, 'e2e-user-test.png');
    await page.close();
  });

  it('a user who cancels on the consent page is told consent was not given and what to do', async () => {
    product.sandbox.control.setConsent({ upn: LIDIA, decision: null });
    const before = await connectionOf(LIDIA);
    const page = await browser.newPage();
    // A fresh session: the previous test's cookie belongs to Megan.
    await browser.context.clearCookies();
    await signIn(page, product, LIDIA);
    await page.getByRole('button', { name: 'Connect Office 365', exact: true }).click();
    await onConsentPage(page);
    await page.getByRole('button', { name: 'Cancel' }).click();

    await waitForPath(page, publicOrigin(product), '/tab/');
    const entry = ERROR_CATALOGUE.USER_CONSENT_REQUIRED;
    const bar = page.locator('[data-code="USER_CONSENT_REQUIRED"]');
    await bar.getByText(entry.message, { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    await bar.getByText(entry.remedy, { exact: true }).waitFor();
    await page.getByText(KIND_LABELS['ews-basic'], { exact: true }).waitFor();
    expect(new URL(page.url()).search).toBe('');
    expect(await connectionOf(LIDIA)).toEqual(before);
    await screenshot(page, 'e2e-user-declined.png');
    await page.close();
  });

  it('a crafted link cannot put its own address into the admin-consent remedy: the tab shows the one the server built', async () => {
    const page = await browser.newPage();
    await browser.context.clearCookies();
    await signIn(page, product, LIDIA);
    const origin = publicOrigin(product);
    const crafted = new URL(`${origin}/tab/`);
    crafted.searchParams.set('connect', 'failure');
    crafted.searchParams.set('code', 'ADMIN_APPROVAL_REQUIRED');
    crafted.searchParams.set('adminConsentUrl', 'https://evil.example/adminconsent');
    await page.goto(crafted.toString());
    const bar = page.locator('[data-code="ADMIN_APPROVAL_REQUIRED"]');
    await bar.getByText(ERROR_CATALOGUE.ADMIN_APPROVAL_REQUIRED.message, { exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
    const { adminConsentUrl } = await connectionOf(LIDIA);
    expect(adminConsentUrl).toMatch(/\/adminconsent\?client_id=/);
    await bar.getByText(adminConsentUrl, { exact: false }).waitFor({ timeout: UI_TIMEOUT_MS });
    expect(await page.content()).not.toContain('evil.example');
    expect(new URL(page.url()).search).toBe('');
    await page.close();
  });

  it('the pages logged no errors', () => {
    expect(browser.problems).toEqual([]);
  });
});
