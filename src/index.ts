/**
 * Starts Connection Center: config → (sandbox) → store → server → listen. Expected failures
 * (bad config, unusable database, port in use) end with one clear line and exit code 1.
 */
import { createLogger } from './log';
import { ConfigError, loadConfig } from './config';
import { startProduct, type RunningProduct } from './server';

async function main(): Promise<void> {
  const warnings: string[] = [];
  let config;
  try {
    config = loadConfig(process.env, { warn: (m) => warnings.push(m) });
  } catch (err) {
    if (err instanceof ConfigError) return fatal(err.message);
    throw err;
  }
  const logger = createLogger({ level: config.logLevel });
  for (const w of warnings) logger.warn(w);

  let running: RunningProduct;
  try {
    running = await startProduct(config, { logger, banner: (text) => process.stdout.write(text), lazyBot: true });
  } catch (err) {
    const expected = err as { name?: string; message?: string; code?: string };
    if (expected?.name === 'StartupError' || expected?.name === 'StoreOpenError' || expected?.name === 'ConfigError')
      return fatal(expected.message ?? String(err));
    throw err;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing in-flight requests');
    await running.stop();
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function fatal(message: string): void {
  process.stderr.write(`connection-center: ${message}\n`);
  process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`connection-center: could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.LOG_LEVEL === 'debug') console.error(err);
  process.exit(1);
});
