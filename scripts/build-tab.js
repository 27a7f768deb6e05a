/**
 * Builds the tab (Vite, tab/vite.config.ts) into tab/dist when it is missing or older than what it
 * is built from, so that `npm start` and `npm test` never serve a tab that predates an edit.
 * `node scripts/build-tab.js --if-stale` builds only then. Plain JavaScript, like build-server.js.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const BUILT = path.join(ROOT, 'tab', 'dist', 'index.html');
/** The tab's sources, and the shared contract and domain modules it bundles. */
const INPUTS = ['tab/src', 'tab/public', 'tab/index.html', 'tab/auth-end.html', 'tab/vite.config.ts', 'tab/tsconfig.json', 'src/contract', 'src/domain'];

/** The newest modification time among the inputs, directories included (an added or removed file changes its directory's). */
function newestInput(root = ROOT) {
  let newest = 0;
  const visit = (p) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  for (const input of INPUTS) visit(path.join(root, input));
  return newest;
}

/** Why tab/dist must be rebuilt, or undefined when it is up to date. */
function staleReason(root = ROOT) {
  const built = fs.statSync(path.join(root, 'tab', 'dist', 'index.html'), { throwIfNoEntry: false });
  if (!built) return 'tab/dist has not been built yet';
  return newestInput(root) > built.mtimeMs ? 'the tab’s sources changed since tab/dist was built' : undefined;
}

/** Vite's command line, or undefined where dev dependencies are not installed (a production install). */
function viteCli() {
  const cli = path.join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js');
  return fs.existsSync(cli) ? cli : undefined;
}

function build() {
  const cli = viteCli();
  if (!cli) return 1;
  const run = spawnSync(process.execPath, [cli, 'build', '--config', path.join(ROOT, 'tab', 'vite.config.ts')], { cwd: ROOT, stdio: 'inherit' });
  return run.status ?? 1;
}

/**
 * Builds when stale; `log` hears why. Returns 0 when tab/dist is usable. Without Vite (dev
 * dependencies omitted) a stale but present build is served as it is, with a note.
 */
function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const reason = staleReason();
  if (!reason) return 0;
  if (!viteCli()) {
    log(
      `${reason}, and Vite is not installed (npm ci without dev dependencies): ${fs.existsSync(BUILT) ? 'serving the tab as built' : 'the tab cannot be served'}`,
    );
    return fs.existsSync(BUILT) ? 0 : 1;
  }
  log(`${reason}: building the tab (npm run build:tab)…`);
  return build();
}

module.exports = { BUILT, build, ensureBuilt, staleReason };

if (require.main === module) {
  process.exitCode = process.argv.includes('--if-stale') ? ensureBuilt() : build();
}
