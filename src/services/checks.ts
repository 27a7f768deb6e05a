/**
 * The monitor: checks every connection of a tenant without anyone
 * looking, at the pace Exchange allows, and turns what changed into events. A run and each
 * connection's progress live in the store, so a restart resumes the run where it stopped and never
 * records a connection twice. Holds no HTTP or Teams details: events leave through a port.
 */
import { randomUUID } from 'node:crypto';
import {
  CHECK_PROBE_PATHS,
  VIA_SERVICE_ACCOUNT,
  appCheckFeatures,
  appOnlyVerdict,
  changeKind,
  delegatedVerdict,
  mailboxCode,
  nudgesUser,
  probesFor,
  type CheckVerdict,
} from '../domain/checks';
import { isLegacyKind, type ConnectionKind, type ConnectionState } from '../domain/connection';
import { AppError, errorBody, type ErrorCode } from '../domain/errors';
import { FEATURES, delegatedScopesFor, missingDelegatedScopes, type Feature } from '../domain/features';
import type { MailboxPacer, Sweep, SweepAnswer, SweepJob } from '../graph/batch';
import type { Logger } from '../log';
import type {
  AuditRecords,
  LeaseRecords,
  CheckItemKey,
  CheckItemRecord,
  CheckItemResult,
  CheckRecords,
  CheckRunRecord,
  ConnectionRecord,
  ConnectionRecords,
  PendingCheckWork,
  ServiceAccountRecord,
  ServiceAccountRecords,
  TenantRecords,
} from '../store/types';
import type { CheckView } from '../contract';
import type { DelegatedAuthPort } from './ports';
import { Lease } from './lease';

/** One connection whose state changed in a run, as the digest and the API show it. */
export interface CheckChange {
  upn: string;
  kind: ConnectionKind;
  displayName?: string;
  from: ConnectionState;
  to: ConnectionState;
  code?: string;
}

/** What a finished run tells the admins (sent only when something broke or recovered). */
export interface CheckDigest {
  runId: string;
  startedAt: string;
  finishedAt: string;
  checked: number;
  total: number;
  broke: CheckChange[];
  recovered: CheckChange[];
  /** Connections still on Exchange (EWS), which the deadlines will break. */
  onExchange: number;
}

/** Where the monitor's events go (src/server.ts wires it to the bot's outbox). */
export interface CheckEventsPort {
  /** A user's own connection broke: nudge them to reconnect. Idempotent per (tenant, user, run). */
  connectionLost(tenantId: string, connection: ConnectionRecord, runId: string): Promise<void>;
  /** A run finished with changes. Idempotent per (tenant, run). */
  runFinished(tenantId: string, digest: CheckDigest): Promise<void>;
}

/** The service account's app-only token (client credentials); throws AppError with a catalogue code. */
export type AppTokenPort = (account: ServiceAccountRecord) => Promise<string>;

/**
 * A connection as a check leaves it: the verdict's state, per-feature results and error (none when
 * it passed), checked at `at`. Scheduled runs and the user's own Test both write this.
 */
export function checkedConnection(record: ConnectionRecord, verdict: CheckVerdict, at: string, message?: string): ConnectionRecord {
  // Copied, then the previous error removed: rest destructuring is several times slower per call,
  // and a run writes one of these per connection.
  const next: ConnectionRecord = { ...record, state: verdict.state, featureResults: verdict.features, lastCheckedAt: at, updatedAt: at };
  if (verdict.code) next.error = errorBody(verdict.code, message);
  else if (next.error !== undefined) delete next.error;
  return next;
}

export interface CheckServiceDeps {
  store: TenantRecords & ConnectionRecords & CheckRecords & ServiceAccountRecords & AuditRecords & LeaseRecords;
  auth: Pick<DelegatedAuthPort, 'acquireSilent'>;
  appToken: AppTokenPort;
  /** A fresh sweep per run page, sharing one pacer (limits hold across runs). */
  sweep: (pacer: MailboxPacer) => Sweep;
  pacer: MailboxPacer;
  events?: CheckEventsPort;
  logger: Logger;
  now: () => Date;
  /** Connections read and checked per step (default 1000). */
  pageSize?: number;
  /** Refresh tokens redeemed at once (default 16). */
  redeemConcurrency?: number;
  /** A tenant's run executes in one instance at a time under a lease this long, renewed between pages (default 10 min). */
  leaseMs?: number;
}

const APP_LANE = 'app';
const DELEGATED_LANE = 'delegated';

/** What this process sent for health checks since it started (benchmarks, logs). */
export interface CheckStats {
  batches: number;
  requests: number;
  throttled: number;
  retried: number;
  /** See SweepStats.roundTripMs. */
  roundTripMs: number;
  /** Refresh tokens redeemed. */
  redeemed: number;
}

export class CheckService {
  readonly stats: CheckStats = { batches: 0, requests: 0, throttled: 0, retried: 0, roundTripMs: 0, redeemed: 0 };
  /** Runs executing in this process, by tenant. */
  readonly #active = new Map<string, { run: CheckRunRecord; done: Promise<void>; sweep?: Sweep }>();
  #stopped = false;
  /** Wakes runs waiting for their items when the service stops. */
  readonly #onStop = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  /** Results waiting for the next store transaction (see #complete). */
  #writes: Array<{ result: CheckItemResult; resolve: () => void; reject: (err: unknown) => void }> = [];
  /** A write of #writes is scheduled or in flight. */
  #flushing = false;

  constructor(private readonly deps: CheckServiceDeps) {}

  /** POST /api/admin/checks and the schedule: starts a run now, or returns the one running. */
  async start(tenantId: string, startedBy: string): Promise<{ started: boolean; run: CheckRunRecord }> {
    const items: Array<Pick<ConnectionRecord, 'upn' | 'kind'>> = [];
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.queryConnections(tenantId, { cursor, limit: 1000 });
      for (const c of page.items) if (c.state !== 'disconnected') items.push({ upn: c.upn, kind: c.kind });
      cursor = page.nextCursor;
    } while (cursor);
    const result = await this.deps.store.startCheckRun(
      { id: randomUUID(), tenantId, status: 'running', startedBy, startedAt: this.deps.now().toISOString(), total: 0, checked: 0 },
      items,
    );
    if (!result.started) {
      // Running in the store but not here: left by a stopped process; take it over.
      if (!this.#active.has(tenantId)) this.#launch(result.run);
      return { started: false, run: result.run };
    }
    await this.deps.store.audit({ tenantId, actor: startedBy, action: 'checks.started', target: result.run.id, details: { total: result.run.total } });
    this.#launch(result.run);
    return { started: true, run: result.run };
  }

  /** GET /api/admin/checks/latest */
  async latest(tenantId: string): Promise<CheckView | null> {
    const run = await this.deps.store.latestCheckRun(tenantId);
    if (!run) return null;
    const outcome = await this.deps.store.checkRunOutcome(tenantId, run.id);
    return {
      id: run.id,
      status: run.status,
      startedAt: run.startedAt,
      ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
      checked: run.checked,
      total: run.total,
      byState: outcome.byState,
      changes: outcome.changes.map((c) => ({ upn: c.upn, from: c.from!, to: c.to!, ...(c.code ? { code: c.code } : {}) })),
    };
  }

  /** Runs left running by a previous process (restart, crash) continue where they stopped. */
  async resumeInterrupted(): Promise<number> {
    const running = await this.deps.store.listRunningCheckRuns();
    for (const run of running) if (!this.#active.has(run.tenantId)) this.#launch(run);
    return running.length;
  }

  /**
   * Every `hours`, a run for each tenant whose last run started that long ago (0 = never). Resolves
   * once the first look (at start-up) is done. Before `notBefore` no scheduled run starts (an
   * admin's Check all now still does).
   */
  schedule(hours: number, options: { notBefore?: Date } = {}): Promise<void> {
    if (!(hours > 0)) return Promise.resolve();
    const periodMs = hours * 3600_000;
    const tick = async () => {
      if (options.notBefore && this.deps.now() < options.notBefore) return;
      for (const tenant of await this.deps.store.listTenants().catch(() => [])) {
        if (this.#stopped) return;
        try {
          const last = await this.deps.store.latestCheckRun(tenant.tenantId);
          if (last && (last.status === 'running' || this.deps.now().getTime() - Date.parse(last.startedAt) < periodMs)) continue;
          if ((await this.deps.store.countConnections(tenant.tenantId)).length === 0) continue;
          await this.start(tenant.tenantId, 'schedule');
        } catch (err) {
          this.deps.logger.error({ err, tenantId: tenant.tenantId }, 'scheduled health check did not start');
        }
      }
    };
    // Looked at often enough that a run starts within a few minutes of being due.
    this.#timer = setInterval(() => void tick(), Math.min(periodMs, 5 * 60_000));
    this.#timer.unref();
    return tick();
  }

  /** Resolves when the tenant's run in this process (if any) has ended. */
  async settled(tenantId: string): Promise<void> {
    await this.#active.get(tenantId)?.done;
  }

  /** Shutdown: stops sending and writing; unfinished runs stay `running` and resume on the next start. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const a of this.#active.values()) a.sweep?.stop();
    for (const wake of this.#onStop) wake();
    this.#onStop.clear();
    await Promise.all([...this.#active.values()].map((a) => a.done.catch(() => undefined)));
  }

  #launch(run: CheckRunRecord): void {
    if (this.#stopped) return;
    const entry: { run: CheckRunRecord; done: Promise<void>; sweep?: Sweep } = { run, done: Promise.resolve() };
    this.#active.set(run.tenantId, entry);
    entry.done = this.#executeUnderLease(run, entry)
      .catch(async (err) => {
        this.deps.logger.error({ err, tenantId: run.tenantId, runId: run.id }, 'health check run failed');
        if (!this.#stopped) await this.deps.store.finishCheckRun(run.tenantId, run.id, 'failed', this.deps.now().toISOString()).catch(() => undefined);
      })
      .finally(() => {
        if (this.#active.get(run.tenantId) === entry) this.#active.delete(run.tenantId);
      });
  }

  /** Several instances: the run executes where its lease is; elsewhere it is left to that instance. */
  async #executeUnderLease(run: CheckRunRecord, entry: { sweep?: Sweep }): Promise<void> {
    const lease = await Lease.take(`checks/${run.tenantId}`, { store: this.deps.store, ttlMs: this.deps.leaseMs ?? 600_000, now: this.deps.now });
    if (!lease) return;
    try {
      await this.#execute(run, entry, lease);
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  /**
   * One sweep for the whole run, fed a page at a time: the next page is read while the previous
   * one's batches are in flight, so Graph is never left idle between pages, and no more than about
   * two pages are held at once (memory stays flat however many connections the tenant has).
   */
  async #execute(run: CheckRunRecord, entry: { sweep?: Sweep }, lease: Lease): Promise<void> {
    const { store } = this.deps;
    const tenantId = run.tenantId;
    const pageSize = this.deps.pageSize ?? 1000;
    const sweep = this.deps.sweep(this.deps.pacer);
    entry.sweep = sweep;
    const pass: Pass = {
      sweep,
      busy: new Set(),
      unrecorded: new Set(),
      recorded: 0,
      redeem: limiter(this.deps.redeemConcurrency ?? 16),
      changed: () => undefined,
    };
    const settled = () =>
      new Promise<void>((resolve) => {
        const wake = () => {
          this.#onStop.delete(wake);
          resolve();
        };
        pass.changed = wake;
        this.#onStop.add(wake);
      });
    try {
      for (;;) {
        if (this.#stopped) return;
        // Lost (this instance stalled past it): another instance carries the run on from the store.
        if (!(await lease.held())) return;
        while (pass.busy.size > pageSize && !this.#stopped) await settled();
        // Items handed out earlier are still pending in the store: the read starts after the last one.
        const page = await store.pendingCheckWork(tenantId, run.id, pageSize, pass.after);
        if (page.length > 0) {
          const last = page[page.length - 1]!.item;
          pass.after = { upn: last.upn, kind: last.kind };
          await this.#checkPage(run, page, pass);
          continue;
        }
        if (pass.busy.size > 0) {
          // Nothing new to hand out: wait for the last items rather than reading the store again.
          while (pass.busy.size > 0 && !this.#stopped) await settled();
          continue;
        }
        if (pass.unrecorded.size === 0) break;
        // Items that could not be recorded stay pending and are tried again, as long as something
        // was recorded since the last try: a pass that records nothing would loop forever.
        if (pass.recorded === 0) throw new Error('a page of the health check recorded no connection');
        pass.unrecorded.clear();
        pass.recorded = 0;
        pass.after = undefined;
      }
      await sweep.idle();
    } finally {
      for (const k of ['batches', 'requests', 'throttled', 'retried', 'roundTripMs'] as const) this.stats[k] += sweep.stats[k];
    }
    if (this.#stopped || !(await lease.held())) return;
    await this.#finish(run);
  }

  /** Hands a page's connections to the sweep (or records them at once when there is nothing to probe). */
  async #checkPage(run: CheckRunRecord, records: PendingCheckWork[], pass: Pass): Promise<void> {
    const { store } = this.deps;
    const tenantId = run.tenantId;
    const tenant = await store.getTenant(tenantId);
    const enabled = tenant?.enabledFeatures.length ? tenant.enabledFeatures : [...FEATURES];
    const account = await store.getServiceAccount(tenantId);

    const needsApp = records.some(({ connection }) => connection && (connection.kind === 'graph-app' || isLegacyKind(connection.kind)));
    let appToken: string | undefined;
    let appTokenCode: ErrorCode | undefined;
    if (needsApp && account) {
      try {
        appToken = await this.deps.appToken(account);
      } catch (err) {
        appTokenCode = err instanceof AppError ? err.code : 'GRAPH_UNAVAILABLE';
        if (!(err instanceof AppError)) this.deps.logger.warn({ err, tenantId }, 'service account token for health checks failed');
      }
    }

    const { sweep } = pass;
    for (const { item, connection: record } of records) {
      const track = (recorded: Promise<boolean>) => this.#track(pass, item, recorded);
      if (!record) {
        track(this.#record(run, item.upn, item.kind, 'disconnected'));
        continue;
      }
      if (record.kind === 'graph-delegated') {
        if (record.homeAccountId) track(this.#delegated(run, record, enabled, pass));
        else track(this.#write(run, record, delegatedVerdict({ enabled, grantedScopes: record.grantedScopes, tokenCode: 'REFRESH_TOKEN_REVOKED' })));
      } else if (record.kind === 'graph-app') {
        const features = account?.features ?? [];
        if (!account) track(this.#write(run, record, { state: 'failing', code: 'SERVICE_ACCOUNT_NOT_CONFIGURED', features: {} }));
        else if (!appToken) track(this.#write(run, record, appOnlyVerdict({ features, tokenCode: appTokenCode })));
        else track(new Promise((resolve) => sweep.add([this.#appJob(run, record, appToken, features, resolve)])));
      } else {
        // Legacy: nothing to probe with its own credentials; whether the service account reaches
        // the mailbox tells the admin that moving it is possible.
        if (!account) track(this.#writeLegacy(run, record, undefined));
        else if (!appToken) track(this.#writeLegacy(run, record, { ok: false, code: appTokenCode ?? 'GRAPH_UNAVAILABLE' }));
        else
          track(
            new Promise((resolve) =>
              sweep.add([
                {
                  mailbox: `${APP_LANE}|${record.upn}`,
                  accessToken: appToken,
                  requests: [{ id: 'inbox', url: `${userBase(record)}${CHECK_PROBE_PATHS.inbox}` }],
                  done: async (answers) => resolve(await this.#writeLegacy(run, record, answerOutcome(answers[0]))),
                },
              ]),
            ),
          );
      }
    }
  }

  /** Follows one item until its result is recorded (or could not be). */
  #track(pass: Pass, item: CheckItemRecord, recorded: Promise<boolean>): void {
    const key = itemKey(item);
    pass.busy.add(key);
    void recorded.then((ok) => {
      pass.busy.delete(key);
      if (ok) pass.recorded++;
      else pass.unrecorded.add(key);
      pass.changed();
    });
  }

  /**
   * Each delegated user needs their own token: redeem the refresh token (proves the grant), then
   * their probes go as one batch with it. Resolves when the result is recorded.
   */
  async #delegated(run: CheckRunRecord, record: ConnectionRecord, enabled: Feature[], pass: Pass): Promise<boolean> {
    let token: { accessToken: string; grantedScopes: string[] } | undefined;
    try {
      token = await pass.redeem(async () =>
        this.#stopped
          ? undefined
          : this.deps.auth.acquireSilent({
              tenantId: run.tenantId,
              homeAccountId: record.homeAccountId!,
              scopes: delegatedScopesFor(enabled),
              forceRefresh: true,
            }),
      );
      if (!token) return false;
    } catch (err) {
      this.stats.redeemed++;
      const code: ErrorCode = err instanceof AppError ? err.code : 'GRAPH_UNAVAILABLE';
      if (!(err instanceof AppError)) this.deps.logger.warn({ err, tenantId: run.tenantId }, 'health check: refresh failed');
      return this.#write(run, record, delegatedVerdict({ enabled, grantedScopes: record.grantedScopes, tokenCode: code }));
    }
    this.stats.redeemed++;
    if (this.#stopped) return false;
    const grantedScopes = token.grantedScopes.length ? token.grantedScopes : record.grantedScopes;
    const granted = enabled.filter((f) => missingDelegatedScopes(f, grantedScopes).length === 0);
    const probes = probesFor(granted);
    return new Promise<boolean>((resolve) =>
      pass.sweep.add([
        {
          mailbox: `${DELEGATED_LANE}|${record.upn}`,
          accessToken: token.accessToken,
          // The redeemed refresh token already proved the grant and the account: only the features are read.
          requests: probes.map((p) => ({ id: p, url: `/me${CHECK_PROBE_PATHS[p]}` })),
          done: async (answers) => {
            const codes = codesOf(answers);
            const verdict = delegatedVerdict({ enabled, grantedScopes, probeCode: (p) => codes.get(p) });
            resolve(await this.#write(run, { ...record, grantedScopes }, verdict));
          },
        },
      ]),
    );
  }

  #appJob(run: CheckRunRecord, record: ConnectionRecord, accessToken: string, features: readonly Feature[], recorded: (ok: boolean) => void): SweepJob {
    const probes = probesFor(appCheckFeatures(features));
    return {
      mailbox: `${APP_LANE}|${record.upn}`,
      accessToken,
      requests: probes.map((p) => ({ id: p, url: `${userBase(record)}${CHECK_PROBE_PATHS[p]}` })),
      done: async (answers) => {
        const codes = codesOf(answers);
        recorded(await this.#write(run, record, appOnlyVerdict({ features, probeCode: (p) => codes.get(p) })));
      },
    };
  }

  /** Writes a connection's new state and marks it checked in the run, in one store step. */
  async #write(run: CheckRunRecord, record: ConnectionRecord, verdict: CheckVerdict): Promise<boolean> {
    return this.#safely(run, () => this.#writeVerdict(run, record, verdict));
  }

  /**
   * Marks an item checked (and writes its connection) together with the others that arrive in the
   * same tick, in one store transaction: the answers of one `$batch` come back together. One write
   * is in flight at a time; what arrives meanwhile goes in the next, so a store with round trips
   * (PostgreSQL) gets fewer, larger transactions instead of many small ones racing each other.
   */
  #complete(result: CheckItemResult): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#writes.push({ result, resolve, reject });
      this.#scheduleFlush();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#writes.length === 0) return;
    this.#flushing = true;
    setImmediate(() => void this.#flush());
  }

  async #flush(): Promise<void> {
    const writes = this.#writes.splice(0);
    try {
      await this.deps.store.completeCheckItems(writes.map((w) => w.result));
      for (const w of writes) w.resolve();
    } catch {
      // One that cannot be written must not hold back the others: each on its own, to say which.
      for (const w of writes) await this.deps.store.completeCheckItem(w.result).then(() => w.resolve(), w.reject);
    } finally {
      this.#flushing = false;
      this.#scheduleFlush();
    }
  }

  /** A connection that cannot be recorded stays pending in the run; the others go on. True when recorded. */
  async #safely(run: CheckRunRecord, write: () => Promise<void>): Promise<boolean> {
    if (this.#stopped) return false;
    try {
      await write();
      return true;
    } catch (err) {
      if (!this.#stopped) this.deps.logger.error({ err, tenantId: run.tenantId, runId: run.id }, 'health check result not recorded');
      return false;
    }
  }

  async #writeVerdict(run: CheckRunRecord, record: ConnectionRecord, verdict: CheckVerdict): Promise<void> {
    await this.#completeWith(run, record, checkedConnection(record, verdict, this.deps.now().toISOString()));
  }

  /**
   * The run's item for `record`, done, with the connection as the check left it, unless its user
   * changed or removed it since the check read it (their action is newer than what the check saw).
   */
  #completeWith(run: CheckRunRecord, record: ConnectionRecord, next: ConnectionRecord): Promise<void> {
    return this.#complete({
      runId: run.id,
      tenantId: run.tenantId,
      upn: record.upn,
      kind: record.kind,
      from: record.state,
      connection: next,
      unchangedSince: record.updatedAt,
    });
  }

  async #writeLegacy(run: CheckRunRecord, record: ConnectionRecord, via: { ok: boolean; code?: ErrorCode } | undefined): Promise<boolean> {
    return this.#safely(run, () => this.#writeLegacyResult(run, record, via));
  }

  async #writeLegacyResult(run: CheckRunRecord, record: ConnectionRecord, via: { ok: boolean; code?: ErrorCode } | undefined): Promise<void> {
    const now = this.deps.now().toISOString();
    // The EWS connection's own state is not touched: nothing here can tell whether EWS still works.
    await this.#completeWith(run, record, { ...record, featureResults: via ? { [VIA_SERVICE_ACCOUNT]: via } : {}, lastCheckedAt: now, updatedAt: now });
  }

  async #record(run: CheckRunRecord, upn: string, kind: ConnectionKind, from: ConnectionState): Promise<boolean> {
    return this.#safely(run, async () => {
      await this.#complete({ runId: run.id, tenantId: run.tenantId, upn, kind, from });
    });
  }

  /** Events first, then the run is marked done: a crash in between re-sends, and the outbox drops the duplicates. */
  async #finish(run: CheckRunRecord): Promise<void> {
    const { store } = this.deps;
    const tenantId = run.tenantId;
    const finishedAt = this.deps.now().toISOString();
    const [outcome, current] = await Promise.all([store.checkRunOutcome(tenantId, run.id), store.getCheckRun(tenantId, run.id)]);
    const broke: CheckChange[] = [];
    const recovered: CheckChange[] = [];
    for (const c of outcome.changes) {
      const kind = changeKind(c.from!, c.to!);
      if (!kind) continue;
      const record = (await store.getConnections(tenantId, c.upn)).find((r) => r.kind === c.kind);
      const change: CheckChange = {
        upn: c.upn,
        kind: c.kind,
        ...(record?.displayName ? { displayName: record.displayName } : {}),
        from: c.from!,
        to: c.to!,
        ...(c.code ? { code: c.code } : {}),
      };
      (kind === 'broke' ? broke : recovered).push(change);
      // Only someone still in the state the run found is asked to reconnect: one who reconnected (or
      // changed it otherwise) since their check has already done what the nudge would ask.
      if (record && record.state === c.to && nudgesUser(c.kind, c.from!, c.to!))
        await this.#emit(() => this.deps.events!.connectionLost(tenantId, record, run.id));
    }
    if (broke.length + recovered.length > 0) {
      const counts = await store.countConnections(tenantId);
      const onExchange = counts.filter((c) => isLegacyKind(c.kind) && c.state !== 'disconnected').reduce((a, c) => a + c.count, 0);
      const digest: CheckDigest = {
        runId: run.id,
        startedAt: run.startedAt,
        finishedAt,
        checked: current?.checked ?? run.total,
        total: run.total,
        broke,
        recovered,
        onExchange,
      };
      await this.#emit(() => this.deps.events!.runFinished(tenantId, digest));
    }
    if (this.#stopped) return;
    await store.finishCheckRun(tenantId, run.id, 'done', finishedAt);
    const inconclusive = (outcome.byState.unknown ?? 0) > 0;
    await store.audit({
      tenantId,
      actor: 'system',
      action: 'checks.finished',
      target: run.id,
      details: { checked: current?.checked, total: run.total, broke: broke.length, recovered: recovered.length, inconclusive },
    });
  }

  async #emit(send: () => Promise<void>): Promise<void> {
    if (!this.deps.events || this.#stopped) return;
    try {
      await send();
    } catch (err) {
      this.deps.logger.error({ err }, 'health check event not queued');
    }
  }
}

/** A run's progress through its items in this process. */
interface Pass {
  sweep: Sweep;
  /** Items handed out and not recorded yet (`upn|kind`). */
  busy: Set<string>;
  /** Items whose result could not be written; tried again in the next pass. */
  unrecorded: Set<string>;
  /** Items recorded since the last pass began. */
  recorded: number;
  /** The last item handed out in this pass: the next read starts after it. */
  after?: CheckItemKey;
  /** Refresh-token redemptions, a bounded number at once. */
  redeem: <T>(task: () => Promise<T>) => Promise<T>;
  /** Called whenever an item settles (the run loop waits on it). */
  changed: () => void;
}

function itemKey(item: CheckItemKey): string {
  return `${item.upn}|${item.kind}`;
}

/** Runs at most `n` tasks at once, the others in the order they came. */
function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

/** `/users/{id}`: the object id when known (stable across renames), else the upn. */
function userBase(record: ConnectionRecord): string {
  return `/users/${encodeURIComponent(record.oid ?? record.upn)}`;
}

function codesOf(answers: readonly SweepAnswer[]): Map<string, ErrorCode | undefined> {
  return new Map(answers.map((a) => [a.id, a.code ? mailboxCode(a.code) : undefined]));
}

function answerOutcome(answer: SweepAnswer | undefined): { ok: boolean; code?: ErrorCode } {
  if (!answer) return { ok: false, code: 'GRAPH_UNAVAILABLE' };
  return answer.code ? { ok: false, code: mailboxCode(answer.code) } : { ok: true };
}
