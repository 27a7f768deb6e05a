/** The user routes (GET/POST/DELETE /api/me/…, listed in README.md): thin lists of named steps over ConnectionService. */
import type { Server } from 'restify';
import type { MeResponse } from '../contract';
import type { Logger } from '../log';
import type { ConnectionService } from '../services/connections';
import { authenticate, userOf, type AuthDeps } from './auth-steps';
import { jsonBody } from './body';
import { pipeline, sendJson, serializeShared, step } from './http';
import { connectBody } from './schemas';

export interface MeRouteDeps extends AuthDeps {
  logger: Logger;
  connections: ConnectionService;
  sandbox: boolean;
}

export function meRoutes(deps: MeRouteDeps) {
  const auth = authenticate(deps);
  const run = (...steps: Parameters<typeof pipeline>[1][]) => pipeline(deps.logger, ...steps);
  const connect = jsonBody(connectBody, { optional: true });

  return (server: Server) => {
    server.get(
      '/api/me',
      run(
        auth,
        step('describeMe', async (_req, res, state) => {
          const user = userOf(state);
          const body: MeResponse = {
            user: { oid: user.oid, upn: user.upn, ...(user.name ? { name: user.name } : {}), tenantId: user.tenantId },
            isAdmin: user.isAdmin,
            auth: user.via,
            ...(user.csrfToken ? { csrfToken: user.csrfToken } : {}),
            sandbox: deps.sandbox,
            enabledFeatures: await deps.connections.enabledFeatures(user.tenantId),
          };
          sendJson(res, 200, body);
        }),
      ),
    );

    server.get(
      '/api/me/connection',
      run(
        auth,
        // getMine answers with the same frozen object while nothing changed: its JSON is kept with it.
        step('readConnection', async (_req, res, state) => sendJson(res, 200, serializeShared(await deps.connections.getMine(userOf(state))))),
      ),
    );

    server.post(
      '/api/me/connect',
      run(
        auth,
        connect,
        step('issueStartUrl', async (_req, res, state) => sendJson(res, 200, { url: await deps.connections.startUrl(userOf(state), connect.of(state).mode) })),
      ),
    );

    server.post(
      '/api/me/connection/test',
      run(
        auth,
        step('testConnection', async (_req, res, state) => sendJson(res, 200, await deps.connections.test(userOf(state)))),
      ),
    );

    server.del(
      '/api/me/connection/exchange',
      run(
        auth,
        step('removeExchange', async (_req, res, state) => {
          await deps.connections.removeLegacy(userOf(state));
          res.status(204);
          res.end();
        }),
      ),
    );

    server.del(
      '/api/me/connection',
      run(
        auth,
        step('disconnectGraph', async (_req, res, state) => {
          await deps.connections.disconnect(userOf(state));
          res.status(204);
          res.end();
        }),
      ),
    );
  };
}
