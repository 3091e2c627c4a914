// /healthz, /readyz and /healthcheck over real HTTP while the store (SQLite, PostgreSQL) becomes unavailable and comes back.
import Database from 'better-sqlite3';
import type { SqliteWorkerStore } from '../../src/store/sqlite/workerStore';
import { describePostgres } from '../support/describePostgres';
import { startLiveApp, type LiveApp } from '../support/liveApp';
import { READINESS_REUSE_MS } from '../../src/store/health';
import { createDatabase, findPostgresBin, startCluster, type Cluster } from '../support/postgres';
import { TEST_SECRET } from '../support/testApp';

const DEADLINE_MS = 500;
/** Room for the HTTP round trip and a loaded CI machine on top of the deadline. */
const ANSWER_BOUND_MS = DEADLINE_MS + 1500;

type Probe = {
  status: number;
  body: Record<string, unknown>;
  retryAfter: string | null;
  ms: number;
};

async function get(app: LiveApp, path: string): Promise<Probe> {
  const started = Date.now();
  const res = await fetch(`${app.url}${path}`);
  const body = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    body,
    retryAfter: res.headers.get('retry-after'),
    ms: Date.now() - started,
  };
}

/** /readyz reuses an answer for READINESS_REUSE_MS: a change shows once that window has passed. */
function afterReuseWindow(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, READINESS_REUSE_MS + 50));
}

/** Polls /readyz until it answers `status` (a store coming back needs a moment), or fails. */
async function readyzUntil(app: LiveApp, status: number, withinMs = 15_000): Promise<Probe> {
  const until = Date.now() + withinMs;
  for (;;) {
    const probe = await get(app, '/readyz');
    if (probe.status === status || Date.now() > until) return probe;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function expectNotReady(probe: Probe, failing: string): void {
  expect(probe.status).toBe(503);
  expect(probe.retryAfter).toBe('2');
  expect(probe.body).toMatchObject({
    error: 'not_ready',
    message: expect.stringContaining(failing),
    checks: expect.objectContaining({ [failing]: 'failing' }),
  });
  expect(probe.ms).toBeLessThan(ANSWER_BOUND_MS);
}

describe('health probes on SQLite', () => {
  let app: LiveApp;
  beforeAll(async () => {
    app = await startLiveApp({
      WEBHOOK_SECRET: TEST_SECRET,
      READINESS_TIMEOUT_MS: String(DEADLINE_MS),
      RETRY_AFTER_SECONDS: '2',
    });
  });
  afterAll(() => app?.close());

  it('is live and ready, naming the checks it ran; /healthcheck answers as before', async () => {
    expect(await get(app, '/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
    expect(await get(app, '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { writer: 'ok', reader: 'ok', migrations: 'ok' } },
    });
    expect(await get(app, '/healthcheck')).toMatchObject({ status: 200, body: { status: 'ok' } });
    const post = await fetch(`${app.url}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ error: 'method_not_allowed' });
  });

  it('is not ready while another process holds the file locked, live throughout, ready after', async () => {
    const locker = new Database(app.config.sqlite.file);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      await afterReuseWindow();
      expectNotReady(await get(app, '/readyz'), 'writer');
      expect((await get(app, '/healthz')).status).toBe(200);
      expect((await get(app, '/healthcheck')).status).toBe(200);
      locker.exec('COMMIT');
    } finally {
      locker.close();
    }
    expect((await readyzUntil(app, 200)).status).toBe(200);
  });

  it('checks the writer thread really answers: a dead one is replaced, then ready again', async () => {
    const store = app.store as SqliteWorkerStore;
    const first = await store.thread;
    await first?.terminate();
    await afterReuseWindow();
    // Until the new thread has opened the file, the answer is a prompt 503, never a hang.
    const meanwhile = await get(app, '/readyz');
    expect([200, 503]).toContain(meanwhile.status);
    expect(meanwhile.ms).toBeLessThan(ANSWER_BOUND_MS);
    expect(await readyzUntil(app, 200)).toMatchObject({
      status: 200,
      body: { checks: { writer: 'ok' } },
    });
    const second = await store.thread;
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
  });
});

describePostgres('health probes on PostgreSQL', () => {
  // A cluster of its own: stopping the shared one would break suites running beside this one.
  let cluster: Cluster;
  let app: LiveApp;
  beforeAll(async () => {
    cluster = await startCluster(findPostgresBin()!);
    const url = await createDatabase(cluster.url(''), 'health');
    app = await startLiveApp({
      DATABASE_URL: url,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      WEBHOOK_SECRET: TEST_SECRET,
      READINESS_TIMEOUT_MS: String(DEADLINE_MS),
      RETRY_AFTER_SECONDS: '2',
    });
  });
  afterAll(async () => {
    cluster?.thaw();
    await app?.close();
    cluster?.destroy();
  });

  it('is ready, not ready while the database is stopped, ready again once it is back', async () => {
    expect(await get(app, '/readyz')).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { database: 'ok', migrations: 'ok' } },
    });
    cluster.stop();
    await afterReuseWindow();
    try {
      const down = await get(app, '/readyz');
      expectNotReady(down, 'database');
      expect(JSON.stringify(down.body)).not.toContain('postgres://');
      expect((await get(app, '/healthz')).status).toBe(200);
    } finally {
      cluster.start();
    }
    expect((await readyzUntil(app, 200)).body).toMatchObject({ status: 'ready' });
  }, 60_000);

  it('answers 503 within the deadline while the database hangs, ready again once it answers', async () => {
    cluster.freeze();
    await afterReuseWindow();
    try {
      expectNotReady(await get(app, '/readyz'), 'database');
      expect((await get(app, '/healthz')).status).toBe(200);
    } finally {
      cluster.thaw();
    }
    expect((await readyzUntil(app, 200)).body).toMatchObject({ status: 'ready' });
  }, 60_000);
});
