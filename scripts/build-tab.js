/**
 * Builds the tab (Vite, tab/vite.config.ts) into tab/dist when it is missing or older than what it
 * is built from, so that `npm start` and `npm test` never serve a tab that predates an edit.
 * Plain JavaScript, like build-server.js.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const { ROOT, inputsState } = require('./build-server');
const BUILT = path.join(ROOT, 'tab', 'dist', 'index.html');
/** The tab's sources, and the shared contract and domain modules it bundles. */
const INPUTS = ['tab/src', 'tab/public', 'tab/index.html', 'tab/auth-end.html', 'tab/vite.config.ts', 'tab/tsconfig.json', 'src/contract', 'src/domain'];

/** Why tab/dist must be rebuilt, or undefined when it is up to date. */
function staleReason(root = ROOT) {
  const built = fs.statSync(path.join(root, 'tab', 'dist', 'index.html'), { throwIfNoEntry: false });
  if (!built) return 'tab/dist has not been built yet';
  return inputsState(root, INPUTS).newest > built.mtimeMs ? 'the tab’s sources changed since tab/dist was built' : undefined;
}

/**
 * Builds when stale; `log` hears why. Returns 0 when tab/dist is usable. Without Vite (a production
 * install, dev dependencies omitted) a stale but present build is served as it is, with a note.
 */
function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const reason = staleReason();
  if (!reason) return 0;
  const vite = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  if (!fs.existsSync(vite)) {
    const present = fs.existsSync(BUILT);
    log(`${reason}, and Vite is not installed (npm ci without dev dependencies): ${present ? 'serving the tab as built' : 'the tab cannot be served'}`);
    return present ? 0 : 1;
  }
  log(`${reason}: building the tab (npm run build:tab)…`);
  return spawnSync(process.execPath, [vite, 'build', '--config', path.join(ROOT, 'tab', 'vite.config.ts')], { cwd: ROOT, stdio: 'inherit' }).status ?? 1;
}

module.exports = { ensureBuilt, staleReason };
