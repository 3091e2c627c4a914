// The webhook contract over real HTTP on real SQLite and PostgreSQL stores: every response code, idempotency, replay.
import { createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import request from 'supertest';
import { signHeapHash } from '../../src/webhook/signature';
import {
  allMembers,
  countedRefusals,
  drainBody,
  latestRejection,
  makeTestApp,
  openTestApp,
  signedPost,
  syncBody,
  TEST_SECRET,
  type TestApp,
} from '../support/testApp';
import { describeEachStore, onFreshStore } from '../support/backends';
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';

let t: TestApp;

describeEachStore('accepted deliveries', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it('applies a sync page and answers the documented 200 body', async () => {
    const res = await signedPost(
      t.app,
      '/users_sync',
      syncBody({ idToken: 'env-1', add: ['a@x.io', 'b@x.io'] }),
    );
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).toEqual({
      status: 'applied',
      action_type: 'segment.users.sync',
      segment_id: 42,
      member_count: 2,
      added: 2,
      removed: 0,
    });
    expect(await allMembers(t.store, 'env-1', 42)).toEqual(['a@x.io', 'b@x.io']);
    expect(await t.store.getSegment('env-1', 42)).toMatchObject({
      name: 'Test segment',
      memberCount: 2,
    });
  });

  it('dispatches on action_type on every webhook path', async () => {
    await signedPost(t.app, '/users_drain', syncBody({ add: ['a', 'b', 'c'] })).expect(200);
    expect(await allMembers(t.store, '', 42)).toEqual(['a', 'b', 'c']);
    const drained = await signedPost(t.app, '/users_sync', drainBody()).expect(200);
    expect(drained.body).toEqual({
      status: 'applied',
      action_type: 'segment.users.drain',
      segment_id: 42,
      member_count: 0,
      added: 0,
      removed: 3,
    });
    await signedPost(t.app, '/webhook', syncBody({ add: ['d'] })).expect(200);
    expect(await allMembers(t.store, '', 42)).toEqual(['d']);
  });

  it('counts only memberships that changed, and removes', async () => {
    await signedPost(t.app, '/webhook', syncBody({ add: ['a', 'b'] })).expect(200);
    const res = await signedPost(
      t.app,
      '/webhook',
      syncBody({ add: ['b', 'c', 'c'], remove: ['a', 'zz'] }),
    ).expect(200);
    expect(res.body).toMatchObject({ status: 'applied', member_count: 2, added: 1, removed: 1 });
    expect(await allMembers(t.store, '', 42)).toEqual(['b', 'c']);
  });

  it('removes a user listed in both add and remove of one page (remove wins)', async () => {
    await signedPost(t.app, '/webhook', syncBody({ add: ['both', 'keep'] })).expect(200);
    const res = await signedPost(
      t.app,
      '/webhook',
      syncBody({ add: ['both', 'new'], remove: ['both'] }),
    ).expect(200);
    expect(res.body).toMatchObject({ added: 1, removed: 1, member_count: 2 });
    expect(await allMembers(t.store, '', 42)).toEqual(['keep', 'new']);
    // …also when the user was not a member before.
    await signedPost(t.app, '/webhook', syncBody({ add: ['fresh'], remove: ['fresh'] })).expect(
      200,
    );
    expect(await allMembers(t.store, '', 42)).toEqual(['keep', 'new']);
  });

  it('keeps tenants apart: id_token vs own environment', async () => {
    await signedPost(t.app, '/webhook', syncBody({ idToken: 'env-A', add: ['a'] })).expect(200);
    await signedPost(t.app, '/webhook', syncBody({ add: ['own'] })).expect(200);
    expect(await allMembers(t.store, 'env-A', 42)).toEqual(['a']);
    expect(await allMembers(t.store, '', 42)).toEqual(['own']);
  });

  it('accepts a correctly signed body with non-compact JSON', async () => {
    const pretty = JSON.stringify(syncBody({ add: ['spaced'] }), null, 3).replace(/:/g, ' : ');
    const res = await signedPost(t.app, '/webhook', pretty).expect(200);
    expect(res.body.added).toBe(1);
  });

  it('answers 200 ignored for an unknown action_type and records it', async () => {
    const body = { action_type: 'segment.renamed', data: { segment: { id: 9, name: 'n' } } };
    const res = await signedPost(t.app, '/webhook', body).expect(200);
    expect(res.body).toEqual({
      status: 'ignored',
      action_type: 'segment.renamed',
      segment_id: 9,
      member_count: null,
      added: 0,
      removed: 0,
    });
    const [logged] = await t.store.listDeliveries({ limit: 1 });
    expect(logged).toMatchObject({ status: 'ignored', actionType: 'segment.renamed' });
    expect(await t.store.getSegment('', 9)).toBeUndefined();
  });

  it('accepts a page of 100,000 users under the default body limit', async () => {
    const users = Array.from({ length: 100_000 }, (_, i) => `user-${i}@example.com`);
    const res = await signedPost(t.app, '/webhook', syncBody({ add: users })).expect(200);
    expect(res.body).toMatchObject({ added: 100_000, member_count: 100_000 });
  });

  it('answers GET /healthcheck', async () => {
    await request(t.app).get('/healthcheck').expect(200, { status: 'ok' });
  });
});

describeEachStore('idempotency and replay', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it('treats a redelivered page (new timestamp) as a duplicate that changes nothing', async () => {
    const page = syncBody({ taskId: 'T', add: ['a', 'b'] });
    await signedPost(t.app, '/webhook', page, { timestampMs: Date.now() - 5000 }).expect(200);
    await signedPost(t.app, '/webhook', syncBody({ taskId: 'T2', remove: ['a'] })).expect(200);
    const again = await signedPost(t.app, '/webhook', page).expect(200);
    expect(again.body).toEqual({
      status: 'duplicate',
      action_type: 'segment.users.sync',
      segment_id: 42,
      member_count: 1,
      added: 0,
      removed: 0,
    });
    expect(await allMembers(t.store, '', 42)).toEqual(['b']);
    const changes = await t.store.listChanges({ after: 0, limit: 10 });
    expect(changes).toHaveLength(2);
  });

  it('identifies a page by id_token, segment, task and page number', async () => {
    const base = { taskId: 'same', page: 1, totalPages: 2 };
    await signedPost(t.app, '/webhook', syncBody({ ...base, add: ['a'] })).expect(200);
    for (const variant of [
      { idToken: 'other-env' },
      { segmentId: 43 },
      { taskId: 'other-task' },
      { page: 2 },
    ]) {
      const res = await signedPost(
        t.app,
        '/webhook',
        syncBody({ ...base, ...variant, add: ['a'] }),
      ).expect(200);
      expect(res.body.status).toBe('applied');
    }
  });

  it('treats an exact replay of a drain as a duplicate: it never wipes later users', async () => {
    await signedPost(t.app, '/webhook', syncBody({ add: ['a'] })).expect(200);
    const drain = JSON.stringify(drainBody());
    const header = signHeapHash(TEST_SECRET, drain, Date.now());
    await signedPost(t.app, '/webhook', drain, { header }).expect(200);
    await signedPost(t.app, '/webhook', syncBody({ add: ['after-drain'] })).expect(200);
    const replay = await signedPost(t.app, '/webhook', drain, { header }).expect(200);
    expect(replay.body).toMatchObject({ status: 'duplicate', member_count: 1, removed: 0 });
    expect(await allMembers(t.store, '', 42)).toEqual(['after-drain']);
  });

  it('treats an exact replay of any action as a duplicate', async () => {
    const body = JSON.stringify({ action_type: 'future.action' });
    const header = signHeapHash(TEST_SECRET, body, Date.now());
    await signedPost(t.app, '/webhook', body, { header }).expect(200);
    const replay = await signedPost(t.app, '/users_sync', body, { header }).expect(200);
    expect(replay.body.status).toBe('duplicate');
  });

  it('tracks a task to completion with pages arriving in any order', async () => {
    for (const page of [3, 1, 2]) {
      await signedPost(
        t.app,
        '/webhook',
        syncBody({ taskId: 'T', page, totalPages: 3, add: [`u${page}`] }),
      ).expect(200);
      const task = await t.store.getSyncTask('', 42, 'T');
      expect(task?.complete).toBe(page === 2);
    }
    expect(await t.store.getSyncTask('', 42, 'T')).toMatchObject({
      totalPages: 3,
      pagesReceived: 3,
      complete: true,
    });
  });

  it('applies 50 concurrent deliveries of one task, with duplicates, exactly', async () => {
    const pages = Array.from({ length: 40 }, (_, i) =>
      syncBody({
        idToken: 'env-c',
        taskId: 'concurrent',
        page: i + 1,
        totalPages: 40,
        add: Array.from({ length: 25 }, (_, j) => `p${i + 1}-u${j}`),
      }),
    );
    const deliveries = [...pages, ...pages.slice(0, 10)].map((body, i) =>
      signedPost(t.app, '/webhook', body, { timestampMs: Date.now() - i }),
    );
    const results = await Promise.all(deliveries);
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const statuses = results.map((r) => r.body.status);
    expect(statuses.filter((s) => s === 'applied')).toHaveLength(40);
    expect(statuses.filter((s) => s === 'duplicate')).toHaveLength(10);
    const members = await allMembers(t.store, 'env-c', 42);
    expect(members).toHaveLength(1000);
    expect(new Set(members).size).toBe(1000);
    expect(await t.store.getSegment('env-c', 42)).toMatchObject({ memberCount: 1000 });
    expect(await t.store.getSyncTask('env-c', 42, 'concurrent')).toMatchObject({
      pagesReceived: 40,
      complete: true,
    });
    expect(await t.store.listChanges({ after: 0, limit: 100 })).toHaveLength(40);
  });
});

describeEachStore('refused deliveries', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  const expectedHmac = (body: string, ts: number) =>
    createHmac('sha256', TEST_SECRET).update(`${ts}${body}`).digest('base64');

  it.each([
    ['missing_signature', undefined],
    ['malformed_signature', 'ts:abc,hmac:nope'],
    ['timestamp_out_of_tolerance', 'stale'],
    ['invalid_signature', 'forged'],
  ])('answers 403 %s without revealing the expected HMAC', async (reason, kind) => {
    const body = JSON.stringify(syncBody({ add: ['victim'] }));
    const ts = kind === 'stale' ? Date.now() - 600_000 : Date.now();
    let req = request(t.app).post('/webhook').set('Content-Type', 'application/json');
    if (kind === 'stale') req = req.set('Heap-Hash', signHeapHash(TEST_SECRET, body, ts));
    else if (kind === 'forged') req = req.set('Heap-Hash', signHeapHash('guess', body, ts));
    else if (kind) req = req.set('Heap-Hash', kind);
    const res = await req.send(body);
    expect(res.status).toBe(403);
    expect(res.body).toEqual({ error: reason, message: expect.any(String) });
    expect(res.text).not.toContain(expectedHmac(body, ts));
    expect(res.text).not.toContain(TEST_SECRET);
    expect(await t.store.getSegment('', 42)).toBeUndefined();
    // Unsigned: counted (one row per minute and reason), never a row of its own.
    expect(await countedRefusals(t.store)).toMatchObject([{ httpStatus: 403, reason, count: 1 }]);
    expect(await t.store.listDeliveries({ limit: 10 })).toEqual([]);
    const lines = t.logs.map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.filter((l) => l.msg === 'webhook refused' && l.level === 20)).toHaveLength(1);
  });

  it('checks the signature before parsing: unsigned garbage is a 403, not a 400', async () => {
    await request(t.app).post('/webhook').send('{not json').expect(403);
    const forged = await signedPost(t.app, '/webhook', '{not json', { secret: 'wrong' });
    expect(forged.status).toBe(403);
  });

  it('answers 400 invalid_json for a signed body that is not JSON', async () => {
    const res = await signedPost(t.app, '/webhook', '{"action_type": "segment.users.sync"');
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_json');
  });

  it('answers 400 invalid_payload naming the JSON path', async () => {
    const body = syncBody({ add: ['ok'] });
    (body.data.sync_info as Record<string, unknown>).page_number = 'one';
    const res = await signedPost(t.app, '/webhook', body);
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: 'invalid_payload',
      message: '$.data.sync_info.page_number: must be integer',
    });
    expect(await t.store.getSegment('', 42)).toBeUndefined();
    const logged = await latestRejection(t.store);
    expect(logged).toMatchObject({
      status: 'rejected',
      httpStatus: 400,
      reason: 'invalid_payload',
    });
  });

  it('answers 413 payload_too_large above WEBHOOK_BODY_LIMIT', async () => {
    const small = await openTestApp({ ...(await backend.env()), WEBHOOK_BODY_LIMIT: '2kb' });
    try {
      const body = syncBody({ add: Array.from({ length: 200 }, (_, i) => `user-${i}`) });
      const res = await signedPost(small.app, '/webhook', body);
      expect(res.status).toBe(413);
      expect(res.body).toEqual({
        error: 'payload_too_large',
        message: expect.stringMatching(/2048/),
      });
      // Refused before its signature could be checked: counted, not logged row by row.
      expect(await countedRefusals(small.store)).toMatchObject([
        { httpStatus: 413, reason: 'payload_too_large', count: 1 },
      ]);
      expect(await small.store.listDeliveries({ limit: 10 })).toEqual([]);
    } finally {
      await small.close();
    }
  });

  it('never answers 500 or HTML, whatever the method or path', async () => {
    const probes: [string, string][] = [
      ['get', '/webhook'],
      ['put', '/users_sync'],
      ['delete', '/users_drain'],
      ['patch', '/webhook'],
      ['post', '/healthcheck'],
      ['get', '/does-not-exist'],
      ['get', '/%E0%A4%A'],
      ['post', '/nope/../../etc/passwd'],
      ['options', '/webhook'],
      ['get', '/webhook?x=%'],
    ];
    for (const [method, path] of probes) {
      const agent = request(t.app) as unknown as Record<string, (p: string) => request.Test>;
      const res = await agent[method](path).set('Heap-Hash', 'ts:1,hmac:x');
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.body).toEqual({ error: expect.any(String), message: expect.any(String) });
    }
    const head = await request(t.app).head('/webhook');
    expect(head.status).toBe(405);
  });
});

describe('store unavailable', () => {
  it('answers 503 store_unavailable with Retry-After while the database is locked, then recovers', async () => {
    const locked = makeTestApp({ SQLITE_BUSY_TIMEOUT_MS: '50', RETRY_AFTER_SECONDS: '7' });
    const blocker = new Database(locked.config.sqlite.file);
    try {
      blocker.exec('BEGIN EXCLUSIVE');
      const page = syncBody({ add: ['a'] });
      const res = await signedPost(locked.app, '/webhook', page);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('7');
      expect(res.body).toEqual({ error: 'store_unavailable', message: expect.any(String) });
      blocker.exec('COMMIT');
      const retried = await signedPost(locked.app, '/webhook', page).expect(200);
      expect(retried.body.status).toBe('applied');
      expect(await allMembers(locked.store, '', 42)).toEqual(['a']);
    } finally {
      blocker.close();
      await locked.close();
    }
  });

  describePostgres('on PostgreSQL', (baseUrl) => {
    it('answers 503 store_unavailable with Retry-After while the database refuses connections, then recovers', async () => {
      const url = await createDatabase(baseUrl);
      const name = new URL(url).pathname.slice(1);
      const app = await openTestApp({ DATABASE_URL: url, RETRY_AFTER_SECONDS: '7' });
      const admin = new pg.Client({ connectionString: `${baseUrl}postgres` });
      await admin.connect();
      try {
        // What a failover or a restart looks like from the app: every connection cut, and no
        // new ones accepted for a while.
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
        await admin.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1',
          [name],
        );
        const page = syncBody({ add: ['a'] });
        const res = await signedPost(app.app, '/webhook', page);
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('7');
        expect(res.body).toEqual({ error: 'store_unavailable', message: expect.any(String) });
        await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
        const retried = await signedPost(app.app, '/webhook', page).expect(200);
        expect(retried.body.status).toBe('applied');
        expect(await allMembers(app.store, '', 42)).toEqual(['a']);
      } finally {
        await admin.end();
        await app.close();
      }
    });
  });
});

describe('logs', () => {
  beforeEach(() => {
    t = makeTestApp();
  });
  afterEach(async () => {
    await t.close();
  });

  it('never contain the secret, an HMAC, the id_token or a user id at info level', async () => {
    const body = JSON.stringify(syncBody({ idToken: 'secret-env-token', add: ['pii@x.io'] }));
    const header = signHeapHash(TEST_SECRET, body, Date.now());
    await signedPost(t.app, '/webhook', body, { header }).expect(200);
    await signedPost(t.app, '/webhook', body, { secret: 'forged' }).expect(403);
    const hmac = header.split('hmac:')[1];
    const text = t.logs.join('\n');
    expect(t.logs.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('webhook applied');
    for (const secretValue of [TEST_SECRET, hmac, 'secret-env-token', 'pii@x.io']) {
      expect(text).not.toContain(secretValue);
    }
  });
});
