import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { Keyring, KeyringError, keyIdOf } from '../../src/store/crypto';

const keyA = randomBytes(32);
const keyB = randomBytes(32);

function ring(...keys: Buffer[]): Keyring {
  return new Keyring(
    keys.map((key) => ({ id: keyIdOf(key), key })),
    keyIdOf(keys[0]),
  );
}

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeyringError);
    return (err as KeyringError).reason;
  }
  throw new Error('expected a KeyringError');
}

describe('keyIdOf', () => {
  it('is short, stable and different per key', () => {
    expect(keyIdOf(keyA)).toMatch(/^[0-9a-f]{12}$/);
    expect(keyIdOf(Buffer.from(keyA))).toBe(keyIdOf(keyA));
    expect(keyIdOf(keyB)).not.toBe(keyIdOf(keyA));
  });
});

describe('Keyring', () => {
  it('round-trips text, including empty and non-ASCII values', () => {
    const k = ring(keyA);
    for (const plain of ['', 'a', 'Zx8~Q_secret.value', 'ünïcødé ✓ 秘密', 'x'.repeat(100_000)]) {
      expect(k.decrypt(k.encrypt(plain, 'aad'), 'aad')).toBe(plain);
    }
  });

  it('writes a self-describing box naming the key and never the plaintext', () => {
    const k = ring(keyA);
    const box = k.encrypt('hunter2-the-secret', 't1/sa');
    const parts = box.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v1');
    expect(parts[1]).toBe(keyIdOf(keyA));
    for (const p of parts.slice(2)) expect(p).toMatch(/^[A-Za-z0-9_-]*$/);
    expect(box).not.toContain('hunter2');
    expect(k.keyIdOfBox(box)).toBe(keyIdOf(keyA));
  });

  it('uses a fresh IV every time', () => {
    const k = ring(keyA);
    expect(k.encrypt('same', 'x')).not.toBe(k.encrypt('same', 'x'));
  });

  it('refuses a box moved to another record (different AAD)', () => {
    const k = ring(keyA);
    const box = k.encrypt('secret', JSON.stringify(['service-account', 'tenant-a']));
    expect(reasonOf(() => k.decrypt(box, JSON.stringify(['service-account', 'tenant-b'])))).toBe('tampered');
    expect(reasonOf(() => k.decrypt(box))).toBe('tampered');
  });

  it('detects tampering with the ciphertext, the tag or the iv', () => {
    const k = ring(keyA);
    const box = k.encrypt('secret value', 'r');
    const parts = box.split('.');
    for (const i of [2, 3, 4]) {
      const bytes = Buffer.from(parts[i], 'base64url');
      bytes[0] ^= 0x01;
      const altered = [...parts];
      altered[i] = bytes.toString('base64url');
      expect(reasonOf(() => k.decrypt(altered.join('.'), 'r'))).toBe('tampered');
    }
  });

  it('refuses a key id swapped in the header', () => {
    const both = ring(keyA, keyB);
    const parts = both.encrypt('secret', 'r').split('.');
    parts[1] = keyIdOf(keyB);
    expect(reasonOf(() => both.decrypt(parts.join('.'), 'r'))).toBe('tampered');
  });

  it('names an unknown key id clearly', () => {
    const box = ring(keyB).encrypt('secret', 'r');
    let message = '';
    try {
      ring(keyA).decrypt(box, 'r');
    } catch (err) {
      expect((err as KeyringError).reason).toBe('unknown-key');
      message = (err as Error).message;
    }
    expect(message).toContain(keyIdOf(keyB));
    expect(message).toContain('not in the keyring');
  });

  it('rejects malformed boxes', () => {
    const k = ring(keyA);
    for (const bad of [
      '',
      'plain text',
      'v2.abc.a.b.c',
      'v1.abc.a.b',
      'v1.bad id.AAAA.AAAA.AAAA',
      `v1.${keyIdOf(keyA)}.AAAA.AAAA.AAAA`,
      `v1.${keyIdOf(keyA)}.@@@@.AAAA.AAAA`,
    ]) {
      expect(reasonOf(() => k.decrypt(bad, 'r'))).toBe('malformed');
    }
  });

  it('rotates: an old key still opens old boxes, new boxes use the current key', () => {
    const old = ring(keyA);
    const oldBox = old.encrypt('written long ago', 'r');
    const rotated = ring(keyB, keyA);
    expect(rotated.currentKeyId).toBe(keyIdOf(keyB));
    expect(rotated.decrypt(oldBox, 'r')).toBe('written long ago');
    expect(rotated.needsRotation(oldBox)).toBe(true);
    const fresh = rotated.encrypt('new', 'r');
    expect(rotated.keyIdOfBox(fresh)).toBe(keyIdOf(keyB));
    expect(rotated.needsRotation(fresh)).toBe(false);
    expect(reasonOf(() => old.decrypt(fresh, 'r'))).toBe('unknown-key');
  });

  it('fromKeys derives ids and puts the current key first', () => {
    const k = Keyring.fromKeys(keyB, [keyA, keyB]);
    expect(k.currentKeyId).toBe(keyIdOf(keyB));
    expect(k.keyIds.sort()).toEqual([keyIdOf(keyA), keyIdOf(keyB)].sort());
    expect(k.decrypt(ring(keyA).encrypt('v', 'r'), 'r')).toBe('v');
  });

  it('validates its keys', () => {
    expect(reasonOf(() => new Keyring([], 'x'))).toBe('invalid-key');
    expect(reasonOf(() => new Keyring([{ id: 'k1', key: randomBytes(16) }], 'k1'))).toBe('invalid-key');
    expect(reasonOf(() => new Keyring([{ id: 'has.dot', key: keyA }], 'has.dot'))).toBe('invalid-key');
    expect(
      reasonOf(
        () =>
          new Keyring(
            [
              { id: 'k1', key: keyA },
              { id: 'k1', key: keyB },
            ],
            'k1',
          ),
      ),
    ).toBe('invalid-key');
    expect(reasonOf(() => new Keyring([{ id: 'k1', key: keyA }], 'k2'))).toBe('invalid-key');
  });

  it('never shows key material when inspected or serialised', () => {
    const k = ring(keyA);
    const shown = inspect(k, { depth: 5, showHidden: true }) + JSON.stringify(k);
    expect(shown).not.toContain(keyA.toString('hex'));
    expect(shown).not.toContain(keyA.toString('base64'));
    expect(shown).not.toMatch(/<Buffer/);
  });
});
