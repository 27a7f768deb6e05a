/** Faults a test can switch on: latency, 429 storms, 5xx, holding requests; plus request counters. */
import { delay } from './http';

export type Surface = 'entra' | 'graph';
export type FaultTarget = Surface | 'all';

interface CountedFault {
  target: FaultTarget;
  /** Requests left to hit; Infinity = until cleared. */
  remaining: number;
  retryAfterSeconds?: number;
}

export interface SandboxStats {
  entra: { requests: number; tokensIssued: Record<string, number>; errors: Record<string, number>; throttled: number; failed: number };
  graph: { requests: number; byStatus: Record<string, number>; throttled: number; failed: number; concurrencyThrottled: number };
  /** Graph requests currently being served, per mailbox (upn). */
  inFlight: Record<string, number>;
}

export interface InjectedFault {
  kind: 'throttle' | 'fail';
  status: number;
  retryAfterSeconds?: number;
}

export class Faults {
  latencyMs: Record<Surface, number> = { entra: 0, graph: 0 };
  throttle: CountedFault | null = null;
  failure: (CountedFault & { status: number }) | null = null;
  /** Retry-After on 429s for more than 4 concurrent requests on one mailbox. */
  concurrencyRetryAfterSeconds = 1;
  private held: { target: FaultTarget; gate: Promise<void>; open: () => void } | null = null;
  stats: SandboxStats = Faults.emptyStats();

  static emptyStats(): SandboxStats {
    return {
      entra: { requests: 0, tokensIssued: {}, errors: {}, throttled: 0, failed: 0 },
      graph: { requests: 0, byStatus: {}, throttled: 0, failed: 0, concurrencyThrottled: 0 },
      inFlight: {},
    };
  }

  clear(): void {
    this.latencyMs = { entra: 0, graph: 0 };
    this.throttle = null;
    this.failure = null;
    this.concurrencyRetryAfterSeconds = 1;
    this.release();
  }

  setLatency(ms: number, target: FaultTarget): void {
    if (!Number.isFinite(ms) || ms < 0) throw new Error('latency ms must be a non-negative number');
    if (target !== 'graph') this.latencyMs.entra = ms;
    if (target !== 'entra') this.latencyMs.graph = ms;
  }

  setThrottle(target: FaultTarget, count: number | undefined, retryAfterSeconds: number | undefined): void {
    this.throttle = { target, remaining: count ?? Infinity, retryAfterSeconds };
  }

  setFailure(target: FaultTarget, status: number, count: number | undefined, retryAfterSeconds: number | undefined): void {
    if (!Number.isInteger(status) || status < 500 || status > 599) throw new Error('failure status must be 5xx');
    this.failure = { target, status, remaining: count ?? Infinity, retryAfterSeconds };
  }

  /** The fault that applies to the next request on `surface`, if any (consumes one count). */
  next(surface: Surface): InjectedFault | null {
    if (hits(this.failure, surface)) {
      const f = this.failure as CountedFault & { status: number };
      f.remaining -= 1;
      this.stats[surface].failed += 1;
      return { kind: 'fail', status: f.status, retryAfterSeconds: f.retryAfterSeconds };
    }
    if (hits(this.throttle, surface)) {
      const f = this.throttle as CountedFault;
      f.remaining -= 1;
      this.stats[surface].throttled += 1;
      return { kind: 'throttle', status: 429, retryAfterSeconds: f.retryAfterSeconds ?? 1 };
    }
    return null;
  }

  hold(target: FaultTarget): void {
    this.release();
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    this.held = { target, gate, open };
  }

  release(): void {
    this.held?.open();
    this.held = null;
  }

  /** Wait out the configured latency and any hold; called after a request is accepted. */
  async pace(surface: Surface): Promise<void> {
    const ms = this.latencyMs[surface];
    if (ms > 0) await delay(ms);
    const held = this.held;
    if (held && (held.target === 'all' || held.target === surface)) await held.gate;
  }
}

function hits(f: CountedFault | null, surface: Surface): boolean {
  return f !== null && f.remaining > 0 && (f.target === 'all' || f.target === surface);
}
