/** Display formatting. Dates from the API are ISO strings; deadline dates are UTC calendar days. */
import type { ChangeSeenBy } from '../../src/contract';
import type { ConnectionState } from '../../src/domain/connection';
import { ERROR_CATALOGUE, isErrorCode } from '../../src/domain/errors';

const DAY_FORMAT = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
const DATE_TIME_FORMAT = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });

/** `2027-04-01` → `1 April 2027`. */
export function formatDay(isoDate: string): string {
  const t = Date.parse(isoDate.length === 10 ? `${isoDate}T00:00:00Z` : isoDate);
  return Number.isNaN(t) ? isoDate : DAY_FORMAT.format(t);
}

export function formatDateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const t = Date.parse(iso);
  return Number.isNaN(t) ? iso : DATE_TIME_FORMAT.format(t);
}

export function daysLeftText(daysLeft: number): string {
  if (daysLeft < 0) return `${-daysLeft} ${-daysLeft === 1 ? 'day' : 'days'} ago`;
  if (daysLeft === 0) return 'today';
  return `${daysLeft} ${daysLeft === 1 ? 'day' : 'days'} left`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Why a connection changed state: its error code's message from the catalogue; one that became
 * disconnected without an error was removed by its user, or by the product (`seenBy` system) when
 * its address passed to someone else; otherwise a dash.
 */
export function changeReason(code: string | undefined, to?: ConnectionState, seenBy?: ChangeSeenBy): string {
  if (code && isErrorCode(code)) return ERROR_CATALOGUE[code].message;
  if (to !== 'disconnected') return '—';
  return seenBy === 'system' ? 'Removed when someone else signed in with this address.' : 'Removed by the user.';
}
