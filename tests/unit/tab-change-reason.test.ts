/** Why the tab says a connection changed state, in the run's changes and in a user's history. */
import { ERROR_CATALOGUE } from '../../src/domain/errors';
import { changeReason } from '../../tab/src/format';

test("a change with an error code reads the catalogue's message for it", () => {
  expect(changeReason('REFRESH_TOKEN_REVOKED', 'needs-reconnect')).toBe(ERROR_CATALOGUE.REFRESH_TOKEN_REVOKED.message);
  expect(changeReason('GRAPH_UNAVAILABLE')).toBe(ERROR_CATALOGUE.GRAPH_UNAVAILABLE.message);
});

test('a connection that became disconnected without an error was removed by its user', () => {
  expect(changeReason(undefined, 'disconnected')).toBe('Removed by the user.');
});

test('a change without a code, or with one the catalogue does not know, gets a dash', () => {
  expect(changeReason(undefined, 'connected')).toBe('—');
  expect(changeReason(undefined)).toBe('—');
  expect(changeReason('NOT_A_CODE', 'failing')).toBe('—');
});

test('a connection the product removed, because someone else signed in with its address, says so', () => {
  expect(changeReason(undefined, 'disconnected', 'system')).toBe('Removed when someone else signed in with this address.');
  expect(changeReason(undefined, 'disconnected', 'user')).toBe('Removed by the user.');
});
