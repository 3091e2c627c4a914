// The SQLite store across a worker thread: start-up errors, errors as values, a lost worker, durability.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadSqliteMigrations } from '../../src/store/sqlite/migrations';
import { StoreUnavailableError } from '../../src/store/errors';
import { createMembership } from '../../src/store/membership';
import { SqliteStore, WAL_AUTOCHECKPOINT_PAGES } from '../../src/store/sqlite/store';
import { SqliteWorkerStore, WORKER_YOUNG_GENERATION_MB } from '../../src/store/sqlite/workerStore';
import type { AcceptedDelivery } from '../../src/store/types';
import { tempDir } from '../support/testApp';

let counter = 0;
function page(add: string[], pageNumber = 1): AcceptedDelivery {
  return {
    meta: { receivedAt: Date.now(), path: '/webhook', bodySha256: null },
    actionType: 'segment.users.sync',
    signatureKey: `worker-sig-${++counter}`,
    work: {
      kind: 'sync',
      tenant: '',
      segmentId: 7,
      segmentName: 'Seven',
      customerConfig: undefined,
      taskId: 'task',
      pageNumber,
      totalPages: 100,
      add,
      remove: [],
    },
  };
}

const storeFile = () => path.join(tempDir('hpa-worker-'), 'store.sqlite');

describe('SqliteWorkerStore', () => {
  it('fails to open with the reason the store gave, as SqliteStore would have thrown', async () => {
    const file = storeFile();
    const db = new Database(file);
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    db.exec('INSERT INTO schema_version (version) VALUES (99)');
    db.close();
    await expect(SqliteWorkerStore.open({ file })).rejects.toThrow(
      /schema version 99, newer than this build/,
    );
  });

  it('commits in the worker before it answers: another connection sees the delivery at once', async () => {
    const file = storeFile();
    const store = await SqliteWorkerStore.open({ file });
    try {
      const outcome = await store.applyDelivery(page(['a', 'b', 'c']));
      expect(outcome).toMatchObject({ status: 'applied', memberCount: 3, added: 3 });
      const reader = new Database(file, { readonly: true });
      const { count } = reader.prepare('SELECT count(*) AS count FROM members').get() as {
        count: number;
      };
      reader.close();
      expect(count).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('gives each of many concurrent deliveries its own outcome', async () => {
    const store = await SqliteWorkerStore.open({ file: storeFile() });
    try {
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.applyDelivery(page([`u${i}`], i + 1))),
      );
      expect(outcomes.map((o) => o.status)).toEqual(Array(40).fill('applied'));
      expect(Math.max(...outcomes.map((o) => o.memberCount ?? 0))).toBe(40);
      const replay = await store.applyDelivery({ ...page(['x'], 1), signatureKey: 'again' });
      expect(replay).toMatchObject({ status: 'duplicate', duplicateOf: 'page' });
      expect((await store.getSegment('', 7))?.memberCount).toBe(40);
    } finally {
      await store.close();
    }
  });

  it('posts the first call to an idle worker at once, and the calls made while it owes answers in one message', async () => {
    const store = await SqliteWorkerStore.open({ file: storeFile() });
    try {
      await store.applyDelivery(page(['a'], 1));
      const worker = (await store.thread)!;
      const messages: number[] = [];
      const post = worker.postMessage.bind(worker);
      worker.postMessage = ((calls: unknown[]) => {
        messages.push(calls.length);
        post(calls);
      }) as typeof worker.postMessage;
      // Three deliveries in one turn: the first goes alone (the worker starts on it while this
      // thread would be reading the others), the two made after it together at the turn's end.
      const outcomes = await Promise.all([
        store.applyDelivery(page(['b'], 2)),
        store.applyDelivery(page(['c'], 3)),
        store.applyDelivery(page(['d'], 4)),
      ]);
      expect(messages).toEqual([1, 2]);
      expect(outcomes.map((o) => o.status)).toEqual(['applied', 'applied', 'applied']);
      expect((await store.getSegment('', 7))?.memberCount).toBe(4);
    } finally {
      await store.close();
    }
  });

  it("lets the WAL grow past SQLite's default 1,000 pages before checkpointing (WAL_AUTOCHECKPOINT_PAGES)", async () => {
    const file = storeFile();
    const store = new SqliteStore({ file });
    try {
      const walPages = () => (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size / 4096 : 0);
      // One commit each, a few dozen WAL pages each: at the default the writer checkpointed once
      // the WAL reached 1,000 pages and the next commit wrote from its start again, so the file
      // never grew much past that.
      for (let n = 0; n < 400 && walPages() < 2000; n++) {
        await store.applyDelivery(
          page(
            Array.from({ length: 400 }, (_, i) => `wal-${n}-${i}@example.com`),
            n + 1,
          ),
        );
      }
      expect(walPages()).toBeGreaterThanOrEqual(2000);
      expect(walPages()).toBeLessThan(WAL_AUTOCHECKPOINT_PAGES + 200);
    } finally {
      await store.close();
    }
  });

  it('answers "unavailable" while the file is locked, and applies the retry afterwards', async () => {
    const file = storeFile();
    const store = await SqliteWorkerStore.open({ file, busyTimeoutMs: 50 });
    const locker = new Database(file);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      await expect(store.applyDelivery(page(['a']))).rejects.toBeInstanceOf(StoreUnavailableError);
      locker.exec('COMMIT');
      await expect(store.applyDelivery(page(['a']))).resolves.toMatchObject({
        status: 'applied',
      });
    } finally {
      locker.close();
      await store.close();
    }
  });

  it('fails the calls in flight as unavailable when the worker dies, then starts a new one', async () => {
    const file = storeFile();
    const store = await SqliteWorkerStore.open({ file });
    try {
      await store.applyDelivery(page(['before']));
      const first = await store.thread;
      const inFlight = store.applyDelivery(page(['lost'], 2));
      await first?.terminate();
      await expect(inFlight).rejects.toBeInstanceOf(StoreUnavailableError);
      // The next call gets a new worker on the same file; nothing committed was lost.
      const after = await store.applyDelivery(page(['after'], 3));
      expect(after.status).toBe('applied');
      expect(await store.thread).not.toBe(first);
      const members = await store.listMembers('', 7, { limit: 10 });
      expect(members.items).toEqual(['after', 'before']);
    } finally {
      await store.close();
    }
  });

  it("answers the toolkit's Membership reads on this thread, the worker gone, with its last commit", async () => {
    const file = storeFile();
    const store = await SqliteWorkerStore.open({ file });
    try {
      await store.applyDelivery(page(['ann', 'bob']));
      const membership = createMembership(store);
      // Reads take the read-only connection here, not a message to the worker: they still
      // answer, with what the worker committed, after it is stopped (and nothing restarts it).
      const worker = await store.thread;
      await worker?.terminate();
      expect(await membership.segmentsOf('', 'bob')).toEqual([
        expect.objectContaining({ segmentId: 7, name: 'Seven' }),
      ]);
      expect(await membership.isMember('', 7, 'ann')).toBe(true);
      expect(await membership.isMember('', 7, 'carl')).toBe(false);
      const members: string[] = [];
      for await (const userId of membership.members('', 7, { pageSize: 1 })) members.push(userId);
      expect(members).toEqual(['ann', 'bob']);
      expect(store.thread).toBeUndefined();
      // A new worker's commit is visible to the same (mapped) reader at once.
      await store.applyDelivery(page(['carl'], 2));
      expect(await membership.isMember('', 7, 'carl')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('releases memory between writes without losing or blocking anything, and starts no worker for it', async () => {
    const file = storeFile();
    const store = await SqliteWorkerStore.open({ file });
    try {
      await store.applyDelivery(page(['ann']));
      const worker = await store.thread;
      // Its young generation is capped, so a huge page does not leave it at V8's default size.
      expect(worker?.resourceLimits?.maxYoungGenerationSizeMb).toBe(WORKER_YOUNG_GENERATION_MB);
      // Queued behind a write in the worker's turn, as it would be under load.
      const [applied] = await Promise.all([
        store.applyDelivery(page(['bob'], 2)),
        store.releaseMemory(),
      ]);
      expect(applied.status).toBe('applied');
      expect(await store.thread).toBe(worker);
      // The caches were emptied, not the data: both connections read it back from the file.
      expect((await store.listMembers('', 7, { limit: 10 })).items).toEqual(['ann', 'bob']);
      await store.releaseMemory();
      expect((await store.applyDelivery(page(['carl'], 3))).status).toBe('applied');
      // With the worker gone, a release empties the reader's cache only: no new worker for it.
      await (await store.thread)?.terminate();
      await store.releaseMemory();
      expect(store.thread).toBeUndefined();
      expect(await store.isMember('', 7, 'carl')).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('refuses calls after close as unavailable', async () => {
    const store = await SqliteWorkerStore.open({ file: storeFile() });
    await store.close();
    await store.close();
    await expect(store.segmentsOfUser('', 'a')).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe('schema upgrade', () => {
  it('adds admin_sessions to a version-2 file (the v2 -> v3 step) and records the latest version', async () => {
    const file = storeFile();
    const first = await SqliteWorkerStore.open({ file });
    await first.close();
    const db = new Database(file);
    db.exec('DROP TABLE admin_sessions; UPDATE schema_version SET version = 2');
    db.close();
    const store = await SqliteWorkerStore.open({ file });
    try {
      await store.createAdminSession('h', 1, 2_000_000_000_000);
      expect(await store.getAdminSession('h')).toMatchObject({ createdAt: 1, revokedAt: null });
    } finally {
      await store.close();
    }
    const check = new Database(file, { readonly: true });
    expect(check.prepare('SELECT version FROM schema_version').get()).toEqual({
      version: loadSqliteMigrations().at(-1)!.version,
    });
    check.close();
  });
});
