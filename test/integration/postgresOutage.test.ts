// PostgreSQL stops or hangs under load: quick 503 store_unavailable + Retry-After, no hanging request, exact after.
import { signHeapHash } from '../../src/webhook/signature';
import { PostgresStore } from '../../src/store/postgres/store';
import { deliver, inParallel, type Answer } from '../support/load';
import { createDatabase, findPostgresBin, startCluster, type Cluster } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { allMembers, syncBody, tempDir } from '../support/testApp';

const SECRET = 'outage-secret';
const TASKS = 3;
const PAGES_PER_TASK = 100;
/** Bounds the instances run with; answers must come well within them. */
const CONNECT_TIMEOUT_MS = 2000;
const STATEMENT_TIMEOUT_MS = 1000;
/** Client-side give-up: the statement timeout plus the store's 5 s grace for a silent server. */
const ANSWER_BOUND_MS = STATEMENT_TIMEOUT_MS + 5000 + 3000;

/** Waits for a condition, but gives up as soon as the load it watches has failed. */
const until = async (condition: () => boolean, load: { failed?: unknown }) => {
  while (!condition()) {
    if (load.failed) throw load.failed;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describePostgres('a PostgreSQL outage under load', () => {
  // A cluster of its own: stopping the shared one would break suites running beside this one.
  let cluster: Cluster;
  let servers: ServerProcess[] = [];
  let url: string;
  beforeAll(async () => {
    cluster = await startCluster(findPostgresBin()!);
    url = await createDatabase(cluster.url(''), 'outage');
    servers = await Promise.all(
      [0, 1].map(() =>
        startServer({
          DATABASE_URL: url,
          DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
          DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
          RETRY_AFTER_SECONDS: '2',
          WEBHOOK_SECRET: SECRET,
          DATA_DIR: tempDir('hpa-outage-'),
          NODE_ENV: 'production',
          ADMIN_TOKEN: 'multi-instance-admin-token',
        }),
      ),
    );
  });
  afterAll(() => {
    for (const server of servers) server.child.kill('SIGKILL');
    cluster?.destroy();
  });

  let lastTs = 0;
  /** A fresh Heap-Hash per attempt, as Heap signs each retry anew. */
  const sign = (raw: string) =>
    signHeapHash(SECRET, raw, (lastTs = Math.max(lastTs + 1, Date.now())));

  it('answers 503 store_unavailable with Retry-After while it is down; redeliveries then make the state exact', async () => {
    const pages = Array.from({ length: TASKS * PAGES_PER_TASK }, (_, i) => ({
      taskId: `task-${i % TASKS}`,
      page: Math.floor(i / TASKS) + 1,
      add: [`u${i}-a`, `u${i}-b`, `u${i}-c`],
    }));
    const answers: Answer[] = [];
    let okPages = 0;

    // Heap: every page is retried until it gets a 200 (with a short pause instead of the real
    // Retry-After, to keep the test quick), alternating instances.
    const sending = inParallel(pages, 8, async (page, index) => {
      const raw = JSON.stringify(
        syncBody({
          idToken: 'env-o',
          taskId: page.taskId,
          page: page.page,
          totalPages: PAGES_PER_TASK,
          add: page.add,
        }),
      );
      for (let attempt = 0; ; attempt++) {
        const answer = await deliver(servers[(index + attempt) % 2].url, raw, {
          secret: SECRET,
          header: sign(raw),
          deadlineMs: ANSWER_BOUND_MS + 10_000,
        });
        answers.push(answer);
        if (answer.status === 200) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      okPages++;
    });

    const load: { failed?: unknown } = {};
    sending.catch((error: unknown) => (load.failed = error));

    // PostgreSQL goes down a third of the way in, stays down for a while, then comes back.
    await until(() => okPages >= 100, load);
    cluster.stop();
    const outage: { from: number; to?: number } = { from: Date.now() };
    await until(
      () =>
        answers.filter((a) => a.status === 503).length >= 30 && Date.now() - outage.from >= 2000,
      load,
    );
    cluster.start();
    outage.to = Date.now();
    await sending;

    const unavailable = answers.filter((a) => a.status === 503);
    expect(unavailable.length).toBeGreaterThanOrEqual(30);
    for (const answer of unavailable) {
      expect(answer.retryAfter).toBe('2');
      expect(answer.body).toEqual({ error: 'store_unavailable', message: expect.any(String) });
    }
    // Nothing but 200 and 503: no 500, and no request left hanging.
    expect(answers.filter((a) => a.status !== 200 && a.status !== 503)).toEqual([]);
    const slowest = Math.max(...answers.map((a) => a.ms));
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);

    // Exact: every page once in the change feed and in the membership, whatever got cut off.
    const { store } = await PostgresStore.open({ url, migrations: 'verify' });
    try {
      const feed = await store.listChanges({ after: 0, limit: 1000 });
      expect(feed).toHaveLength(pages.length);
      expect(new Set(feed.map((c) => `${c.taskId}/${c.pageNumber}`)).size).toBe(pages.length);
      const members = await allMembers(store, 'env-o', 42);
      expect(members).toEqual(pages.flatMap((p) => p.add).sort());
      expect((await store.getSegment('env-o', 42))?.memberCount).toBe(members.length);
      for (let task = 0; task < TASKS; task++) {
        expect(await store.getSyncTask('env-o', 42, `task-${task}`)).toMatchObject({
          pagesReceived: PAGES_PER_TASK,
          complete: true,
        });
      }
    } finally {
      await store.close();
    }
    console.log(
      `outage: ${answers.length} answers, ${unavailable.length} × 503 over a ${outage.to - outage.from} ms outage, slowest answer ${slowest} ms`,
    );
  }, 120_000);

  it('answers 503 within the configured bounds when the database hangs, and recovers', async () => {
    // Open connections whose server never answers, and new ones that never get a greeting.
    cluster.freeze();
    const raw = (n: number) =>
      JSON.stringify(
        syncBody({ idToken: 'env-h', taskId: 'hang', page: n, totalPages: 6, add: [`h${n}`] }),
      );
    let answers: Answer[] = [];
    try {
      answers = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((n) =>
          deliver(servers[n % 2].url, raw(n), {
            secret: SECRET,
            header: sign(raw(n)),
            deadlineMs: ANSWER_BOUND_MS + 10_000,
          }),
        ),
      );
    } finally {
      cluster.thaw();
    }
    for (const answer of answers) {
      expect(answer).toMatchObject({ status: 503, retryAfter: '2' });
      expect(answer.ms).toBeLessThan(ANSWER_BOUND_MS);
    }
    await inParallel([1, 2, 3, 4, 5, 6], 6, async (n) => {
      for (;;) {
        const answer = await deliver(servers[n % 2].url, raw(n), {
          secret: SECRET,
          header: sign(raw(n)),
        });
        if (answer.status === 200) return;
        expect(answer.status).toBe(503);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });
    const { store } = await PostgresStore.open({ url, migrations: 'verify' });
    try {
      expect(await allMembers(store, 'env-h', 42)).toEqual(['h1', 'h2', 'h3', 'h4', 'h5', 'h6']);
      expect(await store.listChanges({ after: 0, limit: 1000, tenant: 'env-h' })).toHaveLength(6);
    } finally {
      await store.close();
    }
  }, 60_000);
});
