// `npm run migrate`: applies (or, with --check, only lists) pending migrations: PostgreSQL for DATABASE_URL, else the SQLite file in DATA_DIR.
import { existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadDatabaseConfig, readEnvironment, type Environment } from '../config/index';
import { resolveDataDir } from '../config/secrets';
import { SQLITE_FILE } from '../config/store';
import {
  loadSqliteMigrations,
  migrateSqlite,
  sqliteSchemaVersion,
} from '../store/sqlite/migrations';
import { isStoreUnavailable } from '../store/errors';
import { postgresStoreOptions } from '../store';
import { runMigrations } from '../store/postgres/store';
import { createProgress, type ProgressStream } from './progress';

const USAGE = `Usage: npm run migrate [-- --check]

Applies the pending PostgreSQL migrations to the database in DATABASE_URL (environment or .env),
under the same advisory lock the app takes at start-up, so running it beside live instances is safe.
Without DATABASE_URL: the SQLite file in DATA_DIR, each migration in its own transaction (the
server does the same at start); a long one (005 on millions of memberships) prints progress on
stderr and resumes where it stopped if interrupted. Stop servers of an older version first.
  --check   only list pending migrations; exit 1 if there are any
Exit status: 0 done (or nothing pending), 1 pending (--check) or the database failed, 2 bad usage.`;

/** Runs the CLI; resolves to the exit code. `write` receives what a person should read. */
export async function main(
  argv: string[],
  env: Environment = readEnvironment(),
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  progressStream: ProgressStream = process.stderr,
): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    write(USAGE);
    return 0;
  }
  const unknown = argv.filter((arg) => arg !== '--check');
  if (unknown.length > 0) {
    write(`unknown argument ${unknown[0]}\n\n${USAGE}`);
    return 2;
  }
  const loaded = loadDatabaseConfig(env);
  if (!loaded.ok) {
    write(loaded.problems.join('\n'));
    return 2;
  }
  if (!loaded.postgres) return migrateSqliteFile(env, argv.includes('--check'), write);
  const where = loaded.postgres.display;
  const check = argv.includes('--check');
  // A long migration (an index on millions of rows) says which one runs, on a terminal.
  const progress = createProgress(progressStream, 'migrate', 'migrations');
  try {
    const report = await runMigrations(
      postgresStoreOptions(loaded.postgres),
      check ? 'verify' : 'apply',
      (name, index, count) => progress.update(index, count, `applying ${name}`),
    );
    progress.finish();
    if (report.unknown.length > 0) {
      write(`note: ${where} has migrations this build does not know: ${report.unknown.join(', ')}`);
    }
    if (check) {
      write(
        report.pending.length > 0
          ? `${where}: pending ${report.pending.join(', ')}`
          : `${where}: up to date`,
      );
      return report.pending.length > 0 ? 1 : 0;
    }
    // One line a migration, so a deploy log shows which ones this run applied (in one transaction).
    if (report.applied.length === 0) write(`${where}: up to date, nothing to apply`);
    for (const name of report.applied) write(`${where}: applied ${name}`);
    return 0;
  } catch (error) {
    progress.finish();
    const message = isStoreUnavailable(error) ? error.message : (error as Error).message;
    write(`${where}: migration failed: ${message}`);
    return 1;
  }
}

/** The SQLite side: the file the server in this environment would open. */
function migrateSqliteFile(
  env: Environment,
  check: boolean,
  write: (line: string) => void,
): number {
  const file = path.join(resolveDataDir(env, process.cwd()), SQLITE_FILE);
  if (!existsSync(file)) {
    write(`${file}: no SQLite store yet (the server creates it at the latest version)`);
    return 0;
  }
  const migrations = loadSqliteMigrations();
  try {
    const db = new Database(file, { readonly: check, fileMustExist: true });
    try {
      const version = check ? sqliteSchemaVersion(db) : 0;
      if (check) {
        const pending = migrations.filter((m) => m.version > version).map((m) => m.name);
        write(
          pending.length > 0 ? `${file}: pending ${pending.join(', ')}` : `${file}: up to date`,
        );
        return pending.length > 0 ? 1 : 0;
      }
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      const applied = migrateSqlite(db, migrations);
      if (applied.length === 0) write(`${file}: up to date, nothing to apply`);
      for (const name of applied) write(`${file}: applied ${name}`);
      return 0;
    } finally {
      db.close();
    }
  } catch (error) {
    write(`${file}: migration failed: ${(error as Error).message}`);
    return 1;
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
