// Group commit on real SQLite files: shared commits, per-delivery outcomes and failures, durable resolution.
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteGroupCommit } from '../../src/store/sqlite/groupCommit';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { AcceptedDelivery, SyncPage } from '../../src/store/types';
import { allMembers, tempDir } from '../support/testApp';

let signatures = 0;

function page(overrides: Partial<SyncPage> = {}, signatureKey?: string): AcceptedDelivery {
  return {
    meta: { receivedAt: Date.now(), path: '/webhook', bodySha256: 'cd'.repeat(32) },
    actionType: 'segment.users.sync',
    signatureKey: signatureKey ?? `group-${++signatures}`,
    work: {
      kind: 'sync',
      tenant: 'env-g',
      segmentId: 5,
      segmentName: 'Grouped',
      customerConfig: null,
      taskId: 'task-g',
      pageNumber: 1,
      totalPages: 3,
      add: [],
      remove: [],
      ...overrides,
    },
  };
}

/**
 * A delivery the store cannot write: its customer_config cannot be serialised, which fails after
 * its signature and page have already been recorded inside the transaction.
 */
function unstorable(signatureKey: string): AcceptedDelivery {
  return page({ pageNumber: 3, add: ['never'], customerConfig: { size: 1n } }, signatureKey);
}

/** Frames in the write-ahead log: every commit appends the pages it changed. */
function walFrames(db: Database.Database): number {
  return (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0].log;
}

describe('SqliteStore group commit', () => {
  let file: string;
  let store: SqliteStore;
  beforeEach(() => {
    file = path.join(tempDir('hpa-group-'), 'store.sqlite');
    store = new SqliteStore({ file });
  });
  afterEach(async () => {
    await store.close();
  });

  it('fails only the delivery that cannot be stored; its neighbours in the batch commit', async () => {
    const results = await Promise.allSettled([
      store.applyDelivery(page({ pageNumber: 1, add: ['a', 'b'] })),
      store.applyDelivery(unstorable('bad-signature')),
      store.applyDelivery(page({ pageNumber: 2, add: ['c'] })),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(
      new TypeError('Do not know how to serialize a BigInt'),
    );
    expect(await allMembers(store, 'env-g', 5)).toEqual(['a', 'b', 'c']);
    expect(await store.getSyncTask('env-g', 5, 'task-g')).toMatchObject({ pagesReceived: 2 });

    // Everything the failed delivery wrote was rolled back, its signature included: Heap's retry
    // of the same signed request is applied, not taken for a duplicate.
    const retry = await store.applyDelivery(page({ pageNumber: 3, add: ['d'] }, 'bad-signature'));
    expect(retry).toMatchObject({
      status: 'applied',
      added: 1,
      memberCount: 4,
      taskComplete: true,
    });
  });

  it('gives each delivery of a batch its own outcome, in order', async () => {
    const outcomes = await Promise.all([
      store.applyDelivery(page({ pageNumber: 1, add: ['a', 'b'] })),
      store.applyDelivery(page({ pageNumber: 2, add: ['b', 'c', 'd'], remove: ['a'] })),
      store.applyDelivery(page({ pageNumber: 3, remove: ['zz'] })),
    ]);
    expect(outcomes).toEqual([
      expect.objectContaining({ status: 'applied', added: 2, removed: 0, memberCount: 2 }),
      expect.objectContaining({ status: 'applied', added: 2, removed: 1, memberCount: 3 }),
      expect.objectContaining({
        status: 'applied',
        added: 0,
        removed: 0,
        memberCount: 3,
        taskComplete: true,
      }),
    ]);
    const feed = await store.listChanges({ after: 0, limit: 10 });
    expect(feed.map((c) => [c.pageNumber, c.added, c.removed])).toEqual([
      [1, ['a', 'b'], []],
      [2, ['c', 'd'], ['a']],
      [3, [], []],
    ]);
  });

  it('recognises duplicates within one batch, by page and by signature', async () => {
    const outcomes = await Promise.all([
      store.applyDelivery(page({ add: ['a'] }, 'same-request')),
      store.applyDelivery(page({ add: ['a', 'b'] })),
      store.applyDelivery(page({ pageNumber: 2, add: ['x'] }, 'same-request')),
    ]);
    expect(outcomes.map((o) => [o.status, o.duplicateOf, o.memberCount])).toEqual([
      ['applied', undefined, 1],
      ['duplicate', 'page', 1],
      ['duplicate', 'signature', 1],
    ]);
    expect(outcomes[1].contentDiffers).toBe(false);
    expect(await allMembers(store, 'env-g', 5)).toEqual(['a']);
    const statuses = (await store.listDeliveries({ limit: 10 })).map((d) => d.status);
    expect(statuses.sort()).toEqual(['applied', 'duplicate', 'duplicate']);
  });

  it('has every delivery committed when its promise resolves (read from a second connection)', async () => {
    const reader = new Database(file, { readonly: true });
    try {
      const count = reader.prepare('SELECT count(*) AS n FROM members');
      const pending = [
        store.applyDelivery(page({ pageNumber: 1, add: ['a', 'b'] })),
        store.applyDelivery(page({ pageNumber: 2, add: ['c'] })),
      ];
      // Queued, not yet written: nothing is visible before the batch runs.
      expect(count.get()).toEqual({ n: 0 });
      const [first] = await Promise.all(pending);
      expect(first.status).toBe('applied');
      expect(count.get()).toEqual({ n: 3 });
    } finally {
      reader.close();
    }
  });

  it('logs refused requests in the same shared commits', async () => {
    const meta = { receivedAt: Date.now(), path: '/webhook', bodySha256: null };
    await Promise.all([
      store.recordRejected({ meta, httpStatus: 403, reason: 'invalid_signature' }),
      store.applyDelivery(page({ add: ['a'] })),
      store.recordRejected({ meta, httpStatus: 400, reason: 'invalid_json' }),
    ]);
    expect((await store.deliveryStats(0)).map((s) => [s.status, s.reason, s.count])).toEqual([
      ['applied', null, 1],
      ['rejected', 'invalid_json', 1],
      ['rejected', 'invalid_signature', 1],
    ]);
  });

  it('commits what is queued before closing', async () => {
    const pending = store.applyDelivery(page({ add: ['kept'] }));
    await store.close();
    expect(await pending).toMatchObject({ status: 'applied' });
    store = new SqliteStore({ file });
    expect(await allMembers(store, 'env-g', 5)).toEqual(['kept']);
  });
});

describe('SqliteGroupCommit', () => {
  let db: Database.Database;
  let group: SqliteGroupCommit;
  const insert = (value: string) => () =>
    db.prepare('INSERT INTO t (v) VALUES (?)').run(value).lastInsertRowid;
  const rows = () => db.prepare('SELECT v FROM t ORDER BY v').pluck().all();

  beforeEach(() => {
    db = new Database(path.join(tempDir('hpa-group-'), 'g.sqlite'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (v TEXT NOT NULL)');
    walFrames(db);
    db.pragma('wal_checkpoint(TRUNCATE)');
    group = new SqliteGroupCommit(db, (error) => error);
  });
  afterEach(() => db.close());

  it('writes queued in one turn of the event loop share one commit', async () => {
    await Promise.all(Array.from({ length: 10 }, (_, i) => group.run(insert(`b${i}`))));
    // One commit: the table's page is appended to the log once, not ten times.
    expect(walFrames(db)).toBe(1);
    db.pragma('wal_checkpoint(TRUNCATE)');
    for (let i = 0; i < 10; i++) await group.run(insert(`s${i}`));
    expect(walFrames(db)).toBe(10);
    expect(rows()).toHaveLength(20);
  });

  it('rejects a write whose work threw, with its own error, and rolls back only its changes', async () => {
    const failing = () => {
      insert('half-done')();
      throw new Error('this write cannot be applied');
    };
    const results = await Promise.allSettled([
      group.run(insert('a')),
      group.run(failing),
      group.run(insert('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toEqual(
      new Error('this write cannot be applied'),
    );
    expect(rows()).toEqual(['a', 'c']);
  });

  it('takes the writes its late-arrivals hook queues into the open transaction, before its COMMIT', async () => {
    let late: Promise<unknown> | undefined;
    group.setLateArrivals(() => {
      late ??= group.run(insert('late'));
    });
    await group.run(insert('first'));
    // Already committed with the first: one commit, one frame for the table's page.
    await late;
    expect(walFrames(db)).toBe(1);
    expect(rows()).toEqual(['first', 'late']);
  });

  it('rolls back a lone write that threw, and the next write commits', async () => {
    const failing = () => {
      insert('half-done')();
      throw new Error('this write cannot be applied');
    };
    await expect(group.run(failing)).rejects.toThrow('this write cannot be applied');
    expect(db.inTransaction).toBe(false);
    expect(rows()).toEqual([]);
    await group.run(insert('after'));
    expect(rows()).toEqual(['after']);
  });

  it('runs a batch again with a savepoint per write when one throws: its work runs twice, the others commit once', async () => {
    let runs = 0;
    const failing = () => {
      runs++;
      insert('half-done')();
      throw new Error('this write cannot be applied');
    };
    const results = await Promise.allSettled([
      group.run(insert('a')),
      group.run(failing),
      group.run(insert('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(runs).toBe(2);
    expect(rows()).toEqual(['a', 'c']);
  });

  it('retries the others in a new transaction when SQLite abandons the shared one', async () => {
    // What an I/O error does to a transaction, done by hand: the whole transaction is gone.
    const abandon = () => {
      insert('lost')();
      db.prepare('ROLLBACK').run();
      throw new Error('disk I/O error');
    };
    const results = await Promise.allSettled([
      group.run(insert('a')),
      group.run(abandon),
      group.run(insert('c')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(rows()).toEqual(['a', 'c']);
    expect(db.inTransaction).toBe(false);
  });

  it('rejects every write of a batch whose transaction cannot start', async () => {
    const other = new Database(db.name);
    other.pragma('busy_timeout = 0');
    db.pragma('busy_timeout = 0');
    other.exec('BEGIN IMMEDIATE');
    try {
      const results = await Promise.allSettled([group.run(insert('a')), group.run(insert('b'))]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect((results[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_BUSY' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await group.run(insert('later'))).toBe(1);
  });
});
