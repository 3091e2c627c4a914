// The bench's same-work floors write what the store writes, and its CPU-per-page arithmetic.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { applyFloorPostgres, createFloorPostgres, FLOOR_P_TABLES } from '../../bench/floorPostgres';
import { FLOOR_C_TABLES, FloorSqlite, runFloorSqliteLookup } from '../../bench/floorSqlite';
import { cpuMsPerPage } from '../../bench/machine';
import { ratioTable, type ScenarioReport } from '../../bench/report';
import { statCpuMs } from '../../bench/processes';
import { acceptedPage, populationPage, populationPages, type Workload } from '../../bench/workload';
import { openPostgresStore } from '../../src/store/postgres';
import { SqliteStore } from '../../src/store/sqlite/store';
import { decodeUserList } from '../../src/store/sqlite/userLists';
import type { AcceptedDelivery } from '../../src/store/types';
import { describePostgres } from '../support/describePostgres';
import { createDatabase } from '../support/postgres';
import { tempDir } from '../support/testApp';
import { benchMeasurement } from '../support/benchMeasurement';

/**
 * Small pages whose removes reach real members after four pages (the first four remove users
 * that never joined, which the store does not count as removed), over two segments and tasks of
 * two pages, so segments, tasks and the feed all take several rows.
 */
const WORKLOAD: Workload = {
  name: 'floors',
  usersPerPage: 10,
  pagesPerTask: 2,
  segments: 2,
  churn: true,
  lagTasks: 1,
  segmentBase: 40,
  ids: 'random',
};
const PAGES = 30;

const pages = (): AcceptedDelivery[] =>
  Array.from({ length: PAGES }, (_, i) => acceptedPage(WORKLOAD, i));

type Counts = Record<string, number>;

function sqliteCounts(db: Database.Database, tables: readonly string[]): Counts {
  const counts: Counts = {};
  for (const table of tables) {
    counts[table] = (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  }
  return counts;
}

/** What the feed and the segments say, comparable across the store and a floor. */
type Outcome = {
  sizes: { segment_id: number; member_count: number }[];
  feed: { segment_id: number; added: string[]; removed: string[]; member_count: number }[];
};

function sqliteOutcome(db: Database.Database): Outcome {
  const feed = db
    .prepare('SELECT segment_id, added, removed, member_count FROM changes ORDER BY seq')
    .all() as {
    segment_id: number;
    added: string | Buffer;
    removed: string | Buffer;
    member_count: number;
  }[];
  return {
    sizes: db
      .prepare('SELECT segment_id, member_count FROM segments ORDER BY segment_id')
      .all() as Outcome['sizes'],
    feed: feed.map((row) => ({
      ...row,
      // As sets: the store lists a page's changes in the order the database hands rows back, the
      // floor in page order; with random ids (the bench's default) the two differ.
      added: decodeUserList(row.added).sort(),
      removed: decodeUserList(row.removed).sort(),
    })),
  };
}

describe('bench CPU per page', () => {
  it('reads utime + stime from a /proc stat line, whatever the command name holds', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const line = '4242 (node (x) y) S 1 4242 4242 0 -1 4194560 900 0 3 0 250 37 0 0 20 0 11 0';
    expect(statCpuMs(line)).toBe((250 + 37) * 10);
  });

  it("agrees with this process's own CPU clock within the kernel's tick", () => {
    const fromProc = statCpuMs(readFileSync('/proc/self/stat', 'utf8'));
    const usage = process.cpuUsage();
    const own = (usage.user + usage.system) / 1000;
    // /proc counts whole 10 ms ticks per thread (user and system each round down).
    expect(fromProc).toBeGreaterThan(0);
    expect(Math.abs(fromProc - own)).toBeLessThan(100);
  });

  it('divides the CPU of the window by the pages applied, and makes nothing up for none', () => {
    expect(cpuMsPerPage(1230, 410)).toBe(3);
    expect(cpuMsPerPage(1230, 0)).toBeNaN();
    expect(cpuMsPerPage(NaN, 10)).toBeNaN();
  });
});

const measured = benchMeasurement;

describe('bench ratio table', () => {
  it('gives every server figure as a share of floors A, B and the same-work floor', () => {
    const reports: ScenarioReport[] = [
      {
        backend: 'SQLite',
        scenario: 'small',
        run: {
          server: measured({ pagesPerSec: 500, p99Ms: 12, cpuMsPerPage: 3 }),
          floorA: measured({ pagesPerSec: 1000 }),
          floorB: measured({ pagesPerSec: 625 }),
          floorSame: measured({ pagesPerSec: 2000, p99Ms: 4, cpuMsPerPage: 0.6 }),
          problems: [],
          notes: [],
        },
      },
      {
        backend: 'PostgreSQL',
        scenario: 'huge',
        run: {
          server: measured({ maxMs: 900, cpuMsPerPage: 300, databaseCpuMsPerPage: 120 }),
          floorA: measured({ maxMs: 100 }),
          floorB: measured({ maxMs: 600 }),
          floorSame: measured({ maxMs: 450, cpuMsPerPage: 50 }),
          problems: [],
          notes: [],
        },
      },
      {
        backend: 'SQLite',
        scenario: 'lookup',
        run: {
          server: measured({ p99Ms: 2.5, cpuMsPerPage: 0.4 }),
          floorA: measured({ p99Ms: 1 }),
          floorB: measured({ p99Ms: 0.1 }),
          floorSame: measured({ p99Ms: 0.05, cpuMsPerPage: 0.02 }),
          problems: [],
          notes: [],
        },
      },
      { backend: 'PostgreSQL', scenario: 'small', skipped: 'no cluster' },
    ];
    const rows = ratioTable(reports).filter((line) => /^\| (SQLite|PostgreSQL) /.test(line));
    const cells = rows.map((row) =>
      row
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
    expect(cells).toEqual([
      [
        'SQLite',
        'small',
        'pages/s (more is better)',
        '500.0',
        '50 %',
        '80 %',
        '25 % (C)',
        '3.0×',
        '3.00',
        '—',
        '0.60',
        '5.00×',
      ],
      [
        'PostgreSQL',
        'huge',
        'slowest page, ms (less is better)',
        '900',
        '9.00×',
        '1.50×',
        '2.00× (P)',
        '—',
        '300.00',
        '120.00',
        '50.00',
        '6.00×',
      ],
      [
        'SQLite',
        'lookup',
        'p99 ms at the paced rate (less is better); CPU per lookup',
        '2.50',
        '2.5×',
        '25.0×',
        '50.0× (C)',
        '—',
        '0.40',
        '—',
        '0.02',
        '20.00×',
      ],
    ]);
  });
});

describe('floor C (raw better-sqlite3) does the SQLite store’s work per page', () => {
  it('writes the same rows, sizes and change feed as the store for the same pages', async () => {
    const dir = tempDir('hpa-floor-c-');
    const deliveries = pages();

    const store = new SqliteStore({ file: path.join(dir, 'store.sqlite') });
    for (const delivery of deliveries) {
      expect((await store.applyDelivery(delivery)).status).toBe('applied');
    }
    await store.close();
    const storeDb = new Database(path.join(dir, 'store.sqlite'), { readonly: true });

    const floor = new FloorSqlite(path.join(dir, 'floor-c.db'));
    // In batches, as the bench runs it: three connections' pages per transaction.
    for (let first = 0; first < deliveries.length; first += 3) {
      floor.applyBatch(deliveries.slice(first, first + 3));
    }
    try {
      const floorCounts = floor.rowCounts();
      expect(floorCounts).toEqual(sqliteCounts(storeDb, FLOOR_C_TABLES));
      expect(floorCounts.deliveries).toBe(PAGES);
      expect(floorCounts.changes).toBe(PAGES);
      // The removes did reach members: the store and the floor agree on a steady size.
      const storeOutcome = sqliteOutcome(storeDb);
      expect(storeOutcome.feed.some((change) => change.removed.length > 0)).toBe(true);
      expect(sqliteOutcome(floor.db)).toEqual(storeOutcome);
      // Every page advanced its task, in both.
      const progress = (db: Database.Database) =>
        db.prepare('SELECT task_id, pages_received FROM sync_tasks ORDER BY task_id').all();
      expect(progress(floor.db)).toEqual(progress(storeDb));
    } finally {
      floor.close();
      storeDb.close();
    }
  });

  it("runs the store's lookup query raw on a store file, finding every user it asks for", async () => {
    const file = path.join(tempDir('hpa-floor-c-'), 'store.sqlite');
    const population = { segments: 3, membersPerSegment: 40, users: 60, pageSize: 25 };
    const store = new SqliteStore({ file });
    for (let i = 0; i < populationPages(population); i++) {
      await store.applyDelivery(populationPage(population, i));
    }
    await store.close();
    const figures = runFloorSqliteLookup({ mode: 'lookup', file, population, queries: 200 });
    expect(figures.queries).toBe(200);
    expect(figures.p99Ms).toBeGreaterThan(0);
    // A store without those users: floor C says so rather than timing empty answers.
    const empty = path.join(tempDir('hpa-floor-c-'), 'store.sqlite');
    await new SqliteStore({ file: empty }).close();
    expect(() =>
      runFloorSqliteLookup({ mode: 'lookup', file: empty, population, queries: 1 }),
    ).toThrow(/no segment/);
  });

  it('refuses a page it has applied before, as a floor that skipped the claim could not', () => {
    const floor = new FloorSqlite(path.join(tempDir('hpa-floor-c-'), 'floor-c.db'));
    try {
      const [first] = pages();
      floor.applyBatch([first]);
      expect(() => floor.applyBatch([{ ...first, signatureKey: 'another' }])).toThrow(
        /claimed twice/,
      );
    } finally {
      floor.close();
    }
  });
});

describePostgres('floor P (one PL/pgSQL call) does the PostgreSQL store’s work', (baseUrl) => {
  const count = async (client: pg.Client, tables: readonly string[]): Promise<Counts> => {
    const counts: Counts = {};
    for (const table of tables) {
      counts[table] = Number(
        ((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0] as { n: string }).n,
      );
    }
    return counts;
  };
  const outcome = async (client: pg.Client) => ({
    sizes: (
      await client.query(
        'SELECT segment_id::int, member_count::int FROM segments ORDER BY segment_id',
      )
    ).rows,
    feed: (
      await client.query(
        'SELECT seq::int, segment_id::int, added, removed, member_count::int FROM changes ORDER BY seq',
      )
    ).rows,
  });

  it('writes the same rows, sizes and gap-free change feed as the store', async () => {
    const deliveries = pages();
    const storeUrl = await createDatabase(baseUrl, 'floorp_store');
    const floorUrl = await createDatabase(baseUrl, 'floorp');

    const store = await openPostgresStore({ url: storeUrl });
    for (const delivery of deliveries) {
      expect((await store.applyDelivery(delivery)).status).toBe('applied');
    }
    await store.close();

    const pool = new pg.Pool({ connectionString: floorUrl, max: 3 });
    try {
      await createFloorPostgres(pool);
      for (const delivery of deliveries) await applyFloorPostgres(pool, delivery);
      // A page applied twice is refused, inside the one call.
      await expect(
        applyFloorPostgres(pool, { ...deliveries[0], signatureKey: 'another' }),
      ).rejects.toThrow(/claimed twice/);
    } finally {
      await pool.end();
    }

    const storeClient = new pg.Client({ connectionString: storeUrl });
    const floorClient = new pg.Client({ connectionString: floorUrl });
    await storeClient.connect();
    await floorClient.connect();
    try {
      const floorCounts = await count(floorClient, FLOOR_P_TABLES);
      expect(floorCounts).toEqual(await count(storeClient, FLOOR_P_TABLES));
      expect(floorCounts.changes).toBe(PAGES);
      const floorOutcome = await outcome(floorClient);
      expect(floorOutcome).toEqual(await outcome(storeClient));
      expect(floorOutcome.feed.map((row: { seq: number }) => row.seq)).toEqual(
        Array.from({ length: PAGES }, (_, i) => i + 1),
      );
    } finally {
      await storeClient.end();
      await floorClient.end();
    }
  });
});
