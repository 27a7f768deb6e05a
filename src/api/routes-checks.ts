/** Health-check routes (the README's API table): start a run of the caller's tenant now, read the latest one. Admin only. */
import type { Server } from 'restify';
import { errorBody } from '../domain/errors';
import type { Logger } from '../log';
import type { CheckService } from '../services/checks';
import { authenticate, requireAdmin, userOf, type AuthDeps } from './auth-steps';
import { pipeline, sendJson, step } from './http';

export interface CheckRouteDeps extends AuthDeps {
  logger: Logger;
  checks: CheckService;
}

export function checkRoutes(deps: CheckRouteDeps) {
  const auth = authenticate(deps);
  const admin = (...steps: Parameters<typeof pipeline>[1][]) => pipeline(deps.logger, auth, requireAdmin, ...steps);

  return (server: Server) => {
    server.post(
      '/api/admin/checks',
      admin(
        step('startCheck', async (_req, res, s) => {
          const user = userOf(s);
          const { started, run } = await deps.checks.start(user.tenantId, user.upn);
          if (!started) {
            // The envelope names the running check so the caller can follow it instead.
            sendJson(res, 409, { error: errorBody('CHECK_ALREADY_RUNNING'), check: { id: run.id } });
            return;
          }
          sendJson(res, 202, { check: { id: run.id, status: run.status, startedAt: run.startedAt } });
        }),
      ),
    );
    server.get(
      '/api/admin/checks/latest',
      admin(step('readLatestCheck', async (_req, res, s) => sendJson(res, 200, { check: await deps.checks.latest(userOf(s).tenantId) }))),
    );
  };
}
