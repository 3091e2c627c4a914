// `heap-partner-api backup <file>`: an online backup of the SQLite store into a new 0600 file, optionally verified.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import path from 'node:path';
import { readEnvironment, resolveDataDir, storeSettings, type Environment } from '../config/index';
import { backupSqlite, verifySqliteBackup, type VerifyResult } from '../store/sqlite/backup';
import { createProgress, type ProgressStream } from './progress';

export type BackupOptions = {
  /** Where the backup goes, relative to the working directory. */
  file: string;
  /** Replace an existing file at `file`. */
  force: boolean;
  /** Open the copy and check it before it takes its final name. */
  verify: boolean;
  /** Copy nothing: check the existing backup at `file` (before restoring it). */
  verifyOnly?: boolean;
};

export type BackupIo = {
  /** What a person should read: the result, one line each. */
  out: (line: string) => void;
  /** Why it failed, one line each. */
  err: (line: string) => void;
  /** Where the progress line is drawn, on a terminal only. */
  progress: ProgressStream;
};

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const defaultIo: BackupIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  progress: process.stderr,
};

/** Runs the command; resolves to the exit code. */
export async function main(
  options: BackupOptions,
  env: Environment = readEnvironment(),
  io: BackupIo = defaultIo,
  cwd = process.cwd(),
): Promise<number> {
  if (options.verifyOnly) return verifyExisting(path.resolve(cwd, options.file), io);
  // Only the store's settings: a backup job need not hold the webhook secret or the admin token.
  const problems: string[] = [];
  const { sqlite, postgres } = storeSettings(env, resolveDataDir(env, cwd), problems);
  if (problems.length > 0) {
    problems.forEach(io.err);
    return EXIT_USAGE;
  }
  if (postgres) {
    io.err(
      `DATABASE_URL is set: the store is PostgreSQL (${postgres.display}), which this command ` +
        'does not copy. Use your provider\'s backups or pg_dump: see "Backups" under "Running in ' +
        'production" in the README.',
    );
    return EXIT_USAGE;
  }
  const source = sqlite.file;
  if (!existsSync(source)) {
    io.err(`There is no SQLite database at ${source} (check DATA_DIR).`);
    return EXIT_USAGE;
  }
  const destination = path.resolve(cwd, options.file);
  const refusal = checkDestination(source, destination, options.force);
  if (refusal) {
    io.err(refusal.message);
    return refusal.code;
  }

  // A crash or a failed check never leaves a partial backup under the final name: the copy is
  // written beside it under a temporary name (same directory, so the final rename is atomic).
  const partial = path.join(
    path.dirname(destination),
    `.${path.basename(destination)}.${randomBytes(6).toString('hex')}.partial`,
  );
  try {
    // 0600 from the first byte, like the database: it holds the same memberships and tokens.
    closeSync(openSync(partial, 'wx', 0o600));
  } catch (error) {
    io.err(`Cannot write the backup in ${path.dirname(destination)}: ${describe(error)}.`);
    return EXIT_FAILED;
  }

  const progress = createProgress(io.progress, 'backup', 'pages');
  try {
    const copied = await backupSqlite(source, partial, {
      busyTimeoutMs: sqlite.busyTimeoutMs,
      onProgress: ({ copiedPages, totalPages }) => progress.update(copiedPages, totalPages),
    });
    progress.finish();
    syncFile(partial);
    const verified = options.verify ? verifySqliteBackup(partial) : undefined;
    if (verified && !verified.ok) {
      verifyReport(verified).forEach(io.err);
      io.err(
        `The copy of ${source} failed its integrity check; nothing was written to ${destination}.`,
      );
      return EXIT_FAILED;
    }
    const placed = place(partial, destination, options.force);
    if (placed) {
      io.err(placed);
      return EXIT_FAILED;
    }
    const bytes = copied.totalPages * copied.pageSize;
    io.out(
      `Backed up ${source} to ${destination}: ${copied.totalPages.toLocaleString('en-US')} pages ` +
        `(${formatBytes(bytes)}), a snapshot taken at ${copied.snapshotAt.toISOString()}.`,
    );
    if (verified) verifyReport(verified).forEach(io.out);
    return EXIT_OK;
  } catch (error) {
    progress.finish();
    io.err(`Backup of ${source} failed: ${describe(error)}.${hint(error)}`);
    return EXIT_FAILED;
  } finally {
    for (const suffix of ['', '-journal', '-wal', '-shm'])
      rmSync(partial + suffix, { force: true });
  }
}

/** Checks a backup already written, e.g. before it is restored; needs no configuration. */
function verifyExisting(file: string, io: BackupIo): number {
  if (!existsSync(file) || statSync(file).isDirectory()) {
    io.err(`There is no backup file at ${file}.`);
    return EXIT_USAGE;
  }
  let result: VerifyResult;
  try {
    result = verifySqliteBackup(file);
  } catch (error) {
    io.err(`Cannot check ${file}: ${describe(error)}.${hint(error)}`);
    return EXIT_FAILED;
  }
  if (!result.ok) {
    verifyReport(result).forEach(io.err);
    io.err(`${file} failed its integrity check: do not restore it.`);
    return EXIT_FAILED;
  }
  io.out(`${file}:`);
  verifyReport(result).forEach(io.out);
  return EXIT_OK;
}

/** Why `destination` cannot be written, before any work is done. */
function checkDestination(
  source: string,
  destination: string,
  force: boolean,
): { message: string; code: number } | undefined {
  const sourceFiles = ['', '-wal', '-shm'].map((suffix) => path.resolve(source + suffix));
  if (sourceFiles.includes(destination)) {
    return {
      message: `${destination} is the database itself: name another file.`,
      code: EXIT_USAGE,
    };
  }
  const directory = path.dirname(destination);
  let stats;
  try {
    stats = statSync(directory);
  } catch (error) {
    return {
      message: `Cannot write the backup in ${directory}: ${describe(error)}.`,
      code: EXIT_FAILED,
    };
  }
  if (!stats.isDirectory()) {
    return {
      message: `Cannot write the backup in ${directory}: not a directory.`,
      code: EXIT_FAILED,
    };
  }
  if (!existsSync(destination)) return undefined;
  if (statSync(destination).isDirectory()) {
    return { message: `${destination} is a directory: name a file in it.`, code: EXIT_USAGE };
  }
  if (!force) {
    return {
      message: `${destination} already exists: pass --force to replace it, or name a new file.`,
      code: EXIT_USAGE,
    };
  }
  return undefined;
}

/**
 * Gives the finished copy its final name; a message when it cannot. Without --force a hard link
 * claims the name only if it is still free (a file created there meanwhile is not replaced);
 * with --force a rename replaces the old file atomically.
 */
function place(partial: string, destination: string, force: boolean): string | undefined {
  try {
    if (force) {
      renameSync(partial, destination);
    } else {
      try {
        linkSync(partial, destination);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Some filesystems (FAT, some network mounts) have no hard links.
        if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS') throw error;
        if (existsSync(destination)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
        renameSync(partial, destination);
      }
    }
    syncDirectory(path.dirname(destination));
    return undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      return `${destination} was created while the backup ran: pass --force to replace it.`;
    }
    return `Cannot write the backup to ${destination}: ${describe(error)}.`;
  }
}

function verifyReport(result: VerifyResult): string[] {
  const version =
    `schema version ${result.schemaVersion}` +
    (result.migration ? ` (${result.migration})` : '') +
    (result.schemaVersion > result.latestVersion
      ? `, newer than this build (${result.latestVersion})`
      : result.schemaVersion < result.latestVersion
        ? `; this build migrates it to ${result.latestVersion} when it opens it`
        : '');
  const counts = result.rowCounts
    .map(({ table, rows }) => `${table} ${rows.toLocaleString('en-US')}`)
    .join(', ');
  return [
    ...(result.ok
      ? ['integrity_check: ok']
      : ['integrity_check: FAILED', ...result.integrity.map((problem) => `  ${problem}`)]),
    version,
    ...(result.ok ? [`rows: ${counts || "none (this is not the store's schema)"}`] : []),
    ...(result.lastChangeSeq === null ? [] : [`change feed: last seq ${result.lastChangeSeq}`]),
  ];
}

/** The file's data on disk before it gets its name: a rename must not outrun the data. */
function syncFile(file: string): void {
  const fd = openSync(file, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** The new name on disk (a directory entry is data of the directory). */
function syncDirectory(directory: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(directory, 'r');
    fsyncSync(fd);
  } catch {
    // Not every platform or filesystem can fsync a directory; the rename itself has happened.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

function describe(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT') return 'no such directory';
  if (code === 'ENOTDIR') return 'a part of the path is not a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC' || code === 'SQLITE_FULL') return 'no space left on the device';
  return message;
}

function hint(error: unknown): string {
  const code = String((error as { code?: unknown }).code ?? '');
  if (/^SQLITE_(CANTOPEN|READONLY|PERM)/.test(code)) {
    return ' Run the backup as the user the server runs as: the database and its -wal and -shm are 0600.';
  }
  if (code.startsWith('SQLITE_NOTADB')) return ' It is not an SQLite database.';
  if (code.startsWith('SQLITE_BUSY')) {
    return ' The database stayed locked longer than SQLITE_BUSY_TIMEOUT_MS; try again.';
  }
  return '';
}
