/**
 * Expands a card template with its model (adaptivecards-templating) and keeps the result under
 * the size limit by shortening the model's long lists, which then end with "and N more".
 */
import { Template } from 'adaptivecards-templating';
import { CARD_NAMES, TRIMMABLE, type CardModels, type CardName } from './models';
import CheckDigest from './CheckDigest.json';
import DeadlineDigest from './DeadlineDigest.json';
import ErrorCard from './Error.json';
import Help from './Help.json';
import PermissionsMissing from './PermissionsMissing.json';
import ReconnectNudge from './ReconnectNudge.json';
import Status from './Status.json';
import TestFailed from './TestFailed.json';
import TestPassed from './TestPassed.json';
import Welcome from './Welcome.json';

/** Teams takes messages up to ~100 KB; one card stays well below so a message never nears it. */
export const MAX_CARD_BYTES = 28 * 1024;
/** No single text in a card needs more; it also bounds what a hostile display name can cost. */
export const MAX_TEXT_CHARS = 1000;
export const ADAPTIVE_CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

export const TEMPLATES: Readonly<Record<CardName, object>> = {
  TestFailed,
  TestPassed,
  PermissionsMissing,
  DeadlineDigest,
  ReconnectNudge,
  CheckDigest,
  Help,
  Welcome,
  Status,
  Error: ErrorCard,
};

const compiled = new Map<CardName, Template>();
function templateOf(name: CardName): Template {
  let t = compiled.get(name);
  if (!t) {
    t = new Template(TEMPLATES[name]);
    compiled.set(name, t);
  }
  return t;
}

export type AdaptiveCardJson = Record<string, unknown> & { type: 'AdaptiveCard'; version: string };

export function cardBytes(card: unknown): number {
  return Buffer.byteLength(JSON.stringify(card), 'utf8');
}

export function isCardName(value: unknown): value is CardName {
  return typeof value === 'string' && (CARD_NAMES as readonly string[]).includes(value);
}

/** Expands one template exactly as given (no trimming). */
export function expandCard<K extends CardName>(name: K, model: CardModels[K]): AdaptiveCardJson {
  return templateOf(name).expand({ $root: model }) as AdaptiveCardJson;
}

/** Builds a card, shortening its lists until it fits `maxBytes`. */
export function buildCard<K extends CardName>(name: K, model: CardModels[K], maxBytes = MAX_CARD_BYTES): AdaptiveCardJson {
  const safe = clipStrings(model) as CardModels[K];
  const full = expandCard(name, safe);
  if (cardBytes(full) <= maxBytes) return full;

  const rules = TRIMMABLE[name] as Array<{ list: string; more?: string }>;
  const record = safe as unknown as Record<string, unknown>;
  const longest = Math.max(0, ...rules.map((r) => (record[r.list] as unknown[]).length));
  const withAtMost = (n: number): AdaptiveCardJson => {
    const cut: Record<string, unknown> = { ...record };
    for (const r of rules) {
      const items = record[r.list] as unknown[];
      cut[r.list] = items.slice(0, n);
      if (r.more) cut[r.more] = Number(record[r.more] ?? 0) + Math.max(0, items.length - n);
    }
    return expandCard(name, cut as unknown as CardModels[K]);
  };
  // Largest n that fits: the size grows with n, so a binary search finds it in log(n) expansions.
  let lo = 0;
  let hi = longest;
  let best = withAtMost(0);
  if (cardBytes(best) > maxBytes) throw new Error(`Card ${name} does not fit in ${maxBytes} bytes even with its lists emptied.`);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const card = withAtMost(mid);
    if (cardBytes(card) <= maxBytes) {
      lo = mid;
      best = card;
    } else hi = mid - 1;
  }
  return best;
}

/** The Bot Framework attachment for a card. */
export function cardAttachment(card: AdaptiveCardJson): { contentType: string; content: AdaptiveCardJson } {
  return { contentType: ADAPTIVE_CARD_CONTENT_TYPE, content: card };
}

function clipStrings(value: unknown): unknown {
  if (typeof value === 'string') return value.length > MAX_TEXT_CHARS ? `${clipEscaped(value, MAX_TEXT_CHARS - 1)}…` : value;
  if (Array.isArray(value)) return value.map(clipStrings);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clipStrings(v)]));
  return value;
}

/** Cuts text without leaving half of a markdown escape (a lone backslash) at the end. */
function clipEscaped(text: string, length: number): string {
  const head = text.slice(0, length);
  const trailing = head.length - head.replace(/\\+$/, '').length;
  return trailing % 2 === 1 ? head.slice(0, -1) : head;
}
