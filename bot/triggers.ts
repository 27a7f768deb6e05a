/**
 * Outbox triggers: service-account test outcomes, the daily deadline and secret
 * checks, and the reconnect nudges of `remind`. Each enqueues with an idempotency key, so running a
 * trigger twice (a restart, two schedulers, a double click) never sends twice.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { DEADLINE_MILESTONES, daysUntil, tenantDeadlines, viewOf } from '../src/domain/deadlines';
import type { ConnectionKind } from '../src/domain/connection';
import type { NudgeKind } from '../src/domain/reach';
import type {
  AuditRecords,
  ConnectionRecord,
  ConnectionRecords,
  ConversationRecord,
  ConversationRecords,
  NewOutboxItem,
  OutboxKind,
  OutboxRecords,
  ServiceAccountRecords,
  TenantRecords,
} from '../src/store/types';
import type { BotServices } from '../src/services/ports';
import type { CheckDigest } from '../src/services/checks';
import {
  checkDigestModel,
  deadlineDigestModel,
  reconnectNudgeModel,
  secretExpiringModel,
  testCard,
  verdictOf,
  verdictSignature,
  type TestOutcome,
} from './cards';
import { cardPayload, idempotencyKey } from './payload';
import { loggableError } from './safe-error';

/** Days before a client secret expires at which admins hear about it (0 = it has expired). */
export const SECRET_MILESTONES = [30, 14, 7, 1] as const;
/** Affected users named on a deadline digest; the rest are counted. */
export const DIGEST_USERS = 10;

/**
 * Whether admin cards may go to this subscribed conversation now. A personal chat belongs to one
 * person: only an admin proven within ADMIN_PROOF_MAX_DAYS, found by object id. A channel or group
 * chat was subscribed on purpose by an admin (`subscribe here`) and stays so until unsubscribed.
 */
export async function mayReceiveAdminCards(conversation: ConversationRecord, services: Pick<BotServices, 'adminStanding'>): Promise<boolean> {
  if (conversation.scope !== 'personal') return true;
  if (!conversation.userOid) return false;
  return (await services.adminStanding(conversation.tenantId, conversation.userOid)) === 'admin';
}

/**
 * Whether a ReconnectNudge waiting in the outbox should still go to this personal chat: not once
 * its user has done what it asks. A chat stored without the user's UPN cannot be checked, and gets it.
 */
export async function nudgeStillDueIn(conversation: ConversationRecord, kind: NudgeKind, services: Pick<BotServices, 'nudgeStillDue'>): Promise<boolean> {
  if (conversation.scope !== 'personal' || !conversation.userUpn) return true;
  return services.nudgeStillDue(conversation.tenantId, conversation.userUpn, kind);
}

export interface TriggerDeps {
  store: AuditRecords & ConnectionRecords & ConversationRecords & OutboxRecords & ServiceAccountRecords & TenantRecords;
  services: BotServices;
  logger: Logger;
  /** Called after anything was enqueued, so the notifier delivers without waiting for its poll. */
  onEnqueued?: () => void;
}

/**
 * The milestone a countdown has reached: the smallest milestone not below `daysLeft`. A daily check
 * that did not run on the exact day (the server was down) still sends that milestone once, late.
 */
export function reachedMilestone(daysLeft: number, milestones: readonly number[]): number | undefined {
  const candidates = milestones.filter((m) => daysLeft <= m);
  return candidates.length ? Math.min(...candidates) : undefined;
}

export class Triggers {
  /** The conversation whose command started the test now under way in this async call chain. */
  readonly #asking = new AsyncLocalStorage<{ tenantId: string; conversationId: string }>();

  constructor(private readonly deps: TriggerDeps) {}

  /**
   * Runs a service-account test that a conversation asked for (`test`, "Run test again"). The
   * server emits the outcome from inside that call (BotServices.runServiceAccountTest), and the
   * alert then skips the asking conversation: its reply already shows the result. Other admin
   * conversations still get it, and so does the asker for tests started elsewhere meanwhile (the
   * tab, the daily schedule), which run in their own call chains.
   */
  answering<T>(tenantId: string, conversationId: string, test: () => Promise<T>): Promise<T> {
    return this.#asking.run({ tenantId, conversationId }, test);
  }

  async #adminConversations(tenantId: string): Promise<ConversationRecord[]> {
    const subscribed = await this.deps.store.listConversations(tenantId, { subscribed: true });
    const allowed: ConversationRecord[] = [];
    for (const c of subscribed) {
      try {
        if (await mayReceiveAdminCards(c, this.deps.services)) allowed.push(c);
      } catch (err) {
        this.deps.logger.warn({ tenantId, err: loggableError(err) }, 'bot: admin check failed; conversation skipped');
      }
    }
    return allowed;
  }

  async #enqueue(items: NewOutboxItem[]): Promise<number> {
    if (items.length === 0) return 0;
    const added = await this.deps.store.enqueue(items);
    if (added > 0) this.deps.onEnqueued?.();
    return added;
  }

  /**
   * After a service-account test: tells the admins when the verdict changed (failed, permissions
   * missing, or working again). The same verdict twice in a row sends nothing. Returns how many
   * messages were queued.
   */
  async emitTestOutcome(tenantId: string, previous: TestOutcome | undefined | null, current: TestOutcome): Promise<number> {
    const now = verdictOf(current);
    const before = previous ? verdictOf(previous) : undefined;
    if (before && verdictSignature(before) === verdictSignature(now)) return 0;
    // A first test that passes tells nobody anything new; the admin who ran it saw the result.
    if (now.kind === 'passed' && (!before || before.kind === 'passed')) return 0;
    const kind: OutboxKind = now.kind === 'passed' ? 'test.passed' : now.kind === 'permissions' ? 'permissions.missing' : 'test.failed';
    const [tenant, account, subscribed] = await Promise.all([
      this.deps.store.getTenant(tenantId),
      this.deps.store.getServiceAccount(tenantId),
      this.#adminConversations(tenantId),
    ]);
    const asking = this.#asking.getStore();
    const conversations = subscribed.filter((c) => !(asking?.tenantId === tenantId && asking.conversationId === c.conversationId));
    if (conversations.length === 0) return 0;
    let portal;
    if (now.kind === 'permissions') {
      try {
        portal = (await this.deps.services.permissions(tenantId)).portal;
      } catch (err) {
        this.deps.logger.warn({ tenantId, err: loggableError(err) }, 'bot: permissions unavailable; card goes without portal links');
      }
    }
    const card = testCard(current, {
      tabUrl: this.deps.services.tabUrl(),
      tenantName: tenant?.displayName,
      enabled: account?.features,
      portal,
      recovered: now.kind === 'passed',
    });
    const subject = verdictSignature(now);
    return this.#enqueue(
      conversations.map((c) => ({
        tenantId,
        kind,
        idempotencyKey: idempotencyKey({ tenantId, kind, subject, milestone: current.ranAt, conversationId: c.conversationId }),
        conversationId: c.conversationId,
        payload: cardPayload(card.name, card.model),
      })),
    );
  }

  /** The daily check: deadline milestones and an expiring client secret, for every tenant. */
  async runDailyChecks(now: Date): Promise<number> {
    let queued = 0;
    for (const tenant of await this.deps.store.listTenants()) {
      try {
        queued += await this.#dailyForTenant(tenant.tenantId, tenant.deadlineOverrides, now);
      } catch (err) {
        this.deps.logger.error({ tenantId: tenant.tenantId, err: loggableError(err) }, 'bot: daily check failed for tenant');
      }
    }
    return queued;
  }

  async #dailyForTenant(tenantId: string, overrides: Record<string, string> | undefined, now: Date): Promise<number> {
    const conversations = await this.#adminConversations(tenantId);
    if (conversations.length === 0) return 0;
    const deadlines = tenantDeadlines(overrides);
    const counts = await this.deps.store.countConnections(tenantId);
    const items: NewOutboxItem[] = [];
    const tabUrl = this.deps.services.tabUrl();

    for (const d of deadlines) {
      const left = daysUntil(d.date, now);
      if (left < 0) continue;
      const milestone = reachedMilestone(left, DEADLINE_MILESTONES);
      if (milestone === undefined) continue;
      const byKind: Partial<Record<ConnectionKind, number>> = {};
      for (const c of counts) if (d.affects.includes(c.kind) && c.state !== 'disconnected') byKind[c.kind] = (byKind[c.kind] ?? 0) + c.count;
      const total = Object.values(byKind).reduce((a, b) => a + (b ?? 0), 0);
      if (total === 0) continue;
      const users = await this.#firstAffected(tenantId, d.affects, DIGEST_USERS);
      const model = deadlineDigestModel({
        deadline: viewOf(d, now),
        deadlines,
        now,
        counts: byKind,
        users,
        moreUsers: Math.max(0, total - users.length),
        tabUrl,
      });
      for (const c of conversations) {
        items.push({
          tenantId,
          kind: 'deadline.approaching',
          idempotencyKey: idempotencyKey({ tenantId, kind: 'deadline.approaching', subject: `${d.id}@${d.date}`, milestone, conversationId: c.conversationId }),
          conversationId: c.conversationId,
          payload: cardPayload('DeadlineDigest', model),
        });
      }
    }

    const account = await this.deps.store.getServiceAccount(tenantId);
    if (account?.secretExpiresAt) {
      const left = daysUntil(account.secretExpiresAt.slice(0, 10), now);
      const milestone = left < 0 ? 0 : reachedMilestone(left, SECRET_MILESTONES);
      if (milestone !== undefined) {
        const model = secretExpiringModel({ expiresAt: account.secretExpiresAt, daysLeft: left, clientId: account.clientId, tabUrl });
        for (const c of conversations) {
          items.push({
            tenantId,
            kind: 'secret.expiring',
            idempotencyKey: idempotencyKey({
              tenantId,
              kind: 'secret.expiring',
              subject: `${account.clientId}@${account.secretExpiresAt}`,
              milestone,
              conversationId: c.conversationId,
            }),
            conversationId: c.conversationId,
            payload: cardPayload('Error', model),
          });
        }
      }
    }
    return this.#enqueue(items);
  }

  /** The first affected users by name, across the kinds a deadline breaks. */
  async #firstAffected(tenantId: string, kinds: readonly ConnectionKind[], limit: number): Promise<ConnectionRecord[]> {
    const found: ConnectionRecord[] = [];
    for (const kind of kinds) {
      let cursor: string | undefined;
      // Pages until enough live connections are found; disconnected ones are not affected.
      do {
        const page = await this.deps.store.queryConnections(tenantId, { kind, limit: 100, cursor });
        found.push(...page.items.filter((r) => r.state !== 'disconnected'));
        cursor = page.nextCursor;
      } while (cursor && found.length < limit * kinds.length);
    }
    const name = (r: ConnectionRecord) => (r.displayName || r.upn).toLowerCase();
    return found.sort((a, b) => name(a).localeCompare(name(b))).slice(0, limit);
  }

  /**
   * A health check found the user's own connection broken: a ReconnectNudge into their personal
   * chat, when the bot has one. Once per user per run.
   */
  async emitConnectionLost(tenantId: string, connection: ConnectionRecord, runId: string): Promise<number> {
    const conversation =
      (connection.oid ? await this.deps.store.findPersonalConversation(tenantId, connection.oid) : undefined) ??
      (await this.deps.store.findPersonalConversation(tenantId, connection.upn));
    if (!conversation) return 0;
    const tenant = await this.deps.store.getTenant(tenantId);
    const now = new Date(connection.lastCheckedAt ?? connection.updatedAt);
    const model = reconnectNudgeModel(connection, now, this.deps.services.tabUrl(), tenantDeadlines(tenant?.deadlineOverrides));
    return this.#enqueue([
      {
        tenantId,
        kind: 'connection.lost',
        idempotencyKey: idempotencyKey({
          tenantId,
          kind: 'connection.lost',
          subject: `${connection.upn.toLowerCase()}/${connection.kind}`,
          milestone: runId,
          conversationId: conversation.conversationId,
        }),
        conversationId: conversation.conversationId,
        payload: cardPayload('ReconnectNudge', model),
      },
    ]);
  }

  /** A health-check run changed something: one digest per admin conversation per run. */
  async emitCheckDigest(tenantId: string, digest: CheckDigest): Promise<number> {
    if (digest.broke.length + digest.recovered.length === 0) return 0;
    const conversations = await this.#adminConversations(tenantId);
    if (conversations.length === 0) return 0;
    const tenant = await this.deps.store.getTenant(tenantId);
    const model = checkDigestModel(digest, this.deps.services.tabUrl(), tenantDeadlines(tenant?.deadlineOverrides));
    return this.#enqueue(
      conversations.map((c) => ({
        tenantId,
        kind: 'check.digest' as const,
        idempotencyKey: idempotencyKey({ tenantId, kind: 'check.digest', subject: 'health-check', milestone: digest.runId, conversationId: c.conversationId }),
        conversationId: c.conversationId,
        payload: cardPayload('CheckDigest', model),
      })),
    );
  }

  /**
   * `remind`: queues a ReconnectNudge for each user the services name, into their personal chat
   * with the bot. At most one per user per day.
   */
  async remind(tenantId: string, actor: string, now: Date): Promise<{ users: number; queued: number; alreadyReminded: number; unreachable: number }> {
    const users = dedupeByUser(await this.deps.services.usersToNudge(tenantId));
    const day = now.toISOString().slice(0, 10);
    const tabUrl = this.deps.services.tabUrl();
    const tenant = await this.deps.store.getTenant(tenantId);
    const deadlines = tenantDeadlines(tenant?.deadlineOverrides);
    const items: NewOutboxItem[] = [];
    let unreachable = 0;
    for (const user of users) {
      const conversation =
        (user.oid ? await this.deps.store.findPersonalConversation(tenantId, user.oid) : undefined) ??
        (await this.deps.store.findPersonalConversation(tenantId, user.upn));
      if (!conversation) {
        unreachable++;
        continue;
      }
      items.push({
        tenantId,
        kind: 'reconnect.nudge',
        idempotencyKey: idempotencyKey({
          tenantId,
          kind: 'reconnect.nudge',
          subject: user.upn.toLowerCase(),
          milestone: day,
          conversationId: conversation.conversationId,
        }),
        conversationId: conversation.conversationId,
        payload: cardPayload('ReconnectNudge', reconnectNudgeModel(user, now, tabUrl, deadlines)),
      });
    }
    const queued = await this.#enqueue(items);
    const result = { users: users.length, queued, alreadyReminded: items.length - queued, unreachable };
    await this.deps.store.audit({ tenantId, actor, action: 'bot.remind', details: result });
    return result;
  }
}

/** One nudge per person: a legacy connection says more than a Graph one that needs reconnecting. */
function dedupeByUser(records: ConnectionRecord[]): ConnectionRecord[] {
  const byUpn = new Map<string, ConnectionRecord>();
  const rank = (r: ConnectionRecord) => (r.kind === 'ews-basic' ? 0 : r.kind === 'ews-oauth' ? 1 : 2);
  for (const r of records) {
    const key = r.upn.toLowerCase();
    const seen = byUpn.get(key);
    if (!seen || rank(r) < rank(seen)) byUpn.set(key, r);
  }
  return [...byUpn.values()];
}
