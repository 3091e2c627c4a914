// Migration 005 (integer user keys) on a file written by the main before it: every membership, page, lookup and feed entry reads back the same.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  loadSqliteMigrations,
  migrateSqlite,
  sqliteSchemaVersion,
} from '../../src/store/sqlite/migrations';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { ChangeRecord } from '../../src/store/types';
import { tempDir } from '../support/testApp';

/**
 * test/fixtures/sqlite-v4.sqlite was written by the SqliteStore of commit a2b1da7 (schema 4,
 * members keyed by text user ids) with test/fixtures/make-sqlite-v4.js: 1,419 memberships over
 * three tenants and the own environment, 4 segments each, non-ASCII ids, removes, a drain and
 * a re-sync per tenant, a replayed signature and page. Each test works on a copy.
 */
function fixtureCopy(): string {
  const file = path.join(tempDir('hpa-v4-'), 'store.sqlite');
  copyFileSync(path.join(__dirname, '..', 'fixtures', 'sqlite-v4.sqlite'), file);
  return file;
}

type Membership = { tenant: string; segment_id: number; user_id: string; added_at: number };

/** What the version-4 file says, read with the version-4 schema's own SQL. */
function readV4(file: string) {
  const db = new Database(file, { readonly: true });
  try {
    expect(sqliteSchemaVersion(db)).toBe(4);
    const memberships = db
      .prepare(
        `SELECT s.tenant, s.segment_id, m.user_id, m.added_at FROM members m
         JOIN segments s ON s.sid = m.sid ORDER BY s.tenant, s.segment_id, m.user_id`,
      )
      .all() as Membership[];
    const segments = db
      .prepare('SELECT tenant, segment_id, member_count FROM segments ORDER BY tenant, segment_id')
      .all() as { tenant: string; segment_id: number; member_count: number }[];
    return { memberships, segments };
  } finally {
    db.close();
  }
}

/** Every member of every segment through the store's keyset paging, `limit` at a time. */
async function pageAll(
  store: SqliteStore,
  tenant: string,
  segmentId: number,
  limit: number,
  prefix?: string,
): Promise<string[]> {
  const all: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listMembers(tenant, segmentId, { after, limit, prefix });
    all.push(...page.items);
    if (page.nextCursor === null) return all;
    after = page.nextCursor;
  }
}

async function changesOf(store: SqliteStore): Promise<ChangeRecord[]> {
  return store.listChanges({ after: 0, limit: 1000 });
}

/** Asserts that the migrated store answers exactly what the version-4 file held. */
async function expectSameAs(
  v4: ReturnType<typeof readV4>,
  v4Changes: ChangeRecord[],
  store: SqliteStore,
) {
  expect(
    (await store.listSegments({})).map((s) => [s.tenant, s.segmentId, s.memberCount]).sort(),
  ).toEqual(v4.segments.map((s) => [s.tenant, s.segment_id, s.member_count]).sort());
  for (const segment of v4.segments) {
    const expected = v4.memberships
      .filter((m) => m.tenant === segment.tenant && m.segment_id === segment.segment_id)
      .map((m) => m.user_id);
    expect(expected).toHaveLength(segment.member_count);
    // Paging in user-id order (BINARY collation), small pages and one big one.
    expect(await pageAll(store, segment.tenant, segment.segment_id, 7)).toEqual(expected);
    expect(await pageAll(store, segment.tenant, segment.segment_id, 1000)).toEqual(expected);
    // A prefix filter, including a non-ASCII one.
    for (const prefix of ['zo', 'şule', '太郎.1', 'nobody']) {
      expect(await pageAll(store, segment.tenant, segment.segment_id, 5, prefix)).toEqual(
        expected.filter((id) => id.startsWith(prefix)),
      );
    }
  }
  // Every user → segments lookup, with each membership's added_at.
  const byUser = new Map<string, Membership[]>();
  for (const m of v4.memberships) {
    const key = `${m.tenant}\u0000${m.user_id}`;
    byUser.set(key, [...(byUser.get(key) ?? []), m]);
  }
  for (const list of byUser.values()) {
    const { tenant, user_id: userId } = list[0];
    expect(
      (await store.segmentsOfUser(tenant, userId)).map((s) => [s.segmentId, s.addedAt]),
    ).toEqual(list.map((m) => [m.segment_id, m.added_at]).sort((a, b) => a[0] - b[0]));
    for (const m of list) expect(await store.isMember(tenant, m.segment_id, userId)).toBe(true);
  }
  // A user of one tenant is nobody in another.
  const [first] = v4.memberships;
  expect(await store.isMember('env-c', first.segment_id, first.user_id)).toBe(false);
  expect(await store.segmentsOfUser('no-such-tenant', first.user_id)).toEqual([]);
  expect(await changesOf(store)).toEqual(v4Changes);
}

describe('migration 005: integer user keys', () => {
  it('keeps every membership, count, page, lookup and feed entry of a version-4 file', async () => {
    const file = fixtureCopy();
    const v4 = readV4(file);
    expect(v4.memberships.length).toBe(1419);
    expect(new Set(v4.memberships.map((m) => m.tenant)).size).toBe(4);
    // The feed as the version-4 schema holds it (the JSON lists are not touched by 005).
    const raw = new Database(file, { readonly: true });
    const v4Feed = raw.prepare('SELECT seq, kind, added, removed FROM changes ORDER BY seq').all();
    raw.close();

    const lines: string[] = [];
    const db = new Database(file);
    // Batches of 100 rows: a file this small takes the batched path with its progress lines.
    expect(
      migrateSqlite(db, undefined, { progress: (line) => lines.push(line), batch: 100 }),
    ).toEqual([
      '005_user_keys',
      '006_delivery_counts',
      '007_members_user_first',
      '008_changes_by_segment_covering',
    ]);
    db.close();
    expect(lines[0]).toMatch(
      /^sqlite: 005_user_keys: \d+ % of memberships copied \(\d+\/1419, \d+ s\)$/,
    );
    expect(lines.at(-1)).toBe('sqlite: 005_user_keys: applied');
    expect(lines.length).toBeGreaterThanOrEqual(3);

    const store = new SqliteStore({ file });
    try {
      const feed = await changesOf(store);
      expect(
        feed.map((c) => [c.seq, c.kind, JSON.stringify(c.added), JSON.stringify(c.removed)]),
      ).toEqual(
        (v4Feed as { seq: number; kind: string; added: string; removed: string }[]).map((r) => [
          r.seq,
          r.kind,
          r.added,
          r.removed,
        ]),
      );
      await expectSameAs(v4, feed, store);
    } finally {
      await store.close();
    }
    // A second start does nothing and says nothing.
    const again = new Database(file);
    const more: string[] = [];
    expect(
      migrateSqlite(again, undefined, { progress: (line) => more.push(line), batch: 100 }),
    ).toEqual([]);
    again.close();
    expect(more).toEqual([]);
  });

  it('resumes after a crash between batches and ends with the same data as one run', async () => {
    const once = fixtureCopy();
    const v4 = readV4(once);
    // One run without batches (the migration file alone copies everything).
    const plain = new SqliteStore({ file: once });
    const feed = await changesOf(plain);
    await expectSameAs(v4, feed, plain);
    await plain.close();

    const crashed = fixtureCopy();
    let db = new Database(crashed);
    // The "crash": the third progress line throws, after some batches committed.
    let told = 0;
    expect(() =>
      migrateSqlite(db, undefined, {
        batch: 100,
        progress: () => {
          if (++told === 3) throw new Error('killed');
        },
      }),
    ).toThrow('killed');
    expect(sqliteSchemaVersion(db)).toBe(4);
    const cursor = db.prepare('SELECT count(*) AS n FROM members_v5').get() as { n: number };
    expect(cursor.n).toBeGreaterThan(0);
    expect(cursor.n).toBeLessThan(1419);
    db.close();
    db = new Database(crashed);
    expect(migrateSqlite(db, undefined, { batch: 100, progress: () => undefined })).toEqual([
      '005_user_keys',
      '006_delivery_counts',
      '007_members_user_first',
      '008_changes_by_segment_covering',
    ]);
    db.close();
    const store = new SqliteStore({ file: crashed });
    try {
      await expectSameAs(v4, feed, store);
    } finally {
      await store.close();
    }
  });

  it('migration 007 rekeys a version-6 file user first and keeps every answer', async () => {
    const file = fixtureCopy();
    const v4 = readV4(file);
    let db = new Database(file);
    // The file as 005 left it: members keyed (sid, uk) with a (uk, sid) index.
    const upTo006 = loadSqliteMigrations().filter((m) => m.version <= 6);
    expect(migrateSqlite(db, upTo006, { progress: () => undefined })).toEqual([
      '005_user_keys',
      '006_delivery_counts',
    ]);
    const v5Rows = db.prepare('SELECT uk, sid, added_at FROM members ORDER BY uk, sid').all();
    expect(v5Rows).toHaveLength(1419);
    const keyOf = () =>
      db
        .prepare("SELECT name FROM pragma_index_info('members_by_segment') ORDER BY seqno")
        .pluck()
        .all();
    expect(keyOf()).toEqual([]);
    db.close();

    db = new Database(file);
    const upTo007 = loadSqliteMigrations().filter((m) => m.version <= 7);
    expect(migrateSqlite(db, upTo007, { progress: () => undefined })).toEqual([
      '007_members_user_first',
    ]);
    expect(sqliteSchemaVersion(db)).toBe(7);
    // The table's key is (uk, sid) and the index (sid, uk); every membership is there once.
    expect(
      db
        .prepare("SELECT name FROM pragma_table_info('members') WHERE pk > 0 ORDER BY pk")
        .pluck()
        .all(),
    ).toEqual(['uk', 'sid']);
    expect(keyOf()).toEqual(['sid', 'uk']);
    expect(db.prepare('SELECT uk, sid, added_at FROM members ORDER BY uk, sid').all()).toEqual(
      v5Rows,
    );
    // Wound back to 6, it is already in place: only the version is recorded again.
    db.prepare('UPDATE schema_version SET version = 6').run();
    expect(migrateSqlite(db, upTo007, { progress: () => undefined })).toEqual([
      '007_members_user_first',
    ]);
    expect(db.prepare('SELECT count(*) FROM members').pluck().get()).toBe(1419);
    db.close();

    const store = new SqliteStore({ file });
    try {
      await expectSameAs(v4, await changesOf(store), store);
      // And it keeps taking deliveries in the new layout.
      await store.applyDelivery({
        meta: { receivedAt: 9000, path: '/webhooks/heap', bodySha256: null },
        actionType: 'sync_segment',
        signatureKey: 'after-007',
        work: {
          kind: 'sync',
          tenant: v4.memberships[0].tenant,
          segmentId: v4.memberships[0].segment_id,
          segmentName: undefined,
          customerConfig: null,
          taskId: 'after-007',
          pageNumber: 1,
          totalPages: 1,
          add: ['new-after-007'],
          remove: [v4.memberships[0].user_id],
        },
      });
      expect(
        await store.isMember(
          v4.memberships[0].tenant,
          v4.memberships[0].segment_id,
          'new-after-007',
        ),
      ).toBe(true);
      expect(
        await store.isMember(
          v4.memberships[0].tenant,
          v4.memberships[0].segment_id,
          v4.memberships[0].user_id,
        ),
      ).toBe(false);
      expect(
        (await store.segmentsOfUser(v4.memberships[0].tenant, 'new-after-007')).map(
          (s) => s.segmentId,
        ),
      ).toEqual([v4.memberships[0].segment_id]);
    } finally {
      await store.close();
    }
  });

  it('drops a user from the dictionary with their last membership, and keeps appending keys', async () => {
    const file = path.join(tempDir('hpa-v5-'), 'store.sqlite');
    const store = new SqliteStore({ file });
    let n = 0;
    const sync = (segmentId: number, add: string[], remove: string[] = []) =>
      store.applyDelivery({
        meta: { receivedAt: 1000 + n, path: '/webhooks/heap', bodySha256: null },
        actionType: 'sync_segment',
        signatureKey: `s${++n}`,
        work: {
          kind: 'sync',
          tenant: 'env-1',
          segmentId,
          segmentName: undefined,
          customerConfig: null,
          taskId: `t${n}`,
          pageNumber: 1,
          totalPages: 1,
          add,
          remove,
        },
      });
    const dictionary = () => {
      const db = new Database(file, { readonly: true });
      try {
        return {
          users: db.prepare('SELECT user_id FROM users ORDER BY uk').pluck().all(),
          counted: db.prepare('SELECT users FROM tenants').pluck().get(),
        };
      } finally {
        db.close();
      }
    };
    try {
      await sync(1, ['a', 'b', 'c']);
      await sync(2, ['b']);
      expect(await sync(1, [], ['a', 'b', 'x'])).toMatchObject({ removed: 2, memberCount: 1 });
      // a is in no segment now; b still is in segment 2.
      expect(dictionary()).toEqual({ users: ['b', 'c'], counted: 2 });
      expect(await store.segmentsOfUser('env-1', 'b')).toMatchObject([{ segmentId: 2 }]);
      expect(await sync(1, ['a'])).toMatchObject({ added: 1 });
      expect(dictionary()).toEqual({ users: ['b', 'c', 'a'], counted: 3 });
      await store.applyDelivery({
        meta: { receivedAt: 5000, path: '/webhooks/heap', bodySha256: null },
        actionType: 'drain_segment',
        signatureKey: 'drain',
        work: {
          kind: 'drain',
          tenant: 'env-1',
          segmentId: 1,
          segmentName: undefined,
          customerConfig: null,
        },
      });
      expect(dictionary()).toEqual({ users: ['b'], counted: 1 });
      expect(await store.listMembers('env-1', 2, { limit: 10 })).toEqual({
        items: ['b'],
        nextCursor: null,
      });
    } finally {
      await store.close();
    }
  });
});
