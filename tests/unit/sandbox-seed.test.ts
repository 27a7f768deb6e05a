/** The sandbox keeps its own lists of connection values; the product must accept every one of them. */
import { CONNECTION_KINDS, CONNECTION_STATES } from '../../src/domain/connection';
import { SEED_CONNECTION_KINDS, SEED_CONNECTION_STATES, loadContosoSeed } from '../../src/sandbox/seed';

test('every connection kind and state the sandbox seed may hold is one the product knows', () => {
  for (const kind of SEED_CONNECTION_KINDS) expect(CONNECTION_KINDS).toContain(kind);
  for (const state of SEED_CONNECTION_STATES) expect(CONNECTION_STATES).toContain(state);
});

test('every legacy connection of the Contoso seed has a kind and a state the product knows', () => {
  const seed = loadContosoSeed();
  expect(seed.legacyConnections.length).toBeGreaterThan(0);
  for (const c of seed.legacyConnections) {
    expect(CONNECTION_KINDS).toContain(c.kind);
    expect(CONNECTION_STATES).toContain(c.state);
  }
});
