// Three server processes on one PostgreSQL database: 1,000 pages, 20 % redelivered, random order, exact result.
import { signHeapHash } from '../../src/webhook/signature';
import { PostgresStore } from '../../src/store/postgres/store';
import type { ChangeRecord } from '../../src/store/types';
import { deliver, inParallel, seededRandom, shuffle, type Answer } from '../support/load';
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { allMembers, syncBody, tempDir } from '../support/testApp';

const SECRET = 'multi-instance-secret';
const INSTANCES = 3;
const TASKS = 10;
const PAGES_PER_TASK = 100;
const USERS_PER_PAGE = 5;
/** Tasks spread over these segments (tenant, segment id): pages of different tasks interleave. */
const SEGMENTS = [
  { tenant: 'env-a', segmentId: 1 },
  { tenant: 'env-a', segmentId: 2 },
  { tenant: '', segmentId: 1 },
  { tenant: 'env-b', segmentId: 7 },
];

type PageSpec = {
  tenant: string;
  segmentId: number;
  taskId: string;
  page: number;
  add: string[];
  remove: string[];
};

/**
 * The workload, built so the right final state does not depend on arrival order: every page
 * adds users no other page mentions, and removes one user that only the seed sync added.
 */
function workload() {
  const seeds = new Map<number, string[]>(SEGMENTS.map((_, s) => [s, []]));
  const pages: PageSpec[] = [];
  for (let task = 0; task < TASKS; task++) {
    const s = task % SEGMENTS.length;
    for (let page = 1; page <= PAGES_PER_TASK; page++) {
      const leaving = `seed-${task}-${page}`;
      seeds.get(s)!.push(leaving);
      pages.push({
        ...SEGMENTS[s],
        taskId: `task-${task}`,
        page,
        add: Array.from({ length: USERS_PER_PAGE }, (_, u) => `t${task}-p${page}-u${u}`),
        remove: [leaving],
      });
    }
  }
  for (const [s, list] of seeds) list.push(`stays-${s}`);
  const expected = SEGMENTS.map((segment, s) => ({
    ...segment,
    members: [
      `stays-${s}`,
      ...pages
        .filter((p) => p.tenant === segment.tenant && p.segmentId === segment.segmentId)
        .flatMap((p) => p.add),
    ].sort(),
  }));
  return { seeds, pages, expected };
}

const body = (p: PageSpec) =>
  JSON.stringify(
    syncBody({
      idToken: p.tenant === '' ? undefined : p.tenant,
      segmentId: p.segmentId,
      taskId: p.taskId,
      page: p.page,
      totalPages: PAGES_PER_TASK,
      add: p.add,
      remove: p.remove,
    }),
  );

describePostgres('several app instances on one PostgreSQL database', (baseUrl) => {
  let servers: ServerProcess[] = [];
  let reader: PostgresStore | undefined;
  afterAll(async () => {
    for (const server of servers) server.child.kill('SIGKILL');
    await reader?.close();
  });

  it('applies 1,000 pages over 10 tasks with 20 % duplicates, in random order, exactly once', async () => {
    const url = await createDatabase(baseUrl, 'multi');
    // All three start at once on an empty database: the migration lock lets one migrate.
    servers = await Promise.all(
      Array.from({ length: INSTANCES }, () =>
        startServer({
          DATABASE_URL: url,
          DATABASE_POOL_SIZE: '5',
          WEBHOOK_SECRET: SECRET,
          DATA_DIR: tempDir('hpa-multi-'),
          NODE_ENV: 'production',
          ADMIN_TOKEN: 'multi-instance-admin-token',
        }),
      ),
    );
    const migrationLogs = servers.filter((s) =>
      s.stdout().includes('applied PostgreSQL migrations'),
    );
    expect(migrationLogs).toHaveLength(1);
    expect(servers[0].stderr()).toMatch(/Store: +PostgreSQL at 127\.0\.0\.1:\d+\/multi_/);
    ({ store: reader } = await PostgresStore.open({ url, migrations: 'verify' }));

    const seedRandom = Number(process.env.HPA_LOAD_SEED ?? Date.now() % 1_000_000);
    const random = seededRandom(seedRandom);
    const { seeds, pages, expected } = workload();
    for (const [s, users] of seeds) {
      const seed = { ...SEGMENTS[s], taskId: `seed-${s}`, page: 1, add: users, remove: [] };
      const answer = await deliver(servers[s % INSTANCES].url, body(seed), { secret: SECRET });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ status: 'applied', added: users.length });
    }

    // 200 redeliveries: 100 Heap retries later on (new timestamp), 50 retries racing the
    // original on another instance, 50 exact replays (same Heap-Hash) racing it.
    const picked = shuffle(pages, random).slice(0, 200);
    const retried = new Set(picked.slice(0, 100));
    const racing = new Map(picked.slice(100).map((p, i) => [p, i < 50 ? 'retry' : 'replay']));
    type Job = { pages: PageSpec[]; replay: boolean };
    const jobs: Job[] = shuffle(
      [
        ...pages.map((p) => ({
          pages: racing.has(p) ? [p, p] : [p],
          replay: racing.get(p) === 'replay',
        })),
        ...[...retried].map((p) => ({ pages: [p], replay: false })),
      ],
      random,
    );

    const answers: (Answer & { page: PageSpec })[] = [];
    const pairs: string[][] = [];
    const seen: ChangeRecord[] = [];
    let loading = true;
    // A feed consumer running through the load: it only ever asks for what follows its cursor.
    const tail = (async () => {
      for (let cursor = 0; ;) {
        // Stop only on an empty read that began after the last delivery was answered.
        const finalRead = !loading;
        const batch = await reader!.listChanges({ after: cursor, limit: 200 });
        seen.push(...batch);
        if (batch.length > 0) cursor = batch[batch.length - 1].seq;
        else if (finalRead) return;
        else await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const started = Date.now();
    // Heap signs each attempt anew; two signed in the same millisecond would be one exact
    // replay, so every attempt gets its own timestamp unless it is meant to be a replay.
    let lastTs = 0;
    const sign = (raw: string) =>
      signHeapHash(SECRET, raw, (lastTs = Math.max(lastTs + 1, Date.now())));
    await inParallel(jobs, 12, async (job) => {
      const raw = body(job.pages[0]);
      const replayHeader = sign(raw);
      const first = Math.floor(random() * INSTANCES);
      const results = await Promise.all(
        job.pages.map((page, i) =>
          deliver(servers[(first + i) % INSTANCES].url, raw, {
            secret: SECRET,
            header: job.replay || i === 0 ? replayHeader : sign(raw),
          }).then((answer) => ({ ...answer, page })),
        ),
      );
      answers.push(...results);
      if (results.length === 2) pairs.push(results.map((r) => String(r.body.status)).sort());
    });
    loading = false;
    await tail;
    const elapsed = Date.now() - started;

    // Zero 5xx, zero anything but 200; 1,000 applied, 200 duplicates.
    expect(answers).toHaveLength(1200);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    const count = (status: string) => answers.filter((a) => a.body.status === status).length;
    expect({ applied: count('applied'), duplicate: count('duplicate') }).toEqual({
      applied: 1000,
      duplicate: 200,
    });
    // Two instances racing on one page: one applies it, the other answers duplicate.
    expect(pairs).toHaveLength(100);
    for (const pair of pairs) expect(pair).toEqual(['applied', 'duplicate']);

    // Exact membership and counts.
    for (const segment of expected) {
      const members = await allMembers(reader!, segment.tenant, segment.segmentId);
      expect(members).toEqual(segment.members);
      expect((await reader!.getSegment(segment.tenant, segment.segmentId))?.memberCount).toBe(
        segment.members.length,
      );
    }
    for (let task = 0; task < TASKS; task++) {
      const { tenant, segmentId } = SEGMENTS[task % SEGMENTS.length];
      expect(await reader!.getSyncTask(tenant, segmentId, `task-${task}`)).toMatchObject({
        pagesReceived: PAGES_PER_TASK,
        complete: true,
      });
    }

    // Every page once in the change feed, in strictly increasing seq, and the consumer that
    // read along saw exactly that feed.
    const feed = await reader!.listChanges({ after: 0, limit: 5000 });
    const loadFeed = feed.filter((c) => c.taskId?.startsWith('task-'));
    expect(loadFeed).toHaveLength(1000);
    expect(
      new Set(loadFeed.map((c) => `${c.tenant}/${c.segmentId}/${c.taskId}/${c.pageNumber}`)).size,
    ).toBe(1000);
    for (const change of loadFeed) {
      expect(change.added).toHaveLength(USERS_PER_PAGE);
      expect(change.removed).toHaveLength(1);
    }
    for (let i = 1; i < feed.length; i++) expect(feed[i].seq).toBeGreaterThan(feed[i - 1].seq);
    expect(seen.map((c) => c.seq)).toEqual(feed.map((c) => c.seq));

    const deliveries = await reader!.deliveryStats(0);
    expect(deliveries).toEqual([
      { status: 'applied', reason: null, count: 1000 + SEGMENTS.length },
      { status: 'duplicate', reason: 'duplicate_page', count: 150 },
      { status: 'duplicate', reason: 'duplicate_signature', count: 50 },
    ]);
    console.log(
      `multi-instance: ${answers.length} deliveries over ${INSTANCES} instances in ${elapsed} ms (seed ${seedRandom})`,
    );
  }, 180_000);
});
