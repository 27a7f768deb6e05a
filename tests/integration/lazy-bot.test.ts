/**
 * src/index.ts starts the product with `lazyBot`: botbuilder and the card templating (most of the
 * start-up time) load on the bot's first use, not before the server answers. The bot module is
 * wrapped so the test sees when it is first required.
 */
import { startFakeConnector, type FakeConnector } from '../helpers/fake-connector';
import { startTestProduct, type TestProduct } from '../helpers/product';

// Not from helpers/bot-kit: it imports the bot module itself.
const TENANT = '66305621-97b8-41f8-953b-d70d11d91d5b';
const ADMIN_OID = '5bcd79c3-5b4b-4b18-a10e-417b85901dda';

let mockBotModuleLoads = 0;
jest.mock('../../bot', () => {
  mockBotModuleLoads++;
  return jest.requireActual('../../bot');
});

let p: TestProduct;
let connector: FakeConnector;

beforeAll(async () => {
  p = await startTestProduct({ lazyBot: true });
  connector = await startFakeConnector();
});

afterAll(async () => {
  await p?.close();
  await connector?.close();
});

test('the server answers before the bot is loaded, and the first activity loads it', async () => {
  expect((await p.call('GET', '/readyz')).status).toBe(200);
  expect(mockBotModuleLoads).toBe(0);

  const res = await fetch(`${p.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      type: 'installationUpdate',
      action: 'add',
      id: 'incoming-1',
      timestamp: new Date().toISOString(),
      serviceUrl: connector.url,
      channelId: 'msteams',
      from: { id: `29:${ADMIN_OID}`, aadObjectId: ADMIN_OID, name: 'Adele Vance' },
      recipient: { id: '28:bot-id', name: 'Connection Center' },
      conversation: { id: 'a:adele-chat', conversationType: 'personal', tenantId: TENANT },
      channelData: { tenant: { id: TENANT } },
      locale: 'en-US',
    }),
  });
  await res.text();
  expect(res.status).toBe(200);
  expect(mockBotModuleLoads).toBe(1);
  expect((await p.store.listConversations(TENANT)).map((c) => c.conversationId)).toEqual(['a:adele-chat']);
});
