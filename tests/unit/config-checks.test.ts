import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

const KEY = Buffer.alloc(32, 7).toString('base64');
const load = (env: Record<string, string>) =>
  loadConfig({ ENCRYPTION_KEY: KEY, ...env }, { dataDir: mkdtempSync(path.join(tmpdir(), 'cc-config-')), warn: () => undefined });

describe('CHECK_INTERVAL_HOURS', () => {
  it('defaults to 6 hours; 0 turns scheduled checks off; fractions are allowed', () => {
    expect(load({}).checkIntervalHours).toBe(6);
    expect(load({ CHECK_INTERVAL_HOURS: '0' }).checkIntervalHours).toBe(0);
    expect(load({ CHECK_INTERVAL_HOURS: '0.5' }).checkIntervalHours).toBe(0.5);
  });

  it.each(['-1', 'often', '1000'])('refuses %s, naming the key', (value) => {
    let err: unknown;
    try {
      load({ CHECK_INTERVAL_HOURS: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('CHECK_INTERVAL_HOURS');
  });
});
