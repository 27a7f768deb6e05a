/** EWS / Basic Auth deadlines of Exchange Online. Dates are data; a tenant may override them. */
import type { ConnectionKind } from './connection';

export interface Deadline {
  id: 'basic-auth-disabled' | 'ews-disabled-by-default' | 'smtp-auth-basic-disabled' | 'ews-removed';
  /** ISO date, YYYY-MM-DD (UTC). */
  date: string;
  what: string;
  /** Connection kinds this date concerns (users counted in digests). */
  affects: readonly ConnectionKind[];
  /** False when the date concerns related protocols (SMTP AUTH) but not the sync connection itself. */
  breaksConnection: boolean;
}

export const DEFAULT_DEADLINES: readonly Deadline[] = [
  {
    id: 'basic-auth-disabled',
    date: '2022-10-01',
    what: 'Basic Authentication was disabled for EWS, EAS, POP, IMAP and Remote PowerShell in Exchange Online.',
    affects: ['ews-basic'],
    breaksConnection: true,
  },
  {
    id: 'ews-disabled-by-default',
    date: '2026-10-01',
    what: 'EWS is disabled by default in tenants that did not set EWSEnabled and an app allow list.',
    affects: ['ews-basic', 'ews-oauth'],
    breaksConnection: true,
  },
  {
    id: 'smtp-auth-basic-disabled',
    date: '2026-12-31',
    what: 'SMTP AUTH with Basic Authentication is disabled by default for existing tenants.',
    affects: ['ews-basic'],
    breaksConnection: false,
  },
  {
    id: 'ews-removed',
    date: '2027-04-01',
    what: 'EWS is removed from Exchange Online: no EWS for any app, no exceptions.',
    affects: ['ews-basic', 'ews-oauth'],
    breaksConnection: true,
  },
];

/** The tenant's deadlines: the defaults with its overrides (deadline id → YYYY-MM-DD) applied. */
export function deadlinesWithOverrides(overrides?: Record<string, string>): Deadline[] {
  return DEFAULT_DEADLINES.map((d) => (overrides?.[d.id] && /^\d{4}-\d{2}-\d{2}$/.test(overrides[d.id]) ? { ...d, date: overrides[d.id] } : { ...d }));
}

/** Milestones (days before a deadline) at which admins are reminded. */
export const DEADLINE_MILESTONES = [90, 60, 30, 14, 7, 3, 1] as const;

const DAY_MS = 86_400_000;

/** Whole days from `now` (UTC day) to the deadline date; negative once it has passed. */
export function daysUntil(date: string, now: Date): number {
  const target = Date.parse(`${date}T00:00:00Z`);
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Math.round((target - today) / DAY_MS);
}

export interface DeadlineView {
  id: Deadline['id'];
  date: string;
  daysLeft: number;
  what: string;
}

export function viewOf(d: Deadline, now: Date): DeadlineView {
  return { id: d.id, date: d.date, daysLeft: daysUntil(d.date, now), what: d.what };
}

/** The next deadline (today or later) that stops this kind of connection; if all have passed, none. */
export function nextDeadlineFor(kind: ConnectionKind, now: Date, deadlines: readonly Deadline[] = DEFAULT_DEADLINES): DeadlineView | undefined {
  const upcoming = deadlines
    .filter((d) => d.breaksConnection && d.affects.includes(kind) && daysUntil(d.date, now) >= 0)
    .sort((a, b) => a.date.localeCompare(b.date));
  return upcoming[0] ? viewOf(upcoming[0], now) : undefined;
}

/** Upcoming deadlines (any kind), soonest first. */
export function upcomingDeadlines(now: Date, deadlines: readonly Deadline[] = DEFAULT_DEADLINES): DeadlineView[] {
  return deadlines
    .filter((d) => daysUntil(d.date, now) >= 0)
    .sort((a, b) => a.date.localeCompare(b.date))
    .map((d) => viewOf(d, now));
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * A tenant's deadlines: the defaults with its overrides (deadline id → YYYY-MM-DD) applied.
 * Malformed or unknown overrides are ignored. Every view of deadlines (the bot's reminders, the
 * admin summary, the user's banner) reads them through here, so they all show the same dates.
 */
export function tenantDeadlines(overrides?: Readonly<Record<string, string>> | null): Deadline[] {
  return DEFAULT_DEADLINES.map((d) => {
    const date = overrides?.[d.id];
    return date && ISO_DATE.test(date) ? { ...d, date } : { ...d };
  });
}

export function deadlineById(id: Deadline['id'], deadlines: readonly Deadline[] = DEFAULT_DEADLINES): Deadline | undefined {
  return deadlines.find((d) => d.id === id);
}

/** Short headline per deadline for banners and cards: "<headline> on <date> — N days left". */
export const DEADLINE_HEADLINES: Record<Deadline['id'], string> = {
  'basic-auth-disabled': 'Basic Authentication for Exchange Online was turned off',
  'ews-disabled-by-default': 'Exchange Web Services is turned off by default',
  'smtp-auth-basic-disabled': 'SMTP AUTH with Basic Authentication is turned off by default',
  'ews-removed': 'Exchange Web Services stops working',
};

const LONG_DATE = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
/** "2027-04-01" → "1 April 2027": how dates read in reasons, cards and banners. */
export function formatLongDate(isoDate: string): string {
  const [y, m, d] = isoDate.slice(0, 10).split('-').map(Number);
  return y && m && d ? LONG_DATE.format(Date.UTC(y, m - 1, d)) : isoDate;
}
