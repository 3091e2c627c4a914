// The storage backends a bench scenario can run on, opened the way the server opens them.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type Config } from '../src/config';
import { SqliteStore } from '../src/store/sqlite';
import type { Store } from '../src/store/types';

export type Backend = { kind: 'sqlite' } | { kind: 'postgres'; databaseUrl: string };

/** The environment that selects `backend` for a server whose data lives in `dataDir`. */
export function backendEnv(backend: Backend, dataDir: string): Record<string, string> {
  return backend.kind === 'postgres'
    ? { DATA_DIR: dataDir, DATABASE_URL: backend.databaseUrl }
    : { DATA_DIR: dataDir };
}

/** The server's configuration for that environment: the store settings come from there. */
function benchConfig(backend: Backend, dataDir: string): Config {
  const loaded = loadConfig(
    { ...backendEnv(backend, dataDir), WEBHOOK_SECRET: 'floor-b' },
    dataDir,
  );
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return loaded.config;
}

// Where the compiled PostgreSQL store lives once the scale-out work has landed.
const POSTGRES_MODULE = path.join(__dirname, '..', 'src', 'store', 'postgres.js');

/** Why PostgreSQL scenarios cannot run in this build, or undefined when they can. */
export function postgresUnavailable(): string | undefined {
  return existsSync(POSTGRES_MODULE) ? undefined : 'PostgreSQL store not available';
}

type PostgresModule = {
  PostgresStore: {
    open(options: { url: string; migrations: 'apply' }): Promise<{ store: Store }>;
  };
};

export async function openBenchStore(backend: Backend, dataDir: string): Promise<Store> {
  const config = benchConfig(backend, dataDir);
  if (backend.kind === 'sqlite') {
    return new SqliteStore({
      file: config.sqlite.file,
      busyTimeoutMs: config.sqlite.busyTimeoutMs,
    });
  }
  const { PostgresStore } = (await import(POSTGRES_MODULE)) as PostgresModule;
  return (await PostgresStore.open({ url: backend.databaseUrl, migrations: 'apply' })).store;
}
