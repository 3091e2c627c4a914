// The admin API over HTTP against real SQLite and PostgreSQL: paging, user lookups, change feed, deliveries, sizes, CSV.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { adminGet, adminPost, type CheckedBody } from '../support/adminClient';
import { DAY_MS, runRetention } from '../../src/store/retention';
import { describeEachStore, onFreshStore } from '../support/backends';
import {
  drainBody,
  loggedRejections,
  signedPost,
  syncBody,
  type TestApp,
} from '../support/testApp';

const SEGMENT = '/api/connections/{connection}/segments/{segment_id}';
let t: TestApp;

const pad = (n: number) => String(n).padStart(4, '0');

/** Sends one sync task of `users` over pages of `pageSize` through the real webhook. */
async function syncUsers(
  users: string[],
  options: { idToken?: string; segmentId?: number; pageSize?: number; remove?: string[] } = {},
) {
  const pageSize = options.pageSize ?? 100;
  const totalPages = Math.max(1, Math.ceil(users.length / pageSize));
  const taskId = `task-${Math.random().toString(36).slice(2)}`;
  for (let page = 1; page <= totalPages; page += 1) {
    const res = await signedPost(
      t.app,
      '/webhook',
      syncBody({
        idToken: options.idToken,
        segmentId: options.segmentId ?? 42,
        taskId,
        page,
        totalPages,
        add: users.slice((page - 1) * pageSize, page * pageSize),
        remove: page === 1 ? options.remove : undefined,
      }),
    );
    expect(res.status).toBe(200);
  }
  return taskId;
}

async function pageThrough(
  url: string,
  limit: number,
  during?: (page: number) => Promise<unknown>,
) {
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const [body]: CheckedBody[] = await Promise.all([
      adminGet(t, `${url}?${query}`, `${SEGMENT}/members`),
      during?.(pages),
    ]);
    expect(body.members.length).toBeLessThanOrEqual(limit);
    seen.push(...body.members);
    cursor = body.next_cursor;
    pages += 1;
  } while (cursor);
  return { seen, pages };
}

describeEachStore('members', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  const base = [...Array(2500).keys()].map((i) => `user-${pad(i)}`);

  it('pages 2,500 members with limit=100: each exactly once, in order', async () => {
    await syncUsers(base);
    const { seen, pages } = await pageThrough('/api/connections/own/segments/42/members', 100);
    expect(pages).toBeGreaterThanOrEqual(25);
    expect(seen).toEqual(base);
    const segment = await adminGet(t, '/api/connections/own/segments/42', SEGMENT);
    expect(segment).toMatchObject({ connection: 'own', segment_id: 42, member_count: 2500 });
  });

  it('returns every member present throughout exactly once while syncs are applied concurrently', async () => {
    await syncUsers(base);
    const extras: string[] = [];
    const { seen } = await pageThrough(
      '/api/connections/own/segments/42/members',
      100,
      async (page) => {
        // Users joining all over the key range (also behind the cursor), and earlier joiners leaving.
        const joining = [5, 900, 1700, 2400].map((n) => `user-${pad(n)}-join-${page}`);
        extras.push(...joining);
        await syncUsers(joining, { remove: page > 2 ? [`user-0005-join-${page - 2}`] : [] });
      },
    );
    const counts = new Map<string, number>();
    for (const id of seen) counts.set(id, (counts.get(id) ?? 0) + 1);
    for (const id of base) expect([id, counts.get(id)]).toEqual([id, 1]);
    for (const [id, count] of counts) {
      expect(count).toBe(1);
      if (!base.includes(id)) expect(extras).toContain(id);
    }
    expect([...seen].sort()).toEqual(seen);
  });

  it('searches by prefix, caps limit at 1,000 and refuses cursors it did not issue', async () => {
    await syncUsers([...base.slice(0, 300), 'alice', 'alicia', 'bob', 'ali%_*']);
    const body = await adminGet(
      t,
      '/api/connections/own/segments/42/members?prefix=ali&limit=2',
      `${SEGMENT}/members`,
    );
    expect(body.members).toEqual(['ali%_*', 'alice']);
    const rest = await adminGet(
      t,
      `/api/connections/own/segments/42/members?prefix=ali&limit=2&cursor=${body.next_cursor}`,
      `${SEGMENT}/members`,
    );
    expect(rest.members).toEqual(['alicia']);
    const big = await adminGet(
      t,
      '/api/connections/own/segments/42/members?limit=1000',
      `${SEGMENT}/members`,
    );
    expect(big.members).toHaveLength(304);
    expect(big.next_cursor).toBeNull();
    for (const query of [
      'limit=1001',
      'limit=0',
      'limit=ten',
      'cursor=bm90LW91cnM',
      'cursor=%25',
    ]) {
      const bad = await adminGet(
        t,
        `/api/connections/own/segments/42/members?${query}`,
        `${SEGMENT}/members`,
        400,
      );
      expect(bad.error).toBe('invalid_parameter');
    }
    const missing = await adminGet(
      t,
      '/api/connections/own/segments/7/members',
      `${SEGMENT}/members`,
      404,
    );
    expect(missing.error).toBe('segment_not_found');
  });
});

describeEachStore('segments of a user', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it("answers a connection's segments a user is in, and only that connection's", async () => {
    await syncUsers(['alice', 'bob'], { idToken: 'env-a', segmentId: 1 });
    await syncUsers(['bob'], { idToken: 'env-a', segmentId: 2 });
    await syncUsers(['alice'], { idToken: 'env-a', segmentId: 3 });
    await syncUsers(['alice'], { segmentId: 9 });
    const url = (connection: string, user: string) =>
      `/api/connections/${encodeURIComponent(connection)}/users/${encodeURIComponent(user)}/segments`;
    const spec = '/api/connections/{connection}/users/{user_id}/segments';

    const alice = await adminGet(t, url('env-a', 'alice'), spec);
    expect(alice.segments.map((s: { segment_id: number }) => s.segment_id)).toEqual([1, 3]);
    expect(alice.segments[0]).toEqual({
      segment_id: 1,
      name: 'Test segment',
      added_at: expect.any(String),
    });
    expect((await adminGet(t, url('own', 'alice'), spec)).segments).toHaveLength(1);
    expect((await adminGet(t, url('env-a', 'nobody'), spec)).segments).toEqual([]);

    await syncUsers([], { idToken: 'env-a', segmentId: 3, remove: ['alice'] });
    const after = await adminGet(t, url('env-a', 'alice'), spec);
    expect(after.segments.map((s: { segment_id: number }) => s.segment_id)).toEqual([1]);

    await syncUsers(['we/ird id?#'], { idToken: 'env-a', segmentId: 2 });
    const weird = await adminGet(t, url('env-a', 'we/ird id?#'), spec);
    expect(weird.segments.map((s: { segment_id: number }) => s.segment_id)).toEqual([2]);
  });

  it('answers with the headers of every admin answer though it writes its body itself', async () => {
    await syncUsers(['carol'], { idToken: 'env-a', segmentId: 4 });
    const path = '/api/connections/env-a/users/carol/segments';
    const bearer = `Bearer ${t.config.admin.token}`;
    const res = await request(t.app).get(path).set('Authorization', bearer);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.text)));
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toEqual(expect.any(String));
    expect(res.headers.etag).toBeUndefined();
    expect(JSON.parse(res.text)).toEqual({
      segments: [{ segment_id: 4, name: 'Test segment', added_at: expect.any(String) }],
    });
    const head = await request(t.app).head(path).set('Authorization', bearer);
    expect(head.status).toBe(200);
    expect(head.text ?? '').toBe('');
    expect(head.headers['content-length']).toBe(res.headers['content-length']);
    // Still behind the admin check.
    expect((await request(t.app).get(path)).status).toBe(401);
  });
});

describeEachStore('change feed', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it('lists applied deliveries in strict seq order, resumably, with their adds, removes and drains', async () => {
    const task = await syncUsers(['a', 'b', 'c'], { segmentId: 1 });
    await syncUsers(['x'], { idToken: 'env-b', segmentId: 2 });
    // A replayed page and a forged request change nothing, so they are not in the feed.
    const replay = await signedPost(
      t.app,
      '/webhook',
      syncBody({ segmentId: 1, taskId: task, add: ['a', 'b', 'c'] }),
    );
    expect(replay.body.status).toBe('duplicate');
    expect((await signedPost(t.app, '/webhook', {}, { secret: 'wrong' })).status).toBe(403);
    await syncUsers(['d', 'a'], { segmentId: 1, remove: ['b'] });
    expect(
      (await signedPost(t.app, '/webhook', drainBody({ idToken: 'env-b', segmentId: 2 }))).status,
    ).toBe(200);

    const all = await adminGet(t, '/api/changes?limit=1000', '/api/changes');
    expect(all.changes).toHaveLength(4);
    expect(all.changes.map((c: { kind: string }) => c.kind)).toEqual([
      'sync',
      'sync',
      'sync',
      'drain',
    ]);
    expect(all.changes[0]).toMatchObject({
      connection: 'own',
      segment_id: 1,
      sync_task_id: task,
      page_number: 1,
      added: ['a', 'b', 'c'],
      removed: [],
      member_count: 3,
    });
    expect(all.changes[2]).toMatchObject({ added: ['d'], removed: ['b'], member_count: 3 });
    expect(all.changes[3]).toMatchObject({
      connection: 'env-b',
      kind: 'drain',
      removed: [],
      removed_count: 1,
      member_count: 0,
    });
    const seqs = all.changes.map((c: { seq: number }) => c.seq);
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(all.next_after).toBe(seqs[3]);

    // Resuming two at a time from any point yields the same entries.
    const resumed: unknown[] = [];
    let after = 0;
    for (;;) {
      const page = await adminGet(t, `/api/changes?after=${after}&limit=2`, '/api/changes');
      if (page.changes.length === 0) {
        expect(page.next_after).toBe(after);
        break;
      }
      resumed.push(...page.changes);
      after = page.next_after;
    }
    expect(resumed).toEqual(all.changes);
    const fromThird = await adminGet(t, `/api/changes?after=${seqs[1]}`, '/api/changes');
    expect(fromThird.changes).toEqual(all.changes.slice(2));

    const filtered = await adminGet(t, '/api/changes?connection=env-b', '/api/changes');
    expect(filtered.changes.map((c: { seq: number }) => c.seq)).toEqual([seqs[1], seqs[3]]);
    const bySegment = await adminGet(t, '/api/changes?connection=own&segment_id=1', '/api/changes');
    expect(bySegment.changes).toHaveLength(2);
    for (const query of ['after=-1', 'limit=1001', 'segment_id=x', 'after=1&after=2']) {
      expect((await adminGet(t, `/api/changes?${query}`, '/api/changes', 400)).error).toBe(
        'invalid_parameter',
      );
    }
  });
  it('answers 410 changes_expired to a cursor older than the oldest change retention kept', async () => {
    for (const user of ['a', 'b', 'c']) await syncUsers([user], { segmentId: 7 });
    const all = await adminGet(t, '/api/changes', '/api/changes');
    const seqs = all.changes.map((c: { seq: number }) => c.seq);
    // Everything is older than a day from a clock 400 days ahead: all but the newest go.
    const report = await runRetention(
      t.store,
      {
        signatureMaxAgeMs: 0,
        deliveriesMaxAgeMs: 0,
        syncTasksMaxAgeMs: 0,
        changesMaxAgeMs: DAY_MS,
      },
      { now: () => Date.now() + 400 * DAY_MS, pauseMs: 0 },
    );
    expect(report.changes).toBe(2);
    for (const after of [0, seqs[0]]) {
      const expired = await adminGet(t, `/api/changes?after=${after}`, '/api/changes', 410);
      expect(expired).toEqual({
        error: 'changes_expired',
        message: expect.stringContaining('resync'),
        oldest_seq: seqs[2],
      });
    }
    // A consumer that had read up to just before the oldest kept entry missed nothing.
    const caughtUp = await adminGet(t, `/api/changes?after=${seqs[1]}`, '/api/changes');
    expect(caughtUp.changes.map((c: { seq: number }) => c.seq)).toEqual([seqs[2]]);
  });
});

describeEachStore('deliveries, overview and sizes', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it('filters the deliveries log by status, reason, connection and time, paged by cursor', async () => {
    const before = Date.now() - 1;
    await syncUsers(['a'], { segmentId: 1 });
    await syncUsers(['b'], { idToken: 'env-c', segmentId: 1 });
    await signedPost(t.app, '/webhook', syncBody({ add: ['z'] }), { secret: 'wrong' });
    await signedPost(t.app, '/webhook', '{"not": "a delivery"}');
    await signedPost(t.app, '/webhook', syncBody({ add: ['y'] }), { timestampMs: 1 });
    await loggedRejections(t.store, 1);

    // Only requests whose signature verified are rows; the two forged ones are counted.
    const all = await adminGet(t, '/api/deliveries', '/api/deliveries');
    expect(all.deliveries).toHaveLength(3);
    expect(all.deliveries.map((d: { id: number }) => d.id)).toEqual(
      [...all.deliveries.map((d: { id: number }) => d.id)].sort((a, b) => b - a),
    );
    const rejected = await adminGet(t, '/api/deliveries?status=rejected', '/api/deliveries');
    expect(rejected.deliveries.map((d: { reason: string }) => d.reason)).toEqual([
      'invalid_payload',
    ]);
    const byReason = await adminGet(
      t,
      '/api/deliveries?status=rejected&reason=invalid_signature',
      '/api/deliveries',
    );
    expect(byReason.deliveries).toHaveLength(0);
    const env = await adminGet(t, '/api/deliveries?connection=env-c', '/api/deliveries');
    expect(env.deliveries).toMatchObject([{ connection: 'env-c', status: 'applied', added: 1 }]);
    const window = await adminGet(
      t,
      `/api/deliveries?since=${new Date(before).toISOString()}&until=${Date.now() + 1000}`,
      '/api/deliveries',
    );
    expect(window.deliveries).toHaveLength(3);
    expect(
      (await adminGet(t, `/api/deliveries?until=${before}`, '/api/deliveries')).deliveries,
    ).toHaveLength(0);

    const ids: number[] = [];
    let cursor: string | null = null;
    do {
      const page: CheckedBody = await adminGet(
        t,
        `/api/deliveries?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        '/api/deliveries',
      );
      ids.push(...page.deliveries.map((d: { id: number }) => d.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(ids).toEqual(all.deliveries.map((d: { id: number }) => d.id));
    for (const query of ['status=lost', 'since=yesterday', 'limit=501']) {
      await adminGet(t, `/api/deliveries?${query}`, '/api/deliveries', 400);
    }
  });

  it('pages the refusals counted before signature verification by minute', async () => {
    await signedPost(t.app, '/webhook', syncBody({}), { secret: 'wrong' });
    await signedPost(t.app, '/webhook', syncBody({}), { secret: 'wrong' });
    await request(t.app).post('/users_sync').send('{}').expect(403);
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    t.store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: minute - 120_000 });
    // Counted in memory; the admin API writes this instance's counts before it reads them.

    const all = await adminGet(t, '/api/refusals', '/api/refusals');
    expect(all.next_cursor).toBeNull();
    expect(all.minutes).toHaveLength(2);
    expect(all.minutes[0].by_reason).toEqual(
      expect.arrayContaining([
        { reason: 'invalid_signature', http_status: 403, count: 2 },
        { reason: 'missing_signature', http_status: 403, count: 1 },
      ]),
    );
    expect(all.minutes[0].total).toBe(3);
    expect(all.minutes[1]).toEqual({
      minute: new Date(minute - 120_000).toISOString(),
      total: 1,
      by_reason: [{ reason: 'invalid_signature', http_status: 403, count: 1 }],
    });
    const first = await adminGet(t, '/api/refusals?limit=1', '/api/refusals');
    expect(first.minutes).toEqual([all.minutes[0]]);
    const second = await adminGet(
      t,
      `/api/refusals?limit=1&cursor=${first.next_cursor}`,
      '/api/refusals',
    );
    expect(second.minutes).toEqual([all.minutes[1]]);
    const since = await adminGet(t, `/api/refusals?since=${minute - 60_000}`, '/api/refusals');
    expect(since.minutes).toHaveLength(1);
    for (const query of ['limit=0', 'limit=1441', 'since=soon', 'cursor=nope']) {
      await adminGet(t, `/api/refusals?${query}`, '/api/refusals', 400);
    }
  });

  it('sums the overview: connections, segments, members, accepted vs rejected by reason', async () => {
    await t.store.upsertConnection({
      idToken: 'env-d',
      envId: '123',
      partnerAppId: 'app',
      authorizedBy: 'ann@example.com',
      authorizedScope: 'segment',
      authorizedAtUtc: '2025-01-01T00:00:00Z',
      accessTokenSealed: 'sealed-token-must-not-leak',
      at: Date.now(),
    });
    await syncUsers(['a', 'b'], { idToken: 'env-d', segmentId: 1 });
    await syncUsers(['c'], { segmentId: 2 });
    await signedPost(t.app, '/webhook', syncBody({}), { secret: 'wrong' });
    await signedPost(t.app, '/webhook', syncBody({}), { secret: 'wrong' });
    await signedPost(t.app, '/webhook', '{');
    await loggedRejections(t.store, 1);
    // The forged ones are counted in memory; the overview writes them out before it reads.
    const overview = await adminGet(t, '/api/overview', '/api/overview');
    expect(overview).toMatchObject({
      connections: { active: 1, disconnected: 0 },
      segments: { count: 2, members: 3 },
      deliveries_24h: {
        accepted: 2,
        rejected: 3,
        by_status: { applied: 2, duplicate: 0, ignored: 0, rejected: 3 },
        rejected_by_reason: [
          { reason: 'invalid_signature', count: 2 },
          { reason: 'invalid_json', count: 1 },
        ],
      },
    });
  });

  it('shows connections without their token, and disconnects idempotently', async () => {
    await t.store.upsertConnection({
      idToken: 'env-e',
      envId: '555',
      partnerAppId: 'app',
      authorizedBy: 'ann@example.com',
      authorizedScope: 'segment',
      authorizedAtUtc: '2025-01-01T00:00:00Z',
      accessTokenSealed: 'sealed-token-must-not-leak',
      at: Date.now(),
    });
    const list = await adminGet(t, '/api/connections', '/api/connections');
    expect(list.connections).toMatchObject([{ connection: 'env-e', env_id: '555', active: true }]);
    expect(JSON.stringify(list)).not.toMatch(/sealed-token|access_token/);
    await adminGet(t, '/api/connections/env-e', '/api/connections/{connection}');
    await adminGet(t, '/api/connections/nope', '/api/connections/{connection}', 404);
    for (let i = 0; i < 2; i += 1) {
      const res = await adminPost(t, '/api/connections/env-e/disconnect');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ active: false, disconnected_at: expect.any(String) });
    }
    expect(await t.store.getSealedAccessToken('env-e')).toBeUndefined();
    expect((await adminPost(t, '/api/connections/nope/disconnect')).status).toBe(404);
  });

  it('reports sync task progress as pages arrive in any order', async () => {
    const send = (page: number) =>
      signedPost(
        t.app,
        '/webhook',
        syncBody({ segmentId: 5, taskId: 'task-p', page, totalPages: 3, add: [`u${page}`] }),
      );
    await send(3);
    await send(1);
    const tasksPath = `${SEGMENT}/sync-tasks`;
    let tasks = await adminGet(t, '/api/connections/own/segments/5/sync-tasks', tasksPath);
    expect(tasks.sync_tasks).toMatchObject([
      {
        sync_task_id: 'task-p',
        total_pages: 3,
        pages_received: 2,
        complete: false,
        completed_at: null,
      },
    ]);
    await send(2);
    tasks = await adminGet(t, '/api/connections/own/segments/5/sync-tasks', tasksPath);
    expect(tasks.sync_tasks[0]).toMatchObject({ pages_received: 3, complete: true });
    const one = await adminGet(
      t,
      '/api/connections/own/segments/5/sync-tasks/task-p',
      `${tasksPath}/{sync_task_id}`,
    );
    expect(one).toEqual(tasks.sync_tasks[0]);
    await adminGet(
      t,
      '/api/connections/own/segments/5/sync-tasks/nope',
      `${tasksPath}/{sync_task_id}`,
      404,
    );
  });

  it('gives the size after every change, thinned to max_points with the latest kept', async () => {
    for (let i = 0; i < 30; i += 1) await syncUsers([`u${pad(i)}`], { segmentId: 6 });
    await signedPost(t.app, '/webhook', drainBody({ segmentId: 6 }));
    const path = `${SEGMENT}/size-history`;
    const full = await adminGet(t, '/api/connections/own/segments/6/size-history', path);
    expect(full.downsampled).toBe(false);
    expect(full.points.map((p: { member_count: number }) => p.member_count)).toEqual([
      ...[...Array(30).keys()].map((i) => i + 1),
      0,
    ]);
    const thin = await adminGet(
      t,
      '/api/connections/own/segments/6/size-history?max_points=8',
      path,
    );
    expect(thin.downsampled).toBe(true);
    expect(thin.points.length).toBeLessThanOrEqual(8);
    expect(thin.points[0]).toEqual(full.points[0]);
    expect(thin.points[thin.points.length - 1]).toEqual(full.points[30]);
    const later = await adminGet(
      t,
      `/api/connections/own/segments/6/size-history?since=${Date.now() + 60_000}`,
      path,
    );
    expect(later.points).toEqual([]);
  });
});

describeEachStore('CSV export', (backend) => {
  onFreshStore(backend, (app) => (t = app));

  it('equals the member set, with RFC 4180 quoting', async () => {
    const users = [...Array(2500).keys()].map((i) => `user-${pad(i)}`);
    const odd = ['comma,id', 'quote"id', ' leading', '=formula'];
    await syncUsers([...users, ...odd]);
    const res = await request(t.app)
      .get('/api/connections/own/segments/42/members.csv')
      .set('Authorization', `Bearer ${t.config.admin.token}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe('attachment; filename=segment-42-members.csv');
    const lines = res.text.split('\r\n');
    expect(lines[0]).toBe('user_id');
    expect(lines[lines.length - 1]).toBe('');
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(2504);
    expect(new Set(rows.filter((r) => r.startsWith('user-')))).toEqual(new Set(users));
    expect(rows).toEqual(
      expect.arrayContaining(['"comma,id"', '"quote""id"', '" leading"', '=formula']),
    );
    const missing = await request(t.app)
      .get('/api/connections/own/segments/9/members.csv')
      .set('Authorization', `Bearer ${t.config.admin.token}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('segment_not_found');
  });

  it('streams a 200,000-member segment in chunks rather than building it in memory', async () => {
    const users = [...Array(200_000).keys()].map((i) => `member-${String(i).padStart(6, '0')}`);
    await syncUsers(users, { pageSize: 20_000 });
    const server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const { headers, chunks, body } = await new Promise<{
        headers: http.IncomingHttpHeaders;
        chunks: number;
        body: string;
      }>((resolve, reject) => {
        http
          .get(
            `http://127.0.0.1:${port}/api/connections/own/segments/42/members.csv`,
            { headers: { Authorization: `Bearer ${t.config.admin.token}` } },
            (res) => {
              let count = 0;
              const parts: Buffer[] = [];
              res.on('data', (chunk: Buffer) => {
                count += 1;
                parts.push(chunk);
              });
              res.on('end', () =>
                resolve({
                  headers: res.headers,
                  chunks: count,
                  body: Buffer.concat(parts).toString(),
                }),
              );
              res.on('error', reject);
            },
          )
          .on('error', reject);
      });
      expect(headers['transfer-encoding']).toBe('chunked');
      expect(headers['content-length']).toBeUndefined();
      // One write per store page of 5,000: the body arrives in many pieces, not one buffer.
      expect(chunks).toBeGreaterThanOrEqual(40);
      const rows = body.split('\r\n').slice(1, -1);
      expect(rows).toEqual(users);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 120_000);
});
