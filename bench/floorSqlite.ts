// Floor C, the SQLite ceiling: raw better-sqlite3 doing the store's work per page, ideal group commit.
import Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { percentile } from './load';
import type { ApplyFigures, LookupFigures } from './floorStore';
import {
  acceptedPage,
  BENCH_ID_TOKEN,
  lookupUsers,
  type LookupPopulation,
  type Workload,
} from './workload';
import { SEGMENTS_OF_USER_SQL } from '../src/store/sqlite/store';
import { encodeUserList } from '../src/store/sqlite/userLists';
import type { AcceptedDelivery, SyncPage } from '../src/store/types';
import { runGrownFloor, sqliteBytes, type GrownRunInput } from './grownFloor';

export type FloorSqliteInput = FloorSqliteApply | FloorSqliteLookup | FloorSqliteGrown;

/** Floor C of the grown scenario: the same load and re-sync pages, on a file of its own. */
export type FloorSqliteGrown = { mode: 'grown'; file: string } & GrownRunInput;

export type FloorSqliteApply = {
  mode: 'apply';
  file: string;
  workload: Workload;
  /** Pages per transaction: as many as the server scenario has connections (ideal group commit). */
  concurrency: number;
  /** Apply pages until this much apply time has passed… */
  durationSeconds?: number;
  /** …or exactly this many pages. */
  count?: number;
};

/** The lookup scenario's floor C: the store's own user → segments query, raw, on its file. */
export type FloorSqliteLookup = {
  mode: 'lookup';
  /** The store file the lookup scenario filled (opened read-only). */
  file: string;
  population: LookupPopulation;
  queries: number;
};

/** Random lookups one at a time (the same users as floor B's), each timed. */
export function runFloorSqliteLookup(input: FloorSqliteLookup): LookupFigures {
  const db = new Database(input.file, { readonly: true, fileMustExist: true });
  try {
    // The store's own statement, so floor C times the engine and driver alone: no store method,
    // no promise, no row mapping.
    const statement = db.prepare(SEGMENTS_OF_USER_SQL);
    const users = lookupUsers(input.population, input.queries);
    const latencies: number[] = [];
    const cpu0 = cpuNowMs();
    const started = performance.now();
    for (const userId of users) {
      const t0 = performance.now();
      const rows = statement.all(BENCH_ID_TOKEN, userId);
      latencies.push(performance.now() - t0);
      if (rows.length === 0) throw new Error(`floor C: no segment for ${userId}`);
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
    db.close();
  }
}

/**
 * A lean schema holding what the store writes for one applied sync page, one row or index entry
 * for each: the membership rows (integer user keys from a per-tenant user dictionary, as the
 * store's layout since migration 005, keyed user first as since 007) and the segment → users index, the page claim, the replay key,
 * the deliveries-log row, a change-feed row with the user lists (as the store keeps
 * them: JSON text, deflated from 4 KiB), the segment's count and the sync task's progress. It leaves out what only the store's
 * retention and admin queries need (indexes by time, the change feed by segment) and the
 * columns nobody reads back.
 */
const SCHEMA = `
CREATE TABLE segments (
  sid INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  name TEXT,
  member_count INTEGER NOT NULL DEFAULT 0,
  last_sync_at INTEGER,
  UNIQUE (tenant, segment_id)
);
CREATE TABLE tenants (
  tk INTEGER PRIMARY KEY,
  tenant TEXT NOT NULL UNIQUE,
  users INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE users (
  uk INTEGER PRIMARY KEY,
  tk INTEGER NOT NULL,
  user_id TEXT NOT NULL
);
CREATE UNIQUE INDEX users_by_id ON users (tk, user_id);
CREATE TABLE members (
  uk INTEGER NOT NULL,
  sid INTEGER NOT NULL,
  added_at INTEGER NOT NULL,
  PRIMARY KEY (uk, sid)
) WITHOUT ROWID;
CREATE INDEX members_by_segment ON members (sid, uk);
CREATE TABLE sync_tasks (
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  total_pages INTEGER NOT NULL,
  pages_received INTEGER NOT NULL,
  PRIMARY KEY (tenant, segment_id, task_id)
) WITHOUT ROWID;
CREATE TABLE sync_pages (
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  page_number INTEGER NOT NULL,
  body_sha256 TEXT,
  PRIMARY KEY (tenant, segment_id, task_id, page_number)
) WITHOUT ROWID;
CREATE TABLE accepted_signatures (
  signature_key TEXT PRIMARY KEY,
  received_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  received_at INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  page_number INTEGER NOT NULL,
  added INTEGER NOT NULL,
  removed INTEGER NOT NULL
);
CREATE TABLE delivery_counts (
  minute INTEGER NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (minute, status, reason)
) WITHOUT ROWID;
CREATE TRIGGER deliveries_counted AFTER INSERT ON deliveries BEGIN
  INSERT INTO delivery_counts (minute, status, reason, count)
  VALUES (new.received_at - new.received_at % 60000, 'applied', '', 1)
  ON CONFLICT (minute, status, reason) DO UPDATE SET count = count + 1;
END;
CREATE TABLE changes (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  tenant TEXT NOT NULL,
  segment_id INTEGER NOT NULL,
  task_id TEXT NOT NULL,
  page_number INTEGER NOT NULL,
  added TEXT NOT NULL,
  removed TEXT NOT NULL,
  member_count INTEGER NOT NULL
);`;

/** The tables floor C writes, named as the store names its own (a test compares the counts). */
export const FLOOR_C_TABLES = [
  'segments',
  'tenants',
  'users',
  'members',
  'sync_tasks',
  'sync_pages',
  'accepted_signatures',
  'deliveries',
  'changes',
] as const;

/**
 * Floor C over one SQLite file: WAL, synchronous=FULL (power-loss durable, as the store), one
 * BEGIN IMMEDIATE … COMMIT per batch and no savepoint per page (the ideal: nothing fails here).
 */
export class FloorSqlite {
  readonly db: Database.Database;
  private readonly s;
  /** The segment keys seen so far (and their tenant's key): one INSERT the first time, a map lookup after. */
  private readonly sids = new Map<string, { sid: number; tk: number }>();
  private readonly tks = new Map<string, number>();

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.s = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      replayKey: db.prepare(
        'INSERT OR IGNORE INTO accepted_signatures (signature_key, received_at) VALUES (?, ?)',
      ),
      claimPage: db.prepare(
        `INSERT OR IGNORE INTO sync_pages (tenant, segment_id, task_id, page_number, body_sha256)
         VALUES (?, ?, ?, ?, ?)`,
      ),
      newSegment: db.prepare(
        'INSERT INTO segments (tenant, segment_id, name) VALUES (?, ?, ?) RETURNING sid',
      ),
      newTenant: db.prepare('INSERT INTO tenants (tenant) VALUES (?) RETURNING tk'),
      userKey: db.prepare('SELECT uk FROM users WHERE tk = ? AND user_id = ?').pluck(),
      newUser: db.prepare('INSERT INTO users (tk, user_id) VALUES (?, ?) RETURNING uk').pluck(),
      // The store drops a user's dictionary row with its last membership.
      dropOrphan: db.prepare(
        'DELETE FROM users WHERE uk = ? AND NOT EXISTS (SELECT 1 FROM members WHERE uk = ?)',
      ),
      countUsers: db.prepare('UPDATE tenants SET users = users + ? WHERE tk = ?'),
      removeMember: db.prepare('DELETE FROM members WHERE sid = ? AND uk = ?'),
      addMember: db.prepare('INSERT OR IGNORE INTO members (sid, uk, added_at) VALUES (?, ?, ?)'),
      count: db.prepare(
        `UPDATE segments SET member_count = member_count + ?, last_sync_at = ? WHERE sid = ?
         RETURNING member_count`,
      ),
      task: db.prepare(
        `INSERT INTO sync_tasks (tenant, segment_id, task_id, total_pages, pages_received)
         VALUES (?, ?, ?, ?, 1)
         ON CONFLICT DO UPDATE SET pages_received = pages_received + 1`,
      ),
      log: db.prepare(
        `INSERT INTO deliveries (received_at, tenant, segment_id, task_id, page_number, added, removed)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      change: db.prepare(
        `INSERT INTO changes (at, tenant, segment_id, task_id, page_number, added, removed,
                              member_count)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
    // One statement per user rather than json_each (the store's way): with the small scenario's
    // churn, members alone (no fsync), the loop took 0.30-0.33 ms a page against 0.38-0.46 for
    // json_each; with the large one they were even (4.5-5.2 ms both), so the floor uses the loop.
  }

  /** Applies these pages in one transaction; every one must be a new sync page. */
  applyBatch(deliveries: AcceptedDelivery[]): void {
    this.s.begin.run();
    for (const delivery of deliveries) this.applyOne(delivery);
    this.s.commit.run();
  }

  private sid(page: SyncPage): { sid: number; tk: number } {
    const key = `${page.tenant}\u0000${page.segmentId}`;
    let known = this.sids.get(key);
    if (known === undefined) {
      const row = this.s.newSegment.get(page.tenant, page.segmentId, page.segmentName ?? null);
      let tk = this.tks.get(page.tenant);
      if (tk === undefined) {
        tk = (this.s.newTenant.get(page.tenant) as { tk: number }).tk;
        this.tks.set(page.tenant, tk);
      }
      known = { sid: (row as { sid: number }).sid, tk };
      this.sids.set(key, known);
    }
    return known;
  }

  private applyOne(delivery: AcceptedDelivery): void {
    const page = delivery.work;
    if (page.kind !== 'sync') throw new Error('floor C applies sync pages only');
    const now = delivery.meta.receivedAt;
    const s = this.s;
    if (s.replayKey.run(delivery.signatureKey, now).changes === 0) {
      throw new Error('floor C: a replayed signature');
    }
    const key = [page.tenant, page.segmentId, page.taskId, page.pageNumber] as const;
    if (s.claimPage.run(...key, delivery.meta.bodySha256).changes === 0) {
      throw new Error('floor C: a page claimed twice');
    }
    const { sid, tk } = this.sid(page);
    const removed: string[] = [];
    let users = 0;
    for (const user of page.remove) {
      const uk = s.userKey.get(tk, user) as number | undefined;
      if (uk === undefined || s.removeMember.run(sid, uk).changes === 0) continue;
      removed.push(user);
      users -= s.dropOrphan.run(uk, uk).changes;
    }
    const added: string[] = [];
    for (const user of page.add) {
      let uk = s.userKey.get(tk, user) as number | undefined;
      if (uk === undefined) {
        uk = s.newUser.get(tk, user) as number;
        users++;
      }
      if (s.addMember.run(sid, uk, now).changes > 0) added.push(user);
    }
    if (users !== 0) s.countUsers.run(users, tk);
    const { member_count: memberCount } = s.count.get(added.length - removed.length, now, sid) as {
      member_count: number;
    };
    s.task.run(page.tenant, page.segmentId, page.taskId, page.totalPages);
    s.log.run(now, ...key, added.length, removed.length);
    s.change.run(now, ...key, encodeUserList(added), encodeUserList(removed), memberCount);
  }

  /** Rows in each table, for the test that compares floor C with the store. */
  rowCounts(): Record<(typeof FLOOR_C_TABLES)[number], number> {
    const counts = {} as Record<(typeof FLOOR_C_TABLES)[number], number>;
    for (const table of FLOOR_C_TABLES) {
      counts[table] = (
        this.db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }
      ).n;
    }
    return counts;
  }

  close(): void {
    this.db.close();
  }
}

const cpuNowMs = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
};

/**
 * Applies the workload's pages in batches of `concurrency`, one transaction each, as the server
 * would if every connection's page shared each commit. Pages are built and parsed in chunks
 * outside the stopwatch (and outside the CPU count), as floor B's are; every page of a batch is
 * answered at its commit, so the batch's time is each of its pages' latency.
 */
export function runFloorSqlite(input: FloorSqliteApply): ApplyFigures {
  const floor = new FloorSqlite(input.file);
  try {
    const batch = Math.max(1, input.concurrency);
    const chunkSize = batch * 20;
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
      const cpu0 = cpuNowMs();
      const started = performance.now();
      for (let first = 0; first < chunk.length; first += batch) {
        const t0 = performance.now();
        const group = chunk.slice(first, first + batch);
        floor.applyBatch(group);
        const ms = performance.now() - t0;
        for (let k = 0; k < group.length; k++) latencies.push(ms);
      }
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
    floor.close();
  }
}

/**
 * The grown scenario on floor C: each load page its own transaction (as the store commits a lone
 * page), then re-sync pages in batches of `concurrency` a transaction (ideal group commit).
 */
export async function runFloorSqliteGrown(input: FloorSqliteGrown) {
  const floor = new FloorSqlite(input.file);
  try {
    return await runGrownFloor('floor C', input, {
      applyLoadPage: (delivery) => Promise.resolve(floor.applyBatch([delivery])),
      loadInFlight: 1,
      applyChunk: (chunk) => {
        const batch = Math.max(1, input.concurrency);
        const latencies: number[] = [];
        for (let first = 0; first < chunk.length; first += batch) {
          const t0 = performance.now();
          const group = chunk.slice(first, first + batch);
          floor.applyBatch(group);
          const ms = performance.now() - t0;
          for (let k = 0; k < group.length; k++) latencies.push(ms);
        }
        return Promise.resolve(latencies);
      },
      storeBytes: () => Promise.resolve(sqliteBytes(input.file)),
    });
  } finally {
    floor.close();
  }
}

if (require.main === module) {
  const input = JSON.parse(process.argv[2]) as FloorSqliteInput;
  Promise.resolve()
    .then((): unknown =>
      input.mode === 'apply'
        ? runFloorSqlite(input)
        : input.mode === 'grown'
          ? runFloorSqliteGrown(input)
          : runFloorSqliteLookup(input),
    )
    .then(
      (figures) => process.stdout.write(`${JSON.stringify(figures)}\n`),
      (error: unknown) => {
        process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
        process.exit(1);
      },
    );
}
