// /metrics after real traffic: signed deliveries, a forgery, a drain and a held body over real HTTP, the exposition read by a parser library.
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { connectThroughEmulator, startLiveApp, type LiveApp } from '../support/liveApp';
import { rawConnect } from '../support/rawHttp';
import { histogram, scrape, total, value, type Scrape } from '../support/scrape';
import { TEST_SECRET } from '../support/testApp';
import { signHeapHash } from '../../src/webhook/signature';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

function syncPage(taskId: string, page: number, totalPages: number, add: string[]): string {
  return JSON.stringify({
    action_type: 'segment.users.sync',
    data: {
      segment: { id: 7, name: 'Metrics segment' },
      sync_info: { page_number: page, total_pages: totalPages, sync_task_id: taskId },
      add: add.map((id) => ({ id })),
      remove: [],
    },
  });
}

const DRAIN = JSON.stringify({
  action_type: 'segment.users.drain',
  data: { segment: { id: 7, name: 'Metrics segment' } },
});

async function post(app: LiveApp, body: string, header: string): Promise<number> {
  const res = await fetch(`${app.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': header },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

const signed = (app: LiveApp, body: string) => signHeapHash(app.webhookSecret, body);
const deliveries = (s: Scrape, labels: Record<string, string>) =>
  value(s, 'heap_partner_webhook_deliveries_total', labels);
const metricsOf = (app: LiveApp) => scrape(`${app.url}/metrics`, METRICS_TOKEN);

describe('/metrics on the app port (SQLite, METRICS_TOKEN)', () => {
  let app: LiveApp;
  beforeAll(async () => {
    // The sandbox (no WEBHOOK_SECRET) so that Connect Heap works; tiny body limits for the 503.
    app = await startLiveApp({
      METRICS_TOKEN,
      WEBHOOK_BODY_LIMIT: '1kb',
      WEBHOOK_MAX_INFLIGHT_BYTES: '1kb',
    });
  });
  afterAll(() => app.close());

  test('counts deliveries by action, status and reason, their latency and size, and connections', async () => {
    const before = await metricsOf(app);
    expect(deliveries(before, { action: 'sync', status: 'applied', reason: '', code: '200' })).toBe(
      0,
    );
    expect(value(before, 'heap_partner_connections_active')).toBe(0);

    await connectThroughEmulator(app);
    const page1 = syncPage('task-m', 1, 2, ['u1', 'u2']);
    const page2 = syncPage('task-m', 2, 2, ['u3']);
    const header1 = signed(app, page1);
    expect(await post(app, page1, header1)).toBe(200);
    expect(await post(app, page2, signed(app, page2))).toBe(200);
    expect(await post(app, page1, header1)).toBe(200); // the same signed request: a duplicate
    expect(await post(app, page2, signHeapHash('not-the-secret', page2))).toBe(403);
    expect(await post(app, '{"action_type":', signed(app, '{"action_type":'))).toBe(400);
    expect(await post(app, DRAIN, signed(app, DRAIN))).toBe(200);

    // The connection count is a scrape-time query whose answer is reused for a second (a scrape
    // flood costs one query a second): wait that window out so it reflects Connect Heap.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const after = await metricsOf(app);
    expect(deliveries(after, { action: 'sync', status: 'applied', reason: '', code: '200' })).toBe(
      2,
    );
    expect(
      deliveries(after, { action: 'sync', status: 'duplicate', reason: '', code: '200' }),
    ).toBe(1);
    expect(deliveries(after, { action: 'drain', status: 'applied', reason: '', code: '200' })).toBe(
      1,
    );
    expect(
      deliveries(after, {
        action: 'none',
        status: 'refused',
        reason: 'invalid_signature',
        code: '403',
      }),
    ).toBe(1);
    expect(
      deliveries(after, { action: 'none', status: 'refused', reason: 'invalid_json', code: '400' }),
    ).toBe(1);
    expect(total(after, 'heap_partner_webhook_deliveries_total')).toBe(6);

    // Latency and size of the verified deliveries only (the forgery and the bad JSON are not).
    const syncLatency = histogram(after, 'heap_partner_webhook_apply_duration_seconds', {
      action: 'sync',
    });
    expect(syncLatency.count).toBe(3);
    expect(syncLatency.sum).toBeGreaterThan(0);
    expect(syncLatency.buckets['+Inf']).toBe(3);
    const syncBytes = histogram(after, 'heap_partner_webhook_body_bytes', { action: 'sync' });
    expect(syncBytes.count).toBe(3);
    expect(syncBytes.sum).toBe(2 * Buffer.byteLength(page1) + Buffer.byteLength(page2));
    expect(histogram(after, 'heap_partner_webhook_body_bytes', { action: 'drain' }).sum).toBe(
      Buffer.byteLength(DRAIN),
    );

    expect(value(after, 'heap_partner_connections_active')).toBe(1);
    expect(value(after, 'heap_partner_webhook_inflight_body_bytes')).toBe(0);
    expect(value(after, 'heap_partner_webhook_inflight_body_bytes_limit')).toBe(1024);
    // Process metrics and the event-loop delay (monitorEventLoopDelay) of this process.
    expect(value(after, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(value(after, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThanOrEqual(0);
  });

  test('commit batch sizes add up to the writes: one commit per sequential delivery', async () => {
    const before = await metricsOf(app);
    for (const n of [1, 2, 3]) {
      const body = syncPage(`task-seq-${n}`, 1, 1, [`s${n}`]);
      expect(await post(app, body, signed(app, body))).toBe(200);
    }
    const after = await metricsOf(app);
    const [a, b] = [before, after].map((s) => histogram(s, 'heap_partner_store_commit_batch_size'));
    expect(b.count - a.count).toBe(3);
    expect(b.sum - a.sum).toBe(3);
    // The histogram is SQLite's: no PostgreSQL pool gauges here.
    expect(value(after, 'heap_partner_postgres_pool_connections')).toBeUndefined();
  });

  test('a held body shows as in-flight bytes, and the 503 it causes is counted by cause', async () => {
    const body = syncPage('task-held', 1, 1, ['held']);
    const held = await rawConnect(Number(new URL(app.url).port));
    await held.write(
      `POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Heap-Hash: ${signed(app, body)}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    try {
      // The budget holds the declared length as soon as the headers are in.
      let during = await metricsOf(app);
      for (
        let i = 0;
        i < 50 && value(during, 'heap_partner_webhook_inflight_body_bytes') === 0;
        i++
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        during = await metricsOf(app);
      }
      expect(value(during, 'heap_partner_webhook_inflight_body_bytes')).toBe(
        Buffer.byteLength(body),
      );

      // Within the body limit (1 KiB), but not beside the held one within the budget (1 KiB).
      const other = syncPage('task-busy', 1, 1, [
        'x'.repeat(1000 - syncPage('task-busy', 1, 1, ['']).length),
      ]);
      expect(Buffer.byteLength(other)).toBe(1000);
      expect(await post(app, other, signed(app, other))).toBe(503);
      await held.write(body);
      expect((await held.response).status).toBe(200);
    } finally {
      held.close();
    }
    const after = await metricsOf(app);
    expect(
      value(after, 'heap_partner_unavailable_responses_total', { cause: 'inflight_body_bytes' }),
    ).toBe(1);
    expect(
      deliveries(after, {
        action: 'none',
        status: 'unavailable',
        reason: 'server_busy',
        code: '503',
      }),
    ).toBe(1);
    expect(value(after, 'heap_partner_webhook_inflight_body_bytes')).toBe(0);
  });

  test('needs the token: none or a wrong one is a 401 that shows no metric', async () => {
    for (const headers of [
      {},
      { authorization: 'Bearer wrong-token-0123456789abcdef' },
      {
        authorization: `Basic ${Buffer.from(`x:${METRICS_TOKEN}`).toString('base64')}`,
      },
    ] as Record<string, string>[]) {
      const res = await fetch(`${app.url}/metrics`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const text = await res.text();
      expect(JSON.parse(text)).toEqual({
        error: 'invalid_credentials',
        message: 'Send Authorization: Bearer <METRICS_TOKEN>.',
      });
      expect(text).not.toContain('heap_partner');
    }
    const post = await fetch(`${app.url}/metrics`, {
      method: 'POST',
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(post.status).toBe(405);
  });
});

describe('/metrics is not served without METRICS_TOKEN or METRICS_PORT', () => {
  test('a 404, as for any path nobody serves', async () => {
    const app = await startLiveApp({ WEBHOOK_SECRET: TEST_SECRET });
    try {
      const res = await fetch(`${app.url}/metrics`, {
        headers: { authorization: `Bearer ${METRICS_TOKEN}` },
      });
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('heap_partner');
    } finally {
      await app.close();
    }
  });
});

describePostgres('/metrics on PostgreSQL', (baseUrl) => {
  test('the pool gauges, and deliveries counted as on SQLite', async () => {
    const app = await startLiveApp({
      DATABASE_URL: await createDatabase(baseUrl),
      WEBHOOK_SECRET: TEST_SECRET,
      METRICS_TOKEN,
    });
    try {
      const body = syncPage('task-pg', 1, 1, ['p1']);
      expect(await post(app, body, signed(app, body))).toBe(200);
      const scraped = await metricsOf(app);
      expect(
        deliveries(scraped, { action: 'sync', status: 'applied', reason: '', code: '200' }),
      ).toBe(1);
      const open = value(scraped, 'heap_partner_postgres_pool_connections') ?? 0;
      const idle = value(scraped, 'heap_partner_postgres_pool_idle_connections') ?? -1;
      expect(open).toBeGreaterThanOrEqual(1);
      expect(open).toBeLessThanOrEqual(app.config.postgres?.poolSize ?? 0);
      expect(idle).toBeGreaterThanOrEqual(0);
      expect(idle).toBeLessThanOrEqual(open);
      expect(value(scraped, 'heap_partner_postgres_pool_waiting_clients')).toBe(0);
      expect(histogram(scraped, 'heap_partner_store_commit_batch_size').count).toBe(0);
    } finally {
      await app.close();
    }
  });
});
