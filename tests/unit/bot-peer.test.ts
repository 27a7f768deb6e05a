/** Who may talk to the anonymous bot: the TCP peer decides, never the activity body. */
import { isLocalRequest, isLoopbackPeer } from '../../bot/conversations';

describe('isLoopbackPeer', () => {
  test.each(['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3'])(
    '%s is this machine',
    (address) => {
      expect(isLoopbackPeer(address)).toBe(true);
    },
  );

  test.each([
    '10.0.0.5',
    '192.168.1.20',
    '172.17.0.1',
    '128.0.0.1',
    '0.0.0.0',
    '::',
    'fe80::1',
    '::ffff:10.0.0.5',
    '2001:db8::1',
    // Names and garbage are not addresses (remoteAddress is always numeric).
    'localhost',
    '127.0.0.1.evil.example',
    '',
  ])('%s is not', (address) => {
    expect(isLoopbackPeer(address)).toBe(false);
  });

  test('no address (a closed socket) is not', () => {
    expect(isLoopbackPeer(undefined)).toBe(false);
  });
});

describe('isLocalRequest', () => {
  test('a loopback peer with no proxy in between is local', () => {
    expect(isLocalRequest('127.0.0.1', { host: '127.0.0.1:3978', 'content-type': 'application/json' })).toBe(true);
  });

  test.each(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-real-ip'])(
    'a request relayed by a tunnel or proxy (%s) is not, though its peer is loopback',
    (header) => {
      expect(isLocalRequest('127.0.0.1', { [header]: '203.0.113.7' })).toBe(false);
    },
  );

  test('a remote peer is not', () => {
    expect(isLocalRequest('203.0.113.7', {})).toBe(false);
  });
});
