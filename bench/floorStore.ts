// Floor B, the storage ceiling: the store's own applyDelivery for the bench pages, no HTTP.
import { performance } from 'node:perf_hooks';
import { openBenchStore, openServerStore, placeStoreBytes, type Place } from './backends';
import { createMembership } from '../src/store/membership';
import { percentile } from './load';
import {
  acceptedPage,
  lookupUsers,
  populationPage,
  populationPages,
  BENCH_ID_TOKEN,
  type LookupPopulation,
  type Workload,
} from './workload';
import type { AcceptedDelivery, Store } from '../src/store/types';
import { GrownWorkload, type GrownShape } from './grown';
import { loadGrown, runGrownFloor, type GrownRunInput } from './grownFloor';
import { membershipFigures } from './lookupFloor';

export type FloorStoreInput =
  | {
      mode: 'apply';
      place: Place;
      workload: Workload;
      /** Deliveries kept in flight, as many as the HTTP scenario has connections. */
      concurrency: number;
      /** Apply pages until this much apply time has passed… */
      durationSeconds?: number;
      /** …or exactly this many pages. */
      count?: number;
    }
  | { mode: 'populate'; place: Place; population: LookupPopulation }
  /** The grown scenario's store for the server: the load only. */
  | { mode: 'grown-load'; place: Place; shape: GrownShape }
  /** Floor B of the grown scenario: the load, then re-sync windows. */
  | ({ mode: 'grown'; place: Place } & GrownRunInput)
  | {
      mode: 'lookup';
      place: Place;
      population: LookupPopulation;
      queries: number;
    }
  /** User → segments through the toolkit's Membership over the store opened as the server does. */
  | {
      mode: 'membership';
      place: Place;
      population: LookupPopulation;
      queries: number;
    };

export type ApplyFigures = {
  pages: number;
  users: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The whole process's CPU (start-up and page building included): its share of the machine. */
  cpuMs: number;
  /** CPU inside the timed window only: applyDelivery's cost, for CPU per page. */
  timedCpuMs: number;
  peakRssKb: number;
};

export type LookupFigures = {
  queries: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  cpuMs: number;
  /** CPU inside the timed window only: CPU per lookup. */
  timedCpuMs?: number;
  peakRssKb: number;
};

/** The in-process Membership API's lookups, in microseconds (the target is 20 µs at p99). */
export type MembershipFigures = {
  lookups: number;
  p50Us: number;
  p99Us: number;
  maxUs: number;
  /** This process's CPU over the timed lookups, per lookup. */
  cpuUsPerLookup: number;
  cpuMs: number;
  peakRssKb: number;
};

function own(): { cpuMs: number; peakRssKb: number } {
  const usage = process.resourceUsage();
  return { cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000, peakRssKb: usage.maxRSS };
}

/**
 * Applies pages with `concurrency` calls in flight, as the server does with that many open
 * connections, so the store batches them (group commit) the same way. Pages are prepared
 * (built, parsed, validated) in chunks outside the stopwatch: only applyDelivery is timed.
 */
async function applyPages(
  store: Store,
  input: Extract<FloorStoreInput, { mode: 'apply' }>,
): Promise<ApplyFigures> {
  const chunkSize = Math.max(input.concurrency * 20, 1);
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
        const started = performance.now();
        const outcome = await store.applyDelivery(delivery);
        latencies.push(performance.now() - started);
        if (outcome.status !== 'applied') throw new Error(`page not applied: ${outcome.status}`);
      }
    };
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: input.concurrency }, worker));
    timedMs += performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    timedCpuMs += (cpu.user + cpu.system) / 1000;
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
    ...own(),
  };
}

/** Builds the lookup scenario's store, four pages in flight at a time. */
async function populate(store: Store, population: LookupPopulation) {
  const started = performance.now();
  const total = populationPages(population);
  let next = 0;
  const worker = async () => {
    while (next < total) await store.applyDelivery(populationPage(population, next++));
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  return { pages: total, seconds: (performance.now() - started) / 1000 };
}

/** Random user → segments lookups, one at a time, with a fixed seed so runs are comparable. */
async function lookups(
  store: Store,
  population: LookupPopulation,
  queries: number,
): Promise<LookupFigures> {
  const users = lookupUsers(population, queries);
  const latencies: number[] = [];
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  for (const userId of users) {
    const t0 = performance.now();
    const segments = await store.segmentsOfUser(BENCH_ID_TOKEN, userId);
    latencies.push(performance.now() - t0);
    if (segments.length === 0) throw new Error(`lookup found no segment for ${userId}`);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  latencies.sort((a, b) => a - b);
  return {
    queries,
    seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    timedCpuMs: (cpu.user + cpu.system) / 1000,
    ...own(),
  };
}

/**
 * Membership.segmentsOf for random members, one at a time, each awaited as an embedding app
 * would. A first pass over other users, not measured, stands for a process in service (its hot
 * paths compiled, the file in the OS page cache and in SQLite's): the HTTP lookup is measured
 * after a warm-up too.
 */
async function membershipLookups(
  store: Store,
  population: LookupPopulation,
  queries: number,
): Promise<MembershipFigures> {
  const membership = createMembership(store);
  const users = lookupUsers(population, queries * 2);
  const expected = (population.segments * population.membersPerSegment) / population.users;
  for (const userId of users.slice(queries)) await membership.segmentsOf(BENCH_ID_TOKEN, userId);
  const latencies = new Float64Array(queries);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < queries; i++) {
    const t0 = process.hrtime.bigint();
    const segments = await membership.segmentsOf(BENCH_ID_TOKEN, users[i]);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (segments.length !== expected) {
      throw new Error(`Membership.segmentsOf found ${segments.length} segments, not ${expected}`);
    }
  }
  return membershipFigures(latencies, cpu0);
}

/** Applies one page through the store; anything but applied is a broken harness. */
async function applyOne(store: Store, delivery: AcceptedDelivery): Promise<void> {
  const outcome = await store.applyDelivery(delivery);
  if (outcome.status !== 'applied') throw new Error(`page not applied: ${outcome.status}`);
}

/** Pages of 10,000 users in flight at once while loading a grown store. */
const GROWN_LOAD_IN_FLIGHT = 2;

async function grown(store: Store, input: Extract<FloorStoreInput, { mode: 'grown' }>) {
  return runGrownFloor('floor B', input, {
    applyLoadPage: (delivery) => applyOne(store, delivery),
    loadInFlight: GROWN_LOAD_IN_FLIGHT,
    applyChunk: async (chunk) => {
      const latencies: number[] = [];
      let next = 0;
      const worker = async () => {
        while (next < chunk.length) {
          const delivery = chunk[next++];
          const started = performance.now();
          await applyOne(store, delivery);
          latencies.push(performance.now() - started);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, input.concurrency) }, worker));
      return latencies;
    },
    storeBytes: () => placeStoreBytes(input.place),
  });
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2]) as FloorStoreInput;
  if (input.mode === 'membership') {
    const store = await openServerStore(input.place);
    try {
      const figures = await membershipLookups(store, input.population, input.queries);
      process.stdout.write(`${JSON.stringify(figures)}\n`);
    } finally {
      await store.close();
    }
    return;
  }
  const store = await openBenchStore(input.place);
  try {
    const result =
      input.mode === 'apply'
        ? await applyPages(store, input)
        : input.mode === 'populate'
          ? await populate(store, input.population)
          : input.mode === 'grown-load'
            ? await loadGrown(
                'server store',
                new GrownWorkload(input.shape),
                (delivery) => applyOne(store, delivery),
                GROWN_LOAD_IN_FLIGHT,
              )
            : input.mode === 'grown'
              ? await grown(store, input)
              : await lookups(store, input.population, input.queries);
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await store.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
