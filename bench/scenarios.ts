// The bench scenarios (issue 6) at full size and at CI smoke size (--quick), and their targets.
import type { GrownShape } from './grown';
import type { LookupPopulation, Workload } from './workload';

export type IngestScenario = {
  name: 'small' | 'small-sequential' | 'large';
  workload: Workload;
  connections: number;
  durationSeconds: number;
  /** Quick mode: exactly this many pages instead of a duration. */
  amount?: number;
};

export type HugeScenario = { name: 'huge'; workload: Workload; pages: number };

export type LookupScenario = {
  name: 'lookup';
  population: LookupPopulation;
  /** The latency target is judged at this many lookups per second, paced (open loop)… */
  rate: number;
  pacedSeconds: number;
  /** …in this many windows of `pacedSeconds`, the one with the median p99 reported. */
  pacedWindows: number;
  /** Paced lookups sent and not measured first. */
  warmUpSeconds: number;
  /** …and throughput with this many connections kept busy (closed loop). */
  connections: number;
  durationSeconds: number;
  amount?: number;
  /** Lookups floor B makes against the store directly. */
  floorQueries: number;
  /**
   * PostgreSQL: VACUUM (ANALYZE) and CHECKPOINT right after the fill (bench/pgActivity.ts), so
   * server and floors measure a database in service, not autovacuum catching up on the fill.
   */
  settlePostgres: boolean;
};

/**
 * A grown store (issue 15): the load in big pages through the store, then re-syncs of
 * `shape.usersPerPage` users with real churn, `connections` at a time, measured in `windows`
 * windows of `windowSeconds`.
 */
export type GrownScenario = {
  name: 'grown';
  shape: GrownShape;
  connections: number;
  windows: number;
  windowSeconds: number;
  /**
   * Then user → segments lookups on the grown store over the admin API (issue 15 item 2: "lookup
   * p99 ≤ 3 ms at 2,000/s on the grown store"), paced as the lookup scenario's: this many a
   * second, after an unmeasured warm-up.
   */
  lookup: { rate: number; warmUpSeconds: number; pacedSeconds: number; pacedWindows: number };
};

export type Scenarios = {
  small: IngestScenario;
  'small-sequential': IngestScenario;
  large: IngestScenario;
  huge: HugeScenario;
  lookup: LookupScenario;
  grown: GrownScenario;
};

export const SCENARIO_NAMES = [
  'small',
  'small-sequential',
  'large',
  'huge',
  'lookup',
  'grown',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const smallWorkload: Workload = {
  name: 'small',
  usersPerPage: 100,
  pagesPerTask: 50,
  segments: 10,
  churn: true,
  lagTasks: 4,
  segmentBase: 100,
  ids: 'random',
};

/** The small scenario with the old sequential ids, which flatter every store (issue 15). */
const smallSequentialWorkload: Workload = {
  ...smallWorkload,
  name: 'small-sequential',
  segmentBase: 150,
  ids: 'sequential',
};

const largeWorkload: Workload = {
  name: 'large',
  usersPerPage: 2000,
  pagesPerTask: 10,
  segments: 4,
  churn: true,
  lagTasks: 2,
  segmentBase: 200,
  ids: 'random',
};

/** A first sync of a big segment: one page, every user new. Each page is its own segment. */
const hugeWorkload = (users: number): Workload => ({
  name: 'huge',
  usersPerPage: users,
  pagesPerTask: 1,
  segments: 1000,
  churn: false,
  lagTasks: 1,
  segmentBase: 300,
  ids: 'random',
});

/**
 * 20 tenants × 10 segments, 85,000 users a tenant each in 1–5 of its segments (3 on average):
 * about 5.1 M memberships, about 25,500 a segment.
 */
const grownShape: GrownShape = {
  seed: 15,
  tenants: 20,
  segmentsPerTenant: 10,
  usersPerTenant: 85_000,
  maxSegmentsPerUser: 5,
  loadPageSize: 10_000,
  usersPerPage: 100,
  pagesPerTask: 5,
};

export const FULL: Scenarios = {
  small: { name: 'small', workload: smallWorkload, connections: 10, durationSeconds: 15 },
  'small-sequential': {
    name: 'small-sequential',
    workload: smallSequentialWorkload,
    connections: 10,
    durationSeconds: 15,
  },
  large: { name: 'large', workload: largeWorkload, connections: 4, durationSeconds: 15 },
  huge: { name: 'huge', workload: hugeWorkload(100_000), pages: 3 },
  lookup: {
    name: 'lookup',
    population: { segments: 100, membersPerSegment: 10_000, users: 200_000, pageSize: 2000 },
    rate: 2000,
    pacedSeconds: 10,
    pacedWindows: 3,
    warmUpSeconds: 2,
    connections: 10,
    durationSeconds: 10,
    floorQueries: 20_000,
    settlePostgres: true,
  },
  grown: {
    name: 'grown',
    shape: grownShape,
    connections: 10,
    windows: 6,
    windowSeconds: 30,
    lookup: { rate: 2000, warmUpSeconds: 2, pacedSeconds: 10, pacedWindows: 3 },
  },
};

/** Small enough for CI: proves every path of the harness works, measures nothing worth quoting. */
export const QUICK: Scenarios = {
  small: { ...FULL.small, durationSeconds: 0, amount: 200 },
  'small-sequential': { ...FULL['small-sequential'], durationSeconds: 0, amount: 200 },
  large: { ...FULL.large, durationSeconds: 0, amount: 16 },
  huge: { name: 'huge', workload: hugeWorkload(10_000), pages: 1 },
  lookup: {
    ...FULL.lookup,
    population: { segments: 10, membersPerSegment: 1000, users: 2000, pageSize: 500 },
    rate: 200,
    pacedSeconds: 1,
    pacedWindows: 1,
    warmUpSeconds: 0.5,
    durationSeconds: 0,
    amount: 200,
    floorQueries: 200,
  },
  // About 50,000 memberships (4 tenants × 5 segments × 4,200 users), two 2-second windows.
  grown: {
    ...FULL.grown,
    shape: { ...grownShape, tenants: 4, segmentsPerTenant: 5, usersPerTenant: 4200 },
    windows: 2,
    windowSeconds: 2,
    lookup: { rate: 200, warmUpSeconds: 0.5, pacedSeconds: 1, pacedWindows: 1 },
  },
};

/**
 * The targets of issues 14 (item 2) and 15 (item 3), default durable configuration. Shares are
 * of the same-work floor measured in the same run: C (raw better-sqlite3) on SQLite, P (one
 * PL/pgSQL call per delivery) on PostgreSQL. The grown targets are multiples of the baseline kept
 * in bench/BASELINE.md (today's main before the storage work, same harness).
 */
export const TARGETS = {
  SQLite: {
    smallShareOfFloor: 0.7,
    smallP99Ms: 15,
    largeShareOfFloor: 0.9,
    hugeMs: 400,
    grownUsersPerSecOverBaseline: 2,
    grownP99Ms: 50,
    /** Bytes per membership at most this share of the baseline's (SQLite only). */
    grownBytesShareOfBaseline: 0.7 as number | undefined,
  },
  PostgreSQL: {
    smallShareOfFloor: 0.8,
    smallP99Ms: 60,
    largeShareOfFloor: 0.9,
    hugeMs: 1000,
    grownUsersPerSecOverBaseline: 1.5,
    grownP99Ms: 100,
    grownBytesShareOfBaseline: undefined as number | undefined,
  },
  /** Both backends. */
  hugePeakRssMb: 200,
  /** User → segments over HTTP, at the lookup scenario's paced rate (2,000/s). */
  lookupP99Ms: 3,
  /** User → segments through the toolkit's in-process Membership API, in microseconds. */
  membershipP99Us: 20,
  idleRssMb: 70,
};
