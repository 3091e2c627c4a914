// `npm run rotate-token-key`: re-seals every stored access token with the current TOKEN_ENCRYPTION_KEY.
import { existsSync } from 'node:fs';
import { resealAccessTokens, tokenKeys } from '../oauth/accessTokens';
import { loadConfig, readEnvironment, type Environment } from '../config/index';
import { createLogger } from '../server/logger';
import { describeStore, openStore } from '../store';
import { tenantLabel } from '../webhook/apply';

const USAGE = `Usage: npm run rotate-token-key

Seals every stored Heap access token with TOKEN_ENCRYPTION_KEY. Tokens still sealed with
TOKEN_ENCRYPTION_KEY_PREVIOUS are opened with it and sealed again; the store is the app's
(DATABASE_URL, or the SQLite file in DATA_DIR), read from the environment or .env. Safe to run
beside live instances, and to run again.
Exit status: 0 every token is sealed with the current key, 1 some token opens with neither key
(or the store failed), 2 bad usage or configuration.`;

/** Runs the CLI; resolves to the exit code. `write` receives what a person should read. */
export async function main(
  argv: string[],
  env: Environment = readEnvironment(),
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  cwd = process.cwd(),
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    write(USAGE);
    return 0;
  }
  if (argv.length > 0) {
    write(`unknown argument ${argv[0]}\n\n${USAGE}`);
    return 2;
  }
  const loaded = loadConfig(env, cwd);
  if (!loaded.ok) {
    write(loaded.problems.join('\n'));
    return 2;
  }
  const { config } = loaded;
  const keys = tokenKeys(config);
  if (!keys) {
    // Never generated here: a new development key would open none of the stored tokens.
    const file = config.missingSecrets.find(
      ({ variable }) => variable === 'TOKEN_ENCRYPTION_KEY',
    )?.file;
    write(
      `TOKEN_ENCRYPTION_KEY is not set${file ? ` and there is no development key in ${file}` : ''}: there is no key to seal tokens with.`,
    );
    return 2;
  }
  if (!config.postgres && !existsSync(config.sqlite.file)) {
    // Opening would create an empty store: more likely DATA_DIR points at the wrong place.
    write(`There is no SQLite database at ${config.sqlite.file} (check DATA_DIR).`);
    return 2;
  }
  const where = describeStore(config);
  let store;
  try {
    store = await openStore(config, createLogger('silent'), { sqliteThread: 'caller' });
  } catch (error) {
    write(`${where}: could not open the store: ${(error as Error).message}`);
    return 1;
  }
  // The audit log records the run (counts only, never a key or a token); failing to write it
  // is said, never allowed to hide the outcome.
  const audit = (detail: Record<string, number | boolean>) =>
    store
      .recordAudit({
        at: Date.now(),
        event: 'token_key_rotation',
        client: null,
        tenant: null,
        detail,
      })
      .catch((error: unknown) =>
        write(`${where}: could not record this run in the audit log: ${(error as Error).message}`),
      );
  try {
    const report = await resealAccessTokens(store, keys);
    await audit({
      resealed: report.resealed,
      current: report.current,
      unreadable: report.unreadable.length,
      changed: report.changed,
      failed: false,
    });
    write(
      `${where}: re-sealed ${report.resealed}, already current ${report.current}, ` +
        `unreadable ${report.unreadable.length}` +
        (report.changed > 0 ? `, changed meanwhile (kept as is) ${report.changed}` : ''),
    );
    for (const idToken of report.unreadable) {
      const connection = await store.getConnection(idToken);
      write(
        `  unreadable: env_id ${connection?.envId ?? '?'} (tenant ${tenantLabel(idToken)}): ` +
          'opens with neither key; that customer must connect Heap again',
      );
    }
    if (report.unreadable.length > 0 && !keys.previous) {
      write('Set TOKEN_ENCRYPTION_KEY_PREVIOUS to the key these tokens were sealed with.');
    }
    return report.unreadable.length > 0 ? 1 : 0;
  } catch (error) {
    await audit({ failed: true });
    write(`${where}: re-sealing failed: ${(error as Error).message}`);
    return 1;
  } finally {
    await store.close();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
