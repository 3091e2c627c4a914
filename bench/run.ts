// Runs one scenario: floors A, B and C (SQLite) or P (PostgreSQL), and the real server, one after another.
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  openBenchStore,
  placeDatabase,
  placeEnv,
  placeStoreBytes,
  warmSqliteFile,
  type Place,
} from './backends';
import type { FloorPostgresInput } from './floorPostgres';
import type { FloorLookupInput } from './lookupFloor';
import { activityLine, sampleActivity, settlePostgres } from './pgActivity';
import type { FloorSqliteInput } from './floorSqlite';
import type { ApplyFigures, FloorStoreInput, LookupFigures, MembershipFigures } from './floorStore';
import os from 'node:os';
import {
  AUTOCANNON_SERVER_ENV,
  runLoad,
  runPaced,
  runWindowedLoad,
  medianByP99,
  type LoadResult,
  type NextRequest,
} from './load';
import { GrownWorkload, grownBody, prng, windowFigures, type GrownFigures } from './grown';
import { signHeapHash } from '../src/webhook/signature';
import { cpuMeter, cpuMsPerPage, type CpuShares } from './machine';
import { procStatus, runJsonChild, startListening, type Listening } from './processes';
import type { GrownScenario, HugeScenario, IngestScenario, LookupScenario } from './scenarios';
import { connectionKey } from '../src/admin/urlKeys';
import {
  BENCH_ID_TOKEN,
  lookupUserId,
  signedPage,
  type SignedPage,
  type Workload,
} from './workload';

const SERVER_ENTRY = path.join(__dirname, '..', 'src', 'server', 'main.js');
const FLOOR_HTTP_ENTRY = path.join(__dirname, 'floorHttp.js');
const FLOOR_HTTP_LOOKUP_ENTRY = path.join(__dirname, 'floorHttpLookup.js');
const FLOOR_STORE_ENTRY = path.join(__dirname, 'floorStore.js');
const FLOOR_SQLITE_ENTRY = path.join(__dirname, 'floorSqlite.js');
const FLOOR_POSTGRES_ENTRY = path.join(__dirname, 'floorPostgres.js');
const LOOKUP_FLOOR_ENTRY = path.join(__dirname, 'lookupFloor.js');
/** Pages sent to floor A are cycled from this many: it stores nothing, so repeats cost the same. */
const FLOOR_A_DISTINCT_PAGES = 2000;

export type RunContext = {
  /** A fresh place for each run's data (a DATA_DIR, and a database on PostgreSQL). */
  freshPlace: (name: string) => Promise<Place>;
  secret: string;
  /** Bearer token for the admin API (the lookup scenario). */
  adminToken: string;
  /** Node flags for the server process (e.g. --cpu-prof while profiling). */
  serverNodeArgs: string[];
  /** How long a server sits after start-up before its RSS at start is read. */
  settleMs: number;
};

/** What one process under load achieved; unset fields do not apply to that scenario. */
export type Measurement = {
  /** Pages (or lookups) per second. */
  pagesPerSec?: number;
  usersPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  /** Requests or store calls that completed successfully. */
  completed: number;
  non2xx: number;
  errors: number;
  seconds: number;
  peakRssMb?: number;
  /** VmRSS once start-up has settled (1.5 s), before any request. */
  startRssMb?: number;
  cpu: CpuShares;
  /**
   * The measured process's CPU (user + system, all its threads) over the measured window per
   * page it applied; a floor counts only its timed work. PostgreSQL's own CPU is not in it.
   */
  cpuMsPerPage?: number;
  /** PostgreSQL's CPU (every process of the cluster) over the same window per page; servers only. */
  databaseCpuMsPerPage?: number;
};

export type ScenarioRun = {
  server: Measurement;
  /** Lookups: the server and floor A with every connection kept busy (`server` and `floorA` are paced). */
  serverSaturated?: Measurement;
  floorASaturated?: Measurement;
  floorA: Measurement;
  floorB: Measurement;
  /**
   * The same work straight on the database: floor C (raw better-sqlite3, ideal group commit) on
   * SQLite, floor P (one PL/pgSQL call per delivery) on PostgreSQL. For lookup, the store's own
   * query run raw (better-sqlite3 or pg) on the scenario's data, one at a time.
   */
  floorSame?: Measurement;
  /**
   * Lookup: floor A+C (SQLite) or A+P (PostgreSQL), paced as the server: bare node:http running
   * the store's own statement on the same store (bench/floorHttpLookup.ts). Missing from older
   * result files.
   */
  floorHttpSame?: Measurement;
  /**
   * Lookup: user → segments through the toolkit's in-process Membership API, on the store opened
   * as the server opens it (on SQLite: queries on this thread's read-only connection).
   */
  membership?: MembershipFigures;
  /**
   * Lookup on SQLite: the in-process target's floor (bench/lookupFloor.ts): the store's own
   * statement on raw better-sqlite3, mapped as the server's reader, awaited, for the same users.
   * On PostgreSQL floor P is that floor (raw pg, the same prepared statement, awaited).
   */
  membershipFloor?: MembershipFigures;
  /** Anything that means the harness or the server misbehaved (not a missed target). */
  problems: string[];
  notes: string[];
};

const kbToMb = (kb: number) => (kb * 1024) / 1e6;

function rssMb(pid: number, field: 'rssKb' | 'hwmKb'): number {
  const status = procStatus(pid);
  return status ? kbToMb(status[field]) : NaN;
}

async function startServer(context: RunContext, place: Place): Promise<Listening> {
  const server = await startListening(
    SERVER_ENTRY,
    {
      ...placeEnv(place),
      ...AUTOCANNON_SERVER_ENV,
      WEBHOOK_SECRET: context.secret,
      ADMIN_TOKEN: context.adminToken,
    },
    path.join(place.dataDir, 'server.log'),
    context.serverNodeArgs,
  );
  await sleep(context.settleMs);
  return server;
}

type Measured<T> = { result: T; cpu: CpuShares; startRssMb: number; peakRssMb: number };

/** Runs `work` against a fresh server on `place`, measuring its CPU and memory. */
async function measureServer<T>(
  context: RunContext,
  place: Place,
  work: (server: Listening) => Promise<T>,
): Promise<Measured<T>> {
  return measureListening(await startServer(context, place), work);
}

/** Runs `work` against a started process, measuring its CPU and memory, then stops it. */
async function measureListening<T>(
  target: Listening,
  work: (target: Listening) => Promise<T>,
): Promise<Measured<T>> {
  try {
    const startRssMb = rssMb(target.pid, 'rssKb');
    const meter = cpuMeter([target.pid]);
    const result = await work(target);
    return { result, cpu: meter.stop(), startRssMb, peakRssMb: rssMb(target.pid, 'hwmKb') };
  } finally {
    await target.stop();
  }
}

/** Runs `work` against floor A's bare node:http server. */
async function measureFloorA<T>(
  context: RunContext,
  work: (floor: Listening) => Promise<T>,
): Promise<Measured<T>> {
  const { dataDir } = await context.freshPlace('floor-a');
  const floor = await startListening(
    FLOOR_HTTP_ENTRY,
    { WEBHOOK_SECRET: context.secret },
    path.join(dataDir, 'floor-a.log'),
  );
  return measureListening(floor, work);
}

/**
 * Runs `work` against floor A+C / A+P (bench/floorHttpLookup.ts) on `place`'s store: the lookup
 * over bare node:http with the store's own statement. On SQLite the file is read once first (into
 * the OS page cache), as it is before the server's run.
 */
async function measureFloorHttpLookup<T>(
  place: Place,
  work: (floor: Listening) => Promise<T>,
): Promise<Measured<T>> {
  const database = placeDatabase(place);
  warmSqliteFile(place);
  const floor = await startListening(
    FLOOR_HTTP_LOOKUP_ENTRY,
    'file' in database
      ? { FLOOR_LOOKUP_SQLITE_FILE: database.file }
      : { FLOOR_LOOKUP_DATABASE_URL: database.databaseUrl },
    path.join(place.dataDir, 'floor-http-lookup.log'),
  );
  return measureListening(floor, work);
}

/** Runs floor B's child process; it reports its own CPU and peak RSS before exiting. */
async function measureFloorB<T extends { cpuMs: number }>(
  input: FloorStoreInput | FloorSqliteInput | FloorPostgresInput,
  entry = FLOOR_STORE_ENTRY,
): Promise<{ figures: T; cpu: CpuShares }> {
  const meter = cpuMeter([]);
  const figures = await runJsonChild<T>(entry, input);
  return { figures, cpu: meter.stop(figures.cpuMs) };
}

/**
 * Runs floor C (on SQLite, a file in a fresh data directory) or floor P (on PostgreSQL, a fresh
 * database on the bench's cluster) in its own process, for `count` pages or `durationSeconds`.
 */
async function measureFloorSame(
  context: RunContext,
  name: string,
  work: { workload: Workload; concurrency: number; durationSeconds?: number; count?: number },
): Promise<Measurement> {
  const place = await context.freshPlace(name);
  const input: FloorSqliteInput | FloorPostgresInput = place.databaseUrl
    ? { mode: 'apply', ...work, databaseUrl: place.databaseUrl }
    : { mode: 'apply', ...work, file: path.join(place.dataDir, 'floor-c.db') };
  const entry = place.databaseUrl ? FLOOR_POSTGRES_ENTRY : FLOOR_SQLITE_ENTRY;
  return fromFloorB(await measureFloorB<ApplyFigures>(input, entry));
}

/** Floor A uses no database: PostgreSQL's CPU meanwhile is not its cost. */
function withoutDatabase(m: Measurement): Measurement {
  return { ...m, databaseCpuMsPerPage: undefined };
}

function fromLoad(measured: Measured<LoadResult>, usersPerRequest: number): Measurement {
  const load = measured.result;
  return {
    cpuMsPerPage: cpuMsPerPage(measured.cpu.targetMs, load.ok),
    databaseCpuMsPerPage: cpuMsPerPage(measured.cpu.databaseMs, load.ok),
    pagesPerSec: load.ok / load.seconds,
    usersPerSec: (load.ok * usersPerRequest) / load.seconds,
    p50Ms: load.p50Ms,
    p99Ms: load.p99Ms,
    maxMs: load.maxMs,
    completed: load.ok,
    non2xx: load.non2xx,
    errors: load.errors,
    seconds: load.seconds,
    startRssMb: measured.startRssMb,
    peakRssMb: measured.peakRssMb,
    cpu: measured.cpu,
  };
}

function fromFloorB(b: { figures: ApplyFigures; cpu: CpuShares }): Measurement {
  const { figures } = b;
  return {
    cpuMsPerPage: cpuMsPerPage(figures.timedCpuMs, figures.pages),
    pagesPerSec: figures.pages / figures.seconds,
    usersPerSec: figures.users / figures.seconds,
    p50Ms: figures.p50Ms,
    p99Ms: figures.p99Ms,
    maxMs: figures.maxMs,
    completed: figures.pages,
    non2xx: 0,
    errors: 0,
    seconds: figures.seconds,
    peakRssMb: kbToMb(figures.peakRssKb),
    cpu: b.cpu,
  };
}

/**
 * Floor B measured right before and right after the server, as one figure: the machine is shared,
 * and bracketing the server's run this way keeps a drift in other people's load from favouring
 * either side of the ratio.
 */
function bracketed(before: Measurement, after: Measurement): Measurement {
  const seconds = before.seconds + after.seconds;
  const weigh = (pick: (m: Measurement) => number | undefined) => {
    const a = pick(before);
    const b = pick(after);
    return a === undefined || b === undefined
      ? undefined
      : (a * before.seconds + b * after.seconds) / seconds;
  };
  return {
    cpuMsPerPage: cpuMsPerPage(
      (before.cpuMsPerPage ?? NaN) * before.completed +
        (after.cpuMsPerPage ?? NaN) * after.completed,
      before.completed + after.completed,
    ),
    pagesPerSec: (before.completed + after.completed) / seconds,
    usersPerSec: weigh((m) => m.usersPerSec),
    p50Ms: weigh((m) => m.p50Ms),
    p99Ms: Math.max(before.p99Ms ?? NaN, after.p99Ms ?? NaN),
    maxMs: Math.max(before.maxMs ?? NaN, after.maxMs ?? NaN),
    completed: before.completed + after.completed,
    non2xx: 0,
    errors: 0,
    seconds,
    peakRssMb: Math.max(before.peakRssMb ?? NaN, after.peakRssMb ?? NaN),
    cpu: {
      target: weigh((m) => m.cpu.target) ?? NaN,
      generator: weigh((m) => m.cpu.generator) ?? NaN,
      database: weigh((m) => m.cpu.database) ?? NaN,
      foreign: weigh((m) => m.cpu.foreign) ?? NaN,
      stolen: weigh((m) => m.cpu.stolen) ?? NaN,
      targetMs: before.cpu.targetMs + after.cpu.targetMs,
      databaseMs: before.cpu.databaseMs + after.cpu.databaseMs,
    },
  };
}

const rate = (m: Measurement) => (m.pagesPerSec ?? NaN).toFixed(1);

/** Which same-work floor a place's backend has: C on SQLite, P on PostgreSQL. */
const sameLetter = (place: Place) => (place.databaseUrl ? 'P' : 'C');

/** A pool of signed pages made just before a run, then made on the fly if the run outlasts it. */
function pagePool(scenario: IngestScenario, secret: string, size: number) {
  const signedAt = Date.now();
  const pages = Array.from({ length: size }, (_, i) => signedPage(scenario.workload, i, secret));
  let index = 0;
  let late = 0;
  return {
    next: (): SignedPage => {
      const i = index++;
      if (i < pages.length) return pages[i];
      late++;
      return signedPage(scenario.workload, i, secret);
    },
    madeDuringRun: () => late,
    oldestSignatureMs: () => Date.now() - signedAt,
  };
}

const postPage =
  (next: () => SignedPage): NextRequest =>
  () => {
    const page = next();
    return {
      path: '/webhook',
      headers: { 'content-type': 'application/json', 'heap-hash': page.heapHash },
      body: page.body,
    };
  };

/** Checks in the store that every answered page was applied once, none refused or duplicated. */
async function checkApplied(place: Place, answered: number, problems: string[]): Promise<void> {
  const store = await openBenchStore(place);
  try {
    const stats = await store.deliveryStats(0);
    const count = (status: string) =>
      stats.filter((s) => s.status === status).reduce((sum, s) => sum + s.count, 0);
    if (count('applied') < answered) {
      problems.push(`server answered ${answered} pages but applied only ${count('applied')}`);
    }
    for (const status of ['duplicate', 'rejected', 'ignored']) {
      if (count(status) > 0) problems.push(`${count(status)} deliveries were ${status}`);
    }
  } finally {
    await store.close();
  }
}

function loadProblems(who: string, load: LoadResult, problems: string[]): void {
  if (load.non2xx > 0) {
    problems.push(`${who}: ${load.non2xx} non-2xx answers ${JSON.stringify(load.statusCodes)}`);
  }
  if (load.errors > 0) problems.push(`${who}: ${load.errors} request errors`);
  if (load.ok === 0) problems.push(`${who}: no successful request`);
}

export type IdleFigures = { startRssMb: number; idleRssMb: number; idleSeconds: number };

/** The RSS drop that shows V8's memory reducer has run. */
const REDUCED_MB = 5;

/**
 * RSS of a server that receives nothing: right after start-up, and once it has sat idle long
 * enough for V8's memory reducer to give back what start-up used transiently (module loading,
 * compiling the validators), which took 10 to 30 s here; at most `maxIdleSeconds`.
 */
export async function measureIdle(
  context: RunContext,
  maxIdleSeconds: number,
): Promise<IdleFigures> {
  const { result, startRssMb } = await measureServer(
    context,
    await context.freshPlace('idle'),
    async (server) => {
      const start = rssMb(server.pid, 'rssKb');
      let seconds = 0;
      while (seconds < maxIdleSeconds && rssMb(server.pid, 'rssKb') > start - REDUCED_MB) {
        await sleep(1000);
        seconds++;
      }
      return { rss: rssMb(server.pid, 'rssKb'), seconds };
    },
  );
  return { startRssMb, idleRssMb: result.rss, idleSeconds: result.seconds };
}

/**
 * Steal time (cores) above which a measurement is taken again. A paced latency window is hurt by
 * any stolen slice (it delays every request in flight), a throughput run only in proportion.
 */
export const STOLEN_LIMIT_LATENCY = 0.003;
export const STOLEN_LIMIT_THROUGHPUT = 0.02;
/** Paced latency windows at most, the last one kept whatever the host did during it. */
export const PACED_ATTEMPTS = 3;
/** Server runs of an ingest scenario at most, likewise. */
export const RUN_ATTEMPTS = 3;

export async function runIngest(
  context: RunContext,
  scenario: IngestScenario,
): Promise<ScenarioRun> {
  const problems: string[] = [];
  const { workload, connections } = scenario;
  const load = (url: string, next: NextRequest) =>
    runLoad({
      url,
      method: 'POST',
      connections,
      durationSeconds: scenario.durationSeconds,
      amount: scenario.amount,
      next,
    });

  const floorB = async () =>
    fromFloorB(
      await measureFloorB<ApplyFigures>({
        mode: 'apply',
        place: await context.freshPlace(`${scenario.name}-floor-b`),
        workload,
        concurrency: connections,
        durationSeconds: scenario.durationSeconds,
        count: scenario.amount,
      }),
    );

  const floorSame = (when: string) =>
    measureFloorSame(context, `${scenario.name}-floor-same-${when}`, {
      workload,
      concurrency: connections,
      durationSeconds: scenario.durationSeconds,
      count: scenario.amount,
    });

  const floorAPages = Array.from({ length: FLOOR_A_DISTINCT_PAGES }, (_, i) =>
    signedPage(workload, i, context.secret),
  );
  let cycled = 0;
  const a = await measureFloorA(context, (floor) =>
    load(
      floor.url,
      postPage(() => floorAPages[cycled++ % floorAPages.length]),
    ),
  );
  loadProblems('floor A', a.result, problems);

  const floorBBefore = await floorB();
  const floorSameBefore = await floorSame('before');
  // Enough pages for the server to run as fast as floor B with a margin; more are made on the fly.
  const poolSize =
    scenario.amount ??
    Math.ceil((floorBBefore.pagesPerSec ?? 0) * scenario.durationSeconds * 1.25) + 100;
  const pool = pagePool(scenario, context.secret, poolSize);
  const discarded: string[] = [];
  // The server uses both cores (HTTP on one, the SQLite writer on the other), so CPU the host
  // steals from this VM comes straight off its throughput: such a run is measured again (a new
  // store each time, still unique pages), at most RUN_ATTEMPTS runs, the last kept.
  let place: Place;
  let s: Measured<LoadResult>;
  for (let attempt = 1; ; attempt++) {
    place = await context.freshPlace(`${scenario.name}-server`);
    s = await measureServer(context, place, (server) => load(server.url, postPage(pool.next)));
    if (s.cpu.stolen <= STOLEN_LIMIT_THROUGHPUT || attempt === RUN_ATTEMPTS) break;
    discarded.push(
      `server: a run was discarded and repeated: ${(s.result.ok / s.result.seconds).toFixed(1)} pages/s ` +
        `while the host stole ${s.cpu.stolen.toFixed(3)} cores (limit ${STOLEN_LIMIT_THROUGHPUT})`,
    );
  }
  const floorSameAfter = await floorSame('after');
  const floorBAfter = await floorB();
  loadProblems('server', s.result, problems);
  await checkApplied(place, s.result.ok, problems);
  const notes = [
    ...discarded,
    `floor B ran right before and right after the server: ${rate(floorBBefore)} and ${rate(floorBAfter)} pages/s`,
    `floor ${sameLetter(place)} ran right before and right after the server (inside floor B's bracket): ` +
      `${rate(floorSameBefore)} and ${rate(floorSameAfter)} pages/s`,
    `oldest signature used was ${Math.round(pool.oldestSignatureMs() / 1000)} s old`,
  ];
  if (pool.madeDuringRun() > 0) {
    notes.push(`${pool.madeDuringRun()} pages were built and signed during the run (pool ran out)`);
  }
  return {
    server: fromLoad(s, workload.usersPerPage),
    floorA: withoutDatabase(fromLoad(a, workload.usersPerPage)),
    floorB: bracketed(floorBBefore, floorBAfter),
    floorSame: bracketed(floorSameBefore, floorSameAfter),
    problems,
    notes,
  };
}

/** POSTs one body and times it to the last byte of the answer. */
function postOnce(
  url: string,
  page: SignedPage,
): Promise<{ status: number; ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const request = http.request(
      `${url}/webhook`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': page.body.length,
          'heap-hash': page.heapHash,
        },
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, ms: performance.now() - started, body }),
        );
      },
    );
    request.on('error', reject);
    request.end(page.body);
  });
}

type Timed = { ms: number[]; non2xx: number; bodies: string[] };

/** Sends the scenario's pages one after another, each signed right before it is sent. */
async function postEach(url: string, scenario: HugeScenario, secret: string): Promise<Timed> {
  const timed: Timed = { ms: [], non2xx: 0, bodies: [] };
  for (let i = 0; i < scenario.pages; i++) {
    const answer = await postOnce(url, signedPage(scenario.workload, i, secret));
    timed.ms.push(answer.ms);
    timed.bodies.push(answer.body);
    if (answer.status < 200 || answer.status >= 300) timed.non2xx++;
  }
  return timed;
}

function fromTimings(measured: Measured<Timed>, users: number): Measurement {
  const { ms, non2xx } = measured.result;
  const seconds = ms.reduce((sum, value) => sum + value, 0) / 1000;
  return {
    cpuMsPerPage: cpuMsPerPage(measured.cpu.targetMs, ms.length - non2xx),
    databaseCpuMsPerPage: cpuMsPerPage(measured.cpu.databaseMs, ms.length - non2xx),
    pagesPerSec: ms.length / seconds,
    usersPerSec: (ms.length * users) / seconds,
    p50Ms: [...ms].sort((x, y) => x - y)[Math.floor(ms.length / 2)],
    maxMs: Math.max(...ms),
    completed: ms.length - non2xx,
    non2xx,
    errors: 0,
    seconds,
    startRssMb: measured.startRssMb,
    peakRssMb: measured.peakRssMb,
    cpu: measured.cpu,
  };
}

export async function runHuge(context: RunContext, scenario: HugeScenario): Promise<ScenarioRun> {
  const problems: string[] = [];
  const users = scenario.workload.usersPerPage;
  const floorB = async () =>
    fromFloorB(
      await measureFloorB<ApplyFigures>({
        mode: 'apply',
        place: await context.freshPlace('huge-floor-b'),
        workload: scenario.workload,
        concurrency: 1,
        count: scenario.pages,
      }),
    );
  const floorSame = (when: string) =>
    measureFloorSame(context, `huge-floor-same-${when}`, {
      workload: scenario.workload,
      concurrency: 1,
      count: scenario.pages,
    });
  const a = await measureFloorA(context, (floor) => postEach(floor.url, scenario, context.secret));

  const floorBBefore = await floorB();
  const floorSameBefore = await floorSame('before');
  const place = await context.freshPlace('huge-server');
  const s = await measureServer(context, place, (server) =>
    postEach(server.url, scenario, context.secret),
  );
  const floorSameAfter = await floorSame('after');
  const floorBAfter = await floorB();
  if (s.result.non2xx > 0) problems.push(`server: ${s.result.non2xx} non-2xx answers`);
  for (const body of s.result.bodies) {
    const added = (JSON.parse(body) as { added?: number }).added;
    if (added !== users) problems.push(`server added ${added} of ${users} users: ${body}`);
  }
  await checkApplied(place, scenario.pages - s.result.non2xx, problems);
  return {
    server: fromTimings(s, users),
    floorA: withoutDatabase(fromTimings(a, users)),
    floorB: bracketed(floorBBefore, floorBAfter),
    floorSame: bracketed(floorSameBefore, floorSameAfter),
    problems,
    notes: [
      `floor B ran right before and right after the server: slowest page ${Math.round(floorBBefore.maxMs ?? NaN)} and ${Math.round(floorBAfter.maxMs ?? NaN)} ms`,
      `floor ${sameLetter(place)} likewise (inside floor B's bracket): slowest page ${Math.round(floorSameBefore.maxMs ?? NaN)} and ${Math.round(floorSameAfter.maxMs ?? NaN)} ms`,
      `each page sent on its own, one after another, signed just before: ${s.result.ms.map(Math.round).join(', ')} ms`,
    ],
  };
}

/** The lookup a partner makes on its hot path: the admin API's user → segments route. */
const lookupPath = (idToken: string, userId: string) =>
  `/api/connections/${encodeURIComponent(connectionKey(idToken))}/users/${encodeURIComponent(userId)}/segments`;

/** GETs one path, to check what the lookup route answers before loading it. */
function getOnce(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

/**
 * How paced lookups are measured: their rate, the unmeasured warm-up, each measured window's
 * length and how many windows (the median one is reported).
 */
type PacedLookupPlan = {
  rate: number;
  warmUpSeconds: number;
  pacedSeconds: number;
  pacedWindows: number;
};

/**
 * Lookup latency at `plan.rate`, paced (open loop), after a warm-up at that rate (a process in
 * service has compiled its hot paths and filled its caches; a fresh one's first second says
 * nothing else). The lookup scenario and the grown scenario's lookup phase share it.
 *
 * `plan.pacedWindows` windows one after another, and the one with the median p99 is reported
 * (its p50, max and CPU with it): the targets are judged on medians of repeated runs, and one
 * window's p99 on this shared machine moved by more than a millisecond between identical runs
 * (floor A+C's: 1.66 to 3.89 ms), more than anything the server does. Every window's p99 is in
 * the notes.
 *
 * A paced window during which the hypervisor stole CPU from this virtual machine measures the
 * host's other tenants (a stolen millisecond delays every request in flight), so it is repeated,
 * up to PACED_ATTEMPTS times per window; every discarded window is listed in the notes.
 */
async function pacedLookups(
  target: Listening,
  who: string,
  plan: PacedLookupPlan,
  next: () => { path: string; headers: Record<string, string> },
  notes: string[],
  problems: string[],
): Promise<{ paced: LoadResult; pacedCpu: CpuShares }> {
  const pace = (seconds: number) => runPaced({ url: target.url, rate: plan.rate, seconds, next });
  loadProblems(`${who} (warm-up)`, await pace(plan.warmUpSeconds), problems);
  const windows: { paced: LoadResult; pacedCpu: CpuShares }[] = [];
  while (windows.length < plan.pacedWindows) {
    let paced: LoadResult;
    let pacedCpu: CpuShares;
    for (let attempt = 1; ; attempt++) {
      const pacedMeter = cpuMeter([target.pid]);
      paced = await pace(plan.pacedSeconds);
      pacedCpu = pacedMeter.stop();
      if (pacedCpu.stolen <= STOLEN_LIMIT_LATENCY || attempt === PACED_ATTEMPTS) break;
      notes.push(
        `${who}: a paced window was discarded and repeated: p99 ${paced.p99Ms.toFixed(2)} ms while ` +
          `the host stole ${pacedCpu.stolen.toFixed(3)} cores (limit ${STOLEN_LIMIT_LATENCY}; /proc/stat counts steal in 10 ms ticks)`,
      );
    }
    loadProblems(`${who} (paced)`, paced, problems);
    windows.push({ paced, pacedCpu });
  }
  if (windows.length > 1) {
    notes.push(
      `${who}: ${windows.length} paced windows of ${plan.pacedSeconds} s, p99 ` +
        `${windows.map((w) => w.paced.p99Ms.toFixed(2)).join(' / ')} ms in the order run; the median one is reported`,
    );
  }
  return medianByP99(windows);
}

export async function runLookup(
  context: RunContext,
  scenario: LookupScenario,
): Promise<ScenarioRun> {
  const problems: string[] = [];
  const { population } = scenario;
  const memberships = population.segments * population.membersPerSegment;
  const place = await context.freshPlace('lookup');
  const filled = await runJsonChild<{ pages: number; seconds: number }>(FLOOR_STORE_ENTRY, {
    mode: 'populate',
    place,
    population,
  } satisfies FloorStoreInput);
  const notes = [
    `store filled through Store.applyDelivery with ${memberships.toLocaleString('en-US')} memberships ` +
      `(${population.segments} segments of ${population.membersPerSegment.toLocaleString('en-US')} drawn from ` +
      `${population.users.toLocaleString('en-US')} users, so each user is in ${memberships / population.users} ` +
      `segments) in ${filled.seconds.toFixed(1)} s; every lookup asks for a random member`,
  ];

  const database = placeDatabase(place);
  if ('databaseUrl' in database && scenario.settlePostgres) {
    notes.push(await settlePostgres(database.databaseUrl));
  }
  /** On PostgreSQL, what the database itself did while `work` ran goes into the notes. */
  const watched = async <T>(who: string, work: () => Promise<T>): Promise<T> => {
    if (!('databaseUrl' in database)) return work();
    const sampler = await sampleActivity(database.databaseUrl);
    try {
      return await work();
    } finally {
      notes.push(activityLine(who, await sampler.stop()));
    }
  };

  const b = await watched('floor B', () =>
    measureFloorB<LookupFigures>({
      mode: 'lookup',
      place,
      population,
      queries: scenario.floorQueries,
    }),
  );
  const fromLookups = (m: { figures: LookupFigures; cpu: CpuShares }): Measurement => ({
    pagesPerSec: m.figures.queries / m.figures.seconds,
    p50Ms: m.figures.p50Ms,
    p99Ms: m.figures.p99Ms,
    completed: m.figures.queries,
    non2xx: 0,
    errors: 0,
    seconds: m.figures.seconds,
    peakRssMb: kbToMb(m.figures.peakRssKb),
    cpu: m.cpu,
    cpuMsPerPage:
      m.figures.timedCpuMs === undefined
        ? undefined
        : cpuMsPerPage(m.figures.timedCpuMs, m.figures.queries),
  });
  const floorB = fromLookups(b);
  // Floor C or P: the store's own lookup SQL, raw, on the same data, for the same users.
  const floorSame = fromLookups(
    'file' in database
      ? await measureFloorB<LookupFigures>(
          { mode: 'lookup', file: database.file, population, queries: scenario.floorQueries },
          FLOOR_SQLITE_ENTRY,
        )
      : await watched('floor P', () =>
          measureFloorB<LookupFigures>(
            {
              mode: 'lookup',
              databaseUrl: database.databaseUrl,
              population,
              queries: scenario.floorQueries,
            },
            FLOOR_POSTGRES_ENTRY,
          ),
        ),
  );

  const membership = await runJsonChild<MembershipFigures>(FLOOR_STORE_ENTRY, {
    mode: 'membership',
    place,
    population,
    queries: scenario.floorQueries,
  } satisfies FloorStoreInput);
  const membershipFloor =
    'file' in database
      ? await runJsonChild<MembershipFigures>(LOOKUP_FLOOR_ENTRY, {
          file: database.file,
          population,
          queries: scenario.floorQueries,
        } satisfies FloorLookupInput)
      : undefined;

  let seed = 7;
  const randomUser = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return lookupUserId(Math.floor((seed / 2 ** 31) * population.users));
  };
  const headers = { authorization: `Bearer ${context.adminToken}` };
  const next = () => ({ path: lookupPath(BENCH_ID_TOKEN, randomUser()), headers });

  /**
   * Latency at the scenario's rate, paced (pacedLookups), then throughput with every connection
   * busy. Both for floor A and the server.
   */
  const paceThenSaturate = async (target: Listening, who: string) => {
    const { paced, pacedCpu } = await watched(`${who}, paced`, () =>
      pacedLookups(target, who, scenario, next, notes, problems),
    );
    const saturatedMeter = cpuMeter([target.pid]);
    const saturated = await runLoad({
      url: target.url,
      method: 'GET',
      connections: scenario.connections,
      durationSeconds: scenario.durationSeconds,
      amount: scenario.amount,
      next,
    });
    loadProblems(`${who} (saturated)`, saturated, problems);
    return { paced, pacedCpu, saturated, saturatedCpu: saturatedMeter.stop() };
  };
  const split = (measured: Measured<Awaited<ReturnType<typeof paceThenSaturate>>>) => ({
    paced: fromLoad(
      { ...measured, result: measured.result.paced, cpu: measured.result.pacedCpu },
      0,
    ),
    saturated: fromLoad(
      { ...measured, result: measured.result.saturated, cpu: measured.result.saturatedCpu },
      0,
    ),
  });

  const a = split(await measureFloorA(context, (floor) => paceThenSaturate(floor, 'floor A')));
  const warmedMb = warmSqliteFile(place);
  if (warmedMb !== undefined) {
    notes.push(
      `the ${warmedMb.toFixed(0)} MB SQLite file was read once right before the server started, so ` +
        'the OS page cache held it, as it would for a server in service (this machine pages out ' +
        'file cache left untouched for about a minute, and floor A ran in between)',
    );
  }
  const s = split(
    await measureServer(context, place, async (server) => {
      const probe = await getOnce(server.url + next().path, headers);
      const found = (JSON.parse(probe.body) as { segments?: unknown[] }).segments?.length;
      if (found !== memberships / population.users) {
        problems.push(
          `a lookup found ${found} segments (${probe.status} ${probe.body.slice(0, 200)})`,
        );
      }
      return paceThenSaturate(server, 'server');
    }),
  );
  // The same work over bare HTTP, on the same store, after the server (paced only: it is the
  // latency target's floor).
  const httpSameName = `floor A+${sameLetter(place)}`;
  const httpSame = await measureFloorHttpLookup(place, async (floor) => {
    const probe = await getOnce(floor.url + next().path, headers);
    const found = (JSON.parse(probe.body) as { segments?: unknown[] }).segments?.length;
    if (found !== memberships / population.users) {
      problems.push(`${httpSameName}: a lookup found ${found} segments (${probe.status})`);
    }
    return watched(`${httpSameName}, paced`, () =>
      pacedLookups(floor, httpSameName, scenario, next, notes, problems),
    );
  });
  return {
    server: s.paced,
    serverSaturated: s.saturated,
    floorA: a.paced,
    floorASaturated: a.saturated,
    floorB,
    floorSame,
    floorHttpSame: fromLoad(
      { ...httpSame, result: httpSame.result.paced, cpu: httpSame.result.pacedCpu },
      0,
    ),
    membership,
    membershipFloor,
    problems,
    notes,
  };
}

/** The grown scenario's figures: the server's windows and its floors' (B, and C or P). */
export type GrownRun = {
  server: GrownFigures;
  /** The server's CPU, and PostgreSQL's when metered, per re-sync page over all its windows. */
  serverCpu: { cpuMsPerPage: number; databaseCpuMsPerPage: number };
  floorB: GrownFigures;
  floorSame: GrownFigures;
  /**
   * User → segments over HTTP (the admin API) on the server's grown store after its windows,
   * paced at the scenario's lookup rate; random real members. Missing from older result files.
   */
  lookup?: Measurement;
  /**
   * Floor A+C / A+P: the same lookups, paced, over bare node:http with the store's own statement,
   * on the server's grown store after the server stopped. Missing from older result files.
   */
  lookupFloor?: Measurement;
  problems: string[];
  notes: string[];
};

/**
 * The grown scenario: a child process loads the server's store through Store.applyDelivery in
 * big pages, then a fresh server takes re-sync pages with real churn over HTTP for `windows`
 * windows; floors B and C (or P) each load their own store with the same pages and apply the
 * same re-sync pages for as many windows of apply time.
 */
export async function runGrown(context: RunContext, scenario: GrownScenario): Promise<GrownRun> {
  const problems: string[] = [];
  const { shape, connections, windows, windowSeconds } = scenario;
  const place = await context.freshPlace('grown-server');
  process.stderr.write('bench: grown: loading the server store…\n');
  const loaded = await runJsonChild<Omit<GrownFigures, 'windows'>>(FLOOR_STORE_ENTRY, {
    mode: 'grown-load',
    place,
    shape,
  } satisfies FloorStoreInput);
  const warmedMb = warmSqliteFile(place);
  const workload = new GrownWorkload(shape);
  let index = 0;
  const next: NextRequest = () => {
    const body = grownBody(workload.nextSteadyPage());
    index++;
    return {
      path: '/webhook',
      headers: {
        'content-type': 'application/json',
        'heap-hash': signHeapHash(context.secret, body),
      },
      body,
    };
  };
  process.stderr.write(`bench: grown: server, ${windows} windows of ${windowSeconds} s…\n`);
  const sampled: Promise<{ rssMb: number; bytes: number; memberships: number; load: number }>[] =
    [];
  const lookupNotes: string[] = [];
  const lookupRandom = prng(0x100c);
  const lookupHeaders = { authorization: `Bearer ${context.adminToken}` };
  const nextLookup = () => {
    const member = workload.randomMember(lookupRandom);
    return { path: lookupPath(member.tenant, member.userId), headers: lookupHeaders, member };
  };
  const s = await measureServer(context, place, async (server) => {
    const windowsMeter = cpuMeter([server.pid]);
    const loads = await runWindowedLoad({
      url: server.url,
      connections,
      windows,
      windowSeconds,
      next,
      atWindowEnd: (i) => {
        const rss = rssMb(server.pid, 'rssKb');
        const memberships = workload.memberships;
        const load = os.loadavg()[0];
        sampled[i] = placeStoreBytes(place).then((bytes) => ({
          rssMb: rss,
          bytes,
          memberships,
          load,
        }));
        process.stderr.write(`bench: grown: server window ${i + 1}/${windows} done\n`);
      },
    });
    const samples = await Promise.all(sampled);
    const figures = loads.map((w, i) =>
      windowFigures({
        seconds: w.seconds,
        pages: w.ok,
        users: w.ok * shape.usersPerPage,
        latencies: w.latencies,
        non2xx: w.non2xx,
        errors: w.errors,
        rssMb: samples[i].rssMb,
        storeBytes: samples[i].bytes,
        memberships: samples[i].memberships,
        loadAverage: samples[i].load,
      }),
    );
    const windowsCpu = windowsMeter.stop();
    // Issue 15 item 2: the lookups on the grown store, once every re-sync page is answered.
    process.stderr.write(
      `bench: grown: server, lookups at ${scenario.lookup.rate.toLocaleString('en-US')}/s…\n`,
    );
    const probe = nextLookup();
    const answer = await getOnce(server.url + probe.path, lookupHeaders);
    const found = (JSON.parse(answer.body) as { segments?: { segment_id?: number }[] }).segments;
    if (!found?.some((segment) => segment.segment_id === probe.member.segmentId)) {
      problems.push(
        `a lookup on the grown store did not find segment ${probe.member.segmentId} ` +
          `(${answer.status} ${answer.body.slice(0, 200)})`,
      );
    }
    // On PostgreSQL, what the database did meanwhile (autovacuum after minutes of churn is its
    // steady state here, so it is recorded, not prevented).
    const sampler = place.databaseUrl ? await sampleActivity(place.databaseUrl) : undefined;
    const lookup = await pacedLookups(
      server,
      'server (grown store)',
      scenario.lookup,
      nextLookup,
      lookupNotes,
      problems,
    );
    if (sampler) lookupNotes.push(activityLine('server, lookups', await sampler.stop()));
    return { figures, ok: loads.reduce((sum, w) => sum + w.ok, 0), windowsCpu, lookup };
  });
  const non2xx = s.result.figures.reduce((sum, w) => sum + w.non2xx, 0);
  const errors = s.result.figures.reduce((sum, w) => sum + w.errors, 0);
  if (non2xx > 0) problems.push(`server: ${non2xx} non-2xx answers`);
  if (errors > 0) problems.push(`server: ${errors} request errors`);
  await checkApplied(place, loaded.loadPages + s.result.ok, problems);
  // The windows' CPU only: the lookup phase after them is not the re-syncs' cost.
  const serverCpu = {
    cpuMsPerPage: cpuMsPerPage(s.result.windowsCpu.targetMs, s.result.ok),
    databaseCpuMsPerPage: cpuMsPerPage(s.result.windowsCpu.databaseMs, s.result.ok),
  };
  const lookup = fromLoad(
    { ...s, result: s.result.lookup.paced, cpu: s.result.lookup.pacedCpu },
    0,
  );
  // The same lookups over bare HTTP with the store's own statement, on the server's grown store
  // as the server left it: the target's floor.
  const httpSameName = `floor A+${sameLetter(place)}`;
  process.stderr.write(`bench: grown: ${httpSameName}, lookups…\n`);
  const httpSame = await measureFloorHttpLookup(place, async (floor) => {
    const sampler = place.databaseUrl ? await sampleActivity(place.databaseUrl) : undefined;
    const paced = await pacedLookups(
      floor,
      `${httpSameName} (grown store)`,
      scenario.lookup,
      nextLookup,
      lookupNotes,
      problems,
    );
    if (sampler) lookupNotes.push(activityLine(`${httpSameName}, lookups`, await sampler.stop()));
    return paced;
  });
  const lookupFloor = fromLoad(
    { ...httpSame, result: httpSame.result.paced, cpu: httpSame.result.pacedCpu },
    0,
  );

  const input = { shape, windows, windowSeconds, concurrency: connections };
  process.stderr.write('bench: grown: floor B (its own load, then windows)…\n');
  const floorB = await runJsonChild<GrownFigures>(FLOOR_STORE_ENTRY, {
    mode: 'grown',
    place: await context.freshPlace('grown-floor-b'),
    ...input,
  } satisfies FloorStoreInput);
  const samePlace = await context.freshPlace('grown-floor-same');
  process.stderr.write(
    `bench: grown: floor ${sameLetter(samePlace)} (its own load, then windows)…\n`,
  );
  const floorSame = samePlace.databaseUrl
    ? await runJsonChild<GrownFigures>(FLOOR_POSTGRES_ENTRY, {
        mode: 'grown',
        databaseUrl: samePlace.databaseUrl,
        ...input,
      } satisfies FloorPostgresInput)
    : await runJsonChild<GrownFigures>(FLOOR_SQLITE_ENTRY, {
        mode: 'grown',
        file: path.join(samePlace.dataDir, 'floor-c.db'),
        ...input,
      } satisfies FloorSqliteInput);
  const notes = [
    `the server's store was loaded through Store.applyDelivery (its own process, ${shape.loadPageSize.toLocaleString('en-US')}-user pages, 2 in flight) with ${loaded.loadedMemberships.toLocaleString('en-US')} memberships in ${loaded.loadPages} pages in ${loaded.loadSeconds.toFixed(1)} s; floor B loaded its own in ${floorB.loadSeconds.toFixed(1)} s, floor ${sameLetter(samePlace)} in ${floorSame.loadSeconds.toFixed(1)} s`,
    `${index.toLocaleString('en-US')} re-sync pages were sent to the server, each built and signed as it was sent`,
    'floors B and C/P ran after the server, each on its own freshly loaded store; their windows are windows of apply time (pages are built outside the clock)',
    `then user → segments lookups on the server's grown store over the admin API (bearer token), each for a random real member (a random segment, then one of its members as the generator holds them), paced at ${scenario.lookup.rate.toLocaleString('en-US')}/s in ${scenario.lookup.pacedWindows} window(s) of ${scenario.lookup.pacedSeconds} s (the median one by p99 reported) after ${scenario.lookup.warmUpSeconds} s of the same not measured, as the lookup scenario paces them; the windows' CPU per page leaves the lookups out`,
    `then ${httpSameName}, the lookup's floor: the same lookups, paced the same way, against bare node:http running the store's own statement on the server's store as it left it (bench/floorHttpLookup.ts: no Express, no authentication, no headers)`,
    ...lookupNotes,
  ];
  if (warmedMb !== undefined) {
    notes.push(
      `the ${warmedMb.toFixed(0)} MB SQLite file was read once right before the server started (into the OS page cache, as for a server in service)`,
    );
  }
  return {
    server: { ...loaded, windows: s.result.figures },
    serverCpu,
    floorB,
    floorSame,
    lookup,
    lookupFloor,
    problems,
    notes,
  };
}
