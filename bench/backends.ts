// The storage backends a bench scenario runs on: where each run's data lives, opened as the server opens it.
import { closeSync, mkdtempSync, openSync, readFileSync, readSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config/index';
import { createLogger } from '../src/server/logger';
import { openStore } from '../src/store';
import type { Store } from '../src/store/types';
import { sqliteBytes } from './grownFloor';
import { postgresBytes } from './postgresBytes';
import { findPostgresBin, startCluster, type Cluster } from '../test/support/postgres';

export type Backend = { kind: 'sqlite' } | { kind: 'postgres'; serverUrl: string };

/** Where one run's data lives: a fresh DATA_DIR and, for PostgreSQL, a fresh database. */
export type Place = { dataDir: string; databaseUrl?: string };

/**
 * Reads an SQLite place's database file once, into the OS page cache, and returns how many MB
 * that was (undefined for PostgreSQL). This machine's kernel pages out file cache untouched for
 * about a minute (DAMON "pageout" on file-backed memory), so a store filled a minute earlier
 * would be read back from disk, which measures the disk rather than a server in service.
 */
export function warmSqliteFile(place: Place): number | undefined {
  const { config } = benchConfig(place);
  if (config.postgres) return undefined;
  const file = config.sqlite.file;
  const buffer = Buffer.allocUnsafe(1 << 20);
  const fd = openSync(file, 'r');
  let total = 0;
  try {
    for (let read = 1; read > 0; total += read) read = readSync(fd, buffer, 0, buffer.length, null);
  } finally {
    closeSync(fd);
  }
  return total / 1e6;
}

/** The SQLite file of an SQLite place, or its database URL on PostgreSQL: what floors C and P open. */
export function placeDatabase(place: Place): { file: string } | { databaseUrl: string } {
  const { config } = benchConfig(place);
  return config.postgres
    ? { databaseUrl: place.databaseUrl as string }
    : { file: config.sqlite.file };
}

/** The store's database plus WAL: the SQLite file and its -wal, or PostgreSQL's database and WAL. */
export async function placeStoreBytes(place: Place): Promise<number> {
  const database = placeDatabase(place);
  return 'file' in database ? sqliteBytes(database.file) : postgresBytes(database.databaseUrl);
}

/** The environment that points a server (or floor B) at `place`. */
export function placeEnv(place: Place): Record<string, string> {
  return place.databaseUrl
    ? { DATA_DIR: place.dataDir, DATABASE_URL: place.databaseUrl }
    : { DATA_DIR: place.dataDir };
}

/**
 * The store for `place`, through the same src/store openStore as the server, except that SQLite
 * runs on this thread: floor B is the storage engine itself, without the server's worker thread
 * and its messages.
 */
export async function openBenchStore(place: Place): Promise<Store> {
  return openStore(benchConfig(place).config, createLogger('silent'), { sqliteThread: 'caller' });
}

/**
 * The store as the server and the toolkit open it by default (on SQLite: the writer in a worker
 * thread, queries on a read-only connection on this thread), for the in-process Membership row.
 */
export async function openServerStore(place: Place): Promise<Store> {
  return openStore(benchConfig(place).config, createLogger('silent'));
}

/** The configuration a server started on `place` would load. */
function benchConfig(place: Place): { config: Config } {
  const loaded = loadConfig({ ...placeEnv(place), WEBHOOK_SECRET: 'floor-b' }, place.dataDir);
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  return { config: loaded.config };
}

/** A URL on the same PostgreSQL server with another database. */
function withDatabase(serverUrl: string, database: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Makes fresh places; for PostgreSQL one database each, dropped by `cleanUp`. */
export function placeMaker(backend: Backend, workDir: string) {
  const databases: string[] = [];
  return {
    fresh: async (name: string): Promise<Place> => {
      const dataDir = mkdtempSync(path.join(workDir, `${name}-`));
      if (backend.kind === 'sqlite') return { dataDir };
      // mkdtemp's names (letters, digits, '-') are unique, and safe as a quoted identifier.
      const database = `bench-${path.basename(dataDir)}`;
      const client = new pg.Client({ connectionString: backend.serverUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${database}"`);
      } finally {
        await client.end();
      }
      databases.push(database);
      return { dataDir, databaseUrl: withDatabase(backend.serverUrl, database) };
    },
    cleanUp: async () => {
      if (backend.kind === 'sqlite' || databases.length === 0) return;
      const client = new pg.Client({ connectionString: backend.serverUrl });
      await client.connect();
      try {
        for (const database of databases.splice(0)) {
          await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        }
      } finally {
        await client.end();
      }
    },
  };
}

export type PostgresChoice =
  | { backend: Backend; cluster?: Cluster; description: string }
  | { skipped: string; backend?: undefined };

/** The server's version and the settings that decide durability and caching. */
async function describeServer(serverUrl: string, where: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const show = async (name: string) =>
      ((await client.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name];
    return (
      `PostgreSQL ${await show('server_version')} (${where}): fsync ${await show('fsync')}, ` +
      `synchronous_commit ${await show('synchronous_commit')}, shared_buffers ${await show('shared_buffers')}`
    );
  } finally {
    await client.end();
  }
}

/**
 * PostgreSQL for the bench: the server in DATABASE_URL (each run gets its own database there, so
 * it needs CREATEDB), else a throwaway cluster started the way the tests start theirs, else a
 * reason to skip.
 */
export async function choosePostgres(wanted: boolean): Promise<PostgresChoice> {
  if (!wanted) return { skipped: 'not requested (--no-postgres)' };
  const url = process.env.DATABASE_URL;
  if (url) {
    return {
      backend: { kind: 'postgres', serverUrl: url },
      description: await describeServer(url, 'the server in DATABASE_URL'),
    };
  }
  const bin = findPostgresBin();
  if (!bin) return { skipped: 'no DATABASE_URL and no PostgreSQL binaries (initdb, pg_ctl) found' };
  const cluster = await startCluster(bin);
  return {
    backend: { kind: 'postgres', serverUrl: cluster.url() },
    cluster,
    description: await describeServer(
      cluster.url(),
      'a throwaway cluster on this machine, started as the tests start theirs, default settings',
    ),
  };
}

/** The pid of a throwaway cluster's postmaster (the first line of its postmaster.pid). */
export function postmasterPid(cluster: Cluster): number | undefined {
  try {
    const pid = Number(
      readFileSync(path.join(cluster.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0],
    );
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
