/**
 * The Teams activity handler: installs and uninstalls (conversation references per tenant), typed
 * commands and command-menu entries, and the Action.Execute invokes of the cards.
 */
import {
  MessageFactory,
  TeamsActivityHandler,
  TeamsInfo,
  TurnContext,
  type AdaptiveCardInvokeResponse,
  type Attachment,
  type ChannelAccount,
  type InvokeResponse,
} from 'botbuilder';
import type { Logger } from 'pino';
import type { AdminStanding } from '../src/domain/admin';
import { ERROR_CATALOGUE } from '../src/domain/errors';
import type { AuditRecords, ConversationRecord, ConversationRecords, ServiceAccountRecords, TenantRecords, UserRecords } from '../src/store/types';
import { ADMIN_COMMANDS, VERBS, parseCommand, type ParsedCommand } from './commands';
import {
  buildCard,
  cardAttachment,
  errorModel,
  escapeCardMarkdown,
  helpModel,
  statusModel,
  testCard,
  welcomeModel,
  type AdaptiveCardJson,
  type CommandName,
} from './cards';
import { campaignRemindText } from './reach';
import { conversationIdOf, referenceOf, scopeOf, tenantOf } from './conversations';
import { loggableError } from './safe-error';
import type { BotServices } from '../src/services/ports';
import type { Triggers } from './triggers';

export interface HandlerDeps {
  store: AuditRecords & ConversationRecords & ServiceAccountRecords & TenantRecords & UserRecords;
  services: BotServices;
  logger: Logger;
  triggers: Triggers;
  now: () => Date;
}

const CARD_RESPONSE = 'application/vnd.microsoft.card.adaptive';
const MESSAGE_RESPONSE = 'application/vnd.microsoft.activity.message';

interface Turn {
  tenantId: string;
  conversationId: string;
  /** Entra object id of the sender, when Teams gave one. */
  oid?: string;
  standing: AdminStanding;
  /** Admin rights proven recently enough to act on (standing `admin`). */
  isAdmin: boolean;
}

export class ConnectionCenterBot extends TeamsActivityHandler {
  constructor(private readonly deps: HandlerDeps) {
    super();
  }

  // ---- installs ------------------------------------------------------------------------------

  protected override async onConversationUpdateActivity(context: TurnContext): Promise<void> {
    const a = context.activity;
    const botId = a.recipient?.id;
    if (botId && a.membersRemoved?.some((m) => m.id === botId)) await this.#uninstall(context);
    else if (botId && a.membersAdded?.some((m) => m.id === botId)) await this.#install(context, true);
  }

  protected override async onInstallationUpdateActivity(context: TurnContext): Promise<void> {
    const action = String(context.activity.action ?? '');
    // Teams sends a conversationUpdate with the same install; that one says welcome.
    if (action === 'add' || action === 'add-upgrade') await this.#install(context, false);
    else if (action === 'remove') await this.#uninstall(context);
  }

  async #install(context: TurnContext, welcome: boolean): Promise<void> {
    const a = context.activity;
    const tenantId = tenantOf(a);
    const conversationId = conversationIdOf(a);
    if (!tenantId || !conversationId) return;
    const standing = await this.#standing(tenantId, a.from);
    const isAdmin = standing === 'admin';
    // An admin whose proof is stale still subscribes: the cards wait until they open the tab.
    const record = await this.#remember(context, tenantId, conversationId, standing !== 'none', true);
    if (welcome) {
      const card = buildCard('Welcome', welcomeModel({ isAdmin, subscribed: record.subscribed, tabUrl: this.deps.services.tabUrl() }));
      await context.sendActivity(MessageFactory.attachment(cardAttachment(card) as Attachment));
    }
  }

  async #uninstall(context: TurnContext): Promise<void> {
    const tenantId = tenantOf(context.activity);
    const conversationId = conversationIdOf(context.activity);
    if (!tenantId || !conversationId) return;
    const removed = await this.deps.store.getConversation(tenantId, conversationId);
    if (await this.deps.store.deleteConversation(tenantId, conversationId)) {
      // Reach must not put the bot back for someone who removed it.
      if (removed?.scope === 'personal')
        await this.deps.services.campaign
          ?.botRemoved(tenantId, { oid: removed.userOid, upn: removed.userUpn })
          .catch((err) => this.deps.logger.warn({ tenantId, err: loggableError(err) }, 'bot: could not remember the removal'));
      await this.deps.store.audit({ tenantId, actor: context.activity.from?.aadObjectId ?? 'system', action: 'bot.uninstalled', target: conversationId });
    }
  }

  /**
   * Stores (or refreshes) the conversation reference. A new personal chat of an admin subscribes to
   * admin cards; an existing record keeps its subscription (an admin may have unsubscribed).
   */
  async #remember(context: TurnContext, tenantId: string, conversationId: string, adminByRecord: boolean, installing: boolean): Promise<ConversationRecord> {
    const a = context.activity;
    const { store } = this.deps;
    const existing = await store.getConversation(tenantId, conversationId);
    const reference = referenceOf(a) as Record<string, unknown>;
    if (existing && !installing && existing.reference.serviceUrl === reference.serviceUrl) return existing;
    const scope = scopeOf(a);
    const oid = scope === 'personal' ? a.from?.aadObjectId?.toLowerCase() : undefined;
    const record: ConversationRecord = {
      tenantId,
      conversationId,
      scope,
      ...(oid ? { userOid: oid } : {}),
      ...(scope === 'personal' ? { userUpn: existing?.userUpn ?? (await this.#upnOf(context, tenantId, oid)) } : {}),
      subscribed: existing?.subscribed ?? (scope === 'personal' && adminByRecord),
      reference,
      updatedAt: this.deps.now().toISOString(),
    };
    if (record.userUpn === undefined) delete record.userUpn;
    await store.putConversation(record);
    if (!existing)
      await store.audit({
        tenantId,
        actor: oid ?? a.from?.id ?? 'system',
        action: 'bot.installed',
        target: conversationId,
        details: { scope, subscribed: record.subscribed },
      });
    return record;
  }

  /** The user's UPN lets `remind` reach people known only by UPN (imported legacy connections). */
  async #upnOf(context: TurnContext, tenantId: string, oid: string | undefined): Promise<string | undefined> {
    if (oid) {
      const user = await this.deps.store.getUser(tenantId, oid).catch(() => undefined);
      if (user?.upn) return user.upn.toLowerCase();
    }
    try {
      const member = await TeamsInfo.getMember(context, context.activity.from.id);
      return member.userPrincipalName?.toLowerCase() || undefined;
    } catch {
      return undefined;
    }
  }

  /** By the sender's object id only: names and UPNs in an activity can change or be spoofed. */
  async #standing(tenantId: string, from: ChannelAccount | undefined): Promise<AdminStanding> {
    const oid = from?.aadObjectId;
    if (!oid) return 'none';
    try {
      return await this.deps.services.adminStanding(tenantId, oid.toLowerCase());
    } catch (err) {
      this.deps.logger.warn({ tenantId, err: loggableError(err) }, 'bot: admin check failed; treating the user as not an admin');
      return 'none';
    }
  }

  async #turn(context: TurnContext): Promise<Turn | undefined> {
    const a = context.activity;
    const tenantId = tenantOf(a);
    const conversationId = conversationIdOf(a);
    if (!tenantId || !conversationId) return undefined;
    const standing = await this.#standing(tenantId, a.from);
    await this.#remember(context, tenantId, conversationId, standing !== 'none', false);
    return { tenantId, conversationId, oid: a.from?.aadObjectId?.toLowerCase(), standing, isAdmin: standing === 'admin' };
  }

  // ---- messages ------------------------------------------------------------------------------

  protected override async onMessageActivity(context: TurnContext): Promise<void> {
    const turn = await this.#turn(context);
    if (!turn) {
      await context.sendActivity('Connection Center works inside Microsoft Teams: this conversation has no Microsoft 365 tenant.');
      return;
    }
    const a = context.activity;
    const verb = (a.value as { verb?: unknown } | undefined)?.verb;
    let command: ParsedCommand;
    if (typeof verb === 'string') {
      // Action.Submit, the fallback of Action.Execute on clients older than card version 1.4.
      const mapped = VERBS[verb];
      if (!mapped) {
        await this.#reply(context, this.#unknownVerbCard(verb));
        return;
      }
      command = { name: mapped };
    } else {
      const text = a.entities?.some((e) => e.type === 'mention') ? TurnContext.removeRecipientMention(a) : a.text;
      command = parseCommand(text);
    }
    try {
      await this.#run(context, turn, command);
    } catch (err) {
      this.deps.logger.error({ tenantId: turn.tenantId, command: command.name, err: loggableError(err) }, 'bot: command failed');
      await this.#reply(context, buildCard('Error', errorModel({ code: 'INTERNAL', tabUrl: this.deps.services.tabUrl() })));
    }
  }

  async #run(context: TurnContext, turn: Turn, command: ParsedCommand): Promise<void> {
    const tabUrl = this.deps.services.tabUrl();
    if (command.name === 'unknown' || command.name === 'help') {
      const unknown = command.name === 'unknown' && command.text ? command.text : undefined;
      await this.#reply(context, buildCard('Help', helpModel({ isAdmin: turn.isAdmin, welcome: false, tabUrl, unknown })));
      return;
    }
    if (ADMIN_COMMANDS.includes(command.name) && !turn.isAdmin) {
      await context.sendActivity(turn.standing === 'unproven' ? this.#proveFirst(command.name) : this.#refusal(command.name));
      return;
    }
    switch (command.name) {
      case 'status': {
        const [summary, tenant, funnel] = await Promise.all([
          this.deps.services.summary(turn.tenantId),
          this.deps.store.getTenant(turn.tenantId),
          this.deps.services.campaign?.funnel(turn.tenantId),
        ]);
        await this.#reply(context, buildCard('Status', statusModel(summary, this.deps.now(), tabUrl, tenant?.displayName, funnel)));
        return;
      }
      case 'test':
        await context.sendActivity({ type: 'typing' });
        await this.#reply(context, await this.#testCard(turn));
        return;
      case 'remind':
        await context.sendActivity(await this.#remind(turn));
        return;
      case 'subscribe here':
      case 'unsubscribe':
        await context.sendActivity(await this.#subscribe(turn, command.name === 'subscribe here'));
        return;
    }
  }

  /** An admin not proven recently: one visit to the tab (a verified token) proves it again. */
  #proveFirst(command: CommandName): string {
    return `Before I run "${command}", please open Connection Center once: ${this.deps.services.tabUrl()} — it confirms you are still an administrator. Then ask me again.`;
  }

  #refusal(command: CommandName): string {
    return `Sorry, "${command}" is only for Connection Center administrators. ${ERROR_CATALOGUE.ADMIN_ROLE_REQUIRED.remedy} Type "help" to see what I can do for you.`;
  }

  async #testCard(turn: Turn): Promise<AdaptiveCardJson> {
    const { services, store } = this.deps;
    const tabUrl = services.tabUrl();
    const actor = await this.#actor(turn);
    // The verdict alert this test may trigger skips this conversation: the reply below is the answer.
    const result = await this.deps.triggers.answering(turn.tenantId, turn.conversationId, () => services.runServiceAccountTest(turn.tenantId, actor));
    if ('notConfigured' in result) {
      return buildCard('Error', errorModel({ code: 'SERVICE_ACCOUNT_NOT_CONFIGURED', title: 'No service account to test', tabUrl, style: 'warning' }));
    }
    const [tenant, account] = await Promise.all([store.getTenant(turn.tenantId), store.getServiceAccount(turn.tenantId)]);
    let portal;
    if (!result.ok)
      portal = await services.permissions(turn.tenantId).then(
        (p) => p.portal,
        () => undefined,
      );
    const card = testCard(result, { tabUrl, tenantName: tenant?.displayName, enabled: account?.features, portal });
    return buildCard(card.name, card.model as never);
  }

  async #remind(turn: Turn): Promise<string> {
    if (this.deps.services.campaign) return campaignRemindText(await this.deps.services.campaign.remind(turn.tenantId, await this.#actor(turn)));
    const r = await this.deps.triggers.remind(turn.tenantId, await this.#actor(turn), this.deps.now());
    if (r.users === 0) return 'Nobody needs a reminder: no one is left on EWS Basic Auth or needs to reconnect.';
    const people = (n: number) => `${n} ${n === 1 ? 'person' : 'people'}`;
    const noChat = 'they have not opened Connection Center in Teams yet, so I have no chat with them.';
    if (r.queued === 0 && r.alreadyReminded === 0) {
      return `I could not remind anyone: ${people(r.unreachable)} still to move ${r.unreachable === 1 ? 'has' : 'have'} not opened Connection Center in Teams yet, so I have no chat with them.`;
    }
    const parts = [r.queued > 0 ? `Queued ${r.queued} reconnect reminder${r.queued === 1 ? '' : 's'}.` : 'No new reminders queued.'];
    if (r.alreadyReminded > 0) parts.push(`${people(r.alreadyReminded)} ${r.alreadyReminded === 1 ? 'was' : 'were'} already reminded today.`);
    if (r.unreachable > 0) parts.push(`${people(r.unreachable)} could not be reached: ${noChat}`);
    return parts.join(' ');
  }

  async #subscribe(turn: Turn, on: boolean): Promise<string> {
    const { store } = this.deps;
    const record = await store.getConversation(turn.tenantId, turn.conversationId);
    if (!record) return 'I could not find this conversation; remove and add the app again.';
    if (record.subscribed !== on) {
      await store.putConversation({ ...record, subscribed: on, updatedAt: this.deps.now().toISOString() });
      await store.audit({
        tenantId: turn.tenantId,
        actor: await this.#actor(turn),
        action: on ? 'bot.subscribed' : 'bot.unsubscribed',
        target: turn.conversationId,
      });
    }
    return on
      ? 'Admin alerts (failed tests, missing permissions, deadlines, expiring secrets) will be posted here. Type "unsubscribe" to stop them.'
      : 'Admin alerts will no longer be posted here. Type "subscribe here" to get them back.';
  }

  async #actor(turn: Turn): Promise<string> {
    if (!turn.oid) return 'unknown';
    const user = await this.deps.store.getUser(turn.tenantId, turn.oid).catch(() => undefined);
    return user?.upn ?? turn.oid;
  }

  async #reply(context: TurnContext, card: AdaptiveCardJson): Promise<void> {
    await context.sendActivity(MessageFactory.attachment(cardAttachment(card) as Attachment));
  }

  #unknownVerbCard(verb: string): AdaptiveCardJson {
    return buildCard(
      'Error',
      errorModel({
        title: 'This button is not supported',
        message: `This card asked for an action I do not know ("${escapeCardMarkdown(verb.slice(0, 40))}"). It may come from an older version of Connection Center.`,
        remedy: 'Type "help" to see what I can do.',
        tabUrl: this.deps.services.tabUrl(),
      }),
    );
  }

  // ---- card actions (Action.Execute) ---------------------------------------------------------

  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    if (context.activity.name !== 'adaptiveCard/action') return super.onInvokeActivity(context);
    const response = await this.#cardAction(context);
    return { status: 200, body: response };
  }

  async #cardAction(context: TurnContext): Promise<AdaptiveCardInvokeResponse> {
    const tabUrl = this.deps.services.tabUrl();
    const asCard = (card: AdaptiveCardJson): AdaptiveCardInvokeResponse => ({ statusCode: 200, type: CARD_RESPONSE, value: card });
    const action = (context.activity.value as { action?: { type?: unknown; verb?: unknown } } | undefined)?.action;
    const verb = typeof action?.verb === 'string' ? action.verb : '';
    try {
      const turn = await this.#turn(context);
      if (!turn)
        return asCard(buildCard('Error', errorModel({ title: 'No tenant', message: 'This action only works inside Microsoft Teams.', remedy: '', tabUrl })));
      const command = VERBS[verb];
      if (!command) return asCard(this.#unknownVerbCard(verb || '(none)'));
      if (turn.standing === 'unproven') {
        return asCard(
          buildCard(
            'Error',
            errorModel({
              title: 'Open Connection Center once',
              message: 'It has been a while since Connection Center last confirmed you are an administrator.',
              remedy: 'Open Connection Center (the button below) once, then try again.',
              tabUrl,
              style: 'warning',
            }),
          ),
        );
      }
      if (!turn.isAdmin) {
        return asCard(buildCard('Error', errorModel({ code: 'ADMIN_ROLE_REQUIRED', title: 'Only administrators can do this', tabUrl })));
      }
      if (command === 'test') return asCard(await this.#testCard(turn));
      // remind: the digest stays as it is; Teams shows the answer beside it.
      // The message response carries plain text (botbuilder types `value` as an object).
      return { statusCode: 200, type: MESSAGE_RESPONSE, value: (await this.#remind(turn)) as unknown as Record<string, unknown> };
    } catch (err) {
      this.deps.logger.error({ verb: verb.slice(0, 40), err: loggableError(err) }, 'bot: card action failed');
      return asCard(buildCard('Error', errorModel({ code: 'INTERNAL', tabUrl })));
    }
  }
}
