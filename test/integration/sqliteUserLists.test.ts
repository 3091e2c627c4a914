// The SQLite change feed's user lists: short ones stay JSON text, long ones are deflated, both read back.
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite/store';
import {
  DEFLATE_FROM_BYTES,
  decodeUserList,
  encodeUserList,
} from '../../src/store/sqlite/userLists';
import { tempDir } from '../support/testApp';

const ids = (n: number) =>
  Array.from({ length: n }, (_, i) => `x${(i * 7919).toString(36)}.ü${i}@example.com`);

describe('change-feed user lists', () => {
  it('keeps a short list as JSON text, readable by anything that reads the column', () => {
    const short = ['a@example.com', 'b@example.com'];
    const stored = encodeUserList(short);
    expect(stored).toBe(JSON.stringify(short));
    expect(decodeUserList(stored)).toEqual(short);
    expect(encodeUserList([])).toBe('[]');
  });

  it('deflates a long list to well under its JSON size and reads it back exactly, in order', () => {
    const long = ids(300);
    const json = JSON.stringify(long);
    expect(json.length).toBeGreaterThan(DEFLATE_FROM_BYTES);
    const stored = encodeUserList(long);
    expect(Buffer.isBuffer(stored)).toBe(true);
    expect((stored as Buffer).length).toBeLessThan(json.length * 0.7);
    expect(decodeUserList(stored)).toEqual(long);
  });

  it('survives a round trip through a TEXT column of a real SQLite database as a BLOB', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE changes (seq INTEGER PRIMARY KEY, added TEXT NOT NULL)');
    const insert = db.prepare('INSERT INTO changes (added) VALUES (?)');
    const lists = [ids(3), ids(1000), []];
    for (const list of lists) insert.run(encodeUserList(list));
    const rows = db
      .prepare('SELECT typeof(added) AS type, added FROM changes ORDER BY seq')
      .all() as { type: string; added: string | Buffer }[];
    expect(rows.map((row) => row.type)).toEqual(['text', 'blob', 'text']);
    expect(rows.map((row) => decodeUserList(row.added))).toEqual(lists);
    db.close();
  });

  it('refuses a corrupt BLOB rather than returning a wrong list', () => {
    expect(() => decodeUserList(Buffer.from([1, 2, 3, 4]))).toThrow();
  });

  it("gives the store's change feed back exactly what a big page changed, deflated on disk", async () => {
    const file = path.join(tempDir(), 'feed.sqlite');
    const store = new SqliteStore({ file });
    const first = ids(2000);
    const page = (pageNumber: number, add: string[], remove: string[]) => ({
      meta: { receivedAt: Date.now(), path: '/users_sync', bodySha256: 'ab'.repeat(32) },
      actionType: 'segment.users.sync',
      signatureKey: `lists-${pageNumber}`,
      work: {
        kind: 'sync' as const,
        ...{ tenant: 'env-l', segmentId: 9, segmentName: 'Big', customerConfig: null },
        ...{ taskId: 'task-l', pageNumber, totalPages: 2, add, remove },
      },
    });
    try {
      await store.applyDelivery(page(1, first, []));
      await store.applyDelivery(page(2, ['late@example.com'], first.slice(0, 500)));
      const feed = await store.listChanges({ after: 0, limit: 10 });
      expect(feed.map((c) => [c.added.length, c.removed.length])).toEqual([
        [2000, 0],
        [1, 500],
      ]);
      expect(new Set(feed[0].added)).toEqual(new Set(first));
      expect(new Set(feed[1].removed)).toEqual(new Set(first.slice(0, 500)));
      const raw = new Database(file, { readonly: true });
      const types = raw
        .prepare('SELECT typeof(added) AS a, typeof(removed) AS r FROM changes ORDER BY seq')
        .all();
      raw.close();
      expect(types).toEqual([
        { a: 'blob', r: 'text' },
        { a: 'text', r: 'blob' },
      ]);
    } finally {
      await store.close();
    }
  });
});
