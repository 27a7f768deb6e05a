/**
 * scripts/build-server.js decides whether `npm start` must compile first: dist/ is stale when any
 * source was changed, added or removed after the build it holds.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const { STAMP, sourcesFingerprint, staleReason } = require('../../scripts/build-server') as {
  STAMP: string;
  sourcesFingerprint: (root: string) => string;
  staleReason: (root: string) => string | undefined;
};

function project(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cc-build-'));
  for (const dir of ['src', 'bot', 'dist']) mkdirSync(path.join(root, dir));
  for (const file of ['src/index.ts', 'bot/index.ts', 'tsconfig.json', 'tsconfig.build.json']) writeFileSync(path.join(root, file), '{}\n');
  // Sources written in the past, so a later change always moves the newest time.
  const past = new Date(Date.now() - 60_000);
  for (const p of ['src/index.ts', 'bot/index.ts', 'tsconfig.json', 'tsconfig.build.json', 'src', 'bot']) utimesSync(path.join(root, p), past, past);
  return root;
}

const built = (root: string) => writeFileSync(path.join(root, 'dist', STAMP), `${sourcesFingerprint(root)}\n`);

test('a missing build is stale; a build of the current sources is not', () => {
  const root = project();
  expect(staleReason(root)).toMatch(/not been built/);
  built(root);
  expect(staleReason(root)).toBeUndefined();
});

test.each([
  ['an edited source', (root: string) => writeFileSync(path.join(root, 'src', 'index.ts'), 'export {};\n')],
  ['a new source', (root: string) => writeFileSync(path.join(root, 'bot', 'cards.json'), '{}\n')],
  ['a removed source', (root: string) => rmSync(path.join(root, 'bot', 'index.ts'))],
  ['a changed tsconfig', (root: string) => writeFileSync(path.join(root, 'tsconfig.build.json'), '{ "extends": "./tsconfig.json" }\n')],
])('%s makes dist/ stale', (_what, change) => {
  const root = project();
  built(root);
  change(root);
  expect(staleReason(root)).toMatch(/changed/);
});
