// Floor P, the PostgreSQL ceiling: the store's work per page as one PL/pgSQL call, autocommit, in flight as the server.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { percentile } from './load';
import type { ApplyFigures, LookupFigures } from './floorStore';
import {
  acceptedPage,
  BENCH_ID_TOKEN,
  lookupUsers,
  type LookupPopulation,
  type Workload,
} from './workload';
import { runGrownFloor, type GrownRunInput } from './grownFloor';
import { postgresBytes } from './postgresBytes';
import type { AcceptedDelivery } from '../src/store/types';
import { SEGMENTS_OF_USER_SQL } from '../src/store/postgres/store';

export type FloorPostgresInput = FloorPostgresApply | FloorPostgresLookup | FloorPostgresGrown;

/** Floor P of the grown scenario: the same load and re-sync pages, in a database of its own. */
export type FloorPostgresGrown = { mode: 'grown'; databaseUrl: string } & GrownRunInput;

export type FloorPostgresApply = {
  mode: 'apply';
  /** A fresh, empty database (the bench's throwaway cluster, one database per run). */
  databaseUrl: string;
  workload: Workload;
  /** Pool size and calls in flight: as many as the server scenario has connections. */
  concurrency: number;
  durationSeconds?: number;
  count?: number;
};

/** The lookup scenario's floor P: the store's own user → segments query, raw, on its database. */
export type FloorPostgresLookup = {
  mode: 'lookup';
  /** The database the lookup scenario filled. */
  databaseUrl: string;
  population: LookupPopulation;
  queries: number;
};

/**
 * The lean schema and the one function a delivery costs. It writes what the store writes for an
 * applied sync page (membership rows and the user → segments index, the page claim, the replay
 * key, the deliveries-log row, a change-feed row with the user lists, the segment's count, the
 * sync task's progress) and keeps the change feed's guarantee: `seq` comes from a one-row head
 * updated by every delivery and held to its commit, so seqs are gap-free and become visible in
 * commit order, exactly as src/store/postgres does. The segment row is locked by its upsert, as
 * the store's is, so deliveries to one segment queue behind each other in both.
 */
export const FLOOR_P_SCHEMA = `
CREATE TABLE segments (
  sid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  name text,
  member_count bigint NOT NULL DEFAULT 0,
  last_sync_at bigint,
  UNIQUE (tenant, segment_id)
);
CREATE TABLE members (
  sid bigint NOT NULL,
  user_id text COLLATE "C" NOT NULL,
  added_at bigint NOT NULL,
  PRIMARY KEY (sid, user_id)
);
CREATE INDEX members_by_user ON members (user_id, sid);
CREATE TABLE sync_tasks (
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  task_id text COLLATE "C" NOT NULL,
  total_pages bigint NOT NULL,
  pages_received bigint NOT NULL,
  PRIMARY KEY (tenant, segment_id, task_id)
);
CREATE TABLE sync_pages (
  tenant text COLLATE "C" NOT NULL,
  segment_id bigint NOT NULL,
  task_id text COLLATE "C" NOT NULL,
  page_number bigint NOT NULL,
  body_sha256 text,
  PRIMARY KEY (tenant, segment_id, task_id, page_number)
);
CREATE TABLE accepted_signatures (
  signature_key text COLLATE "C" PRIMARY KEY,
  received_at bigint NOT NULL
);
CREATE TABLE deliveries (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  received_at bigint NOT NULL,
  tenant text NOT NULL,
  segment_id bigint NOT NULL,
  task_id text NOT NULL,
  page_number bigint NOT NULL,
  added bigint NOT NULL,
  removed bigint NOT NULL
);
CREATE TABLE changes (
  seq bigint PRIMARY KEY,
  at bigint NOT NULL,
  tenant text NOT NULL,
  segment_id bigint NOT NULL,
  task_id text NOT NULL,
  page_number bigint NOT NULL,
  added text[] NOT NULL,
  removed text[] NOT NULL,
  member_count bigint NOT NULL
);
CREATE TABLE change_feed_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  last_seq bigint NOT NULL
);
INSERT INTO change_feed_head VALUES (true, 0);

CREATE FUNCTION apply_page(p_key text, p_at bigint, p_tenant text, p_segment bigint, p_name text,
                           p_task text, p_page bigint, p_total bigint, p_sha text,
                           p_add text[], p_remove text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_sid bigint;
  v_added text[];
  v_removed text[] := '{}';
  v_user text;
  v_count bigint;
  v_seq bigint;
BEGIN
  INSERT INTO accepted_signatures VALUES (p_key, p_at) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN RAISE EXCEPTION 'floor P: a replayed signature'; END IF;
  INSERT INTO sync_pages VALUES (p_tenant, p_segment, p_task, p_page, p_sha) ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN RAISE EXCEPTION 'floor P: a page claimed twice'; END IF;
  INSERT INTO segments (tenant, segment_id, name) VALUES (p_tenant, p_segment, p_name)
    ON CONFLICT (tenant, segment_id) DO UPDATE SET name = coalesce(excluded.name, segments.name)
    RETURNING sid INTO v_sid;
  -- One index probe per removed user, as the store's apply_delivery does (its migration 006).
  FOREACH v_user IN ARRAY p_remove LOOP
    DELETE FROM members WHERE sid = v_sid AND user_id = v_user;
    IF FOUND THEN v_removed := v_removed || v_user; END IF;
  END LOOP;
  WITH came AS (INSERT INTO members SELECT v_sid, u, p_at FROM unnest(p_add) AS u
                ON CONFLICT DO NOTHING RETURNING user_id)
    SELECT coalesce(array_agg(user_id), '{}') INTO v_added FROM came;
  UPDATE segments SET member_count = member_count + cardinality(v_added) - cardinality(v_removed),
                      last_sync_at = p_at
    WHERE sid = v_sid RETURNING member_count INTO v_count;
  INSERT INTO sync_tasks VALUES (p_tenant, p_segment, p_task, p_total, 1)
    ON CONFLICT (tenant, segment_id, task_id)
    DO UPDATE SET pages_received = sync_tasks.pages_received + 1;
  INSERT INTO deliveries (received_at, tenant, segment_id, task_id, page_number, added, removed)
    VALUES (p_at, p_tenant, p_segment, p_task, p_page, cardinality(v_added), cardinality(v_removed));
  -- Last, so the head row is held only from here to the commit (as the store does).
  UPDATE change_feed_head SET last_seq = last_seq + 1 RETURNING last_seq INTO v_seq;
  INSERT INTO changes VALUES (v_seq, p_at, p_tenant, p_segment, p_task, p_page, v_added, v_removed,
                              v_count);
  RETURN v_count;
END $$;`;

/** The tables floor P writes, named as the store names its own. */
export const FLOOR_P_TABLES = [
  'segments',
  'members',
  'sync_tasks',
  'sync_pages',
  'accepted_signatures',
  'deliveries',
  'changes',
] as const;

/** Creates floor P's schema and function in an empty database. */
export async function createFloorPostgres(pool: pg.Pool): Promise<void> {
  await pool.query(FLOOR_P_SCHEMA);
}

/** One delivery: one round trip, one autocommit transaction (a named, prepared statement). */
export async function applyFloorPostgres(pool: pg.Pool, delivery: AcceptedDelivery): Promise<void> {
  const page = delivery.work;
  if (page.kind !== 'sync') throw new Error('floor P applies sync pages only');
  await pool.query({
    name: 'floor-p-apply',
    text: 'SELECT apply_page($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
    values: [
      delivery.signatureKey,
      delivery.meta.receivedAt,
      page.tenant,
      page.segmentId,
      page.segmentName ?? null,
      page.taskId,
      page.pageNumber,
      page.totalPages,
      delivery.meta.bodySha256,
      page.add,
      page.remove,
    ],
  });
}

const cpuNowMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * Applies the workload's pages with `concurrency` calls in flight on a pool of that many
 * connections, as the server runs with that many HTTP connections. Pages are built outside the
 * stopwatch, in chunks, as floor B's are.
 */
/**
 * The SQL the store runs for a lookup (src/store/postgres/store.ts, segmentsOfUser), prepared, one
 * at a time on one connection, for the same users as floor B's: the database and driver alone.
 */
export async function runFloorPostgresLookup(input: FloorPostgresLookup): Promise<LookupFigures> {
  const client = new pg.Client({ connectionString: input.databaseUrl });
  await client.connect();
  try {
    const users = lookupUsers(input.population, input.queries);
    const latencies: number[] = [];
    const cpu0 = cpuNowMs();
    const started = performance.now();
    for (const userId of users) {
      const t0 = performance.now();
      const { rowCount } = await client.query({
        name: 'floor-p-lookup',
        text: SEGMENTS_OF_USER_SQL,
        values: [userId, BENCH_ID_TOKEN],
      });
      latencies.push(performance.now() - t0);
      if (!rowCount) throw new Error(`floor P: no segment for ${userId}`);
    }
    const seconds = (performance.now() - started) / 1000;
    const timedCpuMs = cpuNowMs() - cpu0;
    latencies.sort((a, b) => a - b);
    return {
      queries: users.length,
      seconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      timedCpuMs,
      cpuMs: cpuNowMs(),
      peakRssKb: process.resourceUsage().maxRSS,
    };
  } finally {
    await client.end();
  }
}

export async function runFloorPostgres(input: FloorPostgresApply): Promise<ApplyFigures> {
  const concurrency = Math.max(1, input.concurrency);
  const pool = new pg.Pool({ connectionString: input.databaseUrl, max: concurrency });
  try {
    await createFloorPostgres(pool);
    const chunkSize = concurrency * 20;
    const latencies: number[] = [];
    let pages = 0;
    let timedMs = 0;
    let timedCpuMs = 0;
    const done = () =>
      input.count !== undefined
        ? pages >= input.count
        : timedMs >= (input.durationSeconds ?? 0) * 1000;
    while (!done()) {
      const size = input.count !== undefined ? Math.min(chunkSize, input.count - pages) : chunkSize;
      const chunk = Array.from({ length: size }, (_, k) => acceptedPage(input.workload, pages + k));
      let next = 0;
      const worker = async () => {
        while (next < chunk.length) {
          const delivery = chunk[next++];
          const t0 = performance.now();
          await applyFloorPostgres(pool, delivery);
          latencies.push(performance.now() - t0);
        }
      };
      const cpu0 = cpuNowMs();
      const started = performance.now();
      await Promise.all(Array.from({ length: concurrency }, worker));
      timedMs += performance.now() - started;
      timedCpuMs += cpuNowMs() - cpu0;
      pages += chunk.length;
    }
    latencies.sort((a, b) => a - b);
    return {
      pages,
      users: pages * input.workload.usersPerPage,
      seconds: timedMs / 1000,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies[latencies.length - 1],
      timedCpuMs,
      cpuMs: cpuNowMs(),
      peakRssKb: process.resourceUsage().maxRSS,
    };
  } finally {
    await pool.end();
  }
}

/** The grown scenario on floor P: load pages two in flight, then re-syncs `concurrency` in flight. */
export async function runFloorPostgresGrown(input: FloorPostgresGrown) {
  const concurrency = Math.max(1, input.concurrency);
  const pool = new pg.Pool({ connectionString: input.databaseUrl, max: concurrency });
  try {
    await createFloorPostgres(pool);
    return await runGrownFloor('floor P', input, {
      applyLoadPage: (delivery) => applyFloorPostgres(pool, delivery),
      loadInFlight: 2,
      applyChunk: async (chunk) => {
        const latencies: number[] = [];
        let next = 0;
        const worker = async () => {
          while (next < chunk.length) {
            const delivery = chunk[next++];
            const t0 = performance.now();
            await applyFloorPostgres(pool, delivery);
            latencies.push(performance.now() - t0);
          }
        };
        await Promise.all(Array.from({ length: concurrency }, worker));
        return latencies;
      },
      storeBytes: () => postgresBytes(input.databaseUrl),
    });
  } finally {
    await pool.end();
  }
}

if (require.main === module) {
  const input = JSON.parse(process.argv[2]) as FloorPostgresInput;
  (input.mode === 'apply'
    ? runFloorPostgres(input)
    : input.mode === 'grown'
      ? runFloorPostgresGrown(input)
      : runFloorPostgresLookup(input)
  ).then(
    (figures) => process.stdout.write(`${JSON.stringify(figures)}\n`),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
}
