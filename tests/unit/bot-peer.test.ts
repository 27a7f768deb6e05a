/** Who may talk to the anonymous bot: the TCP peer decides, never the activity body. */
import { isLoopbackPeer } from '../../bot/conversations';

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
