/**
 * Headless Chromium for the e2e tests: Debian's chromium through playwright-core (nothing to
 * download), one fresh temporary profile per browser, page errors collected so a test can insist
 * on none, and the sign-in round trip through the sandbox's own pages, clicked as a person would.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { TestProduct } from './product';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/**
 * docs/screenshots when refreshing the committed pictures (`UPDATE_DOCS=1 npm test`); otherwise a temp
 * folder, so a test run leaves the work tree clean (the pictures carry times and would always differ).
 */
export const SCREENSHOTS_DIR =
  process.env.UPDATE_DOCS === '1' ? resolve(__dirname, '..', '..', 'docs', 'screenshots') : join(tmpdir(), 'connection-center-screenshots');
/** Upper bound for one thing to appear; generous because CI machines are slow, never a delay. */
export const UI_TIMEOUT_MS = 20_000;

export interface TestBrowser {
  context: BrowserContext;
  /** Uncaught page errors and console errors seen so far, on every page of this browser. */
  problems: string[];
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** A browser with its own fresh profile (no cookies, no cache), removed again on close. */
export async function openBrowser(): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'cc-e2e-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      locale: 'en-GB',
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const problems: string[] = [];
  const watch = (page: Page) => {
    page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
    page.on('console', (m) => {
      // A 401 before sign-in is a normal answer that Chromium reports as a failed resource.
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console error on ${page.url()}: ${m.text()}`);
    });
  };
  context.on('page', watch);
  context.pages().forEach(watch);
  return {
    context,
    problems,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** http://localhost:PORT — the product's public base (TAB_ENDPOINT): cookies and redirect URIs use it. */
export function publicOrigin(product: TestProduct): string {
  return `http://localhost:${product.port}`;
}

/** Waits until the page is at `pathname` on `origin` (any query), e.g. back from the sandbox. */
export async function waitForPath(page: Page, origin: string, pathname: string): Promise<void> {
  await page.waitForURL((u) => u.origin === origin && u.pathname === pathname, { timeout: UI_TIMEOUT_MS });
}

/**
 * Opens the tab signed out, clicks "Sign in with your work account", picks `upn` on the sandbox's
 * account picker, accepts the sign-in consent page if the sandbox shows one, and waits for the tab
 * to show the signed-in user.
 */
export async function signIn(page: Page, product: TestProduct, upn: string): Promise<void> {
  const origin = publicOrigin(product);
  await page.goto(`${origin}/tab/`);
  await page.getByRole('link', { name: 'Sign in with your work account' }).click({ timeout: UI_TIMEOUT_MS });
  await page.waitForURL((u) => u.origin === product.sandbox.pagesOrigin, { timeout: UI_TIMEOUT_MS });
  await page.getByRole('heading', { name: 'Pick an account' }).waitFor({ timeout: UI_TIMEOUT_MS });
  await page.getByRole('button', { name: upn }).click();
  // Signing in to the app itself may first need the basic OpenID scopes consented: the sandbox then
  // answers the account choice (a form post to /_sandbox/signin) with its consent page instead of
  // sending the browser back.
  const isTab = (u: URL) => u.origin === origin && u.pathname === '/tab/';
  await page.waitForURL((u) => isTab(u) || (u.origin === product.sandbox.pagesOrigin && u.pathname.startsWith('/_sandbox/')), { timeout: UI_TIMEOUT_MS });
  if (!isTab(new URL(page.url()))) {
    await page.getByRole('heading', { name: 'Permissions requested' }).waitFor({ timeout: UI_TIMEOUT_MS });
    await page.getByRole('button', { name: 'Accept' }).click();
    await waitForPath(page, origin, '/tab/');
  }
  await page.getByText(upn, { exact: true }).first().waitFor({ timeout: UI_TIMEOUT_MS });
}

/**
 * Screenshot to docs/screenshots/<name>, animations finished first: the whole page, or only the
 * band of the page that holds the given elements (with a margin), so the picture shows what matters.
 */
export async function screenshot(page: Page, name: string, options: { of?: Locator[] } = {}): Promise<string> {
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const path = join(SCREENSHOTS_DIR, name);
  let clip: { x: number; y: number; width: number; height: number } | undefined;
  if (options.of?.length) {
    // At the top of the page, bounding boxes are page coordinates, as a full-page clip wants.
    await page.evaluate(() => window.scrollTo(0, 0));
    const boxes = await Promise.all(options.of.map((l) => l.boundingBox()));
    if (boxes.some((b) => b === null)) throw new Error(`screenshot ${name}: an element to show is not visible`);
    const margin = 16;
    const top = Math.max(0, Math.min(...boxes.map((b) => b!.y)) - margin);
    const bottom = Math.max(...boxes.map((b) => b!.y + b!.height)) + margin;
    const left = Math.max(0, Math.min(...boxes.map((b) => b!.x)) - margin);
    const right = Math.max(...boxes.map((b) => b!.x + b!.width)) + margin;
    clip = { x: left, y: top, width: right - left, height: bottom - top };
  }
  await page.screenshot({ path, fullPage: true, animations: 'disabled', caret: 'hide', ...(clip ? { clip } : {}) });
  return path;
}
