/**
 * The HTTP client MSAL talks to Entra ID through (src/identity/network.ts): statuses it remembers,
 * and answers handed back one per turn of the event loop.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

it('hands answers that arrived together back one per turn of the event loop', async () => {
  const held: ServerResponse[] = [];
  onRequest = (req, res) => {
    req.resume();
    req.on('end', () => {
      held.push(res);
      if (held.length < 3) return;
      for (const r of held) {
        r.writeHead(200, { 'content-type': 'application/json' });
        r.end('{"access_token":"x"}');
      }
      // All three answers are in the sockets before the loop polls again: without turns they
      // would all be handled in the same one.
      const until = Date.now() + 30;
      while (Date.now() < until);
    });
  };
  // Counts the loop's turns: one setImmediate per turn.
  let turn = 0;
  let counting = true;
  const count = () => {
    turn++;
    if (counting) setImmediate(count);
  };
  setImmediate(count);
  try {
    const turns = await Promise.all(
      [1, 2, 3].map(async () => {
        await new TimedNetworkClient(5_000).sendPostRequestAsync(url, { body: 'grant_type=refresh_token' });
        return turn;
      }),
    );
    expect(new Set(turns).size).toBe(3);
  } finally {
    counting = false;
  }
});
