// The Store contract, one suite for every backend: atomic, idempotent delivery, the admin queries, the membership API.
import path from 'node:path';
import { createMembership } from '../../src/store/membership';
import { openPostgresStore } from '../../src/store/postgres/index';
import { openSqliteStore } from '../../src/store/sqlite/index';
import { StoreUnavailableError } from '../../src/store/errors';
import { DAY_MS, runRetention, type RetentionPolicy } from '../../src/store/retention';
import { MAX_REFUSAL_KEYS, OVERFLOW_REASON } from '../../src/store/refusalBuffer';
import type {
  AcceptedDelivery,
  AuditEntry,
  ChangeRecord,
  Store,
  SyncPage,
} from '../../src/store/types';
import { createDatabase, sharedPostgres } from '../support/postgres';
import { tempDir } from '../support/testApp';

type Backend = {
  name: string;
  /** Why this backend cannot run here (the suite is skipped with a visible message). */
  skip?: string;
  /** A new, empty database; `open` may be called on it more than once (several instances). */
  create: () => Promise<string>;
  open: (location: string) => Promise<Store>;
};

const postgres = sharedPostgres();
const backends: Backend[] = [
  {
    name: 'sqlite',
    create: async () => path.join(tempDir('hpa-contract-'), 'store.sqlite'),
    open: (file) => openSqliteStore({ file, thread: 'caller' }),
  },
  {
    // What the server runs: the same SqliteStore, called across a worker thread.
    name: 'sqlite in a worker thread',
    create: async () => path.join(tempDir('hpa-contract-'), 'store.sqlite'),
    open: (file) => openSqliteStore({ file }),
  },
  {
    name: 'postgres',
    skip: 'skip' in postgres ? postgres.skip : undefined,
    create: () => createDatabase('url' in postgres ? postgres.url : '', 'contract'),
    open: (url) => openPostgresStore({ url }),
  },
];

let signatureCounter = 0;
const meta = (receivedAt = Date.now()) => ({
  receivedAt,
  path: '/webhook',
  bodySha256: 'ab'.repeat(32),
});

function sync(
  overrides: Partial<SyncPage> = {},
  signatureKey?: string,
  receivedAt?: number,
): AcceptedDelivery {
  return {
    meta: meta(receivedAt),
    actionType: 'segment.users.sync',
    signatureKey: signatureKey ?? `sig-${++signatureCounter}`,
    work: {
      kind: 'sync',
      tenant: 'env-1',
      segmentId: 10,
      segmentName: 'Segment ten',
      customerConfig: { fields: [] },
      taskId: 'task-1',
      pageNumber: 1,
      totalPages: 1,
      add: [],
      remove: [],
      ...overrides,
    },
  };
}

function drain(
  tenant = 'env-1',
  segmentId = 10,
  signatureKey?: string,
  receivedAt?: number,
): AcceptedDelivery {
  return {
    meta: meta(receivedAt),
    actionType: 'segment.users.drain',
    signatureKey: signatureKey ?? `sig-${++signatureCounter}`,
    work: { kind: 'drain', tenant, segmentId, segmentName: undefined, customerConfig: null },
  };
}

async function members(store: Store, tenant = 'env-1', segmentId = 10) {
  const all: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await store.listMembers(tenant, segmentId, { after, limit: 2 });
    all.push(...page.items);
    if (!page.nextCursor) return all;
    after = page.nextCursor;
  }
}

for (const { name, skip, create, open } of backends) {
  if (skip) console.warn(`SKIPPED "Store contract: ${name}": ${skip}`);
  (skip ? describe.skip : describe)(`Store contract: ${name}`, () => contract(create, open));
}

function contract(create: Backend['create'], open: Backend['open']) {
  let location: string;
  let store: Store;
  const others: Store[] = [];
  /** Another store on the same database, as a second app instance would have. */
  const another = async () => {
    const other = await open(location);
    others.push(other);
    return other;
  };
  beforeEach(async () => {
    location = await create();
    store = await open(location);
  });
  afterEach(async () => {
    await Promise.all([store, ...others.splice(0)].map((s) => s.close()));
  });

  it('applies a sync page and reports effective changes', async () => {
    const first = await store.applyDelivery(sync({ add: ['a', 'b', 'c'] }));
    expect(first).toMatchObject({ status: 'applied', memberCount: 3, added: 3, removed: 0 });
    const second = await store.applyDelivery(
      sync({ taskId: 'task-2', add: ['c', 'd'], remove: ['a', 'zz'] }),
    );
    expect(second).toMatchObject({ status: 'applied', memberCount: 3, added: 1, removed: 1 });
    expect(await members(store)).toEqual(['b', 'c', 'd']);
    expect(await store.getSegment('env-1', 10)).toMatchObject({
      name: 'Segment ten',
      memberCount: 3,
      customerConfig: { fields: [] },
      lastSyncAt: expect.any(Number),
      lastDrainAt: null,
    });
  });

  it('recognises a page redelivery and an exact signature replay as duplicates', async () => {
    await store.applyDelivery(sync({ add: ['a'] }, 'same-signature'));
    expect(await store.applyDelivery(sync({ add: ['a', 'b'] }))).toMatchObject({
      status: 'duplicate',
      duplicateOf: 'page',
      memberCount: 1,
    });
    expect(await store.applyDelivery(drain('env-1', 10, 'same-signature'))).toMatchObject({
      status: 'duplicate',
      duplicateOf: 'signature',
      memberCount: 1,
    });
    expect(await members(store)).toEqual(['a']);
  });

  it('drains a segment and records it in the change feed', async () => {
    await store.applyDelivery(sync({ add: ['a', 'b'] }));
    expect(await store.applyDelivery(drain())).toMatchObject({
      status: 'applied',
      memberCount: 0,
      removed: 2,
    });
    expect(await members(store)).toEqual([]);
    const changes = await store.listChanges({ after: 0, limit: 10 });
    expect(changes.map((c) => [c.kind, c.added, c.removed, c.removedCount, c.memberCount])).toEqual(
      [
        ['sync', ['a', 'b'], [], 0, 2],
        ['drain', [], [], 2, 0],
      ],
    );
    expect(changes[1].seq).toBeGreaterThan(changes[0].seq);
  });

  describe('delivery rules (src/store/delivery.ts; PostgreSQL runs them as apply_delivery)', () => {
    const withBody = (delivery: AcceptedDelivery, bodySha256: string | null) => ({
      ...delivery,
      meta: { ...delivery.meta, bodySha256 },
    });
    const unknown = (segmentId: number | null, signatureKey?: string): AcceptedDelivery => ({
      meta: meta(),
      actionType: 'segment.renamed',
      signatureKey: signatureKey ?? `sig-${++signatureCounter}`,
      work: { kind: 'unknown', tenant: 'env-1', segmentId },
    });
    /** The deliveries log, oldest first, without the generated and clock fields. */
    const logged = async () =>
      (await store.listDeliveries({ limit: 100 }))
        .reverse()
        .map(({ id: _id, receivedAt: _at, ...row }) => row);

    it('answers exactly these outcomes: applied, both duplicates, ignored, drained', async () => {
      const page1 = sync({ taskId: 'T', pageNumber: 1, totalPages: 2, add: ['a', 'b'] }, 'k1');
      expect(await store.applyDelivery(page1)).toEqual({
        status: 'applied',
        segmentId: 10,
        memberCount: 2,
        added: 2,
        removed: 0,
        taskComplete: false,
        linked: false,
      });
      // The same page again: same body, then another body, then the first signature replayed.
      expect(
        await store.applyDelivery(sync({ ...page1.work, add: ['a', 'b'] } as SyncPage)),
      ).toEqual({
        status: 'duplicate',
        segmentId: 10,
        memberCount: 2,
        added: 0,
        removed: 0,
        duplicateOf: 'page',
        contentDiffers: false,
        linked: false,
      });
      const otherBody = withBody(
        sync({ ...(page1.work as SyncPage), add: ['z'] }),
        'cd'.repeat(32),
      );
      expect(await store.applyDelivery(otherBody)).toMatchObject({
        status: 'duplicate',
        duplicateOf: 'page',
        contentDiffers: true,
        added: 0,
      });
      expect(await store.applyDelivery(page1)).toEqual({
        status: 'duplicate',
        segmentId: 10,
        memberCount: 2,
        added: 0,
        removed: 0,
        duplicateOf: 'signature',
        linked: false,
      });
      const page2 = sync({
        taskId: 'T',
        pageNumber: 2,
        totalPages: 2,
        add: ['c'],
        remove: ['a', 'x'],
      });
      expect(await store.applyDelivery(page2)).toEqual({
        status: 'applied',
        segmentId: 10,
        memberCount: 2,
        added: 1,
        removed: 1,
        taskComplete: true,
        linked: false,
      });
      expect(await store.applyDelivery(unknown(10))).toEqual({
        status: 'ignored',
        segmentId: 10,
        memberCount: null,
        added: 0,
        removed: 0,
        linked: false,
      });
      expect(await store.applyDelivery(unknown(null, 'k-unknown'))).toMatchObject({
        status: 'ignored',
        segmentId: null,
        memberCount: null,
      });
      // A replay without a segment reports no size; one of a segment never seen reports 0.
      expect(await store.applyDelivery(unknown(null, 'k-unknown'))).toEqual({
        status: 'duplicate',
        segmentId: null,
        memberCount: null,
        added: 0,
        removed: 0,
        duplicateOf: 'signature',
        linked: false,
      });
      expect(await store.applyDelivery(drain('env-1', 99, 'k1'))).toMatchObject({
        status: 'duplicate',
        segmentId: 99,
        memberCount: 0,
      });
      expect(await store.getSegment('env-1', 99)).toBeUndefined();
      expect(await store.applyDelivery(drain())).toEqual({
        status: 'applied',
        segmentId: 10,
        memberCount: 0,
        added: 0,
        removed: 2,
        linked: false,
      });
      // A drain of a segment never seen creates it, empty.
      expect(await store.applyDelivery(drain('env-1', 11))).toMatchObject({
        status: 'applied',
        memberCount: 0,
        removed: 0,
      });
      expect(await store.getSegment('env-1', 11)).toMatchObject({
        memberCount: 0,
        lastDrainAt: expect.any(Number),
        lastSyncAt: null,
      });
    });

    it('logs every delivery with its reason, and feeds only what was applied', async () => {
      await store.applyDelivery(
        sync({ taskId: 'T', pageNumber: 3, totalPages: 3, add: ['a'] }, 'k'),
      );
      await store.applyDelivery(sync({ taskId: 'T', pageNumber: 3, totalPages: 3, add: ['a'] }));
      await store.applyDelivery(drain('env-1', 10, 'k'));
      await store.applyDelivery(unknown(10));
      await store.applyDelivery(drain());
      const base = {
        path: '/webhook',
        tenant: 'env-1',
        segmentId: 10,
        httpStatus: 200,
        bodySha256: 'ab'.repeat(32),
        linked: false,
      };
      const sync3 = { actionType: 'segment.users.sync', taskId: 'T', pageNumber: 3 };
      const noPage = { taskId: null, pageNumber: null };
      expect(await logged()).toEqual([
        { ...base, ...sync3, status: 'applied', reason: null, added: 1, removed: 0 },
        { ...base, ...sync3, status: 'duplicate', reason: 'duplicate_page', added: 0, removed: 0 },
        {
          ...base,
          ...noPage,
          actionType: 'segment.users.drain',
          status: 'duplicate',
          reason: 'duplicate_signature',
          added: 0,
          removed: 0,
        },
        {
          ...base,
          ...noPage,
          actionType: 'segment.renamed',
          status: 'ignored',
          reason: null,
          added: 0,
          removed: 0,
        },
        {
          ...base,
          ...noPage,
          actionType: 'segment.users.drain',
          status: 'applied',
          reason: null,
          added: 0,
          removed: 1,
        },
      ]);
      const feed = await store.listChanges({ after: 0, limit: 10 });
      expect(feed.map(({ seq: _seq, at: _at, ...change }) => change)).toEqual([
        {
          tenant: 'env-1',
          segmentId: 10,
          kind: 'sync',
          taskId: 'T',
          pageNumber: 3,
          added: ['a'],
          removed: [],
          removedCount: 0,
          memberCount: 1,
        },
        {
          tenant: 'env-1',
          segmentId: 10,
          kind: 'drain',
          taskId: null,
          pageNumber: null,
          added: [],
          removed: [],
          removedCount: 1,
          memberCount: 0,
        },
      ]);
      expect(feed[1].seq).toBe(feed[0].seq + 1);
    });

    it('keeps the stored name and customer config when a delivery leaves them out', async () => {
      await store.applyDelivery(sync({ segmentName: 'First', customerConfig: { a: 1 } }));
      await store.applyDelivery(
        sync({ taskId: 'task-2', segmentName: undefined, customerConfig: null, add: ['u'] }),
      );
      await store.applyDelivery(drain());
      expect(await store.getSegment('env-1', 10)).toMatchObject({
        name: 'First',
        customerConfig: { a: 1 },
      });
      await store.applyDelivery(sync({ taskId: 'task-3', segmentName: 'Second' }));
      expect(await store.getSegment('env-1', 10)).toMatchObject({ name: 'Second' });
    });

    it('stores, removes and reports non-ASCII ids exactly', async () => {
      const ids = ['zoë@example.com', 'émile@exämple.fr', '日本@例え.jp', '😀@emoji.dev', 'a'];
      const first = await store.applyDelivery(sync({ add: ids }));
      expect(first).toMatchObject({ status: 'applied', added: 5, memberCount: 5 });
      const second = await store.applyDelivery(
        sync({
          taskId: 'task-2',
          add: ['ß@strasse.de'],
          remove: ['日本@例え.jp', 'zoë@example.com'],
        }),
      );
      expect(second).toMatchObject({ added: 1, removed: 2, memberCount: 4 });
      const remaining = ['a', 'émile@exämple.fr', '😀@emoji.dev', 'ß@strasse.de'];
      // Byte order of UTF-8, as both stores compare.
      const byBytes = [...remaining].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(await members(store)).toEqual(byBytes);
      const feed = await store.listChanges({ after: 0, limit: 10 });
      expect([...feed[0].added].sort()).toEqual([...ids].sort());
      expect([...feed[1].removed].sort()).toEqual(['zoë@example.com', '日本@例え.jp'].sort());
      expect(feed[1].added).toEqual(['ß@strasse.de']);
      expect(await store.isMember('env-1', 10, '😀@emoji.dev')).toBe(true);
      expect(await store.isMember('env-1', 10, '日本@例え.jp')).toBe(false);
      expect(
        (await store.segmentsOfUser('env-1', 'émile@exämple.fr')).map((s) => s.segmentId),
      ).toEqual([10]);
    });
  });

  it('tracks sync task progress in any page order', async () => {
    for (const pageNumber of [2, 3, 1]) {
      await store.applyDelivery(
        sync({ taskId: 'T', pageNumber, totalPages: 3, add: [`u${pageNumber}`] }),
      );
    }
    const [task] = await store.listSyncTasks('env-1', 10, { limit: 5 });
    expect(task).toMatchObject({ taskId: 'T', totalPages: 3, pagesReceived: 3, complete: true });
    expect(await store.getSyncTask('env-1', 10, 'T')).toEqual(task);
  });

  it('pages members with a cursor and a prefix', async () => {
    await store.applyDelivery(sync({ add: ['ann', 'bob', 'anna', 'annie', 'zed'] }));
    const firstPage = await store.listMembers('env-1', 10, { limit: 2, prefix: 'ann' });
    expect(firstPage).toEqual({ items: ['ann', 'anna'], nextCursor: 'anna' });
    expect(
      await store.listMembers('env-1', 10, { limit: 2, prefix: 'ann', after: 'anna' }),
    ).toEqual({
      items: ['annie'],
      nextCursor: null,
    });
    expect(await store.listMembers('env-1', 99, { limit: 2 })).toEqual({
      items: [],
      nextCursor: null,
    });
  });

  it('finds the segments of a user within one tenant', async () => {
    await store.applyDelivery(sync({ segmentId: 1, add: ['u'] }));
    await store.applyDelivery(sync({ segmentId: 2, segmentName: 'Two', add: ['u', 'v'] }));
    await store.applyDelivery(sync({ tenant: 'env-2', segmentId: 3, add: ['u'] }));
    expect(await store.segmentsOfUser('env-1', 'u')).toEqual([
      { segmentId: 1, name: 'Segment ten', addedAt: expect.any(Number) },
      { segmentId: 2, name: 'Two', addedAt: expect.any(Number) },
    ]);
    expect(await store.segmentsOfUser('env-1', 'nobody')).toEqual([]);
    expect((await store.listSegments({ tenant: 'env-2' })).map((s) => s.segmentId)).toEqual([3]);
    expect(await store.listSegments({})).toHaveLength(3);
  });

  it('filters the change feed by segment and gives size history', async () => {
    await store.applyDelivery(sync({ segmentId: 1, add: ['a', 'b'] }));
    await store.applyDelivery(sync({ segmentId: 2, add: ['x'] }));
    await store.applyDelivery(sync({ segmentId: 1, taskId: 't2', remove: ['a'] }));
    const feed = await store.listChanges({ after: 0, limit: 10, tenant: 'env-1', segmentId: 1 });
    expect(feed.map((c) => c.memberCount)).toEqual([2, 1]);
    const history = await store.segmentSizeHistory('env-1', 1, { limit: 10 });
    expect(history.map((p) => p.memberCount)).toEqual([2, 1]);
    const resumed = await store.listChanges({ after: feed[0].seq, limit: 10 });
    expect(resumed.map((c) => c.segmentId)).toEqual([2, 1]);
  });

  it('logs deliveries with filters and counts them by status and reason', async () => {
    const since = Date.now() - 1000;
    await store.applyDelivery(sync({ add: ['a'] }));
    await store.recordRejected({ meta: meta(), httpStatus: 403, reason: 'invalid_signature' });
    await store.recordRejected({ meta: meta(), httpStatus: 403, reason: 'invalid_signature' });
    await store.applyDelivery(sync({ add: ['a'] }));
    expect((await store.listDeliveries({ limit: 10 })).map((d) => d.status)).toEqual([
      'duplicate',
      'rejected',
      'rejected',
      'applied',
    ]);
    const rejected = await store.listDeliveries({ limit: 10, status: 'rejected' });
    expect(rejected).toHaveLength(2);
    expect(await store.listDeliveries({ limit: 10, before: rejected[1].id })).toHaveLength(1);
    expect(await store.listDeliveries({ limit: 10, since: Date.now() + 1000 })).toEqual([]);
    expect(await store.deliveryStats(since)).toEqual([
      { status: 'applied', reason: null, count: 1 },
      { status: 'duplicate', reason: 'duplicate_page', count: 1 },
      { status: 'rejected', reason: 'invalid_signature', count: 2 },
    ]);
  });

  it('orders members by byte order, whatever the database collation', async () => {
    await store.applyDelivery(sync({ add: ['b', 'B', 'a', '_z', 'é', 'e', 'ab'] }));
    expect(await members(store)).toEqual(['B', '_z', 'a', 'ab', 'b', 'e', 'é']);
    expect((await store.listMembers('env-1', 10, { limit: 10, prefix: 'a' })).items).toEqual([
      'a',
      'ab',
    ]);
  });

  it('finds nothing, and does not fail, for lookups containing a NUL character', async () => {
    await store.applyDelivery(sync({ add: ['a', 'ab', 'b'] }));
    expect((await store.listMembers('env-1', 10, { limit: 10, after: 'a\0' })).items).toEqual([
      'ab',
      'b',
    ]);
    expect((await store.listMembers('env-1', 10, { limit: 10, prefix: 'a\0' })).items).toEqual([]);
    expect(await store.segmentsOfUser('env-1', 'a\0')).toEqual([]);
    expect(await store.getSegment('env\0', 10)).toBeUndefined();
    expect(await store.listSegments({ tenant: 'env\0' })).toEqual([]);
    expect(await store.listMembers('env\0', 10, { limit: 10 })).toEqual({
      items: [],
      nextCursor: null,
    });
    expect(await store.listChanges({ after: 0, limit: 10, tenant: 'env\0' })).toEqual([]);
    expect(await store.getConnection('env\0')).toBeUndefined();
    expect(await store.listDeliveries({ limit: 10, tenant: 'env\0' })).toEqual([]);
    expect(await store.consumeOAuthState('h\0', Date.now())).toBe(false);
  });

  it('applies a large page in one statement per list', async () => {
    const users = Array.from({ length: 50_000 }, (_, i) => `user-${i}@example.com`);
    expect(await store.applyDelivery(sync({ add: users }))).toMatchObject({
      status: 'applied',
      added: 50_000,
      memberCount: 50_000,
    });
    const outcome = await store.applyDelivery(
      sync({ taskId: 'task-2', add: ['new'], remove: users.slice(0, 25_000) }),
    );
    expect(outcome).toMatchObject({ added: 1, removed: 25_000, memberCount: 25_001 });
    expect((await store.getSegment('env-1', 10))?.memberCount).toBe(25_001);
  });

  it('applies a page once when two instances race on it: one applied, one duplicate', async () => {
    const second = await another();
    for (let page = 1; page <= 20; page++) {
      const users = [`u${page}-a`, `u${page}-b`];
      const outcomes = await Promise.all([
        store.applyDelivery(sync({ taskId: 'race', pageNumber: page, totalPages: 20, add: users })),
        second.applyDelivery(
          sync({ taskId: 'race', pageNumber: page, totalPages: 20, add: users }),
        ),
      ]);
      expect(outcomes.map((o) => o.status).sort()).toEqual(['applied', 'duplicate']);
      expect(outcomes.find((o) => o.status === 'duplicate')).toMatchObject({
        duplicateOf: 'page',
        added: 0,
      });
    }
    // An exact replay racing itself (same signature) applies once too.
    const replay = sync({ taskId: 'replay', add: ['r'] }, 'one-signature');
    const outcomes = await Promise.all([store.applyDelivery(replay), second.applyDelivery(replay)]);
    expect(outcomes.map((o) => o.status).sort()).toEqual(['applied', 'duplicate']);

    expect(await members(second)).toHaveLength(41);
    expect(await store.getSegment('env-1', 10)).toMatchObject({ memberCount: 41 });
    expect(await second.getSyncTask('env-1', 10, 'race')).toMatchObject({
      pagesReceived: 20,
      complete: true,
    });
    const feed = await store.listChanges({ after: 0, limit: 100 });
    expect(feed).toHaveLength(21);
    expect(new Set(feed.map((c) => `${c.taskId}/${c.pageNumber}`)).size).toBe(21);
  });

  it('never shows a change-feed reader a gap that fills later, with instances writing at once', async () => {
    const writers = [store, await another(), await another()];
    const reader = await another();
    let writing = true;
    const seen: ChangeRecord[] = [];
    const tail = (async () => {
      // A consumer that trusts the feed: it only ever asks for what comes after its cursor.
      for (let cursor = 0; ;) {
        // Stop only on an empty read that began after the last write had committed.
        const finalRead = !writing;
        const batch = await reader.listChanges({ after: cursor, limit: 50 });
        seen.push(...batch);
        if (batch.length > 0) cursor = batch[batch.length - 1].seq;
        else if (finalRead) return;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const deliveries = Array.from({ length: 150 }, (_, i) =>
      sync({
        segmentId: i % 5,
        taskId: `t${i % 3}`,
        pageNumber: i,
        totalPages: 150,
        add: [`u${i}`],
      }),
    );
    await Promise.all(deliveries.map((d, i) => writers[i % writers.length].applyDelivery(d)));
    writing = false;
    await tail;
    const feed = await reader.listChanges({ after: 0, limit: 1000 });
    expect(feed).toHaveLength(150);
    expect(seen.map((c) => c.seq)).toEqual(feed.map((c) => c.seq));
    for (let i = 1; i < feed.length; i++) expect(feed[i].seq).toBeGreaterThan(feed[i - 1].seq);
  });

  it('reports a closed store as unavailable, not as a bug', async () => {
    await store.close();
    await expect(store.applyDelivery(sync({ add: ['a'] }))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    await expect(store.getSegment('env-1', 10)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('keeps connections, deletes the token on disconnect, and links deliveries', async () => {
    const connection = {
      idToken: 'env-1',
      envId: '1',
      partnerAppId: '2',
      authorizedBy: 'ada',
      authorizedScope: 'segment',
      authorizedAtUtc: '2026-01-01T00:00:00Z',
      accessTokenSealed: 'v1:sealed',
      at: 1000,
    };
    expect(await store.upsertConnection(connection)).toEqual({ created: true });
    expect(
      await store.upsertConnection({ ...connection, authorizedBy: 'grace', at: 2000 }),
    ).toEqual({
      created: false,
    });
    expect(await store.getConnection('env-1')).toMatchObject({
      authorizedBy: 'grace',
      active: true,
    });
    expect((await store.applyDelivery(sync({ add: ['a'] }))).linked).toBe(true);
    expect((await store.applyDelivery(sync({ tenant: 'other', add: ['a'] }))).linked).toBe(false);
    expect((await store.applyDelivery(sync({ tenant: '', add: ['a'] }))).linked).toBe(true);
    expect(await store.disconnect('env-1', 3000)).toBe(true);
    expect(await store.getSealedAccessToken('env-1')).toBeUndefined();
    expect(await store.disconnect('env-1', 4000)).toBe(false);
    expect((await store.listConnections())[0]).toMatchObject({
      active: false,
      disconnectedAt: 3000,
    });
  });

  it('lists sealed tokens in pages and swaps one only while it is still the expected value', async () => {
    const connect = (idToken: string, sealed: string) =>
      store.upsertConnection({
        idToken,
        envId: '1',
        partnerAppId: '2',
        authorizedBy: 'ada',
        authorizedScope: 'segment',
        authorizedAtUtc: '2026-01-01T00:00:00Z',
        accessTokenSealed: sealed,
        at: 1000,
      });
    // Byte order, not a locale's: 'B' < 'a' < 'b'.
    for (const idToken of ['b', 'a', 'B', 'gone']) await connect(idToken, `old-${idToken}`);
    await store.disconnect('gone', 2000);
    expect(await store.listSealedAccessTokens({ limit: 2 })).toEqual([
      { idToken: 'B', sealed: 'old-B' },
      { idToken: 'a', sealed: 'old-a' },
    ]);
    expect(await store.listSealedAccessTokens({ after: 'a', limit: 2 })).toEqual([
      { idToken: 'b', sealed: 'old-b' },
    ]);
    expect(await store.listSealedAccessTokens({ after: 'b', limit: 2 })).toEqual([]);

    expect(await store.replaceSealedAccessToken('a', 'old-a', 'new-a')).toBe(true);
    expect(await store.getSealedAccessToken('a')).toBe('new-a');
    // Re-authorized meanwhile: the newer token stays.
    await connect('b', 'reauthorized-b');
    expect(await store.replaceSealedAccessToken('b', 'old-b', 'new-b')).toBe(false);
    expect(await store.getSealedAccessToken('b')).toBe('reauthorized-b');
    // Disconnected: no token comes back.
    expect(await store.replaceSealedAccessToken('gone', 'old-gone', 'new-gone')).toBe(false);
    expect(await store.getSealedAccessToken('gone')).toBeUndefined();
    expect(await store.replaceSealedAccessToken('nobody', 'x', 'y')).toBe(false);
    expect(await store.getConnection('a')).toMatchObject({ active: true, updatedAt: 1000 });
  });

  it('counts refusals in memory and writes one row per minute, reason and status', async () => {
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    for (let i = 0; i < 500; i++) {
      store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: minute + (i % 50) });
    }
    store.countRefusal({ reason: 'missing_signature', httpStatus: 403, at: minute + 1 });
    store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: minute - 60_000 });
    // Nothing is written until a flush: not a row, not a statement per refusal.
    expect(await store.listRefusalCounts({ limit: 10 })).toEqual([]);
    await store.flushRefusalCounts();
    store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: minute + 2 });
    await store.flushRefusalCounts();
    expect(await store.listRefusalCounts({ limit: 10 })).toEqual([
      { minute, reason: 'invalid_signature', httpStatus: 403, count: 501 },
      { minute, reason: 'missing_signature', httpStatus: 403, count: 1 },
      { minute: minute - 60_000, reason: 'invalid_signature', httpStatus: 403, count: 1 },
    ]);
    // Paged by minute: a page holds whole minutes.
    const first = await store.listRefusalCounts({ limit: 1 });
    expect(first.map((row) => row.minute)).toEqual([minute, minute]);
    expect(await store.listRefusalCounts({ limit: 1, before: minute })).toHaveLength(1);
    expect(await store.listRefusalCounts({ limit: 5, since: minute })).toHaveLength(2);
    // Refusals are no rows in the deliveries log, but the stats tell the story.
    expect(await store.listDeliveries({ limit: 10 })).toEqual([]);
    expect(await store.deliveryStats(minute)).toEqual([
      { status: 'rejected', reason: 'invalid_signature', count: 501 },
      { status: 'rejected', reason: 'missing_signature', count: 1 },
    ]);
  });

  it('adds counted refusals to the signed rejections of the same reason in the stats', async () => {
    const since = Date.now() - 1000;
    await store.recordRejected({ meta: meta(), httpStatus: 400, reason: 'invalid_payload' });
    await store.applyDelivery(sync({ add: ['a'] }));
    store.countRefusal({ reason: 'invalid_payload', httpStatus: 400, at: Date.now() });
    store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: Date.now() });
    await store.flushRefusalCounts();
    expect(await store.deliveryStats(since)).toEqual([
      { status: 'applied', reason: null, count: 1 },
      { status: 'rejected', reason: 'invalid_payload', count: 2 },
      { status: 'rejected', reason: 'invalid_signature', count: 1 },
    ]);
  });

  it('writes counted refusals when it closes', async () => {
    store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: Date.now() });
    await store.close();
    const reopened = await another();
    expect(await reopened.listRefusalCounts({ limit: 10 })).toMatchObject([
      { reason: 'invalid_signature', count: 1 },
    ]);
  });

  it('bounds the refusal counters: unknown reasons beyond the cap are counted as "other"', async () => {
    const at = Date.now();
    for (let i = 0; i < MAX_REFUSAL_KEYS + 100; i++) {
      store.countRefusal({ reason: `reason-${i}`, httpStatus: 403, at });
    }
    await store.flushRefusalCounts();
    const rows = await store.listRefusalCounts({ limit: 10 });
    expect(rows).toHaveLength(MAX_REFUSAL_KEYS + 1);
    expect(rows.find((row) => row.reason === OVERFLOW_REASON)?.count).toBe(100);
  });

  describe('retention', () => {
    const now = Date.UTC(2026, 5, 1, 12, 0, 0);
    const policy: RetentionPolicy = {
      signatureMaxAgeMs: 10 * 60_000,
      deliveriesMaxAgeMs: 30 * DAY_MS,
      syncTasksMaxAgeMs: 30 * DAY_MS,
      changesMaxAgeMs: 90 * DAY_MS,
    };
    const daysAgo = (days: number) => now - days * DAY_MS;

    it('deletes what is older than each limit and keeps what is newer', async () => {
      // Old: a complete task 40 days ago; an incomplete task that started 40 days ago but got
      // its last page 10 days ago (all its pages stay); a drain 100 days ago; a fresh page.
      await store.applyDelivery(sync({ taskId: 'old', add: ['a'] }, 'sig-old', daysAgo(40)));
      await store.applyDelivery(
        sync({ taskId: 'slow', pageNumber: 1, totalPages: 3, add: ['b'] }, 's1', daysAgo(40)),
      );
      await store.applyDelivery(
        sync({ taskId: 'slow', pageNumber: 2, totalPages: 3, add: ['c'] }, 's2', daysAgo(10)),
      );
      await store.applyDelivery(drain('env-1', 11, 'sig-drain', daysAgo(100)));
      await store.applyDelivery(sync({ taskId: 'new', add: ['d'] }, 'sig-new', now - 60_000));
      await store.recordRejected({ meta: meta(daysAgo(31)), httpStatus: 400, reason: 'x' });
      store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: daysAgo(31) });
      store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: daysAgo(1) });
      await store.flushRefusalCounts();
      await store.saveOAuthState('expired', now - 1);
      await store.saveOAuthState('pending', now + 60_000);

      const report = await runRetention(store, policy, { now: () => now, pauseMs: 0 });
      expect(report).toEqual({
        // Every signature but the one accepted a minute ago.
        accepted_signatures: 4,
        // Both 40-day-old pages, the 100-day-old drain and the 31-day-old refusal.
        deliveries: 4,
        refusal_counts: 1,
        sync_pages: 1,
        sync_tasks: 1,
        // None: the feed goes as a prefix, and its first entry is 40 days old (the 100-day-old
        // drain came later in seq order).
        changes: 0,
        oauth_states: 1,
        // No audit limit in this policy: the audit log is kept.
        audit_log: 0,
      });

      expect((await store.listDeliveries({ limit: 10 })).map((d) => d.taskId)).toEqual([
        'new',
        'slow',
      ]);
      expect(await store.getSyncTask('env-1', 10, 'old')).toBeUndefined();
      expect(await store.getSyncTask('env-1', 10, 'slow')).toMatchObject({ pagesReceived: 2 });
      // The slow task's first page is still claimed: a redelivery of it is still a duplicate.
      expect(
        await store.applyDelivery(
          sync({ taskId: 'slow', pageNumber: 1, totalPages: 3, add: ['b'] }, 's1-again', now),
        ),
      ).toMatchObject({ status: 'duplicate', duplicateOf: 'page' });
      // A replay of a signature accepted a minute ago is still recognised.
      expect(await store.applyDelivery(sync({ taskId: 'other' }, 'sig-new', now))).toMatchObject({
        status: 'duplicate',
        duplicateOf: 'signature',
      });
      expect(await store.listRefusalCounts({ limit: 10 })).toMatchObject([{ count: 1 }]);
      expect(await store.consumeOAuthState('pending', now)).toBe(true);
      // Members are never touched by retention.
      expect(await members(store)).toEqual(['a', 'b', 'c', 'd']);
    });

    it('deletes the change feed as a prefix in seq order, keeping the newest entry', async () => {
      await store.applyDelivery(sync({ taskId: 't1', add: ['a'] }, undefined, daysAgo(200)));
      await store.applyDelivery(sync({ taskId: 't2', add: ['b'] }, undefined, daysAgo(95)));
      // Younger than 90 days, then older again: the older one after it stays (prefix only).
      await store.applyDelivery(sync({ taskId: 't3', add: ['c'] }, undefined, daysAgo(80)));
      await store.applyDelivery(sync({ taskId: 't4', add: ['d'] }, undefined, daysAgo(120)));
      const before = await store.listChanges({ after: 0, limit: 10 });
      const report = await runRetention(store, policy, { now: () => now, pauseMs: 0 });
      expect(report.changes).toBe(2);
      const after = await store.listChanges({ after: 0, limit: 10 });
      expect(after.map((c) => c.seq)).toEqual(before.slice(2).map((c) => c.seq));
      expect(await store.oldestChangeSeq()).toBe(before[2].seq);

      // Everything old: all go but the newest, so seq carries on from it after a restart.
      const later = now + 365 * DAY_MS;
      expect((await runRetention(store, policy, { now: () => later, pauseMs: 0 })).changes).toBe(1);
      expect((await store.listChanges({ after: 0, limit: 10 })).map((c) => c.seq)).toEqual([
        before[3].seq,
      ]);
      const restarted = await another();
      await restarted.applyDelivery(sync({ taskId: 't5', add: ['e'] }, undefined, later));
      const [, newest] = await restarted.listChanges({ after: 0, limit: 10 });
      expect(newest.seq).toBe(before[3].seq + 1);
    });

    it('keeps forever what a 0 limit says, and signatures only for the replay window', async () => {
      await store.applyDelivery(sync({ taskId: 'ancient', add: ['a'] }, 'sig-a', daysAgo(3650)));
      await store.applyDelivery(sync({ taskId: 'recent', add: ['b'] }, 'sig-b', now - 9 * 60_000));
      const forever = {
        ...policy,
        deliveriesMaxAgeMs: 0,
        syncTasksMaxAgeMs: 0,
        changesMaxAgeMs: 0,
      };
      const report = await runRetention(store, forever, { now: () => now, pauseMs: 0 });
      expect(report).toMatchObject({
        accepted_signatures: 1,
        deliveries: 0,
        refusal_counts: 0,
        sync_pages: 0,
        sync_tasks: 0,
        changes: 0,
      });
      expect(await store.listDeliveries({ limit: 10 })).toHaveLength(2);
      expect(await store.getSyncTask('env-1', 10, 'ancient')).toBeDefined();
      expect(await store.listChanges({ after: 0, limit: 10 })).toHaveLength(2);
      // The forgotten signature can no longer pass the signature check (too old), so nothing
      // is lost; the recent one is still a duplicate.
      expect(await store.applyDelivery(sync({ taskId: 'x' }, 'sig-b', now))).toMatchObject({
        status: 'duplicate',
      });
    });

    it('deletes in batches of at most the batch size', async () => {
      for (let i = 0; i < 7; i++) {
        await store.recordRejected({ meta: meta(daysAgo(40) + i), httpStatus: 400, reason: 'x' });
      }
      await store.recordRejected({ meta: meta(now), httpStatus: 400, reason: 'x' });
      expect(await store.pruneBatch('deliveries', daysAgo(30), 3)).toBe(3);
      expect(await store.listDeliveries({ limit: 10 })).toHaveLength(5);
      const batches: number[] = [];
      // The job asks the store for nothing but batches.
      const counting = {
        pruneBatch: async (...args: Parameters<Store['pruneBatch']>) => {
          const deleted = await store.pruneBatch(...args);
          if (args[0] === 'deliveries') batches.push(deleted);
          return deleted;
        },
      } as Store;
      const report = await runRetention(counting, policy, {
        now: () => now,
        batchSize: 3,
        pauseMs: 0,
      });
      expect(report.deliveries).toBe(4);
      expect(batches).toEqual([3, 1]);
      expect(await store.listDeliveries({ limit: 10 })).toHaveLength(1);
    });
  });

  it('caps outstanding OAuth states, counting only unexpired ones', async () => {
    const now = Date.now();
    const cap = { now, maxPending: 2 };
    expect(await store.saveOAuthState('old', now - 1)).toBe(true);
    expect(await store.saveOAuthState('s1', now + 60_000, cap)).toBe(true);
    expect(await store.saveOAuthState('s2', now + 60_000, cap)).toBe(true);
    expect(await store.saveOAuthState('s3', now + 60_000, cap)).toBe(false);
    expect(await store.consumeOAuthState('s3', now)).toBe(false);
    expect(await store.consumeOAuthState('s1', now)).toBe(true);
    expect(await store.saveOAuthState('s4', now + 60_000, cap)).toBe(true);
  });

  it('uses an OAuth state once, and not after it expires', async () => {
    const now = Date.now();
    await store.saveOAuthState('h1', now + 60_000);
    await store.saveOAuthState('h2', now + 1);
    expect(await store.consumeOAuthState('h1', now)).toBe(true);
    expect(await store.consumeOAuthState('h1', now)).toBe(false);
    expect(await store.consumeOAuthState('h2', now + 2)).toBe(false);
    expect(await store.consumeOAuthState('unknown', now)).toBe(false);
  });

  it('keeps admin sessions by hash: revocation and last-seen are shared by every instance', async () => {
    const now = Date.now();
    const second = await another();
    await store.createAdminSession('a'.repeat(64), now, now + 3_600_000);
    expect(await second.getAdminSession('a'.repeat(64))).toEqual({
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + 3_600_000,
      revokedAt: null,
    });
    await second.touchAdminSession('a'.repeat(64), now + 60_000);
    // Never backwards: a late touch from a slower instance keeps the newer time.
    await store.touchAdminSession('a'.repeat(64), now + 30_000);
    expect((await store.getAdminSession('a'.repeat(64)))?.lastSeenAt).toBe(now + 60_000);
    expect(await second.revokeAdminSession('a'.repeat(64), now + 90_000)).toBe(true);
    expect(await second.revokeAdminSession('a'.repeat(64), now + 91_000)).toBe(false);
    expect((await store.getAdminSession('a'.repeat(64)))?.revokedAt).toBe(now + 90_000);
    expect(await store.getAdminSession('unknown')).toBeUndefined();
    expect(await store.getAdminSession('a\0')).toBeUndefined();
    expect(await store.revokeAdminSession('unknown', now)).toBe(false);
  });

  it('probes: every check ok while the store serves, failing (never throwing) once it is closed', async () => {
    const checks = await store.probe(1000);
    expect(Object.keys(checks).length).toBeGreaterThan(0);
    for (const check of Object.values(checks)) expect(check).toEqual({ ok: true });
    const closed = await another();
    await closed.close();
    const after = await closed.probe(1000);
    expect(Object.values(after).length).toBeGreaterThan(0);
    for (const check of Object.values(after)) {
      expect(check).toEqual({ ok: false, reason: expect.stringMatching(/unavailable|closed/) });
    }
  });

  it('forgets revoked and expired admin sessions when a new one starts', async () => {
    const now = Date.now();
    await store.createAdminSession('revoked', now, now + 3_600_000);
    await store.revokeAdminSession('revoked', now);
    await store.createAdminSession('expired', now - 10_000, now - 1);
    await store.createAdminSession('live', now - 10_000, now + 3_600_000);
    await store.createAdminSession('new', now, now + 3_600_000);
    expect(await store.getAdminSession('revoked')).toBeUndefined();
    expect(await store.getAdminSession('expired')).toBeUndefined();
    expect(await store.getAdminSession('live')).toBeDefined();
    expect(await store.revokeAdminSession('expired', now)).toBe(false);
  });

  describe('segment freshness', () => {
    const now = Date.UTC(2026, 5, 1, 12, 0, 0);
    const hoursAgo = (hours: number) => now - hours * 3_600_000;
    const staleAfterSeconds = 12 * 3600;

    /** One page of a task, delivered `hours` ago. */
    const page = (
      segmentId: number,
      taskId: string,
      pageNumber: number,
      totalPages: number,
      hours: number,
      tenant = 'env-1',
    ) =>
      store.applyDelivery(
        sync(
          { tenant, segmentId, taskId, pageNumber, totalPages, add: [`u${pageNumber}`] },
          undefined,
          hoursAgo(hours),
        ),
      );

    it('marks segments whose last completed sync is older than the threshold, lists the missing pages, and agrees with the summary', async () => {
      // 1: completed 2 h ago (fresh). 2: completed 30 h ago (stale). 3: pages 1, 4 of 7 only,
      // never completed (stale, missing 2, 3, 5, 6, 7). 4: completed 40 h ago, then drained
      // (left out). 5: completed 20 h ago, and a newer task lacking page 2 (stale, incomplete).
      await page(1, 'a', 1, 1, 2);
      await page(2, 'b', 1, 2, 31);
      await page(2, 'b', 2, 2, 30);
      await page(3, 'c', 4, 7, 5);
      await page(3, 'c', 1, 7, 3);
      await page(4, 'd', 1, 1, 40);
      await store.applyDelivery(drain('env-1', 4, undefined, hoursAgo(39)));
      await page(5, 'e', 1, 1, 20);
      await page(5, 'f', 1, 3, 1);
      await page(5, 'f', 3, 3, 1);

      const listed = await store.listSegmentFreshness({
        staleAfterSeconds,
        now: new Date(now),
        limit: 100,
      });
      // Stalest first: never completed, then the oldest completion.
      expect(listed.map((f) => [f.segmentId, f.stale, f.ageSeconds])).toEqual([
        [3, true, null],
        [2, true, 30 * 3600],
        [5, true, 20 * 3600],
        [1, false, 2 * 3600],
      ]);
      const [never, , unfinished, fresh] = listed;
      expect(never.lastSyncCompletedAt).toBeNull();
      expect(never.incompleteTask).toMatchObject({
        taskId: 'c',
        totalPages: 7,
        pagesReceived: 2,
        missingPages: [2, 3, 5, 6, 7],
        missingCount: 5,
      });
      expect(unfinished.lastSyncCompletedAt).toBe(hoursAgo(20));
      expect(unfinished.incompleteTask).toMatchObject({ taskId: 'f', missingPages: [2] });
      expect(fresh.incompleteTask).toBeNull();

      const staleOnly = await store.listSegmentFreshness({
        staleAfterSeconds,
        now: new Date(now),
        staleOnly: true,
        limit: 2,
      });
      expect(staleOnly.map((f) => f.segmentId)).toEqual([3, 2]);
      const one = await store.listSegmentFreshness({
        staleAfterSeconds,
        now: new Date(now),
        tenant: 'env-1',
        segmentId: 1,
        limit: 10,
      });
      expect(one.map((f) => f.segmentId)).toEqual([1]);

      const summary = await store.segmentFreshness({
        staleAfterSeconds,
        top: 2,
        now: new Date(now),
      });
      expect(summary).toEqual({
        segments: 4,
        stale: 3,
        // No connection for env-1: a short hash stands for it, never the id_token.
        oldest: [
          { environmentId: expect.not.stringContaining('env-1'), segmentId: '3', ageSeconds: null },
          { environmentId: expect.any(String), segmentId: '2', ageSeconds: 30 * 3600 },
        ],
      });
      // A longer threshold: only the never-completed one is stale.
      expect(
        await store.segmentFreshness({ staleAfterSeconds: 48 * 3600, top: 0, now: new Date(now) }),
      ).toEqual({ segments: 4, stale: 1, oldest: [] });
    });

    it('caps the missing-page list of a task with many pages, and counts them all', async () => {
      await page(7, 'big', 500, 500, 1);
      const [record] = await store.listSegmentFreshness({
        staleAfterSeconds,
        now: new Date(now),
        limit: 10,
      });
      expect(record.incompleteTask?.missingPages).toEqual(
        Array.from({ length: 50 }, (_, i) => i + 1),
      );
      expect(record.incompleteTask?.missingCount).toBe(499);
    });
  });

  describe('audit log', () => {
    const entry = (
      at: number,
      event: AuditEntry['event'],
      client: string | null = '192.0.2.1',
    ) => ({
      at,
      event,
      client,
      tenant: null,
      detail: { via: 'token' },
    });

    it('records entries, lists them newest first in pages and by event, and never more than asked', async () => {
      await store.recordAudit(entry(1000, 'sign_in'));
      await store.recordAudit({
        ...entry(2000, 'disconnect'),
        tenant: 'env-9',
        detail: { via: 'bearer' },
      });
      await store.recordAudit(entry(3000, 'sign_out'));
      const all = await store.listAudit({ limit: 10 });
      expect(all.map((e) => [e.event, e.count, e.minute])).toEqual([
        ['sign_out', 1, null],
        ['disconnect', 1, null],
        ['sign_in', 1, null],
      ]);
      expect(all[1]).toMatchObject({
        at: 2000,
        client: '192.0.2.1',
        tenant: 'env-9',
        detail: { via: 'bearer' },
      });
      const first = await store.listAudit({ limit: 2 });
      const rest = await store.listAudit({ limit: 2, before: first[1].id });
      expect([...first, ...rest].map((e) => e.id)).toEqual(all.map((e) => e.id));
      expect(
        (await store.listAudit({ limit: 10, event: 'disconnect' })).map((e) => e.tenant),
      ).toEqual(['env-9']);
    });

    it('adds counted refusals of one minute and detail to one row', async () => {
      const minute = Date.UTC(2026, 5, 1, 12, 0, 0);
      const detail = { reason: 'too_many_attempts', via: 'token' };
      await store.addAuditCounts([{ event: 'sign_in_failed', minute, detail, count: 400 }]);
      // The same detail with its keys in another order is the same row.
      await store.addAuditCounts([
        {
          event: 'sign_in_failed',
          minute,
          detail: { via: 'token', reason: 'too_many_attempts' },
          count: 600,
        },
        { event: 'sign_in_failed', minute: minute + 60_000, detail, count: 1 },
      ]);
      const rows = await store.listAudit({ limit: 10 });
      expect(rows.map((r) => [r.minute, r.count, r.client])).toEqual([
        [minute + 60_000, 1, null],
        [minute, 1000, null],
      ]);
      expect(rows[1]).toMatchObject({ at: minute, event: 'sign_in_failed', detail });
    });

    it('is pruned by retention after its own limit, and kept forever with 0', async () => {
      const now = Date.UTC(2026, 5, 1, 12, 0, 0);
      await store.recordAudit(entry(now - 400 * DAY_MS, 'sign_in'));
      await store.recordAudit(entry(now - 10 * DAY_MS, 'sign_in'));
      const policy = (auditMaxAgeMs: number): RetentionPolicy => ({
        signatureMaxAgeMs: 10 * 60_000,
        deliveriesMaxAgeMs: 0,
        syncTasksMaxAgeMs: 0,
        changesMaxAgeMs: 0,
        auditMaxAgeMs,
      });
      expect((await runRetention(store, policy(0), { now: () => now })).audit_log).toBe(0);
      expect((await runRetention(store, policy(365 * DAY_MS), { now: () => now })).audit_log).toBe(
        1,
      );
      expect((await store.listAudit({ limit: 10 })).map((e) => e.at)).toEqual([now - 10 * DAY_MS]);
    });
  });

  describe('membership API', () => {
    it('answers segmentsOf and isMember for one tenant', async () => {
      const membership = createMembership(store);
      await store.applyDelivery(sync({ segmentId: 1, add: ['u', 'v'] }));
      await store.applyDelivery(sync({ segmentId: 2, segmentName: 'Two', add: ['u'] }));
      await store.applyDelivery(sync({ tenant: 'env-2', segmentId: 3, add: ['w'] }));
      expect((await membership.segmentsOf('env-1', 'u')).map((s) => s.segmentId)).toEqual([1, 2]);
      expect(await membership.segmentsOf('env-2', 'u')).toEqual([]);
      expect(await membership.isMember('env-1', 1, 'v')).toBe(true);
      expect(await membership.isMember('env-1', 2, 'v')).toBe(false);
      expect(await membership.isMember('env-2', 1, 'v')).toBe(false);
      expect(await membership.isMember('env-1', 99, 'u')).toBe(false);
      expect(await membership.isMember('env-1', 1, 'v\0')).toBe(false);
      await store.applyDelivery(sync({ segmentId: 1, taskId: 't2', remove: ['v'] }));
      expect(await membership.isMember('env-1', 1, 'v')).toBe(false);
      await store.applyDelivery(drain('env-1', 2));
      expect(await membership.isMember('env-1', 2, 'u')).toBe(false);
    });

    it('yields every member once across page boundaries while a sync changes other members', async () => {
      const membership = createMembership(store);
      const name = (n: number) => `m${String(n).padStart(2, '0')}`;
      const stable = Array.from({ length: 13 }, (_, i) => name(2 * i));
      const churn = Array.from({ length: 12 }, (_, i) => name(2 * i + 1));
      await store.applyDelivery(sync({ add: [...stable, ...churn] }));
      const seen: string[] = [];
      for await (const member of membership.members('env-1', 10, { pageSize: 4 })) {
        seen.push(member);
        if (seen.length === 3) {
          // Between two pages: the odd members leave, new ones arrive on both sides of the cursor.
          await store.applyDelivery(
            sync({ taskId: 'churn', add: ['m01a', 'm15a', 'm99'], remove: churn }),
          );
        }
      }
      expect(stable.every((m) => seen.filter((s) => s === m).length === 1)).toBe(true);
      expect(new Set(seen).size).toBe(seen.length);
      expect([...seen].sort()).toEqual(seen);
      // Members that arrived ahead of the cursor are read; those behind it are not.
      expect(seen).toEqual(expect.arrayContaining(['m15a', 'm99']));
      expect(seen).not.toContain('m01a');
      expect(seen).not.toContain('m23');
      const prefixed: string[] = [];
      for await (const member of membership.members('env-1', 10, { prefix: 'm1', pageSize: 2 })) {
        prefixed.push(member);
      }
      expect(prefixed).toEqual(['m10', 'm12', 'm14', 'm15a', 'm16', 'm18']);
    });

    it('reads the change feed in seq order across pages and resumes after a cursor', async () => {
      const membership = createMembership(store);
      for (let i = 1; i <= 7; i++) {
        await store.applyDelivery(sync({ segmentId: i % 2, taskId: `t${i}`, add: [`u${i}`] }));
      }
      const all: ChangeRecord[] = [];
      for await (const change of membership.changes({ after: 0, pageSize: 3 })) all.push(change);
      expect(all.map((c) => c.added)).toEqual([1, 2, 3, 4, 5, 6, 7].map((i) => [`u${i}`]));
      expect(all.map((c) => c.seq)).toEqual([...all.map((c) => c.seq)].sort((a, b) => a - b));
      const resumed: ChangeRecord[] = [];
      for await (const change of membership.changes({ after: all[3].seq, pageSize: 2 })) {
        resumed.push(change);
      }
      expect(resumed).toEqual(all.slice(4));
      const odd: number[] = [];
      const segmentOne = membership.changes({ after: 0, tenant: 'env-1', segmentId: 1 });
      for await (const change of segmentOne) odd.push(change.segmentId);
      expect(odd).toEqual([1, 1, 1, 1]);
    });

    it('follows the feed: sees a later delivery, then stops when aborted', async () => {
      const membership = createMembership(store);
      await store.applyDelivery(sync({ add: ['before'] }));
      const [head] = await store.listChanges({ after: 0, limit: 1 });
      const controller = new AbortController();
      const followed = membership.changes({
        after: head.seq,
        follow: true,
        pollIntervalMs: 20,
        signal: controller.signal,
      });
      const feed = followed[Symbol.asyncIterator]();
      const next = feed.next();
      await store.applyDelivery(sync({ taskId: 'later', add: ['later'] }));
      const seen = await next;
      expect(seen.done).toBe(false);
      expect(seen.value).toMatchObject({ added: ['later'], taskId: 'later' });
      const after = feed.next();
      controller.abort();
      expect(await after).toEqual({ done: true, value: undefined });
    });
  });
}
