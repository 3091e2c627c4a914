// The store's settings: the SQLite file in DATA_DIR, or PostgreSQL when DATABASE_URL is set.
import path from 'node:path';
import { boolean, integer, nonEmpty, readEnvironment, type Environment } from './env';

export type SqliteConfig = {
  file: string;
  busyTimeoutMs: number;
};

export type PostgresConfig = {
  /** The connection string as given; holds the password, so never log or print it. */
  url: string;
  /** `host:port/database`, safe for banners and logs (no user, no password). */
  display: string;
  poolSize: number;
  /** Bound on getting a connection, from the pool or a new one. */
  connectTimeoutMs: number;
  /** Bound on each statement; together they keep a request from hanging on a sick database. */
  statementTimeoutMs: number;
  /** Apply pending migrations at start-up (false: `npm run migrate` does it, start-up checks). */
  migrateOnStart: boolean;
};

export const SQLITE_FILE = 'heap-partner.sqlite';

export function storeSettings(
  env: Environment,
  dataDir: string,
  problems: string[],
): { sqlite: SqliteConfig; postgres: PostgresConfig | undefined } {
  const busyTimeoutMs = integer(env, 'SQLITE_BUSY_TIMEOUT_MS', 5000, 0, 600_000, problems);
  return {
    sqlite: { file: path.join(dataDir, SQLITE_FILE), busyTimeoutMs },
    postgres: postgresConfig(env, problems),
  };
}

/**
 * Only the database settings, for tools that need nothing else (`npm run migrate` runs where the
 * webhook secret may not be set).
 */
export function loadDatabaseConfig(
  env: Environment = readEnvironment(),
): { ok: true; postgres: PostgresConfig | undefined } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const postgres = postgresConfig(env, problems);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, postgres };
}

function postgresConfig(env: Environment, problems: string[]): PostgresConfig | undefined {
  const url = nonEmpty(env.DATABASE_URL)?.trim();
  if (url === undefined) return undefined;
  const display = describeDatabaseUrl(url);
  if (display === undefined) {
    // The value may hold a password: name the variable, never echo it.
    problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
  }
  const migrateOnStart = boolean(env, 'DATABASE_MIGRATE_ON_START', true, problems);
  return {
    url,
    display: display ?? '',
    poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000, problems),
    connectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000, problems),
    statementTimeoutMs: integer(
      env,
      'DATABASE_STATEMENT_TIMEOUT_MS',
      15_000,
      100,
      3_600_000,
      problems,
    ),
    migrateOnStart,
  };
}

/**
 * `host:port/database` of a PostgreSQL URL, without user or password, or undefined when the
 * value is not a postgres:// URL. A socket directory given as `?host=` is shown as the host.
 */
export function describeDatabaseUrl(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') return undefined;
  const host = url.hostname || url.searchParams.get('host') || 'localhost';
  const port = url.port || url.searchParams.get('port') || '5432';
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || '(default database)';
  return `${host}:${port}/${database}`;
}
