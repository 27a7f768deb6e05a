/**
 * The HTTP client MSAL talks to Entra ID through (src/identity/network.ts): statuses it remembers,
 * and Entra's answers handed to MSAL after the others read in the same poll.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sendRequest } from '../../src/graph/http';
import { TimedNetworkClient } from '../../src/identity/network';

let server: Server;
let url: string;
let onRequest: (req: IncomingMessage, res: ServerResponse) => void;

beforeAll(async () => {
  server = createServer((req, res) => onRequest(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

it('remembers the status and reads a JSON body', async () => {
  onRequest = (_req, res) => {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'invalid_grant' }));
  };
  const client = new TimedNetworkClient(5_000);
  const answer = await client.sendPostRequestAsync<{ error: string }>(url, { body: 'grant_type=refresh_token' });
  expect(answer).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
  expect(client.lastStatus).toBe(400);
  expect(client.unreachable).toBe(false);
});

it("hands Entra's answer to MSAL after the other answers read in the same poll", async () => {
  const held = new Map<string, ServerResponse>();
  onRequest = (req, res) => {
    req.resume();
    req.on('end', () => {
      held.set(req.url ?? '', res);
      if (held.size < 2) return;
      // Entra's answer goes out first; both are in their sockets before the loop polls again.
      for (const path of ['/token', '/v1.0/$batch']) {
        held.get(path)!.writeHead(200, { 'content-type': 'application/json' });
        held.get(path)!.end('{}');
      }
      const until = Date.now() + 30;
      while (Date.now() < until);
    });
  };
  const order: string[] = [];
  await Promise.all([
    new TimedNetworkClient(5_000).sendPostRequestAsync(url, { body: 'grant_type=refresh_token' }).then(() => order.push('entra')),
    sendRequest('POST', url.replace('/token', '/v1.0/$batch'), { body: '{}', timeoutMs: 5_000 }).then(() => order.push('graph')),
  ]);
  expect(order).toEqual(['graph', 'entra']);
});
