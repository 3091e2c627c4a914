// Online backup of the SQLite store: one consistent snapshot copied page by page while a server keeps writing, and its check.
import Database from 'better-sqlite3';
import { loadSqliteMigrations, sqliteSchemaVersion } from './migrations';

export type BackupProgress = { copiedPages: number; totalPages: number };

export type BackupResult = {
  totalPages: number;
  pageSize: number;
  /** When the snapshot was taken: every transaction committed before it is in the copy. */
  snapshotAt: Date;
};

/** The tables a person checking a backup wants counted, in the order they are reported. */
const COUNTED_TABLES = [
  'connections',
  'segments',
  'members',
  'sync_tasks',
  'deliveries',
  'changes',
] as const;

export type VerifyResult = {
  /** PRAGMA integrity_check's answer: ['ok'], or the problems it lists (at most 20). */
  integrity: string[];
  ok: boolean;
  schemaVersion: number;
  /** The migration that version is, when this build knows it. */
  migration: string | undefined;
  /** The newest schema version this build knows. */
  latestVersion: number;
  rowCounts: { table: string; rows: number }[];
  /** The change feed's newest seq: after a restore, new entries continue from it. */
  lastChangeSeq: number | null;
};

/**
 * Copies the database at `source` into `destination` (an existing empty file or a new one) with
 * SQLite's online backup API, from a read-only connection.
 *
 * The copy is one snapshot. The backup API copies a batch of pages per step and, left to itself,
 * takes a fresh read lock for each: a commit by another process between two steps (the server
 * commits every few milliseconds under load) then restarts the copy from page 1, for ever on a
 * busy store. Here the connection opens its read transaction first and keeps it until the last
 * page: in WAL mode that pins one snapshot (the server's writers go on appending to the WAL and
 * only checkpointing waits for us), every step reads that snapshot, nothing restarts, and the
 * copy holds exactly the transactions committed before the snapshot started. The server answers
 * 200 only after its group commit has committed (synchronous=FULL), so every delivery
 * acknowledged before this function was called is in the copy.
 *
 * The copy is switched from WAL to a rollback journal: one self-contained file that opens
 * read-only anywhere, with no -wal or -shm beside it. The server turns WAL on again when it opens
 * a restored file.
 */
export async function backupSqlite(
  source: string,
  destination: string,
  options: { busyTimeoutMs: number; onProgress?: (progress: BackupProgress) => void },
): Promise<BackupResult> {
  const db = new Database(source, {
    readonly: true,
    fileMustExist: true,
    timeout: options.busyTimeoutMs,
  });
  try {
    db.exec('BEGIN');
    // A deferred transaction takes its snapshot at its first read.
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    const snapshotAt = new Date();
    let totalPages = 0;
    // Steps only pace the progress display and let the event loop breathe: ~200 of them.
    const result = await db.backup(destination, {
      progress: ({ totalPages: total, remainingPages }) => {
        totalPages = total;
        options.onProgress?.({ copiedPages: total - remainingPages, totalPages: total });
        return Math.max(256, Math.ceil(total / 200));
      },
    });
    totalPages = result.totalPages;
    options.onProgress?.({ copiedPages: totalPages, totalPages });
    db.exec('COMMIT');
    const copy = new Database(destination, { fileMustExist: true });
    try {
      copy.pragma('journal_mode = DELETE');
    } finally {
      copy.close();
    }
    return { totalPages, pageSize, snapshotAt };
  } finally {
    db.close();
  }
}

/**
 * Opens a backup read-only and checks it: PRAGMA integrity_check (every page, index and
 * constraint), the schema version against this build's migrations, and row counts.
 */
export function verifySqliteBackup(file: string): VerifyResult {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const integrity = integrityCheck(db);
    const ok = integrity.length === 1 && integrity[0] === 'ok';
    let schemaVersion = 0;
    let tables = new Set<string>();
    try {
      const hasVersion = db
        .prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_version'")
        .get();
      schemaVersion = hasVersion ? sqliteSchemaVersion(db) : 0;
      tables = new Set(
        (
          db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all() as {
            name: string;
          }[]
        ).map((row) => row.name),
      );
    } catch (error) {
      // A damaged file may not even say its version; its integrity answer is the report.
      if (ok) throw error;
    }
    const migrations = loadSqliteMigrations();
    // A damaged file is not counted (that may fail or mislead).
    const counted = ok ? COUNTED_TABLES.filter((table) => tables.has(table)) : [];
    const rowCounts = counted.map((table) => ({
      table,
      rows: (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n,
    }));
    const lastChangeSeq = counted.includes('changes')
      ? (db.prepare('SELECT max(seq) AS seq FROM changes').get() as { seq: number | null }).seq
      : null;
    return {
      integrity,
      ok,
      schemaVersion,
      migration: migrations.find((migration) => migration.version === schemaVersion)?.name,
      latestVersion: migrations[migrations.length - 1]?.version ?? 0,
      rowCounts,
      lastChangeSeq,
    };
  } finally {
    db.close();
  }
}

/**
 * PRAGMA integrity_check's rows (at most 20 problems). SQLite reports some damage by failing the
 * pragma itself (SQLITE_CORRUPT) rather than listing it: that is a failed check too.
 */
function integrityCheck(db: Database.Database): string[] {
  try {
    return (db.pragma('integrity_check(20)') as { integrity_check: string }[]).flatMap((row) =>
      row.integrity_check.split('\n'),
    );
  } catch (error) {
    if (!String((error as { code?: unknown }).code).startsWith('SQLITE_CORRUPT')) throw error;
    return [(error as Error).message];
  }
}
