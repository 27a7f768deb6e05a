/**
 * The PostgreSQL store's change stamp (Store.changeStamp): a value that moves whenever a record
 * may have changed, here or in another instance, read synchronously on hot paths.
 *
 * - Writes of this process are counted as they complete (every statement through the pool that
 *   may have changed rows; a transaction's once more at COMMIT), so this process never serves
 *   what it derived before its own write.
 * - Writes of other instances arrive as notifications: migration 8 makes every statement that
 *   changed rows send NOTIFY cc_changes, delivered at commit. One dedicated connection per store
 *   LISTENs and counts them. Between another instance's commit and its notification arriving
 *   (one network hop) a reader here can still see the previous stamp.
 * - Without that connection (before it is up, after it dropped, until it is back) changes of
 *   other instances would go unseen, so the stamp is a new value on every call: nothing derived
 *   is reused. Each connection is a new epoch in the stamp: counts from before a gap never match
 *   one after it. The connection is re-established with backoff and checked by a heartbeat, so a
 *   silently dead connection does not keep the stamp still.
 */
import pg from 'pg';

/** The channel migration 8's triggers notify. */
export const CHANGES_CHANNEL = 'cc_changes';

/** Statements that never change rows: no count. */
const READ_ONLY = /^\s*(SELECT|BEGIN|START|SET|SHOW|LISTEN|UNLISTEN|SAVEPOINT|RELEASE)\b/i;
/** Statements that end a transaction: they count when the transaction wrote. */
const TX_END = /^\s*(COMMIT|END|ROLLBACK)\b/i;
/** Commands whose row count says whether anything changed. */
const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);

export interface PgChangeFeedOptions {
  /** First delay before reconnecting the LISTEN connection (ms, default 100), doubled up to maxDelayMs. */
  minDelayMs?: number;
  /** Longest delay between reconnection attempts (ms, default 5 s). */
  maxDelayMs?: number;
  /** How often the LISTEN connection is checked with a query (ms, default 5 s); it is dropped when one fails or takes longer. */
  heartbeatMs?: number;
  /** How long connecting may take (ms, default 10 s). */
  connectTimeoutMs?: number;
}

type QueryFn = (...args: unknown[]) => unknown;
type Tracked = pg.PoolClient & { ccDirty?: boolean };

export class PgChangeFeed {
  readonly #url: string;
  readonly #minDelay: number;
  readonly #maxDelay: number;
  readonly #heartbeat: number;
  readonly #connectTimeout: number;
  #local = 0;
  #received = 0;
  #epoch = 0;
  #unique = 0;
  #client: pg.Client | undefined;
  #up = false;
  #closed = false;
  #delay: number;
  #retry: NodeJS.Timeout | undefined;
  #beat: NodeJS.Timeout | undefined;

  constructor(url: string, options: PgChangeFeedOptions = {}) {
    this.#url = url;
    this.#minDelay = options.minDelayMs ?? 100;
    this.#maxDelay = options.maxDelayMs ?? 5_000;
    this.#heartbeat = options.heartbeatMs ?? 5_000;
    this.#connectTimeout = options.connectTimeoutMs ?? 10_000;
    this.#delay = this.#minDelay;
  }

  /** The current stamp: `<epoch>/<local writes>/<notifications>` while listening, else a value never returned before. */
  stamp(): string {
    return this.#up ? `${this.#epoch}/${this.#local}/${this.#received}` : `off/${++this.#unique}`;
  }

  /** Whether the LISTEN connection is up (other instances' writes are seen). */
  get listening(): boolean {
    return this.#up;
  }

  /** Counts the writes of every connection the pool opens (from now on). */
  track(pool: pg.Pool): void {
    pool.on('connect', (client) => this.#wrap(client as Tracked));
  }

  /** Starts listening in the background; the stamp is unique per call until the connection is up. */
  start(): void {
    if (!this.#closed && !this.#client && !this.#retry) void this.#connect();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#beat);
    this.#retry = undefined;
    const client = this.#client;
    this.#drop();
    await client?.end().catch(() => undefined);
  }

  #wrap(client: Tracked): void {
    const query = client.query.bind(client) as QueryFn;
    const counted: QueryFn = (...args) => {
      const first = args[0];
      const text = typeof first === 'string' ? first : ((first as { text?: unknown } | undefined)?.text ?? '');
      if (typeof text !== 'string' || READ_ONLY.test(text)) return query(...args);
      const ends = TX_END.test(text);
      const done = (res: unknown) => {
        if (ends) {
          if (client.ccDirty) this.#local++;
          client.ccDirty = false;
          return;
        }
        const r = res as { command?: string; rowCount?: number | null } | undefined;
        if (r && DML.has(r.command ?? '') && r.rowCount === 0) return;
        // Counted now (an autocommit write is visible) and again at COMMIT (a transaction's is then).
        this.#local++;
        client.ccDirty = true;
      };
      const callbackAt = args.findIndex((a) => typeof a === 'function');
      if (callbackAt >= 0) {
        const callback = args[callbackAt] as (err: unknown, res: unknown) => void;
        args[callbackAt] = (err: unknown, res: unknown) => {
          done(err ? undefined : res);
          callback(err, res);
        };
        return query(...args);
      }
      const out = query(...args);
      if (out && typeof (out as Promise<unknown>).then === 'function') {
        return (out as Promise<unknown>).then(
          (res) => {
            done(res);
            return res;
          },
          (err: unknown) => {
            done(undefined);
            throw err;
          },
        );
      }
      done(undefined);
      return out;
    };
    client.query = counted as typeof client.query;
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: 'connection-center-changes',
      connectionTimeoutMillis: this.#connectTimeout,
      keepAlive: true,
    });
    this.#client = client;
    const lost = () => {
      if (this.#client !== client) return;
      this.#drop();
      void client.end().catch(() => undefined);
      this.#schedule();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      if (n.channel === CHANGES_CHANNEL && this.#client === client) this.#received++;
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGES_CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (this.#client !== client || this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#epoch++;
    this.#received = 0;
    this.#up = true;
    this.#delay = this.#minDelay;
    this.#beat = setInterval(() => void this.#check(client, lost), this.#heartbeat);
    this.#beat.unref();
  }

  /** A query that fails or does not answer within a heartbeat drops the connection. */
  async #check(client: pg.Client, lost: () => void): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer')), this.#heartbeat);
    });
    try {
      await Promise.race([client.query('SELECT 1'), late]);
    } catch {
      lost();
    } finally {
      clearTimeout(timer);
    }
  }

  #drop(): void {
    this.#up = false;
    this.#client = undefined;
    clearInterval(this.#beat);
    this.#beat = undefined;
  }

  #schedule(): void {
    if (this.#closed || this.#retry) return;
    const delay = this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#maxDelay);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) void this.#connect();
    }, delay);
    this.#retry.unref();
  }
}
