// The admin service on a real SQLite store: overview sums, size history walked in pages and thinned, lazy CSV.
import path from 'node:path';
import { AdminService, csvField } from '../../src/admin/service';
import { SqliteStore } from '../../src/store/sqlite/store';
import type { AcceptedDelivery } from '../../src/store/types';
import { tempDir } from '../support/testApp';

let store: SqliteStore;
let counter = 0;
beforeEach(() => {
  store = new SqliteStore({ file: path.join(tempDir('hpa-admin-'), 'store.sqlite') });
});
afterEach(async () => {
  await store.close();
});

function sync(add: string[], remove: string[] = [], receivedAt = Date.now()): AcceptedDelivery {
  counter += 1;
  return {
    meta: { receivedAt, path: '/webhook', bodySha256: null },
    actionType: 'segment.users.sync',
    signatureKey: `sig-${counter}`,
    work: {
      kind: 'sync',
      tenant: 'env',
      segmentId: 1,
      segmentName: 'One',
      customerConfig: null,
      taskId: `task-${counter}`,
      pageNumber: 1,
      totalPages: 1,
      add,
      remove,
    },
  };
}

async function collect(generator: AsyncGenerator<string>) {
  let out = '';
  for await (const chunk of generator) out += chunk;
  return out;
}

describe('sizeHistory', () => {
  it('walks every page, including points that share a millisecond, in seq order', async () => {
    // Pairs of changes in the same millisecond straddle the page boundaries.
    for (let i = 0; i < 23; i += 1)
      await store.applyDelivery(sync([`u${i}`], [], 1000 + Math.floor(i / 2)));
    const service = new AdminService(store, { walkPage: 4 });
    const history = await service.sizeHistory('env', 1, { since: 0, maxPoints: 100 });
    expect(history.downsampled).toBe(false);
    expect(history.points.map((p) => p.memberCount)).toEqual(
      [...Array(23).keys()].map((i) => i + 1),
    );
  });

  it('thins evenly to the budget, keeping the first and the latest point', async () => {
    for (let i = 0; i < 40; i += 1) await store.applyDelivery(sync([`u${i}`]));
    const service = new AdminService(store, { walkPage: 6 });
    const history = await service.sizeHistory('env', 1, { since: 0, maxPoints: 10 });
    expect(history.downsampled).toBe(true);
    const sizes = history.points.map((p) => p.memberCount);
    expect(sizes.length).toBeLessThanOrEqual(10);
    expect(sizes[0]).toBe(1);
    expect(sizes[sizes.length - 1]).toBe(40);
    const gaps = sizes.slice(1, -1).map((size, i) => size - sizes[i]);
    expect(new Set(gaps).size).toBe(1); // evenly spaced
  });
});

describe('membersCsv', () => {
  it('reads a page only when asked, so changes during the export show up in it', async () => {
    await store.applyDelivery(sync(['a', 'b', 'c', 'd', 'e']));
    const service = new AdminService(store, { walkPage: 2 });
    const csv = service.membersCsv('env', 1);
    expect((await csv.next()).value).toBe('user_id\r\n');
    expect((await csv.next()).value).toBe('a\r\nb\r\n');
    // Applied mid-export: the rest of the file reflects it (nothing was read ahead).
    await store.applyDelivery(sync(['z', 'b2'], ['d']));
    expect(await collect(csv)).toBe('b2\r\nc\r\ne\r\nz\r\n');
  });

  it('is only the header for an empty segment', async () => {
    expect(await collect(new AdminService(store).membersCsv('env', 99))).toBe('user_id\r\n');
  });

  it('quotes fields per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField(' padded ')).toBe('" padded "');
  });
});

describe('overview', () => {
  it('counts the last 24 hours only', async () => {
    const now = Date.now();
    await store.applyDelivery(sync(['a'], [], now - 25 * 3_600_000));
    await store.applyDelivery(sync(['b'], [], now - 3_600_000));
    await store.recordRejected({
      meta: { receivedAt: now, path: '/webhook', bodySha256: null },
      httpStatus: 403,
      reason: 'invalid_signature',
    });
    const overview = await new AdminService(store, { now: () => now }).overview();
    expect(overview.segments).toEqual({ count: 1, members: 2, stale: 0, staleAfterSeconds: 43200 });
    expect(overview.deliveries).toMatchObject({
      accepted: 1,
      rejected: 1,
      rejectedByReason: [{ reason: 'invalid_signature', count: 1 }],
    });
  });
});
