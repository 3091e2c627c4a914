// Versioned PostgreSQL migrations: applied in order, once, under an advisory lock so N instances can start together.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientBase } from 'pg';
import { postgresMigrationsDir } from '../../config/paths';

export type Migration = { version: number; name: string; sql: string; checksum: string };

export type MigrationStatus = {
  /** Migrations this build knows that the database has not applied yet (oldest first). */
  pending: Migration[];
  /** Versions the database has that this build does not know (a newer build migrated it). */
  unknown: number[];
};

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.sql$/;

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

/** The migration files, in version order: `NNN_name.sql`, each version once. */
export function loadMigrations(dir: string = postgresMigrationsDir): Migration[] {
  const migrations = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => {
      const match = FILE_NAME.exec(file);
      if (!match) throw new MigrationError(`${file}: migration files are named NNN_name.sql`);
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(match[1]),
        name: `${match[1]}_${match[2]}`,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    })
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new MigrationError(`two migrations have version ${migrations[i].version}`);
    }
  }
  return migrations;
}

/**
 * Applies every pending migration in one transaction that holds the migration lock, so
 * concurrent callers wait and then find nothing left to do. Returns what this call applied.
 */
export async function applyMigrations(
  client: ClientBase,
  migrations: Migration[] = loadMigrations(),
): Promise<MigrationStatus & { applied: Migration[] }> {
  await client.query('BEGIN');
  try {
    // Waiting for another instance's migration, or a long migration, is not a stuck query.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
    await client.query(CREATE_HISTORY);
    const status = await readStatus(client, migrations);
    for (const migration of status.pending) {
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
