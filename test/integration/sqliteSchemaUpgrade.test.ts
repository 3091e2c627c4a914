// An SQLite file written by a version-1 build is upgraded in place, keeping its data, when a newer build opens it.
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteMigrations } from '../../src/store/sqlite/migrations';
import { SqliteStore } from '../../src/store/sqlite/store';
import { SqliteWorkerStore } from '../../src/store/sqlite/workerStore';
import { tempDir } from '../support/testApp';

/** A file exactly as the version-1 build left it: its schema, its version row, some data. */
function versionOneFile(): string {
  const file = path.join(tempDir('hpa-upgrade-'), 'store.sqlite');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  db.exec(loadSqliteMigrations()[0].sql);
  db.prepare('INSERT INTO schema_version (version) VALUES (1)').run();
  db.prepare(
    `INSERT INTO deliveries (received_at, path, status, http_status, reason)
     VALUES (1000, '/webhook', 'rejected', 403, 'invalid_signature')`,
  ).run();
  db.prepare(
    `INSERT INTO changes (at, tenant, segment_id, kind, added, removed, removed_count, member_count)
     VALUES (1000, 'env', 1, 'sync', '["a"]', '[]', 0, 1)`,
  ).run();
  db.prepare('INSERT INTO accepted_signatures (signature_key, received_at) VALUES (?, ?)').run(
    'old-signature',
    1000,
  );
  db.close();
  return file;
}

/** The newest migration's version: what every upgraded or new file ends at. */
const LATEST = loadSqliteMigrations().at(-1)!.version;

function schemaOf(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      version: (db.prepare('SELECT version FROM schema_version').get() as { version: number })
        .version,
      versionRows: (db.prepare('SELECT count(*) AS n FROM schema_version').get() as { n: number })
        .n,
      objects: (
        db.prepare(`SELECT name FROM sqlite_master WHERE type IN ('table', 'index')`).all() as {
          name: string;
        }[]
      ).map((row) => row.name),
    };
  } finally {
    db.close();
  }
}

describe('SQLite schema upgrades', () => {
  it('upgrades a version-1 file through every step to the latest version, keeping its data', async () => {
    const file = versionOneFile();
    expect(schemaOf(file).version).toBe(1);
    expect(schemaOf(file).objects).not.toContain('refusal_counts');

    const store = await SqliteWorkerStore.open({ file });
    try {
      const schema = schemaOf(file);
      expect(schema).toMatchObject({ version: LATEST, versionRows: 1 });
      expect(schema.objects).toEqual(
        expect.arrayContaining([
          'refusal_counts',
          'accepted_signatures_by_time',
          'oauth_states_by_expiry',
          'sync_tasks_by_last_delivery',
          'admin_sessions',
          'audit_log',
          'sync_tasks_by_completion',
        ]),
      );
      // The old rows are there, and the new tables and the retention job work on them.
      expect(await store.listDeliveries({ limit: 10 })).toMatchObject([
        { reason: 'invalid_signature' },
      ]);
      expect(await store.oldestChangeSeq()).toBe(1);
      store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: 60_000 });
      await store.flushRefusalCounts();
      expect(await store.listRefusalCounts({ limit: 1 })).toHaveLength(1);
      expect(await store.pruneBatch('accepted_signatures', 2000, 10)).toBe(1);
      // The audit log (migration 004) works on the upgraded file.
      await store.recordAudit({
        at: 1,
        event: 'sign_out',
        client: null,
        tenant: null,
        detail: null,
      });
      expect(await store.listAudit({ limit: 1 })).toHaveLength(1);
    } finally {
      await store.close();
    }
    // Opening it again changes nothing.
    const again = new SqliteStore({ file });
    await again.close();
    expect(schemaOf(file)).toMatchObject({ version: LATEST, versionRows: 1 });
  });

  it('creates a new file at the latest version', async () => {
    const file = path.join(tempDir('hpa-upgrade-'), 'store.sqlite');
    await new SqliteStore({ file }).close();
    expect(schemaOf(file)).toMatchObject({ version: LATEST, versionRows: 1 });
  });

  it('refuses a file from a newer build', () => {
    const file = versionOneFile();
    const db = new Database(file);
    db.prepare('UPDATE schema_version SET version = 99').run();
    db.close();
    expect(() => new SqliteStore({ file })).toThrow(/schema version 99, newer than this build/);
  });
});
