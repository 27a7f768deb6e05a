/**
 * `tsx scripts/with-sandbox-ca.ts <script.ts> [args]`: runs a script that starts sandbox tenants
 * (benchmarks) with the sandbox's local CA trusted, which Node only reads at process start.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ensureCertificates } from '../src/sandbox/certs';

async function main(): Promise<number> {
  const [script, ...args] = process.argv.slice(2);
  if (!script) throw new Error('usage: tsx scripts/with-sandbox-ca.ts <script.ts> [args]');
  const root = path.resolve(__dirname, '..');
  const certsDir = path.join(os.tmpdir(), `connection-center-test-ca-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`);
  const certs = await ensureCertificates(certsDir);
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: certs.caCertPath, SANDBOX_CERTS_DIR: certsDir };
  const child = spawn(process.execPath, ['--disable-warning=DEP0111', '--import', 'tsx', script, ...args], { cwd: root, stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
