/**
 * What an outbox item carries: a card name and its model. The card is built when it is delivered,
 * so the stored payload stays small and a template fix reaches messages still waiting.
 */
import type { OutboxKind } from '../src/store/types';
import { buildCard, cardAttachment, isCardName, plainFromCardMarkdown, type CardModels, type CardName } from './cards';

export interface CardPayload<K extends CardName = CardName> {
  card: K;
  model: CardModels[K];
}

export function cardPayload<K extends CardName>(card: K, model: CardModels[K]): Record<string, unknown> {
  return { card, model } satisfies CardPayload<K>;
}

export interface OutgoingActivity {
  type: 'message';
  attachments: Array<{ contentType: string; content: unknown }>;
  /** Shown in notifications and the activity feed. */
  summary?: string;
}

/** The message for an outbox payload; throws when the payload is not one this bot wrote. */
export function activityFromPayload(payload: Record<string, unknown>): OutgoingActivity {
  const { card, model } = payload as Partial<CardPayload>;
  if (!isCardName(card) || !model || typeof model !== 'object') throw new Error('Outbox payload is not a card payload.');
  const content = buildCard(card, model as CardModels[typeof card]);
  // Notifications show the summary as plain text: no markdown escapes in it.
  const summary = typeof (model as { title?: unknown }).title === 'string' ? plainFromCardMarkdown((model as { title: string }).title) : undefined;
  return { type: 'message', attachments: [cardAttachment(content)], ...(summary ? { summary } : {}) };
}

/** Cards addressed to the person they are about; every other card is for admins. */
const USER_CARDS: ReadonlySet<CardName> = new Set<CardName>(['ReconnectNudge']);

/**
 * Whether an outbox payload is an admin card (it names users and settings): only admins proven
 * recently may receive it. Unknown payloads count as admin cards.
 */
export function isAdminPayload(payload: Record<string, unknown>): boolean {
  const card = (payload as Partial<CardPayload>).card;
  return !(isCardName(card) && USER_CARDS.has(card));
}

/**
 * An event's identity (tenant, kind, subject, milestone) plus the conversation: one event
 * fans out to several admin conversations, and each delivery is deduplicated on its own.
 */
export function idempotencyKey(parts: { tenantId: string; kind: OutboxKind; subject: string; milestone: string | number; conversationId: string }): string {
  return [parts.tenantId, parts.kind, parts.subject, String(parts.milestone), parts.conversationId].join('|');
}
