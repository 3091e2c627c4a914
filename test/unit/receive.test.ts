// The receive core without HTTP: verification, refusals, handlers, 503 on handler failure, exactly-once with a store.
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/store';
import {
  createHeapWebhooks,
  type HeapWebhooksOptions,
  type SyncDelivery,
  type DrainDelivery,
} from '../../src/webhook/receive';
import { signHeapHash } from '../../src/webhook/signature';
import { drainBody, syncBody, tempDir } from '../support/testApp';

const SECRET = 'receive-core-secret';

function signed(body: unknown, options: { secret?: string; timestampMs?: number } = {}) {
  const rawBody = JSON.stringify(body);
  const heapHash = signHeapHash(options.secret ?? SECRET, rawBody, options.timestampMs);
  return { heapHash, rawBody, path: '/webhook' };
}

function core(options: Partial<HeapWebhooksOptions> = {}) {
  return createHeapWebhooks({ secrets: [SECRET], ...options });
}

describe('createHeapWebhooks without a store', () => {
  it('verifies a sync, calls onSync with the typed delivery and answers as the server does', async () => {
    const seen: SyncDelivery[] = [];
    const heap = core({ onSync: (delivery) => void seen.push(delivery) });
    const result = await heap.verifyAndReceive(
      signed(syncBody({ segmentId: 7, taskId: 't1', add: ['a', 'b'], remove: ['c'] })),
    );
    expect(result.status).toBe(200);
    expect(result.body).toEqual({
      status: 'applied',
      action_type: 'segment.users.sync',
      segment_id: 7,
      member_count: null,
      added: 2,
      removed: 1,
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      kind: 'sync',
      segment: { id: 7 },
      syncInfo: { syncTaskId: 't1', pageNumber: 1, totalPages: 1 },
      add: ['a', 'b'],
      remove: ['c'],
    });
  });

  it('calls drain and unknown handlers added with on()', async () => {
    const drains: DrainDelivery[] = [];
    const unknown: string[] = [];
    const heap = core()
      .on('drain', (delivery) => void drains.push(delivery))
      .on('unknown', (delivery) => void unknown.push(delivery.actionType));
    expect((await heap.verifyAndReceive(signed(drainBody({ segmentId: 9 })))).status).toBe(200);
    const other = await heap.verifyAndReceive(
      signed({ action_type: 'segment.renamed', data: { segment: { id: 9 } } }),
    );
    expect(other.body).toMatchObject({ status: 'ignored', segment_id: 9 });
    expect(drains.map((d) => d.segment.id)).toEqual([9]);
    expect(unknown).toEqual(['segment.renamed']);
  });

  it('refuses a forged body with 403 invalid_signature and calls no handler', async () => {
    const onSync = jest.fn();
    const heap = core({ onSync });
    const forged = signed(syncBody({ add: ['a'] }), { secret: 'not-the-secret' });
    const result = await heap.verifyAndReceive(forged);
    expect(result).toEqual({
      status: 403,
      body: {
        error: 'invalid_signature',
        message: 'The Heap-Hash signature does not match the body.',
      },
    });
    // The right signature over other bytes is just as forged.
    const tampered = {
      ...signed(syncBody({ add: ['a'] })),
      rawBody: JSON.stringify(syncBody({ add: ['b'] })),
    };
    expect((await heap.verifyAndReceive(tampered)).status).toBe(403);
    expect(onSync).not.toHaveBeenCalled();
  });

  it('refuses a stale signature (timestamp_out_of_tolerance) and a missing one', async () => {
    const heap = core({ onSync: jest.fn() });
    const stale = signed(syncBody({}), { timestampMs: Date.now() - 10 * 60_000 });
    expect((await heap.verifyAndReceive(stale)).body).toMatchObject({
      error: 'timestamp_out_of_tolerance',
    });
    const missing = { ...signed(syncBody({})), heapHash: undefined };
    expect(await heap.verifyAndReceive(missing)).toMatchObject({
      status: 403,
      body: { error: 'missing_signature' },
    });
  });

  it('answers 400 invalid_payload for a signed body that does not match the spec', async () => {
    const heap = core();
    const result = await heap.verifyAndReceive(
      signed({ action_type: 'segment.users.sync', data: { segment: { id: 1 }, add: {} } }),
    );
    expect(result).toMatchObject({ status: 400, body: { error: 'invalid_payload' } });
  });

  it('turns a throwing or rejecting handler into 503 + Retry-After handler_failed and tells onError', async () => {
    const errors: unknown[] = [];
    const heap = core({
      retryAfterSeconds: 7,
      onSync: () => {
        throw new Error('downstream is down');
      },
      onError: (error) => void errors.push(error),
    });
    heap.on('drain', () => Promise.reject(new Error('rejected')));
    const sync = await heap.verifyAndReceive(signed(syncBody({ add: ['a'] })));
    expect(sync.status).toBe(503);
    expect(sync.headers).toEqual({ 'Retry-After': '7' });
    expect(sync.body).toMatchObject({ error: 'handler_failed' });
    const drain = await heap.verifyAndReceive(signed(drainBody()));
    expect(drain).toMatchObject({ status: 503, body: { error: 'handler_failed' } });
    expect(errors.map((e) => (e as Error).message)).toEqual(['downstream is down', 'rejected']);
  });

  it('refuses a body over bodyLimitBytes with 413 before verifying it', async () => {
    const heap = core({ bodyLimitBytes: 100 });
    const result = await heap.verifyAndReceive(signed(syncBody({ add: ['x'.repeat(200)] })));
    expect(result).toMatchObject({ status: 413, body: { error: 'payload_too_large' } });
  });

  it('needs a secret', () => {
    expect(() => createHeapWebhooks({ secrets: '' })).toThrow(/secret/);
  });
});

describe('createHeapWebhooks with a store', () => {
  let store: SqliteStore;
  beforeEach(() => {
    store = new SqliteStore({ file: path.join(tempDir('hpa-receive-'), 'heap.db') });
  });
  afterEach(() => store.close());

  it('applies a page exactly once: the replay is a duplicate and the handler ran once', async () => {
    const onSync = jest.fn();
    const heap = core({ store, onSync });
    const request = signed(syncBody({ segmentId: 5, taskId: 'once', add: ['a', 'b'] }));
    const first = await heap.verifyAndReceive(request);
    expect(first.body).toMatchObject({ status: 'applied', member_count: 2, added: 2 });
    const replay = await heap.verifyAndReceive(request);
    expect(replay.body).toMatchObject({ status: 'duplicate', member_count: 2, added: 0 });
    // Re-signed later (as a Heap retry may be): still the same page.
    const resigned = signed(syncBody({ segmentId: 5, taskId: 'once', add: ['a', 'b'] }), {
      timestampMs: Date.now() + 1000,
    });
    expect((await heap.verifyAndReceive(resigned)).body).toMatchObject({ status: 'duplicate' });
    expect(onSync).toHaveBeenCalledTimes(1);
    expect(onSync.mock.calls[0][1]).toMatchObject({ outcome: { status: 'applied' } });
    expect((await store.getSegment('', 5))?.memberCount).toBe(2);
  });

  it('runs the handler again on the retry after it failed, without applying twice', async () => {
    let fail = true;
    const calls: string[] = [];
    const heap = core({
      store,
      onSync: (delivery) => {
        calls.push(delivery.syncInfo.syncTaskId);
        if (fail) throw new Error('not yet');
      },
    });
    const request = signed(syncBody({ segmentId: 6, taskId: 'retry', add: ['a'] }));
    expect((await heap.verifyAndReceive(request)).status).toBe(503);
    fail = false;
    const retry = await heap.verifyAndReceive(request);
    expect(retry).toMatchObject({ status: 200, body: { status: 'duplicate', member_count: 1 } });
    expect(calls).toEqual(['retry', 'retry']);
    // Handled now: a further replay does not call it again.
    await heap.verifyAndReceive(request);
    expect(calls).toHaveLength(2);
  });

  it('counts unsigned refusals and logs signed ones in the deliveries log', async () => {
    const heap = core({ store });
    await heap.verifyAndReceive(signed(syncBody({}), { secret: 'wrong' }));
    await heap.verifyAndReceive(signed({ action_type: 'segment.users.sync' }));
    await store.flushRefusalCounts();
    const counts = await store.listRefusalCounts({ limit: 10 });
    expect(counts.map((c) => [c.reason, c.httpStatus, c.count])).toEqual([
      ['invalid_signature', 403, 1],
    ]);
    // The deliveries-log row is written without holding up the answer: wait for it.
    let logged = await store.listDeliveries({ limit: 10 });
    for (let i = 0; i < 100 && logged.length === 0; i++) {
      await new Promise((resolve) => setImmediate(resolve));
      logged = await store.listDeliveries({ limit: 10 });
    }
    expect(logged.map((d) => [d.status, d.httpStatus, d.reason])).toEqual([
      ['rejected', 400, 'invalid_payload'],
    ]);
  });

  it('refuses an unknown id_token with 403 when unknownIdToken is reject', async () => {
    const onSync = jest.fn();
    const heap = core({ store, unknownIdToken: 'reject', onSync });
    const result = await heap.verifyAndReceive(signed(syncBody({ idToken: 'nobody' })));
    expect(result).toMatchObject({ status: 403, body: { error: 'unknown_id_token' } });
    expect(onSync).not.toHaveBeenCalled();
  });
});
