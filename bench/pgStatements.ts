// Where PostgreSQL's work per delivery goes: the statements, database CPU and wait events of the server, the store's own applyDelivery and floor P, same pages.
//
//   npm run build && node dist/bench/pgStatements.js [--pages 1500] [--warm 200] [--connections 10]
//     [--modes store,server,floor]   (default: store,server)
//
// It starts a throwaway cluster (as the tests do) with pg_stat_statements (track = all, so the
// statements inside apply_delivery() show too), then on a fresh database each: 'store' applies
// the small scenario's pages through Store.applyDelivery with `connections` calls in flight (what
// floor B does), 'server' sends the same pages to the built server over HTTP with as many
// connections, 'floor' applies them through floor P's function (bench/floorPostgres.ts). Database CPU is read per client backend of that database from /proc (the
// cluster's other processes, autovacuum or the checkpointer, are listed apart), over exactly the
// measured pages; pg_stat_activity is sampled meanwhile for what the backends wait on.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { findPostgresBin, startCluster } from '../test/support/postgres';
import { openBenchStore, postmasterPid, type Place } from './backends';
import { AUTOCANNON_SERVER_ENV, runLoad } from './load';
import { cpuMsOf, startListening, treeCpuMsOf } from './processes';
import { FULL } from './scenarios';
import { acceptedPage, signedPage } from './workload';
import { applyFloorPostgres, createFloorPostgres } from './floorPostgres';
import type { AcceptedDelivery } from '../src/store/types';

const SERVER_ENTRY = path.join(__dirname, '..', 'src', 'server', 'main.js');
const SECRET = 'pg-statements-secret';

type Options = { pages: number; warm: number; connections: number; sampleMs: number };

type Statement = { query: string; toplevel: boolean; calls: number; ms: number; rows: number };

type Result = {
  mode: string;
  pages: number;
  seconds: number;
  /** CPU of this database's client backends over the measured pages. */
  backendCpuMs: number;
  /** The whole cluster (postmaster tree) over the same window. */
  clusterCpuMs: number;
  /** The process that made the calls (the server, or this process for 'store'). */
  processCpuMs: number;
  statements: Statement[];
  /** Backends of the database per state and wait event, summed over samples. */
  waits: Map<string, number>;
  samples: number;
};

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

async function backendPids(admin: pg.Client, database: string): Promise<number[]> {
  const { rows } = await admin.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'`,
    [database],
  );
  return rows.map((row) => row.pid);
}

/** Samples what the database's client backends do until stopped. */
function sampler(admin: pg.Client, database: string, everyMs: number) {
  const waits = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const running = (async () => {
    while (!stopped) {
      const { rows } = await admin.query<{ key: string; n: number }>(
        `SELECT coalesce(state, '?') || ' ' || coalesce(wait_event_type, '-') || ':' ||
                coalesce(wait_event, '-') AS key, count(*)::int AS n
         FROM pg_stat_activity WHERE datname = $1 AND backend_type = 'client backend'
         GROUP BY 1`,
        [database],
      );
      samples++;
      for (const row of rows) waits.set(row.key, (waits.get(row.key) ?? 0) + row.n);
      await sleep(everyMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await running;
      return { waits, samples };
    },
  };
}

async function statements(admin: pg.Client, database: string): Promise<Statement[]> {
  const { rows } = await admin.query<Statement>(
    `SELECT s.query, s.toplevel, s.calls::float8 AS calls,
            (s.total_exec_time + s.total_plan_time)::float8 AS ms, s.rows::float8 AS rows
     FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
     WHERE d.datname = $1 ORDER BY ms DESC`,
    [database],
  );
  return rows;
}

/**
 * Runs `work` (the measured pages) with the database's backends metered: warm-up done by the
 * caller, so the pool's connections exist and have prepared their statements.
 */
async function metered(
  admin: pg.Client,
  root: number,
  database: string,
  options: Options,
  processCpuMs: () => number,
  work: () => Promise<number>,
): Promise<Omit<Result, 'mode'>> {
  const before = new Map((await backendPids(admin, database)).map((pid) => [pid, cpuMsOf(pid)]));
  await admin.query('SELECT pg_stat_statements_reset()');
  const cluster0 = treeCpuMsOf(root);
  const process0 = processCpuMs();
  const sampling = sampler(admin, database, options.sampleMs);
  const started = performance.now();
  const pages = await work();
  const seconds = (performance.now() - started) / 1000;
  const { waits, samples } = await sampling.stop();
  const clusterCpuMs = treeCpuMsOf(root) - cluster0;
  const process1 = processCpuMs();
  let backendCpuMs = 0;
  for (const pid of await backendPids(admin, database)) {
    backendCpuMs += cpuMsOf(pid) - (before.get(pid) ?? 0);
  }
  return {
    pages,
    seconds,
    backendCpuMs,
    clusterCpuMs,
    processCpuMs: process1 - process0,
    statements: await statements(admin, database),
    waits,
    samples,
  };
}

const ownCpuMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * The small scenario's warm-up and measured pages, applied in process by `applyOne` with
 * `connections` calls in flight (the store alone, or floor P): the warm-up unmetered.
 */
async function inProcess(
  admin: pg.Client,
  root: number,
  database: string,
  options: Options,
  applyOne: (delivery: AcceptedDelivery) => Promise<void>,
): Promise<Omit<Result, 'mode'>> {
  const workload = FULL.small.workload;
  const deliveries = Array.from({ length: options.warm + options.pages }, (_, i) =>
    acceptedPage(workload, i),
  );
  const apply = async (from: number, to: number) => {
    let next = from;
    const worker = async () => {
      while (next < to) await applyOne(deliveries[next++]);
    };
    await Promise.all(Array.from({ length: options.connections }, worker));
    return to - from;
  };
  await apply(0, options.warm);
  return metered(admin, root, database, options, ownCpuMs, () =>
    apply(options.warm, options.warm + options.pages),
  );
}

async function viaStore(
  admin: pg.Client,
  root: number,
  place: Place,
  database: string,
  options: Options,
): Promise<Result> {
  const store = await openBenchStore(place);
  try {
    const measured = await inProcess(admin, root, database, options, async (delivery) => {
      const outcome = await store.applyDelivery(delivery);
      if (outcome.status !== 'applied') throw new Error(`not applied: ${outcome.status}`);
    });
    return { mode: `store: Store.applyDelivery, ${options.connections} in flight`, ...measured };
  } finally {
    await store.close();
  }
}

/** Floor P's one PL/pgSQL call per delivery (bench/floorPostgres.ts), the same pages in flight. */
async function viaFloor(
  admin: pg.Client,
  root: number,
  place: Place,
  database: string,
  options: Options,
): Promise<Result> {
  const pool = new pg.Pool({ connectionString: place.databaseUrl, max: options.connections });
  try {
    await createFloorPostgres(pool);
    const measured = await inProcess(admin, root, database, options, (delivery) =>
      applyFloorPostgres(pool, delivery),
    );
    return {
      mode: `floor P: one PL/pgSQL call a delivery, ${options.connections} in flight`,
      ...measured,
    };
  } finally {
    await pool.end();
  }
}

async function viaServer(
  admin: pg.Client,
  root: number,
  place: Place,
  database: string,
  options: Options,
): Promise<Result> {
  const workload = FULL.small.workload;
  const server = await startListening(
    SERVER_ENTRY,
    {
      DATA_DIR: place.dataDir,
      DATABASE_URL: place.databaseUrl as string,
      ...AUTOCANNON_SERVER_ENV,
      WEBHOOK_SECRET: SECRET,
      ADMIN_TOKEN: 'pg-statements-admin-token-0123456789',
    },
    path.join(place.dataDir, 'server.log'),
  );
  try {
    await sleep(1500);
    const pages = Array.from({ length: options.warm + options.pages }, (_, i) =>
      signedPage(workload, i, SECRET),
    );
    const send = async (from: number, to: number) => {
      let next = from;
      const result = await runLoad({
        url: server.url,
        method: 'POST',
        connections: options.connections,
        durationSeconds: 0,
        amount: to - from,
        next: () => {
          const page = pages[next++];
          return {
            path: '/webhook',
            headers: { 'content-type': 'application/json', 'heap-hash': page.heapHash },
            body: page.body,
          };
        },
      });
      if (result.non2xx > 0 || result.errors > 0) {
        throw new Error(`server answered ${JSON.stringify(result.statusCodes)}`);
      }
      return result.ok;
    };
    await send(0, options.warm);
    const measured = await metered(
      admin,
      root,
      database,
      options,
      () => cpuMsOf(server.pid),
      () => send(options.warm, options.warm + options.pages),
    );
    return { mode: `server: HTTP, ${options.connections} connections`, ...measured };
  } finally {
    await server.stop();
  }
}

function render(result: Result): string {
  const perPage = (ms: number) => (ms / result.pages).toFixed(2);
  const lines = [
    `## ${result.mode}`,
    '',
    `${result.pages} pages in ${result.seconds.toFixed(1)} s = ${(result.pages / result.seconds).toFixed(1)} pages/s; ` +
      `CPU ms per page: database client backends ${perPage(result.backendCpuMs)}, whole cluster ` +
      `${perPage(result.clusterCpuMs)}, calling process ${perPage(result.processCpuMs)}; load average ${os.loadavg()[0].toFixed(2)}`,
    '',
    '| statement | top level | calls per page | ms per page (plan + exec) | rows per call |',
    '| --- | :-: | --: | --: | --: |',
  ];
  for (const s of result.statements) {
    const query = s.query.replace(/\s+/g, ' ').slice(0, 90).replace(/\|/g, '\\|');
    lines.push(
      `| ${query} | ${s.toplevel ? 'yes' : 'no'} | ${(s.calls / result.pages).toFixed(3)} | ` +
        `${perPage(s.ms)} | ${(s.rows / Math.max(1, s.calls)).toFixed(1)} |`,
    );
  }
  lines.push(
    '',
    `client backends per state and wait event, average over ${result.samples} samples:`,
  );
  for (const [key, n] of [...result.waits].sort((a, b) => b[1] - a[1])) {
    lines.push(`- ${key}: ${(n / result.samples).toFixed(2)}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const options: Options = {
    pages: flag('pages', 1500),
    warm: flag('warm', 200),
    connections: flag('connections', FULL.small.connections),
    sampleMs: flag('sample-ms', 20),
  };
  const modes = (
    process.argv.includes('--modes')
      ? process.argv[process.argv.indexOf('--modes') + 1]
      : 'store,server'
  ).split(',');
  const unknown = modes.filter((mode) => !['store', 'server', 'floor'].includes(mode));
  if (unknown.length > 0) {
    throw new Error(`--modes: unknown ${unknown.join(', ')} (store, server and floor are known)`);
  }
  const bin = findPostgresBin();
  if (!bin) throw new Error('no PostgreSQL binaries (initdb, pg_ctl) found');
  const cluster = await startCluster(bin);
  try {
    const setup = new pg.Client({ connectionString: cluster.url() });
    await setup.connect();
    await setup.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
    await setup.end();
    cluster.stop();
    cluster.start();
    const admin = new pg.Client({ connectionString: cluster.url() });
    await admin.connect();
    await admin.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await admin.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
    await admin.query('ALTER SYSTEM SET pg_stat_statements.track_planning = on');
    await admin.query('SELECT pg_reload_conf()');
    await sleep(200);
    const root = postmasterPid(cluster);
    if (root === undefined) throw new Error('no postmaster pid');
    const workDir = mkdtempSync(path.join(os.tmpdir(), 'hpa-pgstatements-'));
    for (const mode of modes) {
      const database = `m_${mode}_${Date.now()}`;
      await admin.query(`CREATE DATABASE ${database}`);
      const place: Place = {
        dataDir: mkdtempSync(path.join(workDir, `${mode}-`)),
        databaseUrl: cluster.url(database),
      };
      const result =
        mode === 'server'
          ? await viaServer(admin, root, place, database, options)
          : mode === 'floor'
            ? await viaFloor(admin, root, place, database, options)
            : await viaStore(admin, root, place, database, options);
      process.stdout.write(`${render(result)}\n\n`);
    }
    await admin.end();
  } finally {
    cluster.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
