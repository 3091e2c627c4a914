// Opens the configured Store: PostgreSQL when DATABASE_URL is set, the embedded SQLite file otherwise.
import type { Logger } from 'pino';
import type { Config, PostgresConfig } from '../config/index';
import type { PostgresStoreOptions } from './postgres/store';
import { openSqliteStore } from './sqlite/index';
import type { Store } from './types';

/** The store options a PostgreSQL configuration stands for. */
export function postgresStoreOptions(
  postgres: PostgresConfig,
  logger?: Logger,
): PostgresStoreOptions {
  return {
    url: postgres.url,
    poolSize: postgres.poolSize,
    connectTimeoutMs: postgres.connectTimeoutMs,
    statementTimeoutMs: postgres.statementTimeoutMs,
    onIdleError: (error) =>
      logger?.warn({ err: error }, 'an idle PostgreSQL connection failed; the pool replaces it'),
  };
}

export type OpenStoreOptions = {
  /**
   * Where SQLite runs: in a worker thread (the default, what the server uses: its synchronous
   * statements and fsyncs then leave the event loop free), or on the calling thread (the storage
   * engine alone, which the benchmark measures as its floor).
   */
  sqliteThread?: 'worker' | 'caller';
};

/**
 * Opens the store. For PostgreSQL this applies pending migrations first (or, with
 * DATABASE_MIGRATE_ON_START=false, refuses to start while any are pending).
 */
export async function openStore(
  config: Config,
  logger: Logger,
  options: OpenStoreOptions = {},
): Promise<Store> {
  if (!config.postgres) {
    return openSqliteStore({
      file: config.sqlite.file,
      busyTimeoutMs: config.sqlite.busyTimeoutMs,
      thread: options.sqliteThread,
    });
  }
  // Loaded only when configured: pg and its dependencies cost an SQLite server ~4 MB of RSS.
  const { openPostgresStore } = await import('./postgres/index');
  return openPostgresStore({
    ...postgresStoreOptions(config.postgres, logger),
    migrations: config.postgres.migrateOnStart ? 'apply' : 'verify',
    onMigrations: (migrations) => {
      if (migrations.applied.length > 0) {
        logger.info({ migrations: migrations.applied }, 'applied PostgreSQL migrations');
      }
      if (migrations.unknown.length > 0) {
        logger.warn(
          { versions: migrations.unknown },
          'the database has migrations this build does not know (a newer build applied them)',
        );
      }
    },
  });
}

/** One line for the start-up banner: where the data lives, never a password. */
export function describeStore(config: Config): string {
  return config.postgres
    ? `PostgreSQL at ${config.postgres.display} (pool of ${config.postgres.poolSize} per instance)`
    : `SQLite at ${config.sqlite.file}`;
}
