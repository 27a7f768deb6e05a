/**
 * `npm run keys:rotate`: re-encrypts every stored encrypted value (service-account secrets, token
 * cache partitions, sign-in states, sessions) under the first key of ENCRYPTION_KEY, then says how
 * many values still use another key. Safe to run while the product runs, to interrupt and to run
 * again: it works in small batches that each commit, and skips what is already under the first key.
 *
 * Rotation, step by step: put the new key first and keep the old one ("NEW,OLD"), restart, run this,
 * and once it reports 0 left, drop OLD from ENCRYPTION_KEY and restart again.
 */
import { ConfigError, loadConfig } from '../src/config';
import { configHash } from '../src/services/admin';
import { Keyring, KeyringError, openStore, StoreOpenError, type EncryptedValueCounts } from '../src/store';

const LABELS: Record<keyof EncryptedValueCounts, string> = {
  serviceAccountSecrets: 'service-account secrets',
  tokenCaches: 'token cache partitions',
  authStates: 'sign-in states',
  sessions: 'browser sessions',
};

const total = (c: EncryptedValueCounts) => Object.values(c).reduce((a, b) => a + b, 0);
const describe = (c: EncryptedValueCounts) => (Object.keys(LABELS) as Array<keyof EncryptedValueCounts>).map((k) => `${LABELS[k]} ${c[k]}`).join(', ');

async function main(): Promise<number> {
  const config = loadConfig(process.env, { warn: (m) => process.stderr.write(`warning: ${m}\n`) });
  const keys = config.encryptionKeys;
  const store = await openStore(config.dataStore, new Keyring([...keys], keys[0]!.id));
  try {
    const out = (line: string) => process.stdout.write(`${line}\n`);
    out(`keys:rotate: encrypting under key ${keys[0]!.id} (the first of ${keys.length} in ENCRYPTION_KEY)`);
    // Expired sign-in states and sessions are deleted rather than rewritten.
    const purged = await store.purgeExpired(new Date());
    if (purged) out(`removed ${purged} expired sign-in states and sessions`);
    const rewritten = await store.reencryptAll();
    out(`re-encrypted ${total(rewritten)}: ${describe(rewritten)}`);
    // Test results know the saved configuration by a fingerprint keyed with the first key: follow it
    // to the new key, or the permission matrix of the last test would seem to belong to nothing.
    let renamed = 0;
    for (const { tenantId } of await store.listTenants()) {
      const saved = await store.getServiceAccount(tenantId);
      if (!saved) continue;
      const current = configHash(keys[0]!.key, saved);
      for (const old of keys.slice(1)) renamed += await store.rekeyServiceAccountTests(tenantId, configHash(old.key, saved), current);
    }
    if (renamed) out(`re-keyed ${renamed} service-account test results`);
    const left = await store.countRetiredKeyValues();
    out(`still under another key: ${total(left)}${total(left) ? ` (${describe(left)})` : ''}`);
    if (total(left) > 0) {
      out('Some values were written under an older key while this ran: run npm run keys:rotate again.');
      return 1;
    }
    if (keys.length > 1) out('Every value uses the first key: the other keys can be removed from ENCRYPTION_KEY.');
    return 0;
  } finally {
    await store.close();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    const known = err instanceof ConfigError || err instanceof KeyringError || err instanceof StoreOpenError;
    process.stderr.write(`keys:rotate: ${known ? (err as Error).message : err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    if (err instanceof KeyringError && err.reason === 'unknown-key') {
      process.stderr.write('Values already rewritten stay rewritten; add the missing key to ENCRYPTION_KEY (after the first) and run again.\n');
    }
    process.exit(1);
  },
);
