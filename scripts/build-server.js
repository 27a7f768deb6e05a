/**
 * Compiles the server (src/ and bot/, with the JSON files they import) into dist/ with tsc
 * (tsconfig.build.json), so `npm start` and production run plain JavaScript instead of transpiling
 * TypeScript at every start. `node scripts/build-server.js` always builds; `--if-stale` builds only
 * when dist/ does not match the sources (a changed, added or removed file, or a changed tsconfig).
 * Plain JavaScript on purpose: it must run before anything is compiled.
 */
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
/** Written into dist/ after a successful build: the sources' fingerprint it was built from. */
const STAMP = '.sources';
const INPUTS = ['src', 'bot', 'tsconfig.json', 'tsconfig.build.json'];

/**
 * The newest modification time among `inputs` (paths under `root`), directories included (adding
 * or removing a file changes its directory's time), and how many there are: cheap (a few ms) and
 * enough to notice any edit. Also what scripts/build-tab.js compares.
 */
function inputsState(root, inputs) {
  let newest = 0;
  let count = 0;
  const visit = (p) => {
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (!st) return;
    count++;
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) visit(path.join(p, name));
  };
  for (const input of inputs) visit(path.join(root, input));
  return { newest, count };
}

function sourcesFingerprint(root = ROOT) {
  const { newest, count } = inputsState(root, INPUTS);
  return `${newest}:${count}`;
}

/** Why dist/ must be rebuilt, or undefined when it is up to date. */
function staleReason(root = ROOT) {
  let built;
  try {
    built = fs.readFileSync(path.join(root, 'dist', STAMP), 'utf8').trim();
  } catch {
    return 'dist/ has not been built yet';
  }
  return built === sourcesFingerprint(root) ? undefined : 'the sources changed since dist/ was built';
}

/** Builds dist/ from scratch (no leftovers of deleted sources); returns tsc's exit code. */
function build() {
  const fingerprint = sourcesFingerprint();
  fs.rmSync(DIST, { recursive: true, force: true });
  const tsc = require.resolve('typescript/bin/tsc', { paths: [ROOT] });
  const run = spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
  if (run.status !== 0) return run.status ?? 1;
  fs.writeFileSync(path.join(DIST, STAMP), `${fingerprint}\n`);
  return 0;
}

/** Builds when stale; `log` hears why. Returns 0 when dist/ is usable. */
function ensureBuilt(log = (line) => process.stderr.write(`${line}\n`)) {
  const reason = staleReason();
  if (!reason) return 0;
  log(`${reason}: compiling the server (npm run build:server)…`);
  return build();
}

module.exports = { DIST, ROOT, STAMP, build, ensureBuilt, inputsState, sourcesFingerprint, staleReason };

if (require.main === module) {
  const code = process.argv.includes('--if-stale') ? ensureBuilt() : build();
  process.exitCode = code;
}
