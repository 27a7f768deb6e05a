/**
 * scripts/build-tab.js decides whether `npm start` and `npm test` must build the tab first: tab/dist
 * is stale when a source of the tab, or a shared contract or domain module it bundles, is newer.
 */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const { staleReason } = require('../../scripts/build-tab') as { staleReason: (root: string) => string | undefined };

const SOURCES = ['tab/src/App.tsx', 'tab/index.html', 'tab/vite.config.ts', 'src/contract/api.ts', 'src/domain/errors.ts'];

function project(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'cc-tab-build-'));
  for (const dir of ['tab/src', 'tab/dist', 'src/contract', 'src/domain', 'src/services']) mkdirSync(path.join(root, dir), { recursive: true });
  for (const file of SOURCES) writeFileSync(path.join(root, file), '\n');
  // Sources written in the past, so the build and any later change are newer.
  const past = new Date(Date.now() - 60_000);
  for (const p of [...SOURCES, 'tab/src', 'tab', 'src/contract', 'src/domain']) utimesSync(path.join(root, p), past, past);
  return root;
}

const built = (root: string) => writeFileSync(path.join(root, 'tab', 'dist', 'index.html'), '<!doctype html>\n');

test('a missing build is stale; a build newer than every source is not', () => {
  const root = project();
  expect(staleReason(root)).toMatch(/not been built/);
  built(root);
  expect(staleReason(root)).toBeUndefined();
});

test.each([
  ['an edited component', 'tab/src/App.tsx'],
  ['an edited contract', 'src/contract/api.ts'],
  ['an edited domain module', 'src/domain/errors.ts'],
  ['a new component', 'tab/src/HistoryDialog.tsx'],
])('%s makes tab/dist stale', (_what, file) => {
  const root = project();
  built(root);
  const later = new Date(Date.now() + 5_000);
  writeFileSync(path.join(root, file), 'export {};\n');
  utimesSync(path.join(root, file), later, later);
  expect(staleReason(root)).toMatch(/changed/);
});

test('a removed component makes tab/dist stale (its folder changed)', () => {
  const root = project();
  built(root);
  rmSync(path.join(root, 'tab', 'src', 'App.tsx'));
  const later = new Date(Date.now() + 5_000);
  utimesSync(path.join(root, 'tab', 'src'), later, later);
  expect(staleReason(root)).toMatch(/changed/);
});

test('a server-only source does not', () => {
  const root = project();
  built(root);
  const later = new Date(Date.now() + 5_000);
  writeFileSync(path.join(root, 'src', 'services', 'checks.ts'), 'export {};\n');
  utimesSync(path.join(root, 'src', 'services', 'checks.ts'), later, later);
  expect(staleReason(root)).toBeUndefined();
});
