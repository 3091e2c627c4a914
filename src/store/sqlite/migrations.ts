// Versioned SQLite migrations: the files in ./migrations, applied in order, each with its version bump.
import type Database from 'better-sqlite3';
import { sqliteMigrationsDir } from '../../config/paths';
import { loadMigrationFiles, MigrationError, type Migration } from '../migrationFiles';

/** The SQLite migration files, in version order. */
export function loadSqliteMigrations(dir: string = sqliteMigrationsDir): Migration[] {
  return loadMigrationFiles(dir);
}

/** The file's schema version: 0 for a new file (no version row yet). */
export function sqliteSchemaVersion(db: Database.Database): number {
  const row = db.prepare('SELECT version FROM schema_version').get() as
    { version: number } | undefined;
  return row?.version ?? 0;
}

/**
 * Brings a file to the latest version. The single schema_version row says where a file is (files
 * written before the migrations were files have it too). Each pending migration runs in its own
 * IMMEDIATE transaction with its version bump, re-reading the version inside it: a crash between
 * two leaves a consistent, resumable file, and two processes opening a file at once apply each
 * migration once. Returns the names applied.
 */
export function migrateSqlite(
  db: Database.Database,
  migrations: Migration[] = loadSqliteMigrations(),
): string[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  const version = sqliteSchemaVersion(db);
  if (version > latest) {
    throw new MigrationError(
      `The database at ${db.name} has schema version ${version}, newer than this build (${latest})`,
    );
  }
  const applied: string[] = [];
  for (const migration of migrations) {
    if (migration.version <= version) continue;
    db.transaction(() => {
      const current = sqliteSchemaVersion(db);
      if (current >= migration.version) return;
      db.exec(migration.sql);
      if (current === 0) {
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migration.version);
      } else {
        db.prepare('UPDATE schema_version SET version = ?').run(migration.version);
      }
      applied.push(migration.name);
    }).immediate();
  }
  return applied;
}
