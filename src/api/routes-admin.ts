/** Admin routes (/api/admin/…): every one needs the ConnectionCenter.Admin role; data is per tenant. */
import type { Request, Server } from 'restify';
import { stringify } from 'csv-stringify/sync';
import type { Logger } from '../log';
import type { AdminService } from '../services/admin';
import { authenticate, requireAdmin, userOf, type AuthDeps } from './auth-steps';
import { isJsonType, jsonBody, parseJson, readBody, validate } from './body';
import { pipeline, queryOf, rawBody, sendJson, step } from './http';
import { AppError } from '../domain/errors';
import { domainsBody, importJsonBody, serviceAccountBody, serviceAccountTestBody } from './schemas';

export interface AdminRouteDeps extends AuthDeps {
  logger: Logger;
  admin: AdminService;
}

const CSV_COLUMNS = ['upn', 'displayName', 'kind', 'state', 'lastCheckedAt', 'lastSyncAt', 'errorCode'] as const;

export function adminRoutes(deps: AdminRouteDeps) {
  const auth = authenticate(deps);
  const admin = (...steps: Parameters<typeof pipeline>[1][]) => pipeline(deps.logger, auth, requireAdmin, ...steps);
  const q = (req: Request): Record<string, unknown> => queryOf(req);
  const domains = jsonBody(domainsBody);
  const serviceAccount = jsonBody(serviceAccountBody);
  const testConfig = jsonBody(serviceAccountTestBody, { optional: true });

  return (server: Server) => {
    server.get('/api/admin/domains', admin(step('readDomains', async (_req, res, s) => sendJson(res, 200, await deps.admin.getDomains(userOf(s))))));
    server.put(
      '/api/admin/domains',
      admin(
        domains,
        step('saveDomains', async (_req, res, s) => sendJson(res, 200, await deps.admin.putDomains(userOf(s), domains.of(s)))),
      ),
    );

    server.get(
      '/api/admin/service-account',
      admin(step('readServiceAccount', async (_req, res, s) => sendJson(res, 200, await deps.admin.getServiceAccount(userOf(s))))),
    );
    server.put(
      '/api/admin/service-account',
      admin(
        serviceAccount,
        step('saveServiceAccount', async (_req, res, s) => sendJson(res, 200, await deps.admin.putServiceAccount(userOf(s), serviceAccount.of(s)))),
      ),
    );
    server.del(
      '/api/admin/service-account',
      admin(
        step('deleteServiceAccount', async (_req, res, s) => {
          await deps.admin.deleteServiceAccount(userOf(s));
          res.status(204);
          res.end();
        }),
      ),
    );
    server.post(
      '/api/admin/service-account/test',
      admin(
        testConfig,
        step('runServiceAccountTest', async (_req, res, s) => sendJson(res, 200, await deps.admin.test(userOf(s), testConfig.of(s)))),
      ),
    );
    server.get(
      '/api/admin/permissions',
      admin(step('readPermissions', async (_req, res, s) => sendJson(res, 200, await deps.admin.permissions(userOf(s).tenantId)))),
    );

    server.get('/api/admin/summary', admin(step('summarise', async (_req, res, s) => sendJson(res, 200, await deps.admin.summary(userOf(s).tenantId)))));
    server.get(
      '/api/admin/connections',
      admin(step('listConnections', async (req, res, s) => sendJson(res, 200, await deps.admin.connections(userOf(s).tenantId, q(req))))),
    );
    server.get(
      '/api/admin/connections/history',
      admin(step('readConnectionHistory', async (req, res, s) => sendJson(res, 200, await deps.admin.history(userOf(s).tenantId, q(req))))),
    );
    server.get(
      '/api/admin/connections.csv',
      admin(
        step('exportConnections', async (req, res, s) => {
          const lines: string[] = [stringify([CSV_COLUMNS as unknown as string[]])];
          for (const r of await deps.admin.exportConnections(userOf(s), q(req))) {
            lines.push(stringify([[r.upn, r.displayName ?? '', r.kind, r.state, r.lastCheckedAt ?? '', r.lastSyncAt ?? '', r.error?.code ?? ''].map(csvSafe)]));
          }
          res.setHeader('Content-Type', 'text/csv; charset=utf-8');
          res.setHeader('Content-Disposition', 'attachment; filename="connections.csv"');
          res.setHeader('Cache-Control', 'no-store');
          res.writeHead(200);
          res.end(lines.join(''));
        }),
      ),
    );
    server.post(
      '/api/admin/connections/import',
      admin(
        readBody,
        step('checkImport', (req) => {
          const raw = rawBody(req);
          if (!raw || raw.length === 0)
            throw new AppError('VALIDATION_FAILED', { message: 'body: send a CSV file (upn,kind[,lastSyncAt]) or JSON { "connections": [...] }.' });
          // A JSON list is checked here; its rows (and a CSV file's lines) by the import, under the same rules.
          if (isJsonType(req.header('content-type') ?? '')) validate(importJsonBody, parseJson(req));
        }),
        step('importConnections', async (req, res, s) =>
          sendJson(res, 200, await deps.admin.importConnections(userOf(s), (req.header('content-type') ?? '').toLowerCase(), rawBody(req)!)),
        ),
      ),
    );
    server.get('/api/admin/audit', admin(step('readAudit', async (req, res, s) => sendJson(res, 200, await deps.admin.audit(userOf(s).tenantId, q(req))))));
  };
}

/** Spreadsheet apps run cells that start with = + - @: neutralise them in exports. */
function csvSafe(value: string): string {
  return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
}
