/**
 * Small values the server hands to a browser and must get back unchanged and unread (pre-login
 * state in a cookie): AES-256-GCM under a key derived from the first ENCRYPTION_KEY, so nothing
 * about a sign-in in progress has to be written to the store.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class Sealer {
  private readonly sealKey: Buffer;
  private readonly macKey: Buffer;

  constructor(masterKey: Buffer) {
    // Separate keys for separate uses: the data key itself never encrypts anything here.
    this.sealKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'connection-center/pre-login/seal', 32));
    this.macKey = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'connection-center/pre-login/mac', 32));
  }

  /** `purpose` is bound in as associated data: a value sealed for one use never opens for another. */
  seal(purpose: string, value: unknown): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.sealKey, iv);
    cipher.setAAD(Buffer.from(purpose));
    const body = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The sealed value, or undefined when it is missing, altered or sealed for another purpose. */
  open<T>(purpose: string, sealed: string | undefined): T | undefined {
    if (!sealed) return undefined;
    const raw = Buffer.from(sealed, 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.sealKey, raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(purpose));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const plain = Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
      return JSON.parse(plain.toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  /** A value that proves it came from this server (a MAC), readable by anyone. */
  tag(purpose: string, value: string): string {
    return `${value}.${this.mac(purpose, value)}`;
  }

  /** True when `tagged` was made by tag() for this purpose. */
  isTagged(purpose: string, tagged: string): boolean {
    const i = tagged.lastIndexOf('.');
    if (i <= 0) return false;
    const sent = Buffer.from(tagged.slice(i + 1));
    const expected = Buffer.from(this.mac(purpose, tagged.slice(0, i)));
    return sent.length === expected.length && timingSafeEqual(sent, expected);
  }

  private mac(purpose: string, value: string): string {
    return createHmac('sha256', this.macKey).update(`${purpose}\n${value}`).digest('base64url').slice(0, 22);
  }
}

/** Constant-time string equality (states, tokens). */
export function sameSecret(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
