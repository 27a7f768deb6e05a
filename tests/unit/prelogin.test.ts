/** The pieces behind pre-login cookies and sign-in pacing: sealing, tagging, the per-address bucket. */
import { RateLimiter } from '../../src/api/rate-limit';
import { Sealer } from '../../src/services/sealed';

describe('Sealer', () => {
  const sealer = new Sealer(Buffer.alloc(32, 7));

  it('opens what it sealed, for the same purpose only', () => {
    const sealed = sealer.seal('signin', { state: 's', n: 1 });
    expect(sealed).not.toContain('"state"');
    expect(sealer.open('signin', sealed)).toEqual({ state: 's', n: 1 });
    expect(sealer.open('consent', sealed)).toBeUndefined();
    expect(new Sealer(Buffer.alloc(32, 8)).open('signin', sealed)).toBeUndefined();
  });

  it('refuses altered, truncated and missing values', () => {
    const sealed = sealer.seal('signin', { state: 's' });
    const raw = Buffer.from(sealed, 'base64url');
    raw[raw.length - 1]! ^= 1;
    expect(sealer.open('signin', raw.toString('base64url'))).toBeUndefined();
    expect(sealer.open('signin', sealed.slice(0, 20))).toBeUndefined();
    expect(sealer.open('signin', undefined)).toBeUndefined();
    expect(sealer.open('signin', 'not base64 at all!')).toBeUndefined();
  });

  it('tags values so that only this key and purpose recognise them', () => {
    const tagged = sealer.tag('signin', 'abc');
    expect(sealer.isTagged('signin', tagged)).toBe(true);
    expect(sealer.isTagged('consent', tagged)).toBe(false);
    expect(sealer.isTagged('signin', tagged.replace('abc', 'abd'))).toBe(false);
    expect(sealer.isTagged('signin', 'abc')).toBe(false);
    expect(new Sealer(Buffer.alloc(32, 8)).isTagged('signin', tagged)).toBe(false);
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then one request per refill interval, per address', () => {
    let now = 0;
    const limiter = new RateLimiter({ burst: 3, perMinute: 6 }, () => now);
    expect([1, 2, 3].map(() => limiter.take('a'))).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(10);
    expect(limiter.take('b')).toBe(0);
    now += 10_000;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });

  it('tracks a bounded number of addresses, forgetting the least recently seen', () => {
    const limiter = new RateLimiter({ burst: 1, perMinute: 1, maxAddresses: 100 }, () => 0);
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
    expect(limiter.take('10.0.3.231')).toBeGreaterThan(0);
  });
});
