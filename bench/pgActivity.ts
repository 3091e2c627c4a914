// What PostgreSQL itself does while the bench measures (autovacuum, checkpoints), and settling a freshly filled database first.
import { performance } from 'node:perf_hooks';
import pg from 'pg';

/**
 * Brings a database that was just filled to the state one in service is in: VACUUM (ANALYZE)
 * sets the visibility map and hint bits (else the first reads of each page write it back) and
 * gives the planner statistics, and CHECKPOINT writes the fill's dirty buffers out now. Without
 * it autovacuum/autoanalyze and the checkpoint after a 1,000,000-row fill run during the measured
 * windows (see sampleActivity). Returns a note for the scenario; a role allowed neither (an
 * external DATABASE_URL) is said, not fatal.
 */
export async function settlePostgres(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const done: string[] = [];
  try {
    for (const [name, sql] of [
      ['VACUUM (ANALYZE)', 'VACUUM (ANALYZE)'],
      ['CHECKPOINT', 'CHECKPOINT'],
    ] as const) {
      const started = performance.now();
      try {
        await client.query(sql);
        done.push(`${name} in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      } catch (error) {
        done.push(`${name} refused (${(error as Error).message})`);
      }
    }
  } finally {
    await client.end();
  }
  return (
    `PostgreSQL: right after the fill, ${done.join(', then ')}, as a database in service would ` +
    'have been vacuumed, analysed and checkpointed; else autovacuum and the checkpoint of the fill ' +
    'ran during the measured windows (server and floors alike then measured the catch-up)'
  );
}

/** What the cluster's own processes were seen doing, and the checkpoints that happened. */
export type ActivitySummary = {
  samples: number;
  /** "backend type: wait event (query start)" → samples it was seen in, most seen first. */
  seen: [string, number][];
  /** Tables autovacuum (or a VACUUM) was seen working on, with its phase. */
  vacuums: [string, number][];
  checkpoints: number;
};

const ACTIVITY_SQL = `SELECT backend_type, coalesce(wait_event_type || ':' || wait_event, 'on CPU') AS wait,
    left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 40) AS query
  FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'
    AND (datname IS NULL OR datname = current_database())
    AND backend_type NOT IN ('background writer', 'walwriter', 'checkpointer', 'logical replication launcher', 'autovacuum launcher', 'archiver')`;
const VACUUM_SQL = `SELECT coalesce(c.relname, p.relid::text) || ' (' || p.phase || ')' AS what
  FROM pg_stat_progress_vacuum p LEFT JOIN pg_class c ON c.oid = p.relid
  WHERE p.datname = current_database()`;
const CHECKPOINTS_SQL =
  'SELECT (checkpoints_timed + checkpoints_req)::int AS n, buffers_checkpoint::int AS buffers FROM pg_stat_bgwriter';

/**
 * Samples pg_stat_activity (every process but client backends idle and the fixed auxiliary
 * ones; only this database's, so a shared DATABASE_URL server's other statements never reach
 * the notes) and pg_stat_progress_vacuum every `intervalMs` on its own connection, and counts
 * checkpoints over the window; `stop` ends it. For the notes: it names what the database was
 * busy with while a paced window was measured.
 */
export async function sampleActivity(
  databaseUrl: string,
  intervalMs = 50,
): Promise<{ stop: () => Promise<ActivitySummary> }> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const seen = new Map<string, number>();
  const vacuums = new Map<string, number>();
  const count = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const before = (await client.query<{ n: number }>(CHECKPOINTS_SQL)).rows[0].n;
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const activity = await client.query<{ backend_type: string; wait: string; query: string }>(
        ACTIVITY_SQL,
      );
      for (const row of activity.rows) {
        count(
          seen,
          `${row.backend_type}: ${row.wait}` +
            (row.backend_type === 'client backend' ? ` (${row.query})` : ''),
        );
      }
      for (const row of (await client.query<{ what: string }>(VACUUM_SQL)).rows) {
        count(vacuums, row.what);
      }
      samples++;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      const after = (await client.query<{ n: number }>(CHECKPOINTS_SQL)).rows[0].n;
      await client.end();
      const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
      return { samples, seen: sorted(seen), vacuums: sorted(vacuums), checkpoints: after - before };
    },
  };
}

/** One sentence for the notes. */
export function activityLine(who: string, summary: ActivitySummary): string {
  const list = (entries: [string, number][]) =>
    entries
      .slice(0, 6)
      .map(([what, n]) => `${what} ${n}`)
      .join('; ') || 'nothing';
  return (
    `${who}: PostgreSQL sampled ${summary.samples} times (pg_stat_activity every 50 ms): ${list(summary.seen)}; ` +
    `vacuum in progress: ${list(summary.vacuums)}; checkpoints during the window: ${summary.checkpoints}`
  );
}
