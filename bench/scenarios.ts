// The bench scenarios (issue 6) at full size and at CI smoke size (--quick), and their targets.
import type { LookupPopulation, Workload } from './workload';

export type IngestScenario = {
  name: 'small' | 'large';
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
  /** Paced lookups sent and not measured first. */
  warmUpSeconds: number;
  /** …and throughput with this many connections kept busy (closed loop). */
  connections: number;
  durationSeconds: number;
  amount?: number;
  /** Lookups floor B makes against the store directly. */
  floorQueries: number;
};

export type Scenarios = {
  small: IngestScenario;
  large: IngestScenario;
  huge: HugeScenario;
  lookup: LookupScenario;
};

export const SCENARIO_NAMES = ['small', 'large', 'huge', 'lookup'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

const smallWorkload: Workload = {
  name: 'small',
  usersPerPage: 100,
  pagesPerTask: 50,
  segments: 10,
  churn: true,
  lagTasks: 4,
  segmentBase: 100,
};

const largeWorkload: Workload = {
  name: 'large',
  usersPerPage: 2000,
  pagesPerTask: 10,
  segments: 4,
  churn: true,
  lagTasks: 2,
  segmentBase: 200,
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
});

export const FULL: Scenarios = {
  small: { name: 'small', workload: smallWorkload, connections: 10, durationSeconds: 15 },
  large: { name: 'large', workload: largeWorkload, connections: 4, durationSeconds: 15 },
  huge: { name: 'huge', workload: hugeWorkload(100_000), pages: 3 },
  lookup: {
    name: 'lookup',
    population: { segments: 100, membersPerSegment: 10_000, users: 200_000, pageSize: 2000 },
    rate: 1000,
    pacedSeconds: 10,
    warmUpSeconds: 2,
    connections: 10,
    durationSeconds: 10,
    floorQueries: 20_000,
  },
};

/** Small enough for CI: proves every path of the harness works, measures nothing worth quoting. */
export const QUICK: Scenarios = {
  small: { ...FULL.small, durationSeconds: 0, amount: 200 },
  large: { ...FULL.large, durationSeconds: 0, amount: 16 },
  huge: { name: 'huge', workload: hugeWorkload(10_000), pages: 1 },
  lookup: {
    ...FULL.lookup,
    population: { segments: 10, membersPerSegment: 1000, users: 2000, pageSize: 500 },
    rate: 200,
    pacedSeconds: 1,
    warmUpSeconds: 0.5,
    durationSeconds: 0,
    amount: 200,
    floorQueries: 200,
  },
};

/** The targets of issue 6, item 3 (SQLite, default durable configuration). */
export const TARGETS = {
  smallShareOfFloorB: 0.6,
  smallP99Ms: 30,
  largeShareOfFloorB: 0.8,
  hugeMs: 1000,
  hugePeakRssMb: 300,
  lookupP99Ms: 5,
  idleRssMb: 80,
};
