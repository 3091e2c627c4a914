// The SQLite schema as versioned files: a database written by the original main (fixture) opens, migrates and reads back.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  loadSqliteMigrations,
  migrateSqlite,
  sqliteSchemaVersion,
} from '../../src/store/sqlite/migrations';
import { SIZE_HISTORY_SQL, SqliteStore } from '../../src/store/sqlite/store';
import { SqliteWorkerStore } from '../../src/store/sqlite/workerStore';
import type { AcceptedDelivery, Store } from '../../src/store/types';
import { tempDir } from '../support/testApp';

/**
 * test/fixtures/sqlite-v1.sqlite was written by the SqliteStore of commit 387f35e (before the
 * schema became files): a connection for tenant-a, segment 11 (two pages of task-1: u1 u3 u4
 * left), segment 22 of the own environment (u1 u9), a drained segment 33, a replay and a rejected
 * request. Each test works on a copy.
 */
function fixtureCopy(): string {
  const file = path.join(tempDir('hpa-fixture-'), 'store.sqlite');
  copyFileSync(path.join(__dirname, '..', 'fixtures', 'sqlite-v1.sqlite'), file);
  return file;
}

function versionOf(file: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return sqliteSchemaVersion(db);
  } finally {
    db.close();
  }
}

const latest = loadSqliteMigrations().at(-1)!.version;

/** Page 1 of a one-page sync of tenant-a's segment 11 (the fixture's segment with a connection). */
function taskOneSync(page: {
  signatureKey: string;
  taskId: string;
  add: string[];
  remove?: string[];
}): AcceptedDelivery {
  return {
    meta: { receivedAt: 8000, path: '/webhook', bodySha256: page.signatureKey },
    actionType: 'sync',
    signatureKey: page.signatureKey,
    work: {
      kind: 'sync',
      tenant: 'tenant-a',
      segmentId: 11,
      segmentName: undefined,
      customerConfig: undefined,
      taskId: page.taskId,
      pageNumber: 1,
      totalPages: 1,
      add: page.add,
      remove: page.remove ?? [],
    },
  };
}

describe('SQLite migration files', () => {
  it('are numbered from 001 without gaps, the first one the version-1 schema', () => {
    const migrations = loadSqliteMigrations();
    expect(migrations.map((m) => m.name)).toEqual([
      '001_init',
      '002_retention',
      '003_admin_sessions',
      '004_audit_log',
      '005_user_keys',
      '006_delivery_counts',
      '007_members_user_first',
      '008_changes_by_segment_covering',
    ]);
    expect(migrations[0].sql).toMatch(/CREATE TABLE IF NOT EXISTS segments/);
  });

  it.each([
    ['on the calling thread', (file: string) => Promise.resolve(new SqliteStore({ file }))],
    ['in the worker', (file: string) => SqliteWorkerStore.open({ file })],
  ] as [string, (file: string) => Promise<Store>][])(
    'migrate a file written by the original main to the latest version, its data intact (%s)',
    async (_where, open) => {
      const file = fixtureCopy();
      expect(versionOf(file)).toBe(1);
      const store = await open(file);
      try {
        expect(versionOf(file)).toBe(latest);
        expect(await store.listSegments({})).toMatchObject([
          { tenant: '', segmentId: 22, name: 'Churn risk', memberCount: 2 },
          {
            tenant: 'tenant-a',
            segmentId: 11,
            name: 'Trial users',
            customerConfig: { list: 'trial' },
            memberCount: 3,
          },
          { tenant: 'tenant-a', segmentId: 33, memberCount: 0, lastDrainAt: 5000 },
        ]);
        expect((await store.listMembers('tenant-a', 11, { limit: 10 })).items).toEqual([
          'u1',
          'u3',
          'u4',
        ]);
        expect(await store.segmentsOfUser('tenant-a', 'u1')).toMatchObject([{ segmentId: 11 }]);
        expect(await store.isMember('', 22, 'u9')).toBe(true);
        expect(await store.isMember('tenant-a', 11, 'u2')).toBe(false);
        expect(await store.getSyncTask('tenant-a', 11, 'task-1')).toMatchObject({
          pagesReceived: 2,
          complete: true,
        });
        expect(
          (await store.segmentSizeHistory('tenant-a', 11, { limit: 10 })).map((p) => p.memberCount),
        ).toEqual([3, 3]);
        const changes = await store.listChanges({ after: 0, limit: 10 });
        expect(changes.map((c) => [c.seq, c.kind, c.added, c.removed])).toEqual([
          [1, 'sync', ['u1', 'u2', 'u3'], []],
          [2, 'sync', ['u4'], ['u2']],
          [3, 'sync', ['u1', 'u9'], []],
          [4, 'drain', [], []],
        ]);
        expect(
          (await store.listDeliveries({ limit: 10 })).map((d) => [d.status, d.reason, d.linked]),
        ).toEqual([
          ['rejected', 'invalid_payload', null],
          ['duplicate', 'duplicate_signature', true],
          ['applied', null, true],
          ['applied', null, true],
          ['applied', null, true],
          ['applied', null, true],
        ]);
        expect(await store.getConnection('tenant-a')).toMatchObject({
          envId: 'env-1',
          active: true,
        });
        expect(await store.hasActiveConnection('tenant-a')).toBe(true);
        expect(await store.getSealedAccessToken('tenant-a')).toBe('sealed-token-placeholder');

        // The old replay keys still count, and new deliveries continue the feed.
        const replay = await store.applyDelivery(
          taskOneSync({ signatureKey: 'sig-1', taskId: 'task-1', add: ['u1', 'u2', 'u3'] }),
        );
        expect(replay).toMatchObject({ status: 'duplicate', duplicateOf: 'signature' });
        const fresh = await store.applyDelivery(
          taskOneSync({ signatureKey: 'sig-new', taskId: 'task-2', add: ['u5'], remove: ['u1'] }),
        );
        expect(fresh).toMatchObject({ status: 'applied', memberCount: 3, taskComplete: true });
        expect((await store.listChanges({ after: 4, limit: 10 }))[0]).toMatchObject({ seq: 5 });
        // And the tables the later migrations added work.
        await store.createAdminSession('hash', 9000, 99_000);
        expect(await store.getAdminSession('hash')).toMatchObject({ createdAt: 9000 });
      } finally {
        await store.close();
      }
      // Opening it again applies nothing.
      await new SqliteStore({ file }).close();
      expect(versionOf(file)).toBe(latest);
    },
  );

  it('runs each migration in its own transaction: a failing one leaves the file at the previous version', () => {
    const file = fixtureCopy();
    const db = new Database(file);
    try {
      const broken = [
        ...loadSqliteMigrations(),
        {
          version: latest + 1,
          name: 'broken',
          checksum: '',
          sql: 'CREATE TABLE half_done (a INTEGER); INSERT INTO no_such_table VALUES (1);',
        },
      ];
      expect(() => migrateSqlite(db, broken)).toThrow(/no_such_table/);
      expect(sqliteSchemaVersion(db)).toBe(latest);
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as {
        name: string;
      }[];
      expect(tables.map((t) => t.name)).toContain('admin_sessions');
      expect(tables.map((t) => t.name)).not.toContain('half_done');
    } finally {
      db.close();
    }
  });

  it("008: a segment's size history reads the index alone, not the changes' rows (their user lists)", () => {
    const db = new Database(fixtureCopy());
    try {
      const plan = () =>
        (
          db.prepare(`EXPLAIN QUERY PLAN ${SIZE_HISTORY_SQL}`).all('t', 1, 0, 10) as {
            detail: string;
          }[]
        )
          .map((row) => row.detail)
          .join('; ');
      migrateSqlite(
        db,
        loadSqliteMigrations().filter((m) => m.version <= 7),
        {
          progress: () => undefined,
        },
      );
      expect(plan()).toBe(
        'SEARCH changes USING INDEX changes_by_segment (tenant=? AND segment_id=?)',
      );
      migrateSqlite(db, undefined, { progress: () => undefined });
      expect(plan()).toBe(
        'SEARCH changes USING COVERING INDEX changes_by_segment (tenant=? AND segment_id=?)',
      );
    } finally {
      db.close();
    }
  });
});
