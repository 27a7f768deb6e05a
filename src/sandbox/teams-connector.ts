/**
 * A stand-in for the Teams side of the Bot Framework, on plain HTTP loopback: it tells the product's
 * bot about installations (POST to its /api/messages, as Teams does, with this listener as the
 * `serviceUrl`), answers the Bot Connector calls the bot makes back (send to a conversation, read a
 * member), records every message, and shows each demo user's chat at `/_sandbox/teams` with the
 * cards rendered by the adaptivecards library. Loopback clients only.
 *
 * The product's bot must run anonymously (BOT_ID empty): this stand-in signs nothing.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import type { SandboxLogger } from './context';
import { isLoopback, readBody, sendJson } from './http';
import type { World, UserState } from './state';
import type { Installation, InstallListener, TeamsState } from './teamwork';

/** The bot as Teams names it in activities (`28:<bot app id>`); anonymous local runs have no app id. */
export const SANDBOX_BOT_ACCOUNT = { id: '28:connection-center-sandbox-bot', name: 'Connection Center' };

export interface ChatMessage {
  at: string;
  /** `bot`: what the product sent; `teams`: what the stand-in sent the bot (install, removal). */
  from: 'bot' | 'teams';
  activity: Record<string, unknown>;
}

export interface SandboxChat {
  conversationId: string;
  tenantId: string;
  userOid: string;
  upn: string;
  displayName: string;
  installed: boolean;
  messages: ChatMessage[];
}

export interface TeamsConnector extends InstallListener {
  /** http://127.0.0.1:PORT/ — the `serviceUrl` of every activity. */
  url: string;
  /** The product's messaging endpoint (…/api/messages); nothing is delivered until it is set. */
  botEndpoint?: string;
  chats: Map<string, SandboxChat>;
  /** The user types `text` in their chat with the bot. */
  say(inst: Installation, user: UserState, text: string): Promise<void>;
  close(): Promise<void>;
}

const ADAPTIVECARDS_JS = (() => {
  try {
    return require.resolve('adaptivecards/dist/adaptivecards.min.js');
  } catch {
    return undefined;
  }
})();

export async function startTeamsConnector(opts: { world: World; teams: TeamsState; logger: SandboxLogger; host?: string }): Promise<TeamsConnector> {
  const { world, logger } = opts;
  const chats = new Map<string, SandboxChat>();

  const chatFor = (inst: Installation, user: UserState): SandboxChat => {
    let chat = chats.get(inst.chatId);
    if (!chat) {
      chat = {
        conversationId: inst.chatId,
        tenantId: inst.tenantId,
        userOid: user.oid,
        upn: user.upn,
        displayName: user.displayName,
        installed: true,
        messages: [],
      };
      chats.set(inst.chatId, chat);
    }
    return chat;
  };

  const activityBase = (chat: SandboxChat, user: UserState) => ({
    id: randomUUID(),
    timestamp: new Date(world.now()).toISOString(),
    serviceUrl: connector.url,
    channelId: 'msteams',
    from: { id: `29:${user.oid}`, name: user.displayName, aadObjectId: user.oid },
    recipient: SANDBOX_BOT_ACCOUNT,
    conversation: { id: chat.conversationId, conversationType: 'personal', tenantId: chat.tenantId },
    channelData: { tenant: { id: chat.tenantId } },
    locale: 'en-US',
  });

  const deliver = async (chat: SandboxChat, activity: Record<string, unknown>): Promise<void> => {
    chat.messages.push({ at: String(activity.timestamp), from: 'teams', activity });
    if (!connector.botEndpoint) return;
    const res = await fetch(connector.botEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(activity),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) logger.warn({ status: res.status, type: activity.type }, 'sandbox teams: the bot refused an activity');
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    if (!isLoopback(req)) return sendJson(res, 403, { error: { code: 'Forbidden', message: 'The sandbox Teams stand-in answers loopback clients only.' } });
    const url = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && url.pathname === '/_sandbox/teams') return page(res);
    if (req.method === 'GET' && url.pathname === '/_sandbox/teams/chats.json') return sendJson(res, 200, { chats: chatList() });
    if (req.method === 'GET' && url.pathname === '/_sandbox/teams/adaptivecards.js' && ADAPTIVECARDS_JS) {
      const js = readFileSync(ADAPTIVECARDS_JS);
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'content-length': js.length, 'cache-control': 'max-age=3600' });
      res.end(js);
      return;
    }
    if (parts[0] !== 'v3' || parts[1] !== 'conversations' || !parts[2])
      return sendJson(res, 404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
    const chat = chats.get(parts[2]);
    if (!chat) return sendJson(res, 404, { error: { code: 'ConversationNotFound', message: 'Conversation not found.' } });
    // GET /v3/conversations/{id}/members/{memberId}
    if (req.method === 'GET' && parts[3] === 'members' && parts[4]) {
      const user = world.findUserAnywhere(chat.userOid);
      if (!user || parts[4] !== `29:${user.oid}`) return sendJson(res, 404, { error: { code: 'MemberNotFoundInConversation', message: 'Member not found.' } });
      return sendJson(res, 200, {
        id: `29:${user.oid}`,
        name: user.displayName,
        aadObjectId: user.oid,
        userPrincipalName: user.upn,
        email: user.upn,
        givenName: user.givenName,
        surname: user.surname,
        tenantId: chat.tenantId,
        userRole: 'user',
      });
    }
    // POST /v3/conversations/{id}/activities[/{replyToId}]
    if (req.method === 'POST' && parts[3] === 'activities') {
      const raw = await readBody(req, 512 * 1024);
      let activity: Record<string, unknown>;
      try {
        activity = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { error: { code: 'BadArgument', message: 'The activity is not JSON.' } });
      }
      if (!chat.installed)
        return sendJson(res, 403, { error: { code: 'BotNotInConversationRoster', message: 'The bot is not part of the conversation roster.' } });
      const id = `1:${randomUUID()}`;
      chat.messages.push({ at: new Date(world.now()).toISOString(), from: 'bot', activity: { ...activity, id } });
      return sendJson(res, 201, { id });
    }
    return sendJson(res, 405, { error: { code: 'BadArgument', message: `${req.method} is not supported here.` } });
  };

  const chatList = () =>
    [...chats.values()].map((c) => ({
      ...c,
      messages: c.messages.map((m) => ({ at: m.at, from: m.from, type: m.activity.type, text: m.activity.text, attachments: m.activity.attachments })),
    }));

  const page = (res: http.ServerResponse) => {
    const html = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sandbox Teams — what each user received</title>
<style>
body{margin:0;font-family:"Segoe UI",-apple-system,Roboto,sans-serif;background:#f5f5f5;color:#242424}
.banner{background:#fff4ce;color:#5d4200;font-size:13px;padding:8px 16px;border-bottom:1px solid #f0d78c}
main{display:flex;flex-wrap:wrap;gap:16px;padding:16px}
section{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.15);width:420px;padding:12px}
h2{font-size:16px;margin:0 0 2px}
.meta{color:#616161;font-size:12px;margin-bottom:8px}
.msg{border-top:1px solid #eee;padding:8px 0}
.msg small{color:#616161;display:block;margin-bottom:4px}
.event{color:#616161;font-style:italic;font-size:13px}
</style></head><body>
<div class="banner" role="note">Sandbox stand-in for Microsoft Teams: every chat the Connection Center bot has with a demo user, as that user would see it.</div>
<main id="chats"><p>Loading…</p></main>
<script src="/_sandbox/teams/adaptivecards.js"></script>
<script>
(async () => {
  const main = document.getElementById('chats');
  const { chats } = await (await fetch('/_sandbox/teams/chats.json')).json();
  main.textContent = '';
  if (!chats.length) main.textContent = 'No chats yet: nobody has the bot.';
  for (const chat of chats) {
    const s = document.createElement('section');
    s.setAttribute('data-upn', chat.upn);
    const h2 = document.createElement('h2'); h2.textContent = chat.displayName; s.appendChild(h2);
    const meta = document.createElement('div'); meta.className = 'meta'; meta.textContent = chat.upn + (chat.installed ? '' : ' · removed the bot'); s.appendChild(meta);
    for (const m of chat.messages) {
      const d = document.createElement('div'); d.className = 'msg';
      const t = document.createElement('small'); t.textContent = new Date(m.at).toLocaleString() + (m.from === 'teams' ? ' · Teams' : ' · Connection Center'); d.appendChild(t);
      if (m.from === 'teams') { const e = document.createElement('div'); e.className = 'event'; e.textContent = m.type; d.appendChild(e); }
      if (m.text) { const p = document.createElement('div'); p.textContent = m.text; d.appendChild(p); }
      for (const a of m.attachments || []) {
        if (a.contentType !== 'application/vnd.microsoft.card.adaptive') continue;
        const card = new AdaptiveCards.AdaptiveCard();
        card.parse(a.content);
        const el = card.render();
        if (el) d.appendChild(el);
      }
      s.appendChild(d);
    }
    main.appendChild(s);
  }
})();
</script></body></html>`;
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy':
        "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data: https:",
      'content-length': Buffer.byteLength(html),
    });
    res.end(html);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, 'sandbox teams: unexpected error');
      sendJson(res, 500, { error: { code: 'ServiceError', message: 'The sandbox Teams stand-in failed.' } });
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const connector: TeamsConnector = {
    url: `http://${opts.host === '::1' ? '[::1]' : (opts.host ?? '127.0.0.1')}:${port}/`,
    chats,
    async installed(inst, user) {
      const chat = chatFor(inst, user);
      chat.installed = true;
      const base = activityBase(chat, user);
      // Teams sends both; the bot says welcome on the conversationUpdate.
      await deliver(chat, { ...base, id: randomUUID(), type: 'installationUpdate', action: 'add' });
      await deliver(chat, { ...base, type: 'conversationUpdate', membersAdded: [{ id: SANDBOX_BOT_ACCOUNT.id }] });
    },
    async removed(inst, user) {
      const chat = chatFor(inst, user);
      const base = activityBase(chat, user);
      await deliver(chat, { ...base, id: randomUUID(), type: 'installationUpdate', action: 'remove' });
      await deliver(chat, { ...base, type: 'conversationUpdate', membersRemoved: [{ id: SANDBOX_BOT_ACCOUNT.id }] });
      chat.installed = false;
    },
    async say(inst, user, text) {
      const chat = chatFor(inst, user);
      await deliver(chat, { ...activityBase(chat, user), type: 'message', text, textFormat: 'plain' });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  return connector;
}
