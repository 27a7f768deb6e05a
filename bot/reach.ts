/**
 * The bot's side of reach: the reconnect campaign's nudges go through the same outbox and notifier
 * as every other card (paced under Teams' limits, one message per idempotency key, so a step that
 * runs twice or a restart never sends twice), with a deep link that opens the personal tab.
 */
import type { CampaignView } from '../src/contract';
import type { OutboxRecords, TenantRecords } from '../src/store/types';
import { deadlinesWithOverrides } from '../src/domain/deadlines';
import { CAMPAIGN_LINK_MARK } from '../src/domain/reach';
import { reconnectNudgeModel } from './cards';
import { cardPayload, idempotencyKey } from './payload';

/** The tab link with the campaign's mark: a Teams deep link carries it as subEntityId, a web link as `?from=`. */
export function campaignTabUrl(tabUrl: string): string {
  const url = new URL(tabUrl);
  if (url.hostname === 'teams.microsoft.com' && url.pathname.startsWith('/l/entity/')) {
    url.searchParams.set('context', JSON.stringify({ subEntityId: CAMPAIGN_LINK_MARK }));
  } else {
    url.searchParams.set('from', CAMPAIGN_LINK_MARK);
  }
  return url.toString();
}

export interface NudgeSender {
  nudge(input: {
    tenantId: string;
    conversationId: string;
    connection: import('../src/store/types').ConnectionRecord;
    key: string;
    now: Date;
  }): Promise<boolean>;
  wake(): void;
}

export function campaignNudges(deps: { store: OutboxRecords & TenantRecords; tabUrl: () => string; wake: () => void }): NudgeSender {
  return {
    async nudge({ tenantId, conversationId, connection, key, now }) {
      const tenant = await deps.store.getTenant(tenantId);
      const model = reconnectNudgeModel(connection, now, campaignTabUrl(deps.tabUrl()), deadlinesWithOverrides(tenant?.deadlineOverrides));
      const added = await deps.store.enqueue([
        {
          tenantId,
          kind: 'reconnect.nudge',
          idempotencyKey: idempotencyKey({ tenantId, kind: 'reconnect.nudge', subject: connection.upn.toLowerCase(), milestone: key, conversationId }),
          conversationId,
          payload: cardPayload('ReconnectNudge', model),
        },
      ]);
      return added > 0;
    },
    wake: deps.wake,
  };
}

/** The answer to `remind` once the campaign took its step. */
export function campaignRemindText(view: CampaignView): string {
  const f = view.funnel;
  const people = (n: number) => `${n} ${n === 1 ? 'person' : 'people'}`;
  if (f.targeted === 0) return 'Nobody needs a reminder: no one is left on EWS or needs to reconnect.';
  const parts = [
    `The reconnect campaign is ${view.status}: ${people(f.targeted)} targeted, ${f.installed} with the bot, ${f.nudged} reminded, ${f.opened} opened Connection Center, ${f.reconnected} reconnected.`,
  ];
  if (view.minDaysBetween > 0) parts.push(`Nobody is reminded more than once every ${view.minDaysBetween} days.`);
  for (const u of f.unreachable) parts.push(`${people(u.count)} cannot be reached: ${u.message} ${u.remedy}`);
  return parts.join(' ');
}
