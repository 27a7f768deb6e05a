/**
 * Reach: the bot installed for admins without them looking for it, and the reconnect
 * campaign: who is targeted, installing the bot for those who do not have it (when the tenant
 * granted the permission), nudging on a cadence, stopping for everyone who moved, and the funnel
 * (targeted → bot installed → nudged → opened the tab → reconnected) with the reasons some people
 * cannot be reached. No HTTP, no Teams: the Graph installer and the nudge sender are ports.
 */
import { z } from 'zod';
import type { Logger } from '../log';
import type { CampaignView, FunnelCounts, FunnelView, ReachPermissionView } from '../contract';
import type {
  AuditRecords,
  LeaseRecords,
  ConnectionRecord,
  ConnectionRecords,
  ConversationRecords,
  ReachRecords,
  ReachUserRecord,
  TenantRecords,
  UserRecords,
} from '../store/types';
import { ADMIN_APP_ROLE } from '../domain/features';
import { AppError, ERROR_CATALOGUE, remedyWith } from '../domain/errors';
import {
  CAMPAIGN_ACTIONS,
  DEFAULT_CAMPAIGN_MIN_DAYS_BETWEEN,
  REACH_PERMISSION,
  UNREACHABLE_ORDER,
  UNREACHABLE_REASONS,
  hasReachPermission,
  inDomains,
  isTarget,
  needsUserAction,
  nudgeDue,
  nudgeMilestone,
  type CampaignAction,
  type InstallOutcome,
  type UnreachableReason,
} from '../domain/reach';
import { deadlinesWithOverrides, type Deadline } from '../domain/deadlines';
import { Lease } from './lease';
import { notAnObject, zodFail } from './validation';

/** Installs the product's Teams app for a user (src/graph/teams-install.ts). */
export interface TeamsInstallerPort {
  /** The Graph application roles the product's app holds in this tenant ([] when it has no token there). */
  roles(tenantId: string, fresh?: boolean): Promise<string[]>;
  /** The catalog id, from a user known to have the app or from the catalog; undefined when neither tells. */
  catalogAppId(tenantId: string, usersWithApp: readonly string[]): Promise<string | undefined>;
  install(tenantId: string, user: string, catalogAppId: string): Promise<InstallOutcome>;
}

/** Sends the campaign's messages (the bot implements it: cards, outbox, pacing). */
export interface NudgePort {
  /** Queues one reconnect nudge; `key` makes a repeat of the same nudge a no-op. Returns whether it was new. */
  nudge(input: { tenantId: string; conversationId: string; connection: ConnectionRecord; key: string; now: Date }): Promise<boolean>;
  /** Something was queued: deliver now rather than at the next poll. */
  wake(): void;
}

export interface CampaignDeps {
  store: TenantRecords & UserRecords & ConnectionRecords & ConversationRecords & ReachRecords & AuditRecords & LeaseRecords;
  logger: Logger;
  now: () => Date;
  nudges: NudgePort;
  /** Absent when the Teams app's manifest id is unknown (TEAMS_APP_ID unset outside the sandbox). */
  installer?: TeamsInstallerPort;
  minDaysBetween?: number;
  /** ADMIN_UPNS, valid in the home tenant only. */
  adminUpns?: readonly string[];
  homeTenantId?: string;
  /** `<authority>/<tenant>/adminconsent?client_id=<product app>`: where the permission is granted. */
  adminConsentUrl: (tenantId: string) => string;
  /** Installs run this many at a time (Graph round trips). */
  concurrency?: number;
  /** A tenant's step runs in one instance at a time under a lease this long, renewed as it goes (default 10 min). */
  leaseMs?: number;
}

export interface StepResult {
  targeted: number;
  installed: number;
  nudged: number;
  reconnected: number;
  unreachable: Partial<Record<UnreachableReason, number>>;
}

type InstallContext = { allowed: true; catalogAppId: string } | { allowed: false; reason: UnreachableReason };

interface Target {
  upn: string;
  oid?: string;
  connections: ConnectionRecord[];
}

const DAY_MS = 86_400_000;
/** Campaign domains: any DNS-like name (the campaign matches them against UPN suffixes). */
const CAMPAIGN_DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/;
const MAX_CAMPAIGN_DOMAINS = 100;

/** POST /api/admin/campaign: `{ action, domains? }`. */
export const campaignActionSchema = z.object(
  {
    action: z.enum(CAMPAIGN_ACTIONS as [CampaignAction, ...CampaignAction[]], { error: `must be one of ${CAMPAIGN_ACTIONS.join(', ')}.` }),
    domains: z
      .array(
        z
          .string({ error: 'must be text' })
          .transform((d) => d.trim().toLowerCase())
          .refine((d) => CAMPAIGN_DOMAIN.test(d), { error: 'must be a mail domain such as contoso.com.' }),
        { error: 'must be a list of mail domains such as contoso.com.' },
      )
      .max(MAX_CAMPAIGN_DOMAINS, `at most ${MAX_CAMPAIGN_DOMAINS} domains.`)
      .transform((list) => [...new Set(list)])
      .optional(),
  },
  notAnObject('must be a JSON object'),
);

export class CampaignService {
  readonly minDaysBetween: number;
  readonly #running = new Map<string, Promise<StepResult>>();

  constructor(private readonly deps: CampaignDeps) {
    this.minDaysBetween = deps.minDaysBetween ?? DEFAULT_CAMPAIGN_MIN_DAYS_BETWEEN;
  }

  // ---- the API -----------------------------------------------------------------------------

  async view(tenantId: string, options: { permission?: boolean } = {}): Promise<CampaignView> {
    const campaign = await this.deps.store.getCampaign(tenantId);
    const view: CampaignView = {
      status: campaign?.status ?? 'idle',
      ...(campaign?.startedAt ? { startedAt: campaign.startedAt } : {}),
      ...(campaign?.domains?.length ? { domains: campaign.domains } : {}),
      ...(campaign?.lastStepAt ? { lastStepAt: campaign.lastStepAt } : {}),
      minDaysBetween: this.minDaysBetween,
      funnel: await this.funnel(tenantId, campaign?.round),
    };
    if (options.permission) view.permission = await this.permission(tenantId);
    return view;
  }

  /** start / pause / resume / step, as the admin asked (steps: what the scheduler would do next). */
  async act(tenantId: string, actor: string, body: unknown): Promise<CampaignView> {
    const { action, domains } = parseAction(body);
    const now = this.deps.now().toISOString();
    const current = await this.deps.store.getCampaign(tenantId);
    const status = current?.status ?? 'idle';
    if (action === 'start') {
      await this.deps.store.putCampaign({
        tenantId,
        status: 'running',
        startedAt: now,
        startedBy: actor,
        ...(domains?.length ? { domains } : {}),
        round: (current?.round ?? 0) + 1,
        updatedAt: now,
      });
    } else if (action === 'pause' || action === 'resume') {
      const from = action === 'pause' ? 'running' : 'paused';
      if (!current || status !== from)
        throw new AppError('CAMPAIGN_STATE_CONFLICT', {
          message: `The campaign is ${status}: only a ${from} campaign can be ${action === 'pause' ? 'paused' : 'resumed'}.`,
        });
      await this.deps.store.putCampaign({ ...current, status: action === 'pause' ? 'paused' : 'running', updatedAt: now });
    } else if (status !== 'running') {
      throw new AppError('CAMPAIGN_STATE_CONFLICT', { message: `The campaign is ${status}: start or resume it before running a step.` });
    }
    await this.deps.store.audit({ tenantId, actor, action: `campaign.${action}`, ...(domains?.length ? { details: { domains } } : {}) });
    if (action === 'start' || action === 'resume' || action === 'step') await this.step(tenantId);
    return this.view(tenantId, { permission: true });
  }

  /** The user opened the tab from a nudge's link. */
  async opened(tenantId: string, upn: string): Promise<void> {
    const campaign = await this.deps.store.getCampaign(tenantId);
    const person = await this.deps.store.getReachUser(tenantId, upn);
    if (!campaign || !person || person.round !== campaign.round || !person.nudgedAt || person.openedAt) return;
    await this.deps.store.putReachUser({ ...person, openedAt: this.deps.now().toISOString(), updatedAt: this.deps.now().toISOString() });
  }

  /** The user removed the bot: remembered, so it is never installed for them again against their will. */
  async botRemoved(tenantId: string, who: { oid?: string; upn?: string }): Promise<void> {
    const upn = who.upn ?? (who.oid ? (await this.deps.store.getUser(tenantId, who.oid))?.upn : undefined);
    if (!upn) return;
    const at = this.deps.now().toISOString();
    const person = (await this.deps.store.getReachUser(tenantId, upn)) ?? { tenantId, upn: upn.toLowerCase(), updatedAt: at };
    await this.deps.store.putReachUser({ ...person, ...(who.oid ? { oid: who.oid } : {}), bot: 'removed', botChangedAt: at, updatedAt: at });
  }

  /** Whether the product's app holds the reach permission in this tenant, what it enables, how to grant it. */
  async permission(tenantId: string): Promise<ReachPermissionView> {
    const adminConsentUrl = this.deps.adminConsentUrl(tenantId);
    let granted = false;
    try {
      granted = !!this.deps.installer && hasReachPermission(await this.deps.installer.roles(tenantId, true));
    } catch (err) {
      this.deps.logger.warn({ err, tenantId }, 'reach: could not read the product app’s roles');
    }
    return {
      permission: REACH_PERMISSION.role,
      granted,
      enables: REACH_PERMISSION.enables,
      without: REACH_PERMISSION.without,
      ...(granted ? {} : { remedy: remedyWith('REACH_PERMISSION_MISSING', { adminConsentUrl }) }),
      adminConsentUrl,
    };
  }

  // ---- the scheduler -----------------------------------------------------------------------

  /** What the scheduler runs: admins get the bot; every running campaign takes its next step. */
  async tick(): Promise<void> {
    for (const tenant of await this.deps.store.listTenants()) {
      await this.ensureAdmins(tenant.tenantId).catch((err) => this.deps.logger.error({ err, tenantId: tenant.tenantId }, 'reach: admin install failed'));
    }
    for (const campaign of await this.deps.store.listRunningCampaigns()) {
      await this.step(campaign.tenantId).catch((err) => this.deps.logger.error({ err, tenantId: campaign.tenantId }, 'reach: campaign step failed'));
    }
  }

  /**
   * Installs the bot for the tenant's admins who do not have it (the Teams welcome then tells them
   * what they will receive). Someone who removed it is left alone; a failure is retried a day later.
   */
  async ensureAdmins(tenantId: string): Promise<{ installed: string[]; unreachable: Array<{ upn: string; reason: UnreachableReason }> }> {
    const out = { installed: [] as string[], unreachable: [] as Array<{ upn: string; reason: UnreachableReason }> };
    const admins = new Map<string, string | undefined>();
    for (const u of await this.deps.store.listUsersWithRole(tenantId, ADMIN_APP_ROLE)) admins.set(u.upn.toLowerCase(), u.oid);
    if (tenantId === this.deps.homeTenantId) for (const upn of this.deps.adminUpns ?? []) if (!admins.has(upn)) admins.set(upn, undefined);
    if (admins.size === 0) return out;
    const now = this.deps.now();
    let context: InstallContext | undefined;
    for (const [upn, oid] of admins) {
      if (await this.#conversationOf(tenantId, upn, oid)) continue;
      const person = await this.deps.store.getReachUser(tenantId, upn);
      if (person?.bot === 'removed') continue;
      if (person?.unreachable && person.botChangedAt && now.getTime() - Date.parse(person.botChangedAt) < DAY_MS) continue;
      context ??= await this.#installContext(tenantId);
      const result = await this.#install(tenantId, { upn, oid, connections: [] }, person, context, now);
      if (result.unreachable) out.unreachable.push({ upn, reason: result.unreachable });
      else out.installed.push(upn);
      await this.deps.store.putReachUser(result);
    }
    if (out.installed.length || out.unreachable.length) {
      await this.deps.store.audit({
        tenantId,
        actor: 'system',
        action: 'reach.admins',
        details: { installed: out.installed.length, unreachable: out.unreachable.length },
      });
    }
    return out;
  }

  /** The campaign's next step for one tenant; concurrent calls for the same tenant share one run. */
  step(tenantId: string): Promise<StepResult> {
    let run = this.#running.get(tenantId);
    if (!run) {
      run = this.#step(tenantId).finally(() => this.#running.delete(tenantId));
      this.#running.set(tenantId, run);
    }
    return run;
  }

  async #step(tenantId: string): Promise<StepResult> {
    const result: StepResult = { targeted: 0, installed: 0, nudged: 0, reconnected: 0, unreachable: {} };
    // Several instances: the step runs where the lease is; another instance's step is not repeated.
    const lease = await Lease.take(`campaign/${tenantId}`, { store: this.deps.store, ttlMs: this.deps.leaseMs ?? 600_000, now: this.deps.now });
    if (!lease) return result;
    try {
      return await this.#stepHolding(tenantId, lease, result);
    } finally {
      await lease.release().catch(() => undefined);
    }
  }

  async #stepHolding(tenantId: string, lease: Lease, result: StepResult): Promise<StepResult> {
    const campaign = await this.deps.store.getCampaign(tenantId);
    if (!campaign || campaign.status !== 'running') return result;
    const now = this.deps.now();
    const at = now.toISOString();
    const tenant = await this.deps.store.getTenant(tenantId);
    const deadlines = deadlinesWithOverrides(tenant?.deadlineOverrides);
    const targets = await this.#targets(tenantId, campaign.domains);
    result.targeted = targets.size;

    // The stop rule: whoever was targeted and is no longer (reconnected, or fixed) gets nothing more.
    for await (const person of this.#people(tenantId)) {
      if (person.round === campaign.round && person.targetedAt && !person.reconnectedAt && !targets.has(person.upn)) {
        await this.deps.store.putReachUser({ ...person, reconnectedAt: at, updatedAt: at });
        result.reconnected++;
      }
    }

    let context: Promise<InstallContext> | undefined;
    const list = [...targets.values()];
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        // A lost lease (this instance stalled past it) stops the step: another instance has it now.
        if (!(await lease.held())) return;
        const target = list[next++];
        try {
          await this.#reach(tenantId, campaign.round, target, now, deadlines, () => (context ??= this.#installContext(tenantId)), result);
        } catch (err) {
          this.deps.logger.error({ err, tenantId }, 'reach: one user could not be processed; the next step retries');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, this.deps.concurrency ?? 4) }, worker));
    if (!(await lease.held())) return result;
    await this.deps.store.putCampaign({ ...campaign, lastStepAt: at, updatedAt: at });
    if (result.nudged > 0) this.deps.nudges.wake();
    return result;
  }

  async #reach(
    tenantId: string,
    round: number,
    target: Target,
    now: Date,
    deadlines: readonly Deadline[],
    installContext: () => Promise<InstallContext>,
    result: StepResult,
  ): Promise<void> {
    const at = now.toISOString();
    const stored = await this.deps.store.getReachUser(tenantId, target.upn);
    let person: ReachUserRecord =
      stored && stored.round === round
        ? stored
        : {
            tenantId,
            upn: target.upn,
            ...(stored?.bot ? { bot: stored.bot, botChangedAt: stored.botChangedAt } : {}),
            // A new round (Start over) still honours the minimum gap since the last nudge.
            ...(stored?.lastNudgedAt ? { lastNudgedAt: stored.lastNudgedAt } : {}),
            round,
            targetedAt: at,
            nudges: 0,
            updatedAt: at,
          };
    if (target.oid) person.oid = target.oid;
    let conversation = await this.#conversationOf(tenantId, target.upn, target.oid);
    if (!conversation && person.bot !== 'removed') {
      person = await this.#install(tenantId, target, person, await installContext(), now);
      conversation = person.unreachable ? undefined : await this.#conversationOf(tenantId, target.upn, target.oid);
    } else if (conversation) {
      // The bot is there (they added it, or an earlier step did): that counts as installed.
      person = { ...person, bot: person.bot === 'installed' ? 'installed' : 'present', installedAt: person.installedAt ?? at };
      delete person.unreachable;
    } else {
      person.unreachable = 'removed-by-user';
    }
    if (person.installedAt === at) result.installed++;
    if (person.unreachable) result.unreachable[person.unreachable] = (result.unreachable[person.unreachable] ?? 0) + 1;

    if (conversation) {
      const kinds = target.connections.filter(needsUserAction).map((c) => c.kind);
      const milestone = nudgeMilestone(kinds, now, deadlines);
      if (nudgeDue(person, milestone, now, this.minDaysBetween)) {
        const connection = nudgeConnection(target.connections);
        await this.deps.nudges.nudge({ tenantId, conversationId: conversation, connection, key: `campaign-${round}:${milestone}`, now });
        person = { ...person, lastNudgedAt: at, lastMilestone: milestone, nudges: (person.nudges ?? 0) + 1, nudgedAt: person.nudgedAt ?? at };
        result.nudged++;
      }
    }
    await this.deps.store.putReachUser({ ...person, updatedAt: at });
  }

  async #install(tenantId: string, target: Target, person: ReachUserRecord | undefined, context: InstallContext, now: Date): Promise<ReachUserRecord> {
    const at = now.toISOString();
    const base: ReachUserRecord = { ...(person ?? { tenantId, upn: target.upn, updatedAt: at }), ...(target.oid ? { oid: target.oid } : {}) };
    if (!context.allowed) return { ...base, unreachable: context.reason, botChangedAt: at, updatedAt: at };
    const outcome = await this.deps.installer!.install(tenantId, target.oid ?? target.upn, context.catalogAppId);
    if (outcome.result === 'unreachable') return { ...base, unreachable: outcome.reason, botChangedAt: at, updatedAt: at };
    const installed: ReachUserRecord = {
      ...base,
      // 409: it was there already; the bot hears of it (or heard) through Teams.
      bot: outcome.result === 'installed' ? 'installed' : 'present',
      botChangedAt: at,
      installedAt: base.installedAt ?? at,
      updatedAt: at,
    };
    delete installed.unreachable;
    return installed;
  }

  async #installContext(tenantId: string): Promise<InstallContext> {
    const installer = this.deps.installer;
    if (!installer) return { allowed: false, reason: 'app-not-in-catalog' };
    try {
      // A token from before the admin granted the permission does not carry it yet: ask again.
      const granted = hasReachPermission(await installer.roles(tenantId)) || hasReachPermission(await installer.roles(tenantId, true));
      if (!granted) return { allowed: false, reason: 'permission-not-granted' };
      const withApp = (await this.deps.store.listConversations(tenantId, { scope: 'personal' }))
        .map((c) => c.userOid ?? c.userUpn)
        .filter((x): x is string => !!x);
      const catalogAppId = await installer.catalogAppId(tenantId, withApp);
      return catalogAppId ? { allowed: true, catalogAppId } : { allowed: false, reason: 'app-not-in-catalog' };
    } catch (err) {
      this.deps.logger.warn({ err, tenantId }, 'reach: installation unavailable for now');
      return { allowed: false, reason: 'install-failed' };
    }
  }

  async #conversationOf(tenantId: string, upn: string, oid?: string): Promise<string | undefined> {
    const found =
      (oid ? await this.deps.store.findPersonalConversation(tenantId, oid) : undefined) ?? (await this.deps.store.findPersonalConversation(tenantId, upn));
    return found?.conversationId;
  }

  /** Everyone the campaign targets now, by upn: some connection needs them and none works on Graph. */
  async #targets(tenantId: string, domains: readonly string[] | undefined): Promise<Map<string, Target>> {
    const byUpn = new Map<string, Target>();
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.queryConnections(tenantId, { limit: 1000, cursor });
      for (const c of page.items) {
        const upn = c.upn.toLowerCase();
        if (!inDomains(upn, domains)) continue;
        const t = byUpn.get(upn) ?? { upn, connections: [] };
        t.connections.push(c);
        if (c.oid) t.oid = c.oid.toLowerCase();
        byUpn.set(upn, t);
      }
      cursor = page.nextCursor;
    } while (cursor);
    for (const [upn, t] of byUpn) if (!isTarget(t.connections)) byUpn.delete(upn);
    return byUpn;
  }

  async *#people(tenantId: string): AsyncGenerator<ReachUserRecord> {
    let cursor: string | undefined;
    do {
      const page = await this.deps.store.listReachUsers(tenantId, { limit: 1000, cursor });
      yield* page.items;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** The funnel of the current round, with the unreachable grouped by reason and each stage per day. */
  async funnel(tenantId: string, round?: number): Promise<FunnelView> {
    const totals: FunnelCounts = { targeted: 0, installed: 0, nudged: 0, opened: 0, reconnected: 0 };
    const unreachable = new Map<UnreachableReason, number>();
    const days = new Map<string, FunnelCounts>();
    const bump = (iso: string | undefined, stage: keyof FunnelCounts) => {
      if (!iso) return;
      totals[stage]++;
      const day = iso.slice(0, 10);
      const d = days.get(day) ?? { targeted: 0, installed: 0, nudged: 0, opened: 0, reconnected: 0 };
      d[stage]++;
      days.set(day, d);
    };
    if (round !== undefined) {
      for await (const p of this.#people(tenantId)) {
        if (p.round !== round || !p.targetedAt) continue;
        bump(p.targetedAt, 'targeted');
        bump(p.installedAt, 'installed');
        bump(p.nudgedAt, 'nudged');
        bump(p.openedAt, 'opened');
        bump(p.reconnectedAt, 'reconnected');
        if (p.unreachable && !p.reconnectedAt) unreachable.set(p.unreachable, (unreachable.get(p.unreachable) ?? 0) + 1);
      }
    }
    const adminConsentUrl = this.deps.adminConsentUrl(tenantId);
    return {
      ...totals,
      unreachable: UNREACHABLE_ORDER.filter((r) => unreachable.has(r)).map((reason) => {
        const code = UNREACHABLE_REASONS[reason];
        return { reason, code, count: unreachable.get(reason)!, message: ERROR_CATALOGUE[code].message, remedy: remedyWith(code, { adminConsentUrl }) ?? '' };
      }),
      perDay: [...days.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, c]) => ({ day, ...c })),
    };
  }
}

function parseAction(body: unknown): z.output<typeof campaignActionSchema> {
  const parsed = campaignActionSchema.safeParse(body ?? {});
  if (!parsed.success) zodFail(parsed.error);
  return parsed.data;
}

/** The connection a nudge talks about: a legacy one says most (as `remind` does). */
function nudgeConnection(connections: readonly ConnectionRecord[]): ConnectionRecord {
  const rank = (c: ConnectionRecord) => (c.kind === 'ews-basic' ? 0 : c.kind === 'ews-oauth' ? 1 : 2);
  return [...connections].filter(needsUserAction).sort((a, b) => rank(a) - rank(b))[0] ?? connections[0];
}
