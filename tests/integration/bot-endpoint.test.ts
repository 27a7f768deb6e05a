/**
 * Who may reach POST /api/messages. With BOT_ID only the Microsoft Teams channel is served, and
 * other channels are refused before any Bot Framework authentication. Without BOT_ID (local runs)
 * a loopback peer is served through the real product server; a non-loopback peer is covered by the
 * unit test of isLoopbackPeer (tests/unit/bot-peer.test.ts), since a test client here is loopback.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import { startTestProduct, type TestProduct } from '../helpers/product';
import { ADMIN_OID, TENANT, message, startBotServer, type BotServer } from '../helpers/bot-kit';

const BOT_ID = '22222222-3333-4444-5555-666666666666';

describe('with BOT_ID (Bot Framework authentication)', () => {
  let srv: BotServer;
  beforeAll(async () => {
    srv = await startBotServer({ botId: BOT_ID, botPassword: 'bot~value' });
  });
  afterAll(() => srv.close());

  test.each(['webchat', 'directline', 'emulator', 'slack'])('a %s activity is refused before authentication, in the JSON envelope', async (channelId) => {
    const activity = { ...message('status', { serviceUrl: 'https://smba.trafficmanager.net/emea/' }), channelId };
    const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer not-a-real-token' }];
    for (const headers of variants) {
      const res = await srv.post(activity, headers);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: expect.objectContaining({ code: 'VALIDATION_FAILED', message: expect.stringMatching(/msteams/) }) });
    }
    expect(await srv.store.getConversation(TENANT, 'a:personal-chat-1')).toBeUndefined();
  });

  test('a Teams activity still needs its Bot Framework token', async () => {
    const res = await srv.post(message('status', { serviceUrl: 'https://smba.trafficmanager.net/emea/' }));
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('INVALID_TOKEN');
  });
});

describe('the product server', () => {
  let connector: FakeConnector;
  beforeAll(async () => {
    connector = await startFakeConnector();
  });
  afterAll(() => connector.close());

  test('with BOT_ID, the real route refuses another channel before authentication', async () => {
    const p: TestProduct = await startTestProduct({ env: { BOT_ID, SECRET_BOT_PASSWORD: 'bot~value' } });
    try {
      const res = await p.call('POST', '/api/messages', { body: { ...message('status', { serviceUrl: connector.url }), channelId: 'webchat' } });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
    } finally {
      await p.close();
    }
  });

  test('without BOT_ID, a loopback peer is served', async () => {
    const p: TestProduct = await startTestProduct();
    try {
      const res = await p.call('POST', '/api/messages', {
        body: message('help', { serviceUrl: connector.url, conversationId: 'a:local', fromOid: ADMIN_OID }),
      });
      expect(res.status).toBe(200);
      expect(connector.received.filter((r) => r.conversationId === 'a:local')).toHaveLength(1);

      // The same request relayed by a tunnel (whose client connects from loopback) is not local.
      const relayed = await p.call('POST', '/api/messages', {
        body: message('status', { serviceUrl: connector.url, conversationId: 'a:relayed', fromOid: ADMIN_OID }),
        headers: { 'x-forwarded-for': '203.0.113.7' },
      });
      expect(relayed.status).toBe(401);
      expect(relayed.body.error).toMatchObject({ code: 'INVALID_TOKEN', message: expect.stringMatching(/this machine/) });
      expect(connector.received.filter((r) => r.conversationId === 'a:relayed')).toHaveLength(0);
    } finally {
      await p.close();
    }
  });
});
