// Migration 006: the deliveries log counted per minute by triggers; the overview's 24-hour figures read the counts and stay exact.
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteMigrations, migrateSqlite } from '../../src/store/sqlite/migrations';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { DeliveryStat } from '../../src/store/types';
import { tempDir } from '../support/testApp';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const KINDS: [string, string | null][] = [
  ['applied', null],
  ['duplicate', null],
  ['ignored', 'unknown_action'],
  ['rejected', 'invalid_payload'],
  ['rejected', 'connection_inactive'],
];

/** 600 log rows over 12 minutes at odd milliseconds, every status and reason mixed. */
function fillLog(db: Database.Database): void {
  const insert = db.prepare(
    `INSERT INTO deliveries (received_at, path, status, http_status, reason)
     VALUES (?, '/users_sync', ?, ?, ?)`,
  );
  db.transaction(() => {
    for (let i = 0; i < 600; i++) {
      const [status, reason] = KINDS[(i * 7) % KINDS.length];
      insert.run(T0 + i * 1201, status, status === 'rejected' ? 400 : 200, reason);
    }
  })();
}

/** What the overview must say: every log row from `since` on, counted one by one. */
function bruteForce(db: Database.Database, since: number): DeliveryStat[] {
  return db
    .prepare(
      `SELECT status, reason, count(*) AS count FROM deliveries WHERE received_at >= ?
       GROUP BY status, reason ORDER BY status, reason`,
    )
    .all(since) as DeliveryStat[];
}

const SINCES = [
  T0 - 5 * MINUTE, // before every row
  T0, // a minute's first millisecond
  T0 + 1, // just after it
  T0 + 3 * MINUTE + 30_123, // mid-minute
  T0 + 7 * MINUTE - 1, // a minute's last millisecond
  T0 + 11 * MINUTE + 59_000, // inside the last minute
  T0 + 20 * MINUTE, // after every row
];

describe('migration 006: deliveries counted per minute', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });

  it('answers deliveryStats exactly for any `since`, before and after retention deletes rows', async () => {
    const file = path.join(dir, 'store.sqlite');
    const store = new SqliteStore({ file });
    const raw = new Database(file);
    try {
      fillLog(raw);
      for (const since of SINCES) {
        expect(await store.deliveryStats(since)).toEqual(bruteForce(raw, since));
      }
      // Retention deletes the log's oldest rows in batches; their counts go with them.
      let deleted = 0;
      for (let n; (n = await store.pruneBatch('deliveries', T0 + 5 * MINUTE + 17, 100)) > 0;) {
        deleted += n;
      }
      expect(deleted).toBeGreaterThan(200);
      for (const since of SINCES) {
        expect(await store.deliveryStats(since)).toEqual(bruteForce(raw, since));
      }
      const counts = raw
        .prepare('SELECT min(minute) AS first, min(count) AS least FROM delivery_counts')
        .get() as { first: number; least: number };
      expect(counts.first).toBe(T0 + 5 * MINUTE); // no row left for minutes wholly deleted
      expect(counts.least).toBeGreaterThan(0); // nor any count of zero
    } finally {
      raw.close();
      await store.close();
    }
  });

  it('counts the rows a log already held when the file is migrated', async () => {
    const file = path.join(dir, 'v5.sqlite');
    const db = new Database(file);
    const upTo005 = loadSqliteMigrations().filter((m) => m.version <= 5);
    migrateSqlite(db, upTo005, { progress: () => undefined });
    fillLog(db);
    expect(migrateSqlite(db, undefined, { progress: () => undefined })).toEqual([
      '006_delivery_counts',
      '007_members_user_first',
      '008_changes_by_segment_covering',
    ]);
    const total = db.prepare('SELECT sum(count) AS n FROM delivery_counts').get() as { n: number };
    expect(total.n).toBe(600);
    db.close();
    const store = new SqliteStore({ file });
    const raw = new Database(file, { readonly: true });
    try {
      for (const since of SINCES) {
        expect(await store.deliveryStats(since)).toEqual(bruteForce(raw, since));
      }
    } finally {
      raw.close();
      await store.close();
    }
  });
});
