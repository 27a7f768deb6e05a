/**
 * A fake Bot Connector (the Bot Framework REST API a bot posts to) on 127.0.0.1:<port>. It records
 * what the bot sends, answers after a fixed latency, and can enforce Teams' rate limits with
 * 429 + Retry-After, or fail the next requests on purpose.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedActivity {
  conversationId: string;
  tenantId: string;
  /** Reply to this activity id, when the bot answered within a turn. */
  replyToId?: string;
  at: number;
  activity: Record<string, any>;
}

export interface FakeConnectorOptions {
  latencyMs?: number;
  /** Sliding one-second windows; a request over either limit gets 429 with Retry-After. */
  limits?: { perConversationPerSecond: number; perTenantPerSecond: number };
  /** Answers for GET …/members/{id}. */
  members?: Record<string, Record<string, unknown>>;
}

export interface ScriptedFailure {
  status: number;
  headers?: Record<string, string>;
  /** The error body; `{ error: { code: 'Scripted', message: 'scripted <status>' } }` when absent. */
  body?: unknown;
}

export interface FakeConnector {
  url: string;
  received: ReceivedActivity[];
  /** Every POST seen, accepted or not. */
  requests: number;
  throttled: number;
  /** The next requests get these statuses (headers, error bodies) before normal service resumes. */
  failNext(...responses: ScriptedFailure[]): void;
  close(): Promise<void>;
}

export async function startFakeConnector(options: FakeConnectorOptions = {}): Promise<FakeConnector> {
  const latency = options.latencyMs ?? 0;
  const byConversation = new Map<string, number[]>();
  const byTenant = new Map<string, number[]>();
  const scripted: ScriptedFailure[] = [];
  let nextId = 1;

  const state = {
    received: [] as ReceivedActivity[],
    requests: 0,
    throttled: 0,
  };

  const window = (map: Map<string, number[]>, key: string, now: number): number[] => {
    const list = (map.get(key) ?? []).filter((t) => t > now - 1000);
    map.set(key, list);
    return list;
  };

  const answer = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const send = () => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (latency > 0) setTimeout(send, latency);
    else send();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    // /v3/conversations/{id}/members/{memberId}
    if (req.method === 'GET' && parts[0] === 'v3' && parts[1] === 'conversations' && parts[3] === 'members' && parts[4]) {
      const member = options.members?.[parts[4]];
      if (member) answer(res, 200, member);
      else answer(res, 404, { error: { code: 'ConversationNotFound', message: 'member not found' } });
      return;
    }
    // /v3/conversations/{id}/activities[/{replyToId}]
    if (req.method === 'POST' && parts[0] === 'v3' && parts[1] === 'conversations' && parts[3] === 'activities') {
      state.requests++;
      const conversationId = parts[2];
      const activity = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      const tenantId = String(activity?.conversation?.tenantId ?? activity?.channelData?.tenant?.id ?? 'unknown');
      const failure = scripted.shift();
      if (failure) {
        if (failure.status === 429) state.throttled++;
        answer(res, failure.status, failure.body ?? { error: { code: 'Scripted', message: `scripted ${failure.status}` } }, failure.headers);
        return;
      }
      const now = Date.now();
      if (options.limits) {
        const conv = window(byConversation, conversationId, now);
        const ten = window(byTenant, tenantId, now);
        const over = conv.length >= options.limits.perConversationPerSecond ? conv : ten.length >= options.limits.perTenantPerSecond ? ten : undefined;
        if (over) {
          state.throttled++;
          const retryAfter = Math.max(1, Math.ceil((over[0] + 1000 - now) / 1000));
          answer(res, 429, { error: { code: 'Throttled', message: 'Too many requests' } }, { 'retry-after': String(retryAfter) });
          return;
        }
        conv.push(now);
        ten.push(now);
      }
      state.received.push({ conversationId, tenantId, replyToId: parts[4], at: now, activity });
      answer(res, 200, { id: `activity-${nextId++}` });
      return;
    }
    answer(res, 404, { error: { code: 'NotFound', message: `${req.method} ${url.pathname}` } });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/`,
    get received() {
      return state.received;
    },
    get requests() {
      return state.requests;
    },
    get throttled() {
      return state.throttled;
    },
    failNext(...responses) {
      scripted.push(...responses);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
