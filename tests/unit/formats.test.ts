import { deepFreeze, isDnsName, isGuid, parseRetryAfter } from '../../src/domain/formats';

describe('shared formats', () => {
  it('recognises GUIDs in either case, with surrounding spaces, and nothing else', () => {
    expect(isGuid(' 79345376-8A3D-4a4a-8f6c-878503bb29c6 ')).toBe(true);
    expect(isGuid('79345376-8a3d-4a4a-8f6c-878503bb29c')).toBe(false);
    expect(isGuid('contoso.com')).toBe(false);
  });
  it('accepts DNS names the server accepts (the tab checks with the same rule)', () => {
    expect(isDnsName('Contoso.com')).toBe(true);
    expect(isDnsName('mail.contoso.co.uk')).toBe(true);
    expect(isDnsName('contoso')).toBe(false);
    expect(isDnsName('not a domain')).toBe(false);
    expect(isDnsName('contoso.123')).toBe(false);
  });
  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-06-01T09:00:00Z');
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter('Mon, 01 Jun 2026 09:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Mon, 01 Jun 2026 08:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
  it('freezes deeply, leaves binary data alone and survives cycles', () => {
    const cyclic: Record<string, unknown> = { list: [{ a: 1 }], key: Buffer.alloc(2) };
    cyclic.self = cyclic;
    deepFreeze(cyclic);
    expect(Object.isFrozen(cyclic)).toBe(true);
    expect(Object.isFrozen((cyclic.list as object[])[0])).toBe(true);
    expect(Object.isFrozen(cyclic.key)).toBe(false);
  });
});
