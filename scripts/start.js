/**
 * `npm start` (and `npm run dev`): the launcher. It runs the compiled server (dist/src/index.js),
 * compiling it first when dist/ is missing or older than the sources, and builds the tab (tab/dist)
 * likewise; `--dev` instead runs the TypeScript sources through tsx in watch mode (restart on every
 * save).
 *
 * With no tenant configured (AAD_APP_CLIENT_ID empty or unset) the product runs against its built-in
 * sandbox tenant over HTTPS; Node trusts the sandbox's local CA only if NODE_EXTRA_CA_CERTS is set
 * when the process starts, so this script prepares the certificates and then starts the server as a
 * child process with that variable, forwarding signals and the exit code.
 * Plain JavaScript on purpose: it runs before anything is compiled.
 */
'use strict';
const { spawn } = require('node:child_process');
const { mkdirSync } = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { DIST, ROOT, ensureBuilt } = require('./build-server');
const tab = require('./build-tab');

// restify's optional HTTP/2 dependency touches a deprecated Node API at load; the warning is noise to users.
const NODE_FLAGS = ['--disable-warning=DEP0111'];

function fail(message) {
  process.stderr.write(`connection-center: ${message}\n`);
  return 1;
}

/** What to run: the compiled entry, or the sources under tsx's watcher (`--dev`). */
function target(dev) {
  if (dev) {
    const tsx = require('tsx/cjs/api');
    return {
      args: [require.resolve('tsx/cli'), 'watch', '--clear-screen=false', ...NODE_FLAGS, path.join(ROOT, 'src', 'index.ts')],
      certs: () => tsx.require(path.join(ROOT, 'src', 'sandbox', 'certs.ts'), module.filename),
    };
  }
  return {
    args: [...NODE_FLAGS, path.join(DIST, 'src', 'index.js')],
    certs: () => require(path.join(DIST, 'src', 'sandbox', 'certs.js')),
  };
}

async function main() {
  const argv = process.argv.slice(2);
  const dev = argv.includes('--dev');
  const rest = argv.filter((a) => a !== '--dev');
  const env = { ...process.env };
  const sandbox = !env.AAD_APP_CLIENT_ID;
  if (sandbox && env.NODE_ENV === 'production') {
    return fail(
      'no tenant is configured (AAD_APP_CLIENT_ID is empty) and NODE_ENV=production: the sandbox tenant never runs in production. Configure AAD_APP_CLIENT_ID, SECRET_AAD_APP_CLIENT_SECRET and AAD_APP_TENANT_ID.',
    );
  }
  if (!dev && ensureBuilt() !== 0) return fail('compiling the server failed (see above); fix the errors or run "npm run dev" to start from the sources');
  // Without a tab to serve the server still starts: its API and bot work.
  if (tab.ensureBuilt() !== 0) process.stderr.write('connection-center: the tab could not be built (see above); /tab/ will not load until it is.\n');
  const run = target(dev);

  if (sandbox) {
    const dataDir = path.resolve('data');
    mkdirSync(dataDir, { recursive: true });
    const certs = await run.certs().ensureCertificates(path.join(dataDir, 'sandbox'));
    if (env.NODE_EXTRA_CA_CERTS && path.resolve(env.NODE_EXTRA_CA_CERTS) !== certs.caCertPath) {
      process.stderr.write(
        `note: NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS} is replaced by the sandbox CA in sandbox mode (everything it talks to is on this machine).\n`,
      );
    }
    env.NODE_EXTRA_CA_CERTS = certs.caCertPath;
  }

  const child = spawn(process.execPath, [...run.args, ...rest], { stdio: 'inherit', env });
  const forward = (signal) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward(signal));
  return new Promise((resolve) => {
    child.on('error', (err) => resolve(fail(`could not start the server: ${err.message}`)));
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`connection-center: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
