/**
 * Renders every card in headless Chromium with the adaptivecards browser renderer and a Teams-like
 * host config, and writes docs/cards/<Card>.png (committed: the cards as people see them).
 */
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../helpers/browser';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { buildCard, CARD_NAMES, type CardName } from '../../bot/cards';
import { cardTexts, sampleModels } from '../helpers/bot-kit';

const ROOT = path.resolve(__dirname, '../..');
const OUT = path.join(ROOT, 'docs/cards');
const BUNDLE = path.join(ROOT, 'node_modules/adaptivecards/dist/adaptivecards.min.js');

/** Teams' light theme, approximately: colours, spacing and the Segoe-like font stack. */
const HOST_CONFIG = {
  fontFamily: "'Segoe UI', 'Liberation Sans', 'DejaVu Sans', sans-serif",
  spacing: { small: 4, default: 8, medium: 16, large: 20, extraLarge: 24, padding: 16 },
  separator: { lineThickness: 1, lineColor: '#E1E1E1' },
  fontSizes: { small: 12, default: 14, medium: 16, large: 20, extraLarge: 28 },
  fontWeights: { lighter: 300, default: 400, bolder: 600 },
  containerStyles: {
    default: {
      backgroundColor: '#FFFFFF',
      foregroundColors: {
        default: { default: '#242424', subtle: '#616161' },
        accent: { default: '#5B5FC7', subtle: '#5B5FC7' },
        good: { default: '#0E700E', subtle: '#0E700E' },
        warning: { default: '#835B00', subtle: '#835B00' },
        attention: { default: '#C4314B', subtle: '#C4314B' },
      },
    },
    emphasis: { backgroundColor: '#F0F0F0', foregroundColors: { default: { default: '#242424', subtle: '#616161' } } },
    good: { backgroundColor: '#E7F2DA', foregroundColors: { default: { default: '#242424', subtle: '#424242' } } },
    attention: { backgroundColor: '#FCF4F6', foregroundColors: { default: { default: '#242424', subtle: '#424242' }, attention: { default: '#C4314B' } } },
    warning: { backgroundColor: '#FBF6D9', foregroundColors: { default: { default: '#242424', subtle: '#424242' } } },
    accent: { backgroundColor: '#E8EBFA', foregroundColors: { default: { default: '#242424', subtle: '#424242' } } },
  },
  actions: { maxActions: 6, buttonSpacing: 8, showCard: { actionMode: 'inline' }, actionsOrientation: 'horizontal', actionAlignment: 'left' },
  factSet: { title: { weight: 'bolder', wrap: true, maxWidth: 180 }, value: { wrap: true }, spacing: 8 },
};

const CSS = `
  body { margin: 0; background: #F5F5F5; font-family: ${HOST_CONFIG.fontFamily}; }
  #frame { width: 460px; margin: 16px; background: #FFFFFF; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.15); overflow: hidden; }
  .ac-pushButton { font: 600 14px ${HOST_CONFIG.fontFamily}; padding: 5px 12px; border: 1px solid #D1D1D1; border-radius: 4px;
    background: #FFFFFF; color: #242424; cursor: pointer; flex: 0 1 auto !important; }
  .ac-pushButton.style-positive { background: #5B5FC7; border-color: #5B5FC7; color: #FFFFFF; }
  .ac-pushButton.primary { background: #5B5FC7; border-color: #5B5FC7; color: #FFFFFF; }
`;

let browser: Browser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  // playwright gives every launch a fresh temporary profile.
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
  });
  context = await browser.newContext({ deviceScaleFactor: 1, viewport: { width: 520, height: 900 } });
  // Nothing in a card render may reach the network.
  await context.route('**/*', (route) =>
    route.request().url().startsWith('data:') || route.request().url() === 'about:blank' ? route.continue() : route.abort(),
  );
  page = await context.newPage();
  await page.setContent(`<!doctype html><html><head><style>${CSS}</style></head><body><div id="frame"></div></body></html>`);
  await page.addScriptTag({ path: BUNDLE });
  mkdirSync(OUT, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
});

const samples = sampleModels();

test.each(CARD_NAMES as CardName[])('%s renders in Chromium and is written to docs/cards', async (name) => {
  const card = buildCard(name, samples[name] as never);
  const rendered = await page.evaluate(
    ({ card, hostConfig }) => {
      const AC = (window as any).AdaptiveCards;
      const frame = document.getElementById('frame')!;
      frame.innerHTML = '';
      const adaptive = new AC.AdaptiveCard();
      adaptive.hostConfig = new AC.HostConfig(hostConfig);
      adaptive.parse(card);
      const el: HTMLElement | undefined = adaptive.render();
      if (!el) return { ok: false, text: '', buttons: [] as string[] };
      frame.appendChild(el);
      return { ok: true, text: frame.innerText, buttons: Array.from(frame.querySelectorAll('button')).map((b) => b.textContent ?? '') };
    },
    { card, hostConfig: HOST_CONFIG },
  );
  expect(rendered.ok).toBe(true);
  // What the renderer shows is the card's own text, buttons included.
  const expectedTexts = cardTexts(card).filter((t) => !t.startsWith('http'));
  for (const t of expectedTexts.slice(0, 6)) expect(rendered.text.replace(/\s+/g, ' ')).toContain(t.replace(/\s+/g, ' ').replace(/^- /, ''));
  const actionTitles = ((card.actions as Array<{ title: string }>) ?? []).map((a) => a.title);
  expect(rendered.buttons).toEqual(actionTitles);

  // The committed picture is refreshed on request (UPDATE_DOCS=1) or when a card has none yet, so a
  // plain test run leaves the tree clean (font hinting differs between machines).
  const file = path.join(OUT, `${name}.png`);
  const write = process.env.UPDATE_DOCS === '1' || !existsSync(file);
  const png = await page.locator('#frame').screenshot(write ? { path: file } : {});
  const image = PNG.sync.read(png);
  expect(image.width).toBeGreaterThan(400);
  expect(image.height).toBeGreaterThan(100);
  // Not a blank box: text and coloured headers give many distinct colours.
  const colours = new Set<number>();
  for (let i = 0; i < image.data.length; i += 4 * 7) colours.add((image.data[i] << 16) | (image.data[i + 1] << 8) | image.data[i + 2]);
  expect(colours.size).toBeGreaterThan(20);
});
