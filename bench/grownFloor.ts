// Drives the grown scenario in one floor's process: the load in big pages, then re-sync windows.
import os from 'node:os';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  GrownWorkload,
  grownBody,
  windowFigures,
  type GrownFigures,
  type GrownShape,
  type WindowSample,
} from './grown';
import { acceptedDelivery } from './workload';
import type { AcceptedDelivery } from '../src/store/types';

/** What the bench asks a floor's process for the grown scenario. */
export type GrownRunInput = {
  shape: GrownShape;
  windows: number;
  windowSeconds: number;
  /** Pages in flight (or per transaction for floor C), as the server scenario has connections. */
  concurrency: number;
};

/** How one floor applies pages and measures its own store. */
export type GrownFloorOps = {
  /** Applies one load page (several may be in flight: `loadInFlight`). */
  applyLoadPage: (delivery: AcceptedDelivery) => Promise<void>;
  loadInFlight: number;
  /** Applies a chunk of re-sync pages as the floor applies pages; returns each page's latency, ms. */
  applyChunk: (chunk: AcceptedDelivery[]) => Promise<number[]>;
  /** Database plus write-ahead log, bytes. */
  storeBytes: () => Promise<number>;
};

/** The size of an SQLite database with its WAL (0 for a file not there). */
export function sqliteBytes(file: string): number {
  const size = (name: string) => {
    try {
      return statSync(name).size;
    } catch {
      return 0;
    }
  };
  return size(file) + size(`${file}-wal`);
}

/** The replay seed of a grown page, unique per page and phase. */
export const loadSeed = (i: number) => `grown-load:${i}`;
export const steadySeed = (i: number) => `grown:${i}`;

/**
 * Loads the grown store through `applyLoadPage` (reporting progress on stderr), then applies
 * re-sync pages in chunks until `windows` windows of `windowSeconds` of apply time have passed
 * (pages are built outside the clock, as the other floors' are).
 */
export async function runGrownFloor(
  who: string,
  input: GrownRunInput,
  ops: GrownFloorOps,
): Promise<GrownFigures> {
  const workload = new GrownWorkload(input.shape);
  const loaded = await loadGrown(who, workload, ops.applyLoadPage, ops.loadInFlight);
  const windows: WindowSample[] = [];
  const chunkSize = Math.max(1, input.concurrency) * 20;
  let index = 0;
  let sample = emptySample();
  while (windows.length < input.windows) {
    const chunk = Array.from({ length: chunkSize }, () =>
      acceptedDelivery(grownBody(workload.nextSteadyPage()), steadySeed(index++)),
    );
    const started = performance.now();
    const latencies = await ops.applyChunk(chunk);
    sample.seconds += (performance.now() - started) / 1000;
    sample.pages += chunk.length;
    sample.users += chunk.reduce((sum, d) => sum + syncUsers(d), 0);
    sample.latencies.push(...latencies);
    if (sample.seconds >= input.windowSeconds) {
      sample.rssMb = process.memoryUsage().rss / 1e6;
      sample.storeBytes = await ops.storeBytes();
      sample.memberships = workload.memberships;
      sample.loadAverage = os.loadavg()[0];
      windows.push(sample);
      sample = emptySample();
    }
  }
  return { ...loaded, windows: windows.map(windowFigures) };
}

function syncUsers(delivery: AcceptedDelivery): number {
  const page = delivery.work;
  return page.kind === 'sync' ? page.add.length + page.remove.length : 0;
}

function emptySample(): WindowSample {
  return {
    seconds: 0,
    pages: 0,
    users: 0,
    latencies: [],
    non2xx: 0,
    errors: 0,
    rssMb: NaN,
    storeBytes: NaN,
    memberships: 0,
    loadAverage: NaN,
  };
}

/** Applies every load page, `inFlight` at a time, saying how far it got every 10 %. */
export async function loadGrown(
  who: string,
  workload: GrownWorkload,
  apply: (delivery: AcceptedDelivery) => Promise<void>,
  inFlight: number,
): Promise<Omit<GrownFigures, 'windows'>> {
  const total = workload.loadPageCount();
  const started = performance.now();
  let done = 0;
  let told = 0;
  let index = 0;
  const worker = async () => {
    for (;;) {
      const page = workload.nextLoadPage();
      if (!page) return;
      await apply(acceptedDelivery(grownBody(page), loadSeed(index++)));
      done++;
      if (done * 10 >= (told + 1) * total) {
        told = Math.floor((done * 10) / total);
        const seconds = (performance.now() - started) / 1000;
        process.stderr.write(
          `bench: ${who} grown load ${told * 10} % (${done}/${total} pages, ${seconds.toFixed(0)} s)\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return {
    loadSeconds: (performance.now() - started) / 1000,
    loadPages: total,
    loadedMemberships: workload.memberships,
  };
}
