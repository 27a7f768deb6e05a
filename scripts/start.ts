/**
 * `npm start`: the launcher. With no tenant configured (AAD_APP_CLIENT_ID empty or unset) the product
 * runs against its built-in sandbox tenant over HTTPS; Node trusts the sandbox's local CA only if
 * NODE_EXTRA_CA_CERTS is set when the process starts, so this script prepares the certificates and
 * then starts the server as a child process with that variable, forwarding signals and exit code.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureCertificates } from '../src/sandbox/certs';

const ENTRY = path.resolve(__dirname, '..', 'src', 'index.ts');
/** tsx's loader by absolute URL, so the launcher works from any working directory. */
const TSX = pathToFileURL(require.resolve('tsx')).href;

async function main(): Promise<number> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  const sandbox = !env.AAD_APP_CLIENT_ID;
  if (sandbox) {
    if (env.NODE_ENV === 'production') {
      process.stderr.write(
        'connection-center: no tenant is configured (AAD_APP_CLIENT_ID is empty) and NODE_ENV=production: the sandbox tenant never runs in production. Configure AAD_APP_CLIENT_ID, SECRET_AAD_APP_CLIENT_SECRET and AAD_APP_TENANT_ID.\n',
      );
      return 1;
    }
    const dataDir = path.resolve('data');
    mkdirSync(dataDir, { recursive: true });
    const certs = await ensureCertificates(path.join(dataDir, 'sandbox'));
    if (env.NODE_EXTRA_CA_CERTS && path.resolve(env.NODE_EXTRA_CA_CERTS) !== certs.caCertPath) {
      process.stderr.write(
        `note: NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS} is replaced by the sandbox CA in sandbox mode (everything it talks to is on this machine).\n`,
      );
    }
    env.NODE_EXTRA_CA_CERTS = certs.caCertPath;
  }

  const child = spawn(
    process.execPath,
    [
      // restify's optional HTTP/2 dependency touches a deprecated Node API at load; the warning is noise to users.
      '--disable-warning=DEP0111',
      '--import',
      TSX,
      ENTRY,
      ...process.argv.slice(2),
    ],
    { stdio: 'inherit', env },
  );
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null) child.kill(signal);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, forward(signal));
  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`connection-center: could not start ${ENTRY}: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`connection-center: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
