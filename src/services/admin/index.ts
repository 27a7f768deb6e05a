/**
 * The admin side, one use case a module: the mail domains (./domains.ts), the service account and
 * its test (./service-account.ts), the overview (./overview.ts) and the import and export of
 * connections (./import-export.ts). Inputs are validated with messages that name the field; every
 * write is audited. AdminService only composes them, for the callers that serve the whole admin side
 * (the admin routes, the bot's services); a caller that needs one use case can take that piece.
 */
import type { UserContext } from '../../identity/verify';
import type { TestOutcomeListener } from '../ports';
import { DomainsAdmin } from './domains';
import { ConnectionTransfer } from './import-export';
import { AdminOverview } from './overview';
import { ServiceAccountAdmin, type ServiceAccountAdminDeps } from './service-account';

export { DomainsAdmin, domainsSchema, MAX_DOMAINS } from './domains';
export { ConnectionTransfer, MAX_IMPORT_ROWS, importRows } from './import-export';
export { AdminOverview, matchingConnections } from './overview';
export { ServiceAccountAdmin, configHash, serviceAccountSchema, type ParsedServiceAccount, type ServiceAccountInput } from './service-account';
export { EMAIL, notAnObject } from '../validation';

export type AdminServiceDeps = ServiceAccountAdminDeps;

export class AdminService {
  readonly domains: DomainsAdmin;
  readonly serviceAccount: ServiceAccountAdmin;
  readonly overview: AdminOverview;
  readonly transfer: ConnectionTransfer;

  constructor(deps: AdminServiceDeps) {
    this.domains = new DomainsAdmin(deps);
    this.serviceAccount = new ServiceAccountAdmin(deps);
    this.overview = new AdminOverview(deps);
    this.transfer = new ConnectionTransfer(deps);
  }

  // ---- domains
  getDomains(user: UserContext) {
    return this.domains.getDomains(user);
  }
  putDomains(user: UserContext, body: unknown) {
    return this.domains.putDomains(user, body);
  }

  // ---- service account
  /** Subscribes to the outcomes of stored tests of the saved configuration; returns the unsubscribe. */
  onTestOutcome(listener: TestOutcomeListener): () => void {
    return this.serviceAccount.onTestOutcome(listener);
  }
  getServiceAccount(user: UserContext) {
    return this.serviceAccount.getServiceAccount(user);
  }
  putServiceAccount(user: UserContext, body: unknown) {
    return this.serviceAccount.putServiceAccount(user, body);
  }
  deleteServiceAccount(user: UserContext) {
    return this.serviceAccount.deleteServiceAccount(user);
  }
  /** Runs the test on the body's (unsaved) configuration, or on the saved one. */
  test(user: UserContext, body: unknown) {
    return this.serviceAccount.test(user, body);
  }
  /** Also used by the bot's `test` command and the daily schedule. */
  testSaved(tenantId: string, actor: string) {
    return this.serviceAccount.testSaved(tenantId, actor);
  }
  permissions(tenantId: string) {
    return this.serviceAccount.permissions(tenantId);
  }

  // ---- overview
  summary(tenantId: string) {
    return this.overview.summary(tenantId);
  }
  connections(tenantId: string, query: Record<string, unknown>) {
    return this.overview.connections(tenantId, query);
  }
  allConnections(tenantId: string, query: Record<string, unknown>) {
    return this.overview.allConnections(tenantId, query);
  }
  history(tenantId: string, query: Record<string, unknown>) {
    return this.overview.history(tenantId, query);
  }
  audit(tenantId: string, query: Record<string, unknown>) {
    return this.overview.audit(tenantId, query);
  }

  // ---- import and export
  exportConnections(user: UserContext, query: Record<string, unknown>) {
    return this.transfer.exportConnections(user, query);
  }
  importConnections(user: UserContext, contentType: string, raw: Buffer) {
    return this.transfer.importConnections(user, contentType, raw);
  }
}
