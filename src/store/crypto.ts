/**
 * AES-256-GCM encryption of secret fields (client secrets, token caches, PKCE verifiers, session
 * CSRF tokens). Each box names the key it was sealed with, so keys can be rotated: keep the old key
 * in the keyring until every record has been rewritten under the new one.
 *
 * Box format (text, safe in any column): `v1.<kid>.<iv>.<tag>.<ciphertext>`, parts base64url.
 * The version and key id are authenticated together with the caller's AAD, so neither can be swapped.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;

export type KeyringErrorReason = 'invalid-key' | 'unknown-key' | 'malformed' | 'tampered';

export class KeyringError extends Error {
  readonly reason: KeyringErrorReason;
  constructor(reason: KeyringErrorReason, message: string) {
    super(message);
    this.name = 'KeyringError';
    this.reason = reason;
  }
}

/** A short, stable id for a key (a truncated hash; it reveals nothing useful about the key). */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('connection-center/key-id\0').update(key).digest('hex').slice(0, 12);
}

export class Keyring {
  // Private fields stay out of util.inspect / JSON, so logging a keyring never prints key material.
  readonly #keys = new Map<string, Buffer>();
  readonly #currentId: string;

  constructor(keys: Array<{ id: string; key: Buffer }>, currentId: string) {
    if (keys.length === 0) throw new KeyringError('invalid-key', 'The keyring needs at least one key.');
    for (const { id, key } of keys) {
      if (!KEY_ID.test(id)) throw new KeyringError('invalid-key', `Key id "${id}" is not valid (1-64 letters, digits, "-" or "_").`);
      if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
        throw new KeyringError('invalid-key', `Key "${id}" must be exactly ${KEY_BYTES} bytes (got ${Buffer.isBuffer(key) ? key.length : typeof key}).`);
      }
      if (this.#keys.has(id)) throw new KeyringError('invalid-key', `Key id "${id}" appears twice in the keyring.`);
      this.#keys.set(id, Buffer.from(key));
    }
    if (!this.#keys.has(currentId)) throw new KeyringError('invalid-key', `The current key id "${currentId}" is not in the keyring.`);
    this.#currentId = currentId;
  }

  /** Keyring from raw keys: the first seals new values, the others only open old ones. Ids are `keyIdOf`. */
  static fromKeys(current: Buffer, previous: readonly Buffer[] = []): Keyring {
    const all = [current, ...previous];
    const seen = new Set<string>();
    const keys = all.map((key) => ({ id: keyIdOf(key), key })).filter(({ id }) => (seen.has(id) ? false : (seen.add(id), true)));
    return new Keyring(keys, keyIdOf(current));
  }

  get currentKeyId(): string {
    return this.#currentId;
  }

  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Seals `plain`; `aad` binds the box to its record (e.g. tenant + key), so a moved box fails to open. */
  encrypt(plain: string, aad = ''): string {
    const kid = this.#currentId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#keys.get(kid)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(kid, aad));
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, kid, b64(iv), b64(cipher.getAuthTag()), b64(ct)].join('.');
  }

  decrypt(box: string, aad = ''): string {
    const { kid, iv, tag, ct } = parseBox(box);
    const key = this.#keys.get(kid);
    if (!key) {
      throw new KeyringError(
        'unknown-key',
        `The value was encrypted with key id "${kid}", which is not in the keyring (known: ${this.keyIds.join(', ')}); add that key as a previous key.`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(kid, aad));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyringError('tampered', `The encrypted value failed authentication (key id "${kid}"): it was altered or belongs to another record.`);
    }
  }

  /** Key id a box was sealed with (no decryption). */
  keyIdOfBox(box: string): string {
    return parseBox(box).kid;
  }

  /** True when the box was sealed with an older key and should be rewritten. */
  needsRotation(box: string): boolean {
    return this.keyIdOfBox(box) !== this.#currentId;
  }
}

function associatedData(kid: string, aad: string): Buffer {
  // Length-prefix the caller's part so (kid, aad) pairs cannot collide.
  const a = Buffer.from(aad, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(a.length);
  return Buffer.concat([Buffer.from(`${VERSION}.${kid}.`, 'utf8'), len, a]);
}

function parseBox(box: string): { kid: string; iv: Buffer; tag: Buffer; ct: Buffer } {
  const parts = typeof box === 'string' ? box.split('.') : [];
  if (parts.length !== 5 || parts[0] !== VERSION || !KEY_ID.test(parts[1])) {
    throw new KeyringError('malformed', 'The encrypted value is malformed (expected v1.<kid>.<iv>.<tag>.<ciphertext>).');
  }
  const iv = unb64(parts[2]);
  const tag = unb64(parts[3]);
  const ct = unb64(parts[4]);
  if (!iv || !tag || !ct || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new KeyringError('malformed', 'The encrypted value is malformed (bad iv, tag or ciphertext encoding).');
  }
  return { kid: parts[1], iv, tag, ct };
}

function b64(buf: Buffer): string {
  return buf.toString('base64url');
}

function unb64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  return Buffer.from(text, 'base64url');
}
