/**
 * The background jobs of one instance: the health-check schedule, the daily checks (re-test every
 * saved service account, the bot's deadline and reminder checks, purges) and the reach tick. Every
 * instance schedules them; a lease per period makes each run in only one (docs/scale-out.md).
 */
import type { Logger } from '../log';
import type { Store } from '../store/types';
import { Lease } from './lease';

/** The daily checks run at most once per period across instances. */
export const DAILY_PERIOD_MS = 6 * 3600_000;
/** Reach: admins get the bot, running campaigns take their next step. */
export const REACH_PERIOD_MS = 3600_000;

export interface SchedulerDeps {
  store: Pick<Store, 'listTenants' | 'getServiceAccount' | 'purgeExpired' | 'tryLease' | 'releaseLease'>;
  admin: { testSaved(tenantId: string, actor: string): Promise<unknown> };
  checks: { schedule(hours: number, options?: { notBefore?: Date }): Promise<void> };
  campaign: { tick(): Promise<unknown> };
  /** The bot's part; reading it may load the bot, so it is asked for only when the jobs start. */
  bot: () => { startNotifier(): void; runDailyChecks(now: Date): Promise<unknown> };
  logger: Logger;
  now: () => Date;
  /** The shortest job lease (LEASE_SECONDS): a period's lease lasts the period less a minute, never less. */
  leaseMs: number;
  /** CHECK_INTERVAL_HOURS (0: no scheduled health checks). */
  checkIntervalHours: number;
  /** No scheduled health check before this time (a demo tenant seeded at this start). */
  firstCheckNotBefore?: Date;
  /**
   * Start the jobs this long after `start()` (0: at once). A lazily loaded bot wants this: a health
   * check that finds a lost connection, or the notifier, loads the bot, which must not happen
   * while the server is starting.
   */
  delayMs?: number;
}

export class Scheduler {
  readonly #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(private readonly deps: SchedulerDeps) {}

  /** Starts the jobs, after `delayMs` if given. */
  start(): void {
    const { deps } = this;
    if (deps.delayMs) this.#timers.push(setTimeout(() => this.#startPeriodic(), deps.delayMs).unref());
    else this.#startPeriodic();
  }

  /** Clears every timer: no job starts after this (a run under way finishes its current step). */
  stop(): void {
    this.#stopped = true;
    this.#timers.splice(0).forEach((t) => clearInterval(t));
  }

  #startPeriodic(): void {
    if (this.#stopped) return;
    const { deps } = this;
    void deps.checks.schedule(deps.checkIntervalHours, deps.firstCheckNotBefore ? { notBefore: deps.firstCheckNotBefore } : {});
    deps.bot().startNotifier();
    const daily = () => this.#oncePerPeriod('daily-checks', DAILY_PERIOD_MS, (lease) => this.#dailyChecks(lease));
    void daily();
    this.#timers.push(setInterval(() => void daily(), DAILY_PERIOD_MS).unref());
    // Each campaign step runs under its tenant's lease too.
    const reach = () =>
      void this.#oncePerPeriod('reach-tick', REACH_PERIOD_MS, async () => {
        await deps.campaign.tick();
      }).catch((err) => deps.logger.error({ err }, 'reach tick failed'));
    reach();
    this.#timers.push(setInterval(reach, REACH_PERIOD_MS).unref());
  }

  /**
   * A job that every instance schedules runs in one of them per period: its lease lasts the
   * period (less a minute) and is not given back, so the other instances find it taken until the
   * next period. The work asks `held()` between steps and stops once it lost the lease.
   */
  async #oncePerPeriod(name: string, periodMs: number, work: (lease: Lease) => Promise<void>): Promise<void> {
    const { store, leaseMs, now, logger } = this.deps;
    const lease = await Lease.take(name, { store, ttlMs: Math.max(leaseMs, periodMs - 60_000), now }).catch((err) => {
      logger.warn({ err, job: name }, 'scheduled job: lease not taken');
      return undefined;
    });
    if (lease) await work(lease);
  }

  async #dailyChecks(lease: Lease): Promise<void> {
    const { store, admin, logger, now } = this.deps;
    // Re-test every saved service account: a revoked consent or an expired secret is caught without anyone looking.
    for (const tenant of await store.listTenants().catch(() => [])) {
      if (!(await lease.held().catch(() => false))) return;
      if (await store.getServiceAccount(tenant.tenantId).catch(() => undefined)) {
        await admin
          .testSaved(tenant.tenantId, 'system')
          .catch((err) => logger.error({ err, tenantId: tenant.tenantId }, 'scheduled service-account test failed'));
      }
    }
    if (!(await lease.held().catch(() => false))) return;
    await this.deps
      .bot()
      .runDailyChecks(now())
      .catch((err) => logger.error({ err }, 'daily checks failed'));
    if (!(await lease.held().catch(() => false))) return;
    await store.purgeExpired(now()).catch((err) => logger.warn({ err }, 'purge failed'));
  }
}
