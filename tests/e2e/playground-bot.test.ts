/**
 * The bot in the Microsoft 365 Agents Playground, all on loopback: a restify server mounting
 * createBot (SQLite in memory, scripted BotServices) and the Playground pointed at it. Driven through
 * the Playground's REST surface and WebSocket, then through its web UI in headless Chromium, which
 * also takes docs/screenshots/playground-testfailed.png.
 */
import { CHROMIUM_ARGS, CHROMIUM_PATH, SCREENSHOTS_DIR } from '../helpers/browser';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { chromium, type Browser } from 'playwright-core';
import contoso from '../../src/sandbox/contoso.json';
import { playgroundConfigYaml, startPlayground } from '../../scripts/playground';
import { cardProblems, cardTexts, fakeServices, openTestStore, startBotServer, testResult, type BotServer, type FakeServices } from '../helpers/bot-kit';

// A browser and the Playground's web UI in one test: on a busy 2-core machine they need more than Jest's default.
jest.setTimeout(90_000);

const ROOT = path.resolve(__dirname, '../..');
const TENANT_ID = contoso.tenant.id.toLowerCase();
const ADMIN = contoso.users.find((u) => (u as { roles?: string[] }).roles?.includes('ConnectionCenter.Admin'))!;

interface Frame {
  action: string;
  actionConversationId?: string;
  message?: { text?: string; attachments?: Array<{ contentType: string; content: any }> };
}

let work: string;
let srv: BotServer;
let services: FakeServices;
let playground: ChildProcess | undefined;
let base: string;
let ws: WebSocket;
const frames: Frame[] = [];
let chatId: string;
let userId: string;
let browser: Browser | undefined;

/** Waits for a condition, polling; the bound only matters when something is broken. */
async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== null && value !== false) return value as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The next bot message with a card whose first text is `title`, after frame index `from`. */
function cardAfter(from: number, title: string) {
  return waitFor(`a card "${title}"`, () => {
    for (const f of frames.slice(from)) {
      const content = f.action === 'createMessage' ? f.message?.attachments?.[0]?.content : undefined;
      if (content && cardTexts(content)[0] === title) return content as Record<string, any>;
    }
    return undefined;
  });
}

async function say(text: string): Promise<number> {
  const mark = frames.length;
  const res = await fetch(`${base}/_conversation/v1/conversations/${encodeURIComponent(chatId)}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: { id: userId }, text, textFormat: 'plain' }),
  });
  expect(res.status).toBe(200);
  return mark;
}

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'cc-playground-'));
  services = fakeServices({ admins: [ADMIN.oid], nextTest: testResult('secret') });
  srv = await startBotServer({ store: await openTestStore(), services });
  await srv.store.ensureTenant(TENANT_ID, { displayName: contoso.tenant.displayName });

  const configPath = path.join(work, '.m365agentsplayground.yml');
  writeFileSync(configPath, playgroundConfigYaml());
  const pg = startPlayground({ port: 0, endpoint: `${srv.url}/api/messages`, configPath, logFile: path.join(work, 'playground.log'), cwd: work });
  playground = pg.child;
  let timer: NodeJS.Timeout | undefined;
  const port = await Promise.race([
    pg.ready,
    new Promise<number>((_, reject) => (timer = setTimeout(() => reject(new Error('the Playground did not start')), 25_000))),
  ]).finally(() => clearTimeout(timer));
  base = `http://127.0.0.1:${port}`;

  const config = (await (await fetch(`${base}/_internal/v1/config`)).json()) as {
    config: { tenantId: string; personalChat: { id: string }; currentUser: { id: string; aadObjectId: string } };
  };
  expect(config.config.tenantId).toBe(contoso.tenant.id);
  expect(config.config.currentUser.aadObjectId).toBe(ADMIN.oid);
  chatId = config.config.personalChat.id;
  userId = config.config.currentUser.id;

  ws = new WebSocket(`ws://127.0.0.1:${port}/_ws_conversation/v1/conversations/stream`);
  ws.on('message', (data) => {
    try {
      frames.push(JSON.parse(String(data)) as Frame);
    } catch {
      // not a frame we read
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
}, 60_000);

afterAll(async () => {
  ws?.terminate();
  await browser?.close();
  if (playground && playground.exitCode === null) {
    const exited = new Promise((r) => playground!.once('exit', r));
    playground.kill('SIGTERM');
    await exited;
  }
  await srv?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

test('a mocked installation stores the admin chat for alerts and says welcome', async () => {
  const mark = frames.length;
  const res = await fetch(`${base}/_debug/conversation/${encodeURIComponent(chatId)}/installation`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  expect(res.status).toBe(200);
  const welcome = await cardAfter(mark, 'Welcome to Connection Center');
  expect(cardProblems(welcome)).toEqual([]);
  expect(cardTexts(welcome)).toEqual(expect.arrayContaining(['For administrators', 'status', 'test', 'remind']));
  const stored = await srv.store.getConversation(TENANT_ID, chatId);
  expect(stored).toMatchObject({ scope: 'personal', subscribed: true, userOid: ADMIN.oid, userUpn: ADMIN.upn });
});

test('help, status and test answer with their cards', async () => {
  const help = await cardAfter(await say('help'), 'Connection Center commands');
  expect(cardProblems(help)).toEqual([]);

  const status = await cardAfter(await say('status'), 'Connection Center status');
  expect(cardProblems(status)).toEqual([]);
  expect(cardTexts(status)).toEqual(expect.arrayContaining(['13', '8 users still on EWS or needing to reconnect.']));

  // As the server does: the test's outcome goes to emitTestOutcome; the verdict changes (passed → failed).
  services.emitOutcome = (tenantId, previous, current) => srv.bot.emitTestOutcome(tenantId, previous, current);
  services.lastTest = testResult('passed');
  const mark = await say('test');
  const failed = await cardAfter(mark, 'The service account test failed');
  expect(cardProblems(failed)).toEqual([]);
  expect(cardTexts(failed)).toEqual(expect.arrayContaining(['SECRET_ID_NOT_VALUE', 'Run test again']));
  expect(services.testsRun.at(-1)).toEqual({ tenantId: TENANT_ID, actor: ADMIN.oid });
  // The chat that asked has its answer: no test.failed alert is queued for it, so none arrives on top.
  expect((await srv.store.listOutbox(TENANT_ID)).filter((r) => r.conversationId === chatId)).toEqual([]);
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 0, retried: 0, failed: 0 });
  const cards = frames.slice(mark).filter((f) => f.action === 'createMessage' && f.message?.attachments?.length);
  expect(cards).toHaveLength(1);
});

test('a proactive alert reaches the chat through the Playground’s connector', async () => {
  const mark = frames.length;
  expect(await srv.bot.emitTestOutcome(TENANT_ID, testResult('passed'), testResult('permissions'))).toBe(1);
  expect(await srv.bot.notifier.drain()).toEqual({ sent: 1, retried: 0, failed: 0 });
  const card = await cardAfter(mark, 'The service account is missing permissions');
  expect(cardProblems(card)).toEqual([]);
});

/** The Playground's web UI in headless Chromium, offline, ready to type into. */
async function playgroundPage() {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, deviceScaleFactor: 1 });
  // Offline: the Playground's web fonts and animations come from a CDN; keep everything local.
  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    return host === '127.0.0.1' || host === 'localhost' ? route.continue() : route.abort();
  });
  const page = await context.newPage();
  await page.goto(base);
  // The compose box is a rich-text editor (contenteditable) under a "Type a message..." hint.
  await page.getByText('Type a message...').waitFor({ timeout: 20_000 });
  return page;
}

test('in the Playground UI: "test" shows the TestFailed card, and "Run test again" refreshes it in place', async () => {
  const page = await playgroundPage();
  const box = page.getByText('Type a message...').locator('xpath=..').locator('[contenteditable="true"]');
  services.nextTest = testResult('secret');
  await box.click();
  await page.keyboard.type('test');
  await page.keyboard.press('Enter');
  const title = page.getByText('The service account test failed').last();
  await title.waitFor({ timeout: 20_000 });
  await page.getByText('SECRET_ID_NOT_VALUE').last().waitFor();
  await title.scrollIntoViewIfNeeded();

  // Refresh the committed picture only on request (it carries times): UPDATE_DOCS=1 npm test.
  const shot = path.join(process.env.UPDATE_DOCS === '1' ? path.join(ROOT, 'docs/screenshots') : SCREENSHOTS_DIR, 'playground-testfailed.png');
  mkdirSync(path.dirname(shot), { recursive: true });
  await page.screenshot({ path: shot });

  // Action.Execute → adaptiveCard/action invoke → the response card replaces this one.
  services.nextTest = testResult('passed');
  const failedCards = await page.getByText('The service account test failed').count();
  await page.getByRole('button', { name: 'Run test again' }).last().click();
  await page.getByText('The service account test passed').last().waitFor({ timeout: 20_000 });
  expect(await page.getByText('The service account test failed').count()).toBe(failedCards - 1);
});

test('in the Playground UI, which renders card markdown: text someone typed shows as typed, not as a link', async () => {
  const page = await playgroundPage();
  await say('make me a *sandwich* [now](https://evil.example)');
  const note = page.getByText('I did not understand', { exact: false }).last();
  await note.waitFor({ timeout: 20_000 });
  expect(await note.innerText()).toBe('I did not understand "make me a *sandwich* [now](https://evil.example)". Here is what I can do.');
  expect(await note.locator('a, em, strong').count()).toBe(0);
  expect(await page.locator('a[href*="evil.example"]').count()).toBe(0);
});
