// Versioned PostgreSQL migrations: applied in order, once, under an advisory lock so N instances can start together.
import type { ClientBase } from 'pg';
import { postgresMigrationsDir } from '../../config/paths';
import { loadMigrationFiles, MigrationError, type Migration } from '../migrationFiles';

export { MigrationError, type Migration } from '../migrationFiles';

export type MigrationStatus = {
  /** Migrations this build knows that the database has not applied yet (oldest first). */
  pending: Migration[];
  /** Versions the database has that this build does not know (a newer build migrated it). */
  unknown: number[];
};

/**
 * Key of the transaction-scoped advisory lock that migrations hold: every instance starting
 * at once queues on it, and the first one through applies what is pending for all of them.
 * Two int4 halves ("hpa" and 1) keep it apart from other applications' lock numbers.
 */
export const MIGRATION_LOCK = [0x687061, 1] as const;

const CREATE_HISTORY = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version integer PRIMARY KEY,
  name text NOT NULL,
  checksum text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** The PostgreSQL migration files, in version order. */
export function loadMigrations(dir: string = postgresMigrationsDir): Migration[] {
  return loadMigrationFiles(dir);
}

/**
 * Applies every pending migration in one transaction that holds the migration lock, so
 * concurrent callers wait and then find nothing left to do. Returns what this call applied.
 */
export async function applyMigrations(
  client: ClientBase,
  migrations: Migration[] = loadMigrations(),
  /** Called as each pending migration starts (for progress on a terminal). */
  onMigration?: (migration: Migration, index: number, count: number) => void,
): Promise<MigrationStatus & { applied: Migration[] }> {
  await client.query('BEGIN');
  try {
    // Waiting for another instance's migration, or a long migration, is not a stuck query.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
    await client.query(CREATE_HISTORY);
    const status = await readStatus(client, migrations);
    for (const [index, migration] of status.pending.entries()) {
      onMigration?.(migration, index, status.pending.length);
      await client.query(migration.sql);
      await client.query(
        'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [migration.version, migration.name, migration.checksum],
      );
    }
    await client.query('COMMIT');
    return { ...status, applied: status.pending, pending: [] };
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/** What is pending, without changing anything (for instances that do not migrate themselves). */
export async function migrationStatus(
  client: ClientBase,
  migrations: Migration[] = loadMigrations(),
): Promise<MigrationStatus> {
  const exists = await client.query<{ present: boolean }>(
    `SELECT to_regclass('schema_migrations') IS NOT NULL AS present`,
  );
  if (!exists.rows[0].present) return { pending: migrations, unknown: [] };
  return readStatus(client, migrations);
}

async function readStatus(client: ClientBase, migrations: Migration[]): Promise<MigrationStatus> {
  const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
    'SELECT version, name, checksum FROM schema_migrations ORDER BY version',
  );
  const applied = new Map(rows.map((row) => [row.version, row]));
  for (const migration of migrations) {
    const row = applied.get(migration.version);
    if (row && row.checksum !== migration.checksum) {
      throw new MigrationError(
        `migration ${migration.name} was changed after it was applied (as ${row.name}); add a new migration instead`,
      );
    }
  }
  const knownVersions = new Set(migrations.map((m) => m.version));
  return {
    pending: migrations.filter((m) => !applied.has(m.version)),
    unknown: rows.map((row) => row.version).filter((version) => !knownVersions.has(version)),
  };
}
