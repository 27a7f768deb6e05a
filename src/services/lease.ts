/**
 * Leases on work that several instances sharing one store must run only once (docs/scale-out.md):
 * a scheduled job, a tenant's health-check run, a campaign step. The store makes taking one atomic;
 * this keeps it renewed while the work goes on, and the work asks `held()` between its steps so that
 * an instance that lost its lease (it stalled longer than the lease) stops cleanly.
 */
import { randomUUID } from 'node:crypto';
import type { Store } from '../store/types';

/** This process's name in leases: another process, or this one after a restart, is another owner. */
export const INSTANCE_ID = `${process.pid}-${randomUUID()}`;

export interface LeaseOptions {
  store: Pick<Store, 'tryLease' | 'releaseLease'>;
  ttlMs: number;
  now: () => Date;
  owner?: string;
}

export class Lease {
  #renewedAt: number;
  #lost = false;

  private constructor(
    readonly name: string,
    private readonly opts: LeaseOptions & { owner: string },
    at: number,
  ) {
    this.#renewedAt = at;
  }

  /** The lease, or undefined while another instance holds it. */
  static async take(name: string, opts: LeaseOptions): Promise<Lease | undefined> {
    const full = { ...opts, owner: opts.owner ?? INSTANCE_ID };
    const now = opts.now();
    return (await opts.store.tryLease(name, full.owner, opts.ttlMs, now)) ? new Lease(name, full, now.getTime()) : undefined;
  }

  /** Still ours? Renews it once a third of its time has passed; once lost, stays lost. */
  async held(): Promise<boolean> {
    if (this.#lost) return false;
    const now = this.opts.now();
    if (now.getTime() - this.#renewedAt < this.opts.ttlMs / 3) return true;
    if (await this.opts.store.tryLease(this.name, this.opts.owner, this.opts.ttlMs, now)) this.#renewedAt = now.getTime();
    else this.#lost = true;
    return !this.#lost;
  }

  async release(): Promise<void> {
    if (!this.#lost) await this.opts.store.releaseLease(this.name, this.opts.owner);
  }
}

/** Runs `work` only if the lease can be taken, then gives it up; false when another instance holds it. */
export async function underLease(name: string, opts: LeaseOptions, work: (lease: Lease) => Promise<void>): Promise<boolean> {
  const lease = await Lease.take(name, opts);
  if (!lease) return false;
  try {
    await work(lease);
  } finally {
    await lease.release().catch(() => undefined);
  }
  return true;
}
