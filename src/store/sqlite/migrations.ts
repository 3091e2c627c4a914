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

/** Where a migration's progress lines go (stderr by default: the server's start and `migrate`). */
export type MigrationProgress = (line: string) => void;

const stderrProgress: MigrationProgress = (line) => process.stderr.write(`${line}\n`);

/** Memberships copied per transaction by 005's batches. */
export const USER_KEYS_BATCH = 50_000;

/**
 * Before 005_user_keys's own transaction: copies the memberships into the new layout in
 * batches of `batch` rows in (sid, user_id) order, each batch its own IMMEDIATE transaction with
 * its cursor (migration_005), so a crash or a kill loses at most one batch's work and the next
 * start resumes where it stopped; two processes at once take turns. Says how far it got on
 * `progress` when the file holds more than two batches. The migration file then copies what is
 * left and swaps the tables.
 */
function copyToUserKeys(
  db: Database.Database,
  migration: Migration,
  progress: MigrationProgress,
  batch: number,
): boolean {
  const marker = migration.sql.indexOf('-- copy:');
  if (marker < 0) throw new MigrationError(`${migration.name}: no "-- copy:" line`);
  const total = (
    db.prepare('SELECT coalesce(sum(member_count), 0) AS n FROM segments').get() as { n: number }
  ).n;
  if (total <= 2 * batch) return false;
  const cursorSql = 'SELECT sid, user_id FROM migration_005';
  const next = `SELECT m.sid, m.user_id, m.added_at FROM members m
                WHERE (m.sid, m.user_id) > (@sid, @userId) ORDER BY m.sid, m.user_id LIMIT @batch`;
  const tenantOf = `JOIN segments s ON s.sid = b.sid JOIN tenants t ON t.tenant = s.tenant`;
  const started = Date.now();
  let told = -1;
  let copied: number | undefined;
  for (;;) {
    const done = db
      .transaction(() => {
        if (sqliteSchemaVersion(db) >= migration.version) return undefined;
        db.exec(migration.sql.slice(0, marker));
        const cursor = (db.prepare(cursorSql).get() as
          { sid: number; user_id: string } | undefined) ?? { sid: -1, user_id: '' };
        const at = { sid: cursor.sid, userId: cursor.user_id, batch };
        db.prepare(
          `WITH b AS (${next}) INSERT OR IGNORE INTO users (tk, user_id)
           SELECT t.tk, b.user_id FROM b ${tenantOf}`,
        ).run(at);
        const rows = db
          .prepare(
            `WITH b AS (${next}) INSERT OR IGNORE INTO members_v5 (sid, uk, added_at)
           SELECT b.sid, u.uk, b.added_at FROM b ${tenantOf}
           JOIN users u ON u.tk = t.tk AND u.user_id = b.user_id`,
          )
          .run(at).changes;
        const last = db
          .prepare(
            `SELECT sid, user_id FROM members WHERE (sid, user_id) > (@sid, @userId)
             ORDER BY sid, user_id LIMIT 1 OFFSET @batch - 1`,
          )
          .get(at) as { sid: number; user_id: string } | undefined;
        if (!last) return undefined; // the rest (under a batch) is the migration file's
        db.prepare('DELETE FROM migration_005').run();
        db.prepare('INSERT INTO migration_005 (sid, user_id) VALUES (?, ?)').run(
          last.sid,
          last.user_id,
        );
        // Counted once (a resumed run starts where the last one stopped), then added up.
        copied =
          copied === undefined
            ? (db.prepare('SELECT count(*) AS n FROM members_v5').get() as { n: number }).n
            : copied + rows;
        return copied;
      })
      .immediate();
    if (done === undefined) return told >= 0;
    const percent = Math.min(99, Math.floor((done * 100) / total));
    if (told < 0 || percent >= told + 10) {
      told = percent;
      const seconds = ((Date.now() - started) / 1000).toFixed(0);
      progress(
        `sqlite: ${migration.name}: ${percent} % of memberships copied ` +
          `(${done}/${total}, ${seconds} s)`,
      );
    }
  }
}

/**
 * Whether a migration's change is already in the file, so re-applying it (a file whose version
 * was wound back) must only record the version: 005 cannot say IF NOT EXISTS for a table swap,
 * and 007 would rewrite every membership again for nothing.
 */
function alreadyInPlace(db: Database.Database, migration: Migration): boolean {
  if (migration.name === '005_user_keys') {
    return (
      db.prepare("SELECT 1 FROM pragma_table_info('members') WHERE name = 'uk'").get() !== undefined
    );
  }
  if (migration.name === '007_members_user_first') {
    return (
      db
        .prepare("SELECT 1 FROM pragma_index_list('members') WHERE name = 'members_by_segment'")
        .get() !== undefined
    );
  }
  return false;
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
  options: { progress?: MigrationProgress; batch?: number } = {},
): string[] {
  const progress = options.progress ?? stderrProgress;
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
    const told =
      migration.name === '005_user_keys' &&
      !alreadyInPlace(db, migration) &&
      copyToUserKeys(db, migration, progress, options.batch ?? USER_KEYS_BATCH);
    db.transaction(() => {
      const current = sqliteSchemaVersion(db);
      if (current >= migration.version) return;
      if (!alreadyInPlace(db, migration)) db.exec(migration.sql);
      if (current === 0) {
        db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migration.version);
      } else {
        db.prepare('UPDATE schema_version SET version = ?').run(migration.version);
      }
      applied.push(migration.name);
    }).immediate();
    if (told && applied.includes(migration.name)) {
      progress(`sqlite: ${migration.name}: applied`);
    }
  }
  return applied;
}
