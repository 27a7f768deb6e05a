/**
 * Small formats the server, the bot and the tab all check the same way. Pure: no Node APIs, so the
 * tab can import it too.
 */

/** An Entra object, tenant or application id. */
export const GUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value.trim());
}

/** A lower-case DNS name of two labels or more whose last label starts with a letter (contoso.com). */
export const DNS_NAME_PATTERN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

export function isDnsName(value: string): boolean {
  return DNS_NAME_PATTERN.test(value.trim().toLowerCase());
}

/**
 * An HTTP Retry-After value (delay seconds, possibly fractional, or an HTTP date) as milliseconds
 * from `nowMs`; undefined when it is neither. A date in the past means "now" (0).
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Freezes a value and everything reachable from it, so a value shared between requests (the
 * config, a cached answer) cannot be changed by one of them. Binary data (Buffer, typed arrays)
 * cannot be frozen and is left as it is.
 */
export function deepFreeze<T>(value: T, seen = new WeakSet<object>()): T {
  if (value && typeof value === 'object' && !ArrayBuffer.isView(value) && !seen.has(value)) {
    seen.add(value);
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v, seen);
  }
  return value;
}
