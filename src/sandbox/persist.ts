/**
 * The sandbox's state file: a versioned JSON document holding what a person changed in the demo
 * tenant (grants, consent presets, roles, secrets, mailboxes, revocations, refresh tokens by hash,
 * the clock offset), the RSA signing key and the listening ports, so `npm start` after a stop finds
 * the tenant as it was.
 *
 * Loading never crashes the sandbox: a file that cannot be read, parsed, validated or matched to the
 * current seed is renamed to `<file>.broken-<timestamp>` (kept for the person to inspect) and the
 * sandbox starts from the seed, saying so through the logger. Writes are atomic (temp file, fsync,
 * rename; mode 0600), debounced, skipped when nothing changed, and flushed on close.
 * Authorization codes and pending sign-ins are not kept: they live seconds.
 */
import { createHash, createPrivateKey, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { SandboxLogger } from './context';
import { guid, secretSchema, tenantSchema, userSchema, type SandboxSeed } from './seed';
import type { Mailbox, TenantState, World } from './state';

export const STATE_FORMAT = 'connection-center/sandbox-state';
export const STATE_VERSION = 1;
/** Changes arrive in bursts (a sign-in is several requests): write once they settle. */
export const STATE_WRITE_DELAY_MS = 200;

const userStateSchema = userSchema.extend({
  tenantId: guid,
  roles: z.array(z.string()),
  tokensValidFrom: z.number(),
  revokeReason: z.enum(['revoked', 'expired']),
  conditionalAccess: z.enum(['mfa', 'blocked']).nullable(),
});

const tenantStateSchema = tenantSchema.extend({
  users: z.array(userStateSchema),
  servicePrincipals: z.array(
    z.object({ id: guid, appId: guid, displayName: z.string(), graphRoles: z.array(z.string()), adminConsentedScopes: z.array(z.string()) }),
  ),
});

const emailAddress = z.object({ emailAddress: z.object({ name: z.string(), address: z.string() }) });
const dateTimeTz = z.object({ dateTime: z.string(), timeZone: z.string() });

// Fields a Graph POST copies from the caller's body are kept as they came (unknown), so that any
// state the sandbox accepted can be read back.
const mailboxSchema = z.object({
  oid: guid,
  calendars: z.array(z.object({ id: z.string(), name: z.string(), isDefaultCalendar: z.boolean(), canEdit: z.boolean(), color: z.string() })),
  events: z.array(
    z.object({
      id: z.string(),
      calendarId: z.string(),
      subject: z.string(),
      bodyPreview: z.string(),
      start: dateTimeTz,
      end: dateTimeTz,
      location: z.object({ displayName: z.string() }),
      organizer: emailAddress,
      attendees: z.array(z.unknown()),
      isOnlineMeeting: z.boolean(),
      createdDateTime: z.string(),
      lastModifiedDateTime: z.string(),
    }),
  ),
  folders: z.array(z.object({ id: z.string(), displayName: z.string(), wellKnownName: z.string() })),
  messages: z.array(
    z.object({
      id: z.string(),
      parentFolderId: z.string(),
      subject: z.string(),
      bodyPreview: z.string(),
      receivedDateTime: z.string(),
      sentDateTime: z.string(),
      isRead: z.boolean(),
      isDraft: z.boolean(),
      importance: z.string(),
      hasAttachments: z.boolean(),
      from: emailAddress,
      toRecipients: z.array(z.unknown()),
    }),
  ),
  todoLists: z.array(
    z.object({
      id: z.string(),
      displayName: z.string(),
      wellknownListName: z.string(),
      tasks: z.array(z.object({ id: z.string(), title: z.string(), status: z.string(), createdDateTime: z.string() })),
    }),
  ),
});

/** The saved signing key must load as a private key: checked by parsing it, not by its header. */
function isPrivateKeyPem(pem: string): boolean {
  try {
    return createPrivateKey({ key: pem, format: 'pem' }).type === 'private';
  } catch {
    return false;
  }
}

const stateDocumentSchema = z.object({
  format: z.literal(STATE_FORMAT),
  version: z.literal(STATE_VERSION),
  /** Fingerprint of the seed the state grew from: another seed makes the file incompatible. */
  seed: z.string(),
  signingKey: z.object({ kid: z.string(), pkcs8: z.string().refine(isPrivateKeyPem, 'must be a PEM private key') }),
  /** The loopback ports of the run that saved it, taken again at the next start when free. */
  listen: z.object({ port: z.number().int().min(1).max(65535), pagesPort: z.number().int().min(1).max(65535) }).optional(),
  clockOffsetMs: z.number().nonnegative(),
  tenants: z.array(tenantStateSchema).min(1),
  appSecrets: z.array(z.object({ clientId: guid, secrets: z.array(secretSchema) })),
  grants: z.array(z.object({ tenantId: guid, oid: guid, clientId: guid, scopes: z.array(z.string()) })),
  refreshTokens: z.array(z.object({ sha256: z.string().regex(/^[A-Za-z0-9_-]{43}$/), tenantId: guid, oid: guid, clientId: guid, issuedAt: z.number() })),
  mailboxes: z.array(mailboxSchema),
});

export type StateDocument = z.infer<typeof stateDocumentSchema>;

export function seedFingerprint(seed: SandboxSeed): string {
  return createHash('sha256').update(JSON.stringify(seed)).digest('base64url');
}

/** The world and key as a state document (plain data, ready for JSON). */
export function snapshotState(world: World, signingKey: { kid: string; pkcs8: string }, ports: { port?: number; pagesPort?: number } = {}): StateDocument {
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    seed: seedFingerprint(world.seed),
    signingKey,
    listen: ports.port && ports.pagesPort ? { port: ports.port, pagesPort: ports.pagesPort } : undefined,
    clockOffsetMs: world.clockOffsetMs,
    tenants: world.tenants,
    appSecrets: world.apps.map((a) => ({ clientId: a.clientId, secrets: a.secrets })),
    grants: [...world.grants].map(([key, scopes]) => {
      const [tenantId, oid, clientId] = key.split('|');
      return { tenantId, oid, clientId, scopes };
    }),
    refreshTokens: [...world.refreshTokens].map(([sha256, r]) => ({ sha256, tenantId: r.tenantId, oid: r.oid, clientId: r.clientId, issuedAt: r.issuedAt })),
    mailboxes: [...world.mailboxes].map(([oid, m]) => ({ oid, ...m })),
  };
}

/** Parse a state file's text; throws a reason fit for the log when it is not a usable state for this seed. */
export function parseStateDocument(text: string, seed: SandboxSeed): StateDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new Error('it is not valid JSON');
  }
  const head = raw as { format?: unknown; version?: unknown; seed?: unknown } | null;
  if (typeof head !== 'object' || head === null || head.format !== STATE_FORMAT)
    throw new Error(`it is not a sandbox state document (format '${STATE_FORMAT}')`);
  if (head.version !== STATE_VERSION) throw new Error(`it has format version ${JSON.stringify(head.version)}; this build reads version ${STATE_VERSION}`);
  if (head.seed !== seedFingerprint(seed)) throw new Error('it was saved from a different demo tenant seed');
  const result = stateDocumentSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`it is invalid at ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

/**
 * Put a saved state into a world freshly built from the same seed. The app registrations' redirect
 * and App ID URIs stay those of this run (they follow the product's port); only their secrets are
 * restored. Throws (leaving the world to be rebuilt) when the document does not fit the seed.
 */
export function restoreState(world: World, doc: StateDocument): void {
  const same = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();
  if (
    !same(
      doc.tenants.map((t) => t.id),
      world.tenants.map((t) => t.id),
    )
  )
    throw new Error('its tenants do not match the seed');
  const users = new Set<string>();
  for (const t of doc.tenants) {
    const built = world.tenants.find((x) => x.id === t.id) as TenantState;
    if (
      !same(
        t.users.map((u) => u.oid),
        built.users.map((u) => u.oid),
      )
    )
      throw new Error(`its users of tenant ${t.id} do not match the seed`);
    if (
      !same(
        t.servicePrincipals.map((sp) => sp.appId),
        built.servicePrincipals.map((sp) => sp.appId),
      )
    )
      throw new Error(`its service principals of tenant ${t.id} do not match the seed`);
    if (t.users.some((u) => u.tenantId !== t.id)) throw new Error(`a user of tenant ${t.id} names another tenant`);
    for (const u of t.users) users.add(`${t.id}|${u.oid}`);
  }
  const apps = new Set(world.apps.map((a) => a.clientId));
  const knownUser = (r: { tenantId: string; oid: string; clientId: string }) => users.has(`${r.tenantId}|${r.oid}`) && apps.has(r.clientId);
  if (doc.appSecrets.some((a) => !apps.has(a.clientId))) throw new Error('it holds secrets of an app the seed does not have');
  if (!doc.grants.every(knownUser)) throw new Error('it holds a grant for a user or app the seed does not have');
  if (!doc.refreshTokens.every(knownUser)) throw new Error('it holds a refresh token for a user or app the seed does not have');
  const oids = new Set([...users].map((k) => k.split('|')[1]));
  if (doc.mailboxes.some((m) => !oids.has(m.oid))) throw new Error('it holds a mailbox of a user the seed does not have');

  world.clockOffsetMs = doc.clockOffsetMs;
  world.tenants = doc.tenants as TenantState[];
  for (const a of doc.appSecrets) (world.apps.find((x) => x.clientId === a.clientId) as World['apps'][number]).secrets = a.secrets;
  world.grants = new Map(doc.grants.map((g) => [`${g.tenantId}|${g.oid}|${g.clientId}`, g.scopes]));
  world.codes.clear();
  world.refreshTokens = new Map(doc.refreshTokens.map(({ sha256, ...r }) => [sha256, r]));
  world.mailboxes = new Map(doc.mailboxes.map(({ oid, ...m }) => [oid, m as Mailbox]));
}

export interface LoadedState {
  /** The saved state, or undefined: start from the seed (no file, or the file was set aside). */
  doc?: StateDocument;
  /** False when a bad file could not be moved aside: saving would overwrite it, so this run does not save. */
  writable: boolean;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

/** Read and check the state file; a bad one is set aside with a warning. Never throws. */
export async function loadStateFile(
  file: string,
  seed: SandboxSeed,
  logger: SandboxLogger,
  check: (doc: StateDocument) => Promise<void>,
): Promise<LoadedState> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { writable: true };
    return setAside(file, `it cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, logger);
  }
  try {
    const doc = parseStateDocument(text, seed);
    await check(doc);
    return { doc, writable: true };
  } catch (err) {
    return setAside(file, err instanceof Error ? err.message : String(err), logger);
  }
}

async function setAside(file: string, reason: string, logger: SandboxLogger): Promise<LoadedState> {
  let target = `${file}.broken-${stamp()}`;
  for (let n = 2; await exists(target); n++) target = `${file}.broken-${stamp()}-${n}`;
  try {
    await fs.rename(file, target);
  } catch (err) {
    logger.warn(
      { stateFile: file, reason, err: (err as NodeJS.ErrnoException).code ?? String(err) },
      'sandbox state file is unusable and could not be moved aside: starting from the seed, and not saving this run so the file stays as it is',
    );
    return { writable: false };
  }
  logger.warn({ stateFile: file, setAsideAs: target, reason }, `sandbox state file is unusable (${reason}): kept as ${target}; starting from the seed`);
  return { writable: true };
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes the state file after changes: debounced, one write at a time, atomic, nothing written when unchanged. */
export class StateWriter {
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private lastWritten: string | undefined;
  private closed = false;
  private failing = false;

  constructor(
    private readonly file: string,
    private readonly render: () => StateDocument,
    private readonly logger: SandboxLogger,
    private readonly delayMs = STATE_WRITE_DELAY_MS,
  ) {}

  /** Something may have changed: write within delayMs (repeated calls in between write once). */
  touch(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.delayMs);
    // A pending write must not keep a process alive; close() flushes.
    this.timer.unref();
  }

  /** Write now if the state differs from what was last written. Never rejects. */
  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.writeIfChanged());
    return this.chain;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }

  private async writeIfChanged(): Promise<void> {
    let text: string;
    try {
      text = JSON.stringify(this.render(), null, 2) + '\n';
    } catch (err) {
      this.logger.error({ stateFile: this.file, err: err instanceof Error ? err.message : String(err) }, 'sandbox state could not be serialised');
      return;
    }
    if (text === this.lastWritten) return;
    const tmp = `${this.file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const fh = await fs.open(tmp, 'wx', 0o600);
      try {
        await fh.writeFile(text, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, this.file);
      this.lastWritten = text;
      if (this.failing) this.logger.info({ stateFile: this.file }, 'sandbox state saved again');
      this.failing = false;
    } catch (err) {
      await fs.unlink(tmp).catch(() => undefined);
      // Warn once per failure streak; the next change retries.
      if (!this.failing) {
        this.logger.warn(
          { stateFile: this.file, err: (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err)) },
          'sandbox state could not be saved; changes since the last save will be lost on restart',
        );
      }
      this.failing = true;
    }
  }
}
