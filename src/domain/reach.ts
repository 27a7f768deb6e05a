/**
 * Reach: the optional application permission that lets the product install its own bot
 * for a user, the reasons someone cannot be reached, and the reconnect campaign's rules (who is
 * targeted, when a nudge is due, when to stop). Pure data and derivations; no I/O.
 */
import type { ConnectionKind, ConnectionState } from './connection';
import { isLegacyKind } from './connection';
import { DEADLINE_MILESTONES, DEFAULT_DEADLINES, daysUntil, type Deadline } from './deadlines';
import type { ErrorCode } from './errors';

/** The permission matrix's row for reach: what the product's own Entra app needs, and why. */
export const REACH_PERMISSION = {
  role: 'TeamsAppInstallation.ReadWriteSelfForUser.All',
  /** Any of these also lets the app install itself (broader roles). */
  alsoAccepted: [
    'TeamsAppInstallation.ReadWriteAndConsentSelfForUser.All',
    'TeamsAppInstallation.ReadWriteForUser.All',
    'TeamsAppInstallation.ReadWriteAndConsentForUser.All',
  ],
  kind: 'application',
  holder: 'product',
  optional: true,
  enables:
    'Connection Center installs its bot for admins and for the users a reconnect campaign targets, so alerts and reminders reach people who never opened the app in Teams.',
  without: 'Only people who added the Connection Center app themselves get alerts and reminders; the campaign counts the others as unreachable.',
} as const;

/** Optional: lets the product find its app in the catalog before anyone has installed it. */
export const CATALOG_READ_ROLES = ['AppCatalog.Read.All', 'AppCatalog.ReadWrite.All', 'Directory.Read.All', 'Directory.ReadWrite.All'] as const;

export function hasReachPermission(roles: readonly string[]): boolean {
  const set = new Set(roles.map((r) => r.toLowerCase()));
  return [REACH_PERMISSION.role, ...REACH_PERMISSION.alsoAccepted].some((r) => set.has(r.toLowerCase()));
}

export function canReadCatalog(roles: readonly string[]): boolean {
  const set = new Set(roles.map((r) => r.toLowerCase()));
  return CATALOG_READ_ROLES.some((r) => set.has(r.toLowerCase()));
}

/** Why a user cannot get the bot; each maps to one catalogue code (its remedy says what to do). */
export const UNREACHABLE_REASONS = {
  'permission-not-granted': 'REACH_PERMISSION_MISSING',
  'app-not-in-catalog': 'REACH_APP_NOT_IN_CATALOG',
  'blocked-by-policy': 'REACH_APP_BLOCKED',
  'no-teams-license': 'REACH_NO_TEAMS_LICENSE',
  'removed-by-user': 'REACH_BOT_REMOVED',
  'install-failed': 'GRAPH_UNAVAILABLE',
} as const satisfies Record<string, ErrorCode>;
export type UnreachableReason = keyof typeof UNREACHABLE_REASONS;
export const UNREACHABLE_ORDER = Object.keys(UNREACHABLE_REASONS) as UnreachableReason[];

/** What an attempt to install the bot for one user came to. */
export type InstallOutcome = { result: 'installed' | 'already-installed' } | { result: 'unreachable'; reason: UnreachableReason };

export function isUnreachableReason(v: unknown): v is UnreachableReason {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(UNREACHABLE_REASONS, v);
}

/** Connections a campaign targets: legacy kinds, and any that need the user to reconnect. */
export function needsUserAction(c: { kind: ConnectionKind; state: ConnectionState }): boolean {
  if (c.state === 'disconnected') return false;
  return isLegacyKind(c.kind) || c.state === 'needs-reconnect' || c.state === 'missing-permissions';
}

/** A working Graph connection: the user has moved, whatever legacy record is left behind. */
export function isMoved(c: { kind: ConnectionKind; state: ConnectionState }): boolean {
  return (c.kind === 'graph-delegated' || c.kind === 'graph-app') && c.state === 'connected';
}

/** A user is targeted when some connection needs them and none already works on Graph. */
export function isTarget(connections: ReadonlyArray<{ kind: ConnectionKind; state: ConnectionState }>): boolean {
  return connections.some(needsUserAction) && !connections.some(isMoved);
}

/** The outbox kinds that carry a ReconnectNudge to a user. */
export const NUDGE_KINDS = ['connection.lost', 'reconnect.nudge'] as const;
export type NudgeKind = (typeof NUDGE_KINDS)[number];

export function isNudgeKind(kind: string): kind is NudgeKind {
  return (NUDGE_KINDS as readonly string[]).includes(kind);
}

/**
 * Whether a nudge queued earlier still asks something of its user when it is delivered (it may
 * have waited out throttling or an outage): not once they have done what it asks. A health check's
 * asks them to reconnect Office 365, done once that connection works again; a reminder's asks them
 * to move to Microsoft Graph, done once any of theirs works there. Asking someone to reconnect who
 * has done so would teach them to ignore the bot.
 */
export function nudgeStillDue(kind: NudgeKind, connections: ReadonlyArray<{ kind: ConnectionKind; state: ConnectionState }>): boolean {
  if (kind === 'connection.lost') return !connections.some((c) => c.kind === 'graph-delegated' && c.state === 'connected');
  return !connections.some(isMoved);
}

/** `user@Contoso.com` → `contoso.com`. */
export function domainOf(upn: string): string {
  return upn.slice(upn.lastIndexOf('@') + 1).toLowerCase();
}

export function inDomains(upn: string, domains: readonly string[] | undefined): boolean {
  return !domains || domains.length === 0 || domains.includes(domainOf(upn));
}

export const DEFAULT_CAMPAIGN_MIN_DAYS_BETWEEN = 3;
const DAY_MS = 86_400_000;

/**
 * The nudge milestone a user has reached: `first` until a deadline milestone comes, then
 * `<deadline id>@<days>` for the nearest deadline that breaks one of the user's connection kinds.
 */
export function nudgeMilestone(kinds: readonly ConnectionKind[], now: Date, deadlines: readonly Deadline[] = DEFAULT_DEADLINES): string {
  const next = deadlines
    .filter((d) => d.breaksConnection && d.affects.some((k) => kinds.includes(k)) && daysUntil(d.date, now) >= 0)
    .sort((a, b) => a.date.localeCompare(b.date))[0];
  if (!next) return 'first';
  const left = daysUntil(next.date, now);
  const reached = DEADLINE_MILESTONES.filter((m) => left <= m);
  return reached.length ? `${next.id}@${Math.min(...reached)}` : 'first';
}

/**
 * Whether a nudge is due: the first one at once; later ones only when a new milestone was reached,
 * and never sooner than `minDaysBetween` after the previous one.
 */
export function nudgeDue(
  previous: { lastNudgedAt?: string; lastMilestone?: string } | undefined,
  milestone: string,
  now: Date,
  minDaysBetween: number,
): boolean {
  if (!previous?.lastNudgedAt) return true;
  if (previous.lastMilestone === milestone) return false;
  return now.getTime() - Date.parse(previous.lastNudgedAt) >= minDaysBetween * DAY_MS;
}

/** The mark a nudge's link carries (Teams: the deep link's subEntityId; browser: `?from=`), so the tab can count "opened". */
export const CAMPAIGN_LINK_MARK = 'reconnect-campaign';

export type CampaignStatus = 'idle' | 'running' | 'paused';
export type CampaignAction = 'start' | 'pause' | 'resume' | 'step';
export const CAMPAIGN_ACTIONS: readonly CampaignAction[] = ['start', 'pause', 'resume', 'step'];
