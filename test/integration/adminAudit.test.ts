// Over real HTTP on both stores: stale segments and missing pages in the admin API, and the audit log of sign-ins, sign-outs, disconnects and retention runs.
import http from 'node:http';
import pino from 'pino';
import { RetentionJob, retentionPolicy } from '../../src/store/retention';
import type { AcceptedDelivery } from '../../src/store/types';
import { expectMatchesSpec } from '../support/adminSpec';
import { describeEachStore, onFreshStore } from '../support/backends';
import { listenLocally, postSigned, syncPage } from '../support/heapDelivery';
import { TEST_SECRET, type TestApp } from '../support/testApp';

const HOUR = 3_600_000;
const CLIENT = '203.0.113.7';
const WRONG_TOKEN = 'wrong-admin-token-that-must-never-be-stored';

/** A sync page applied straight to the store as if it had arrived `hoursAgo` (the store's clock). */
function page(
  segmentId: number,
  taskId: string,
  pageNumber: number,
  totalPages: number,
  hoursAgo: number,
): AcceptedDelivery {
  return {
    meta: { receivedAt: Date.now() - hoursAgo * HOUR, path: '/webhook', bodySha256: null },
    actionType: 'segment.users.sync',
    signatureKey: `sig-${segmentId}-${taskId}-${pageNumber}`,
    work: {
      kind: 'sync',
      tenant: 'env-stale',
      segmentId,
      segmentName: `Segment ${segmentId}`,
      customerConfig: null,
      taskId,
      pageNumber,
      totalPages,
      add: [`user-${pageNumber}`],
      remove: [],
    },
  };
}

// A JSON answer, checked against admin_api.yaml where it matters, read freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Answer = { status: number; body: any; cookie?: string };

describeEachStore('admin API over HTTP: stale segments and the audit log', (backend) => {
  let t: TestApp;
  let server: http.Server;
  let base: string;
  onFreshStore(
    { ...backend, env: async () => ({ ...(await backend.env()), TRUST_PROXY: '1' }) },
    (app) => {
      t = app;
    },
  );
  beforeEach(async () => {
    server = http.createServer(t.app);
    base = await listenLocally(server);
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** A request from CLIENT behind one trusted proxy. */
  async function call(
    method: string,
    path: string,
    options: { bearer?: string; cookie?: string; csrf?: string; json?: unknown } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = { 'x-forwarded-for': CLIENT };
    if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
    if (options.cookie) headers.cookie = options.cookie;
    if (options.csrf) headers['x-csrf-token'] = options.csrf;
    if (options.json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, {
      method,
      headers,
      body: options.json === undefined ? undefined : JSON.stringify(options.json),
    });
    const text = await res.text();
    const cookie = res.headers.getSetCookie()[0]?.split(';')[0];
    return { status: res.status, body: text ? JSON.parse(text) : {}, cookie };
  }

  const admin = (path: string) => call('GET', path, { bearer: t.config.admin.token });

  it('marks stale segments, lists them stalest first with how long ago, and names the missing pages', async () => {
    // A fresh segment, through the real webhook: one page, complete now.
    const fresh = await postSigned(
      `${base}/webhook`,
      syncPage({ idToken: 'env-stale', segmentId: 1, taskId: 'now', add: ['a'] }),
      TEST_SECRET,
    );
    expect(fresh.status).toBe(200);
    // Completed 30 hours ago; and one whose only task lacks pages 2 and 4 of 5.
    await t.store.applyDelivery(page(2, 'old', 1, 1, 30));
    for (const n of [1, 3, 5]) await t.store.applyDelivery(page(3, 'partial', n, 5, 2));

    const all = await admin('/api/segments');
    expect(all.status).toBe(200);
    expectMatchesSpec('get', '/api/segments', 200, all.body);
    expect(all.body.stale_after_hours).toBe(12);
    const byId = Object.fromEntries(
      (all.body.segments as { segment_id: number; age_seconds: number }[]).map((s) => [
        s.segment_id,
        s,
      ]),
    );
    expect(byId[1]).toMatchObject({ stale: false, incomplete_task: null });
    expect(byId[1].age_seconds).toBeLessThan(60);
    expect(byId[2]).toMatchObject({ stale: true, incomplete_task: null });
    expect(byId[2].age_seconds).toBeGreaterThanOrEqual(30 * 3600 - 60);
    expect(byId[3]).toMatchObject({
      stale: true,
      last_sync_completed_at: null,
      age_seconds: null,
      incomplete_task: {
        sync_task_id: 'partial',
        total_pages: 5,
        pages_received: 3,
        missing_pages: [2, 4],
        missing_count: 2,
      },
    });

    const stale = await admin('/api/segments?stale=true');
    expectMatchesSpec('get', '/api/segments', 200, stale.body);
    expect(stale.body.segments.map((s: { segment_id: number }) => s.segment_id)).toEqual([3, 2]);

    const one = await admin('/api/connections/env-stale/segments/3');
    expectMatchesSpec('get', '/api/connections/{connection}/segments/{segment_id}', 200, one.body);
    expect(one.body.incomplete_task.missing_pages).toEqual([2, 4]);

    const overview = await admin('/api/overview');
    expectMatchesSpec('get', '/api/overview', 200, overview.body);
    expect(overview.body.segments).toMatchObject({ count: 3, stale: 2, stale_after_hours: 12 });

    expect((await admin('/api/segments?stale=yes')).status).toBe(400);
  });

  it('records sign-in, its failures, sign-out and disconnect by client address, never a credential', async () => {
    await t.store.upsertConnection({
      idToken: 'env-audit',
      envId: '555',
      partnerAppId: 'app',
      authorizedBy: 'someone@example.com',
      authorizedScope: 'read',
      authorizedAtUtc: new Date().toISOString(),
      accessTokenSealed: 'sealed',
      at: Date.now(),
    });
    const wrong = await call('POST', '/api/session', { json: { token: WRONG_TOKEN } });
    expect(wrong.status).toBe(401);
    const wrongBearer = await call('GET', '/api/overview', { bearer: WRONG_TOKEN });
    expect(wrongBearer.status).toBe(401);
    const signedIn = await call('POST', '/api/session', { json: { token: t.config.admin.token } });
    expect(signedIn.status).toBe(200);
    const session = { cookie: signedIn.cookie!, csrf: signedIn.body.csrf_token as string };
    const disconnected = await call('POST', '/api/connections/env-audit/disconnect', session);
    expect(disconnected.status).toBe(200);
    // Disconnecting again changes nothing, and records nothing.
    expect((await call('POST', '/api/connections/env-audit/disconnect', session)).status).toBe(200);
    expect((await call('DELETE', '/api/session', session)).status).toBe(204);

    const log = await admin('/api/audit');
    expectMatchesSpec('get', '/api/audit', 200, log.body);
    expect(
      log.body.entries.map((e: Record<string, unknown>) => [
        e.event,
        e.client,
        e.connection,
        e.detail,
      ]),
    ).toEqual([
      ['sign_out', CLIENT, null, {}],
      ['disconnect', CLIENT, 'env-audit', { via: 'session' }],
      ['sign_in', CLIENT, null, { via: 'token' }],
      ['sign_in_failed', CLIENT, null, { reason: 'invalid_credentials', via: 'bearer' }],
      ['sign_in_failed', CLIENT, null, { reason: 'invalid_credentials', via: 'token' }],
    ]);
    expect(log.body.next_cursor).toBeNull();
    // Nothing presented, and no session, is kept: not the wrong token, the admin token, the
    // cookie or the CSRF token.
    const everything = JSON.stringify(await t.store.listAudit({ limit: 100 }));
    for (const secret of [WRONG_TOKEN, t.config.admin.token, session.cookie, session.csrf]) {
      expect(everything).not.toContain(secret);
    }
    const cookieValue = decodeURIComponent(session.cookie.split('=')[1]);
    expect(everything).not.toContain(cookieValue.slice(2, 20));

    // Paged with a cursor, newest first, and filtered by event.
    const first = await admin('/api/audit?limit=2');
    expect(first.body.entries).toHaveLength(2);
    const second = await admin(`/api/audit?limit=2&cursor=${first.body.next_cursor}`);
    expect(second.body.entries.map((e: { event: string }) => e.event)).toEqual([
      'sign_in',
      'sign_in_failed',
    ]);
    const failures = await admin('/api/audit?event=sign_in_failed');
    expect(failures.body.entries).toHaveLength(2);
    expect((await admin('/api/audit?event=nope')).status).toBe(400);
    // The log needs admin credentials like the rest of the API.
    expect((await call('GET', '/api/audit')).status).toBe(401);
  });

  it('records a retention run with what it deleted, and prunes old audit entries after AUDIT_RETENTION_DAYS', async () => {
    const now = Date.now();
    await t.store.recordAudit({
      at: now - 400 * 24 * HOUR,
      event: 'sign_in',
      client: CLIENT,
      tenant: null,
      detail: { via: 'token' },
    });
    const job = new RetentionJob(t.store, retentionPolicy(t.config), pino({ level: 'silent' }), {
      intervalMs: 60_000,
      now: () => now,
      audit: (entry) => t.store.recordAudit(entry),
    });
    const report = await job.runOnce();
    expect(report?.audit_log).toBe(1);
    const log = await admin('/api/audit');
    expectMatchesSpec('get', '/api/audit', 200, log.body);
    expect(log.body.entries).toHaveLength(1);
    expect(log.body.entries[0]).toMatchObject({
      event: 'retention_run',
      client: null,
      detail: { audit_log: 1, deliveries: 0, failed: false },
    });
    // A run that deletes nothing is not recorded.
    await job.runOnce();
    expect((await admin('/api/audit')).body.entries).toHaveLength(1);
    await job.stop();
  });
});
