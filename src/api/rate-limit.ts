/**
 * A token bucket per client address, in memory: enough to keep one address from turning the
 * sign-in routes into a flood of requests. Bounded in size: the least recently seen address is
 * forgotten first.
 */
export interface RateLimitOptions {
  /** Requests an address may make at once. */
  burst: number;
  /** Requests per minute an address regains. */
  perMinute: number;
  /** Addresses tracked at most. */
  maxAddresses?: number;
}

export const AUTH_RATE_LIMIT: RateLimitOptions = { burst: 30, perMinute: 30 };

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly maxAddresses: number;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.maxAddresses = options.maxAddresses ?? 10_000;
  }

  /** 0 when the request may go ahead (and is counted); otherwise the seconds until it may. */
  take(address: string): number {
    const now = this.now();
    const perMs = this.options.perMinute / 60_000;
    const bucket = this.buckets.get(address);
    let tokens = this.options.burst;
    if (bucket) {
      tokens = Math.min(this.options.burst, bucket.tokens + (now - bucket.at) * perMs);
      // Re-inserted below: the map's order is least recently seen first.
      this.buckets.delete(address);
    }
    if (tokens < 1) {
      this.buckets.set(address, { tokens, at: now });
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    }
    this.buckets.set(address, { tokens: tokens - 1, at: now });
    // Least recently seen first: the one forgotten has been quiet longest (its bucket refilled, most likely).
    if (this.buckets.size > this.maxAddresses) this.buckets.delete(this.buckets.keys().next().value!);
    return 0;
  }

  get size(): number {
    return this.buckets.size;
  }
}
