/**
 * The admin side in a real browser: headless Chromium against the whole product and the sandbox
 * tenant. The admin defines a domain, fills in the service account, runs the test, sees what is
 * wrong and how to fix it, fixes it in the tenant, re-runs, saves, and reads the permission matrix.
 */
import type { Locator, Page } from 'playwright-core';
import type { ServiceAccountTestResponse } from '../../src/contract';
import { FEATURE_LABELS } from '../../src/domain/features';
import { openBrowser, publicOrigin, screenshot, signIn, UI_TIMEOUT_MS, type TestBrowser } from '../helpers/browser';
import { startTestProduct, type TestProduct } from '../helpers/product';

jest.setTimeout(120_000);

const ADELE = 'adele.vance@contoso.com';
const MEGAN = 'megan.bowen@contoso.com';
const SERVICE_ACCOUNT = {
  clientId: '66193c42-2023-423c-acba-f7f851f7f085',
  secretValue: 'demo-sync-2026-sandbox-only-value',
};
const ALL_ROLES = ['Mail.Read', 'Mail.ReadWrite', 'Calendars.Read', 'Calendars.ReadWrite'];

describe('tab in a browser: an admin sets up and tests the service account', () => {
  let product: TestProduct;

  beforeAll(async () => {
    product = await startTestProduct();
  });
  afterAll(async () => {
    await product?.close();
  });

  const section = (page: Page, title: string) => page.getByRole('region', { name: title, exact: true });

  /** Clicks Run test; returns the results region once this run's verdict shows, and what the server answered. */
  const runTest = async (page: Page, form: Locator): Promise<{ results: Locator; body: ServiceAccountTestResponse }> => {
    const answered = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/api/admin/service-account/test', {
      timeout: UI_TIMEOUT_MS,
    });
    await form.getByRole('button', { name: 'Run test' }).click();
    const response = await answered;
    expect(response.status()).toBe(200);
    const body = (await response.json()) as ServiceAccountTestResponse;
    const results = form.getByRole('region', { name: 'Test results' });
    await results.getByText(/^The test (passed|failed)/).waitFor({ timeout: UI_TIMEOUT_MS });
    return { results, body };
  };

  describe('the admin', () => {
    let browser: TestBrowser;
    beforeAll(async () => {
      browser = await openBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('runs the test, sees the failing step and its remedy, fixes the grant, re-runs, saves and sees every feature available', async () => {
      // The seed grants the service account only Mail.Read + Calendars.Read.
      product.sandbox.control.setAppRoles({ roles: ['Mail.Read', 'Calendars.Read'] });
      const page = await browser.newPage();
      await signIn(page, product, ADELE);
      await page.getByText('Admin', { exact: true }).waitFor();
      await page.getByRole('tab', { name: 'Organisation' }).click();
      await page.getByRole('tabpanel').getByText('Users needing action').first().waitFor({ timeout: UI_TIMEOUT_MS });
      expect(page.url()).toBe(`${publicOrigin(product)}/tab/#organisation`);

      // Domains first: the service account cannot be saved without one.
      const domains = section(page, 'Mail domains');
      await domains.getByText('No domains yet.').waitFor({ timeout: UI_TIMEOUT_MS });
      await domains.getByLabel('Add a domain').fill('contoso.com');
      await domains.getByRole('button', { name: 'Add', exact: true }).click();
      await domains.getByRole('button', { name: 'Save domains' }).click();
      await domains.getByText('Domains saved.').waitFor({ timeout: UI_TIMEOUT_MS });
      expect((await product.call('GET', '/api/admin/domains', { token: await product.ssoToken(ADELE) })).body.domains).toEqual(['contoso.com']);

      const account = section(page, 'Service account');
      const form = account.getByRole('form', { name: 'Service account' });
      await form.getByLabel('Tenant').fill('contoso.com');
      await form.getByLabel('Application (client) ID').fill(SERVICE_ACCOUNT.clientId);
      await form.getByLabel('Client secret').fill(SERVICE_ACCOUNT.secretValue);
      await form.getByLabel('Test mailbox').fill(MEGAN);
      // Email Sync + Calendar Sync only.
      for (const [label, on] of [
        ['Email Sync', true],
        ['Calendar Sync', true],
        ['Calendar Scheduling', false],
      ] as const) {
        const box = form.getByRole('checkbox', { name: label, exact: true });
        if ((await box.isChecked()) !== on) await box.click();
        expect(await box.isChecked()).toBe(on);
      }
      expect(await form.getByRole('checkbox', { name: /^Task Sync/ }).isChecked()).toBe(false);

      const { results: failing, body: failed } = await runTest(page, form);
      expect(failed.ok).toBe(false);
      const missing = failed.steps.find((x) => x.code === 'PERMISSION_MISSING');
      expect(missing).toMatchObject({ status: 'failed', message: expect.stringContaining('Mail.ReadWrite'), remedy: expect.any(String) });
      await failing.getByText(/^The test failed: \d+ steps? needs? fixing\.$/).waitFor();
      const failedStep = failing.locator('li[data-status="failed"]').filter({ hasText: 'Code: PERMISSION_MISSING' });
      expect(await failedStep.count()).toBe(1);
      await failedStep.getByText(missing!.message, { exact: true }).waitFor();
      expect(await failedStep.getByText('How to fix:').locator('..').textContent()).toBe(`How to fix: ${missing!.remedy}`);
      await failing.getByText(`${FEATURE_LABELS.emailSync} — missing Mail.ReadWrite`, { exact: true }).waitFor();
      await screenshot(page, 'e2e-admin-failing.png', { of: [account] });

      // The admin grants the missing permissions in Entra ("Grant admin consent"); here, the sandbox.
      product.sandbox.control.setAppRoles({ roles: ALL_ROLES });
      const { results: passing, body: passed } = await runTest(page, form);
      expect(passed.ok).toBe(true);
      await passing.getByText('The test passed.', { exact: true }).waitFor();
      expect(await passing.locator('li[data-status="failed"]').count()).toBe(0);
      for (const f of ['emailSync', 'calendarSync'] as const) await passing.getByText(`${FEATURE_LABELS[f]} — available`, { exact: true }).waitFor();

      await form.getByRole('button', { name: 'Save', exact: true }).click();
      await form.getByText(/^Service account saved by adele\.vance@contoso\.com/).waitFor({ timeout: UI_TIMEOUT_MS });
      // The secret is write-only: the field is emptied and only its first characters are hinted.
      expect(await form.getByLabel('Client secret').inputValue()).toBe('');
      expect(await form.getByLabel('Client secret').getAttribute('placeholder')).toBe('•••• (saved, starts with dem)');
      expect(await page.content()).not.toContain(SERVICE_ACCOUNT.secretValue);
      expect(product.logs.join('\n')).not.toContain(SERVICE_ACCOUNT.secretValue);

      const matrix = section(page, 'Permission matrix');
      await matrix.getByText(/— passed\.$/).waitFor({ timeout: UI_TIMEOUT_MS });
      const table = matrix.getByRole('table', { name: 'Permission matrix' });
      for (const f of ['emailSync', 'calendarSync'] as const) {
        const row = table.getByRole('row').filter({ has: page.getByRole('cell', { name: FEATURE_LABELS[f], exact: true }) });
        expect(await row.count()).toBe(1);
        await row.getByRole('img', { name: 'Available' }).waitFor();
        expect(await row.getByRole('cell').last().textContent()).toBe('Yes');
      }
      await screenshot(page, 'e2e-admin-passing.png', { of: [account, matrix] });

      // The server agrees with the screen.
      const perms = await product.call('GET', '/api/admin/permissions', { token: await product.ssoToken(ADELE) });
      expect(perms.body).toMatchObject({ ok: true, features: { emailSync: { available: true, missing: [] }, calendarSync: { available: true, missing: [] } } });
      await page.close();
    });

    it('the pages logged no errors', () => {
      expect(browser.problems).toEqual([]);
    });
  });

  describe('a user who is not an admin', () => {
    let browser: TestBrowser;
    beforeAll(async () => {
      browser = await openBrowser();
    });
    afterAll(async () => {
      await browser?.close();
    });

    it('does not see the Organisation tab, even when asking for it by address', async () => {
      const page = await browser.newPage();
      await signIn(page, product, MEGAN);
      await page.goto(`${publicOrigin(product)}/tab/#organisation`);
      await page.getByRole('button', { name: 'Connect Office 365', exact: true }).waitFor({ timeout: UI_TIMEOUT_MS });
      expect(await page.getByRole('tab', { name: 'Organisation' }).count()).toBe(0);
      expect(await page.getByRole('tablist').count()).toBe(0);
      expect(await page.getByRole('region', { name: 'Service account' }).count()).toBe(0);
      expect(await page.getByText('Admin', { exact: true }).count()).toBe(0);

      // Her session cookie does not open the admin API either.
      const res = await page.request.get(`${publicOrigin(product)}/api/admin/summary`);
      expect(res.status()).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('ADMIN_ROLE_REQUIRED');
      await page.close();
    });

    it('the pages logged no errors', () => {
      expect(browser.problems).toEqual([]);
    });
  });
});
