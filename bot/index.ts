/**
 * The bot, ready to mount: `server.post('/api/messages', (req, res) => bot.handleMessages(req, res))`.
 * Bot Framework authentication comes from BOT_ID / SECRET_BOT_PASSWORD / BOT_TENANT_ID, and then
 * only the Microsoft Teams channel is served. With no BOT_ID (never in production: config refuses
 * it) the adapter runs anonymously for local channels (Agents Playground, Emulator) and accepts
 * activities only from a loopback TCP peer with a loopback service URL.
 */
import { CloudAdapter, ConfigurationBotFrameworkAuthentication, type ConversationReference, type TurnContext } from 'botbuilder';
import type { Request, Response } from 'restify';
import type { Logger } from 'pino';
import { z } from 'zod';
import { errorBody } from '../src/domain/errors';
import type { ConnectionRecord, Store } from '../src/store/types';
import type { CheckDigest } from '../src/services/checks';
import type { TestOutcome } from './cards';
import { TEAMS_CHANNEL, isLocalRequest, isLoopbackUrl } from './conversations';
import { ConnectionCenterBot } from './handler';
import { Notifier, realClock, type NotifierOptions } from './notifier';
import { loggableError } from './safe-error';
import { isAdminPayload, type OutgoingActivity } from './payload';
import { isNudgeKind } from '../src/domain/reach';
import type { BotServices } from '../src/services/ports';
import { Triggers, mayReceiveAdminCards, nudgeStillDueIn } from './triggers';

export type { BotServices } from '../src/services/ports';
export type { TestOutcome } from './cards';
export { Notifier } from './notifier';

export interface CreateBotOptions {
  botId?: string;
  botPassword?: string;
  botTenantId?: string;
  store: Store;
  services: BotServices;
  logger: Logger;
  now?: () => Date;
  /** Notifier tuning, or a `send` replacing the Bot Connector (tests, benchmarks). */
  notifier?: Partial<Omit<NotifierOptions, 'store' | 'logger'>>;
}

export interface Bot {
  handleMessages(req: Request, res: Response): Promise<void>;
  notifier: Notifier;
  /** Call after every stored service-account test; queues admin cards when the verdict changed. */
  emitTestOutcome(tenantId: string, previous: TestOutcome | undefined | null, current: TestOutcome): Promise<number>;
  /** Call once a day (any hour): deadline milestones and expiring secrets; safe to repeat. */
  runDailyChecks(now: Date): Promise<number>;
  /** A health check found a user's own connection broken: nudge them (once per run). */
  emitConnectionLost(tenantId: string, connection: ConnectionRecord, runId: string): Promise<number>;
  /** A health-check run changed something: the admins' digest (once per run). */
  emitCheckDigest(tenantId: string, digest: CheckDigest): Promise<number>;
  close(): Promise<void>;
}

/** What a Bot Framework activity must have before the adapter sees it. */
const activityShape = z.looseObject({
  type: z.string().min(1).max(64),
  serviceUrl: z
    .string()
    .min(1)
    .max(2048)
    .refine((v) => /^https?:\/\//i.test(v), 'serviceUrl must be an http(s) URL'),
  channelId: z.string().min(1).max(64),
  conversation: z.looseObject({ id: z.string().min(1).max(1024) }),
  from: z.looseObject({ id: z.string().max(1024) }).optional(),
  recipient: z.looseObject({ id: z.string().max(1024) }).optional(),
});

export function createBot(options: CreateBotOptions): Bot {
  const { store, services, logger } = options;
  const now = options.now ?? (() => new Date());
  const botId = options.botId?.trim() ?? '';
  const anonymous = botId === '';
  if (!anonymous && !options.botPassword) throw new Error('BOT_ID is set but SECRET_BOT_PASSWORD is empty: the bot cannot authenticate to the Bot Framework.');

  const auth = new ConfigurationBotFrameworkAuthentication(
    anonymous
      ? {}
      : {
          MicrosoftAppId: botId,
          MicrosoftAppPassword: options.botPassword,
          MicrosoftAppTenantId: options.botTenantId || undefined,
          MicrosoftAppType: options.botTenantId ? 'SingleTenant' : 'MultiTenant',
        },
  );
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (context: TurnContext, err: unknown) => {
    logger.error({ err: loggableError(err), activityType: context.activity?.type }, 'bot: turn failed');
    if (context.activity?.type === 'message') {
      await context.sendActivity('Sorry, something went wrong on my side. Please try again in a moment.').catch(() => undefined);
    }
  };

  const triggers = new Triggers({ store, services, logger, onEnqueued: () => notifier.wake() });
  const handler = new ConnectionCenterBot({ store, services, logger, triggers, now });

  const sendWithAdapter = async (conversation: { reference: Record<string, unknown> }, activity: OutgoingActivity): Promise<void> => {
    let failure: unknown;
    await adapter.continueConversationAsync(botId, conversation.reference as Partial<ConversationReference>, async (context) => {
      disableSdkRetries(context, adapter);
      try {
        await context.sendActivity(activity);
      } catch (err) {
        failure = err;
      }
    });
    // The adapter hands turn errors to onTurnError and resolves; the notifier must see them.
    if (failure) throw failure;
  };
  const notifier = new Notifier({
    store,
    logger,
    send: sendWithAdapter,
    // Admin rights may have lapsed, and a nudge's user may have reconnected, while a card waited in the outbox.
    mayReceive: async (conversation, item) => {
      if (isAdminPayload(item.payload) && !(await mayReceiveAdminCards(conversation, services))) {
        return 'recipient may not receive it any more (not a recently proven admin)';
      }
      if (isNudgeKind(item.kind) && !(await nudgeStillDueIn(conversation, item.kind, services))) {
        return 'not needed any more: the user has reconnected';
      }
      return true;
    },
    // The product's clock decides what is due, as it stamped the outbox; waiting stays real.
    clock: { now: () => now().getTime(), sleep: realClock.sleep },
    ...options.notifier,
  });

  return {
    async handleMessages(req, res) {
      const parsed = activityShape.safeParse(req.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.length ? issue.path.join('.') : 'body';
        res.send(400, { error: errorBody('VALIDATION_FAILED', `Not a Bot Framework activity: ${where}: ${issue?.message ?? 'invalid'}.`) });
        return;
      }
      // Nothing in the body decides who may talk to an anonymous bot: the connection's own peer does.
      if (anonymous && !isLocalRequest(req.socket?.remoteAddress, req.headers)) {
        res.send(401, {
          error: errorBody(
            'INVALID_TOKEN',
            'Without BOT_ID the bot only answers requests from this machine (Agents Playground, Bot Framework Emulator).',
            'Set BOT_ID and SECRET_BOT_PASSWORD to talk to Microsoft Teams.',
          ),
        });
        return;
      }
      if (anonymous && !isLoopbackUrl(parsed.data.serviceUrl)) {
        res.send(401, {
          error: errorBody(
            'INVALID_TOKEN',
            'Without BOT_ID the bot only answers a local channel (Agents Playground, Bot Framework Emulator).',
            'Set BOT_ID and SECRET_BOT_PASSWORD to talk to Microsoft Teams.',
          ),
        });
        return;
      }
      // Before authentication: other channels (Web Chat, Direct Line…) have no business here.
      if (!anonymous && parsed.data.channelId !== TEAMS_CHANNEL) {
        res.send(400, {
          error: errorBody(
            'VALIDATION_FAILED',
            `Not a Microsoft Teams activity: channelId: this bot serves the ${TEAMS_CHANNEL} channel only.`,
            'Talk to Connection Center in Microsoft Teams.',
          ),
        });
        return;
      }
      if (!anonymous && !req.headers.authorization) {
        // The adapter would refuse it too, but only after printing the error to the console.
        res.send(401, { error: errorBody('INVALID_TOKEN', 'Bot Framework activities must carry a Bot Framework token.') });
        return;
      }
      try {
        await adapter.process(req as never, res as never, (context) => handler.run(context));
      } catch (err) {
        logger.error({ err: loggableError(err) }, 'bot: activity not processed');
        if (!res.headersSent) res.send(500, { error: errorBody('INTERNAL') });
      }
    },
    notifier,
    emitTestOutcome: (tenantId, previous, current) => triggers.emitTestOutcome(tenantId.toLowerCase(), previous, current),
    runDailyChecks: (at) => triggers.runDailyChecks(at),
    emitConnectionLost: (tenantId, connection, runId) => triggers.emitConnectionLost(tenantId.toLowerCase(), connection, runId),
    emitCheckDigest: (tenantId, digest) => triggers.emitCheckDigest(tenantId.toLowerCase(), digest),
    async close() {
      await notifier.stop();
    },
  };
}

/**
 * The connector's HTTP pipeline retries 429 and 5xx on its own (three times, inline). For proactive
 * sends the notifier owns retries, pacing and the give-up bound, so that policy is removed from
 * this turn's client. Internal API: if a botbuilder update moves it, sends still work, just with
 * the pipeline's extra retries (tests/integration/bot-notifier.test.ts would notice).
 */
function disableSdkRetries(context: TurnContext, adapter: CloudAdapter): void {
  const connector = context.turnState.get(adapter.ConnectorClientKey) as
    { client?: { pipeline?: { removePolicy?: (p: { name: string }) => unknown } } } | undefined;
  connector?.client?.pipeline?.removePolicy?.({ name: 'defaultRetryPolicy' });
}
