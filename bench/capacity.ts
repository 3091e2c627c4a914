// The capacity model: what one instance and one PostgreSQL sustain, computed from a run's figures.
import { median } from './grown';
import type { GrownRun, Measurement, ScenarioRun } from './run';
import type { Scenarios } from './scenarios';

/** CPU per page as a fixed part and a part per 1,000 users, fitted through two page sizes. */
export type CostLine = { fixedMs: number; per1000UsersMs: number };

/**
 * The line through (users per page, CPU ms per page) of two scenarios: what a page costs whatever
 * its size, and what each 1,000 users add. Undefined when a figure is missing or the sizes match.
 */
export function fitCost(
  a: { users: number; ms: number | undefined },
  b: { users: number; ms: number | undefined },
): CostLine | undefined {
  if (a.ms === undefined || b.ms === undefined || !Number.isFinite(a.ms + b.ms)) return undefined;
  if (a.users === b.users) return undefined;
  const perUser = (b.ms - a.ms) / (b.users - a.users);
  return { fixedMs: Math.max(0, a.ms - perUser * a.users), per1000UsersMs: perUser * 1000 };
}

/** A partner's traffic, the example the README sizes. */
export type PartnerLoad = {
  customers: number;
  segmentsPerCustomer: number;
  syncsPerDay: number;
  /** Users added or removed per sync (a segment's change since its last sync). */
  usersPerSync: number;
  usersPerPage: number;
  /** Heap starts a cycle's syncs together; this long is assumed for one cycle's pages to arrive. */
  burstMinutes: number;
};

/**
 * 1,000 customers × 20 segments × 6 syncs a day (Heap syncs about every 4 hours). Assumed, since
 * Heap documents neither: 500 users change per sync (5 % of a 10,000-user segment), in pages of
 * 100 users (the grown scenario's page, so its measured cost applies as is), and a cycle's pages
 * arrive within 15 minutes.
 */
export const EXAMPLE_PARTNER: PartnerLoad = {
  customers: 1000,
  segmentsPerCustomer: 20,
  syncsPerDay: 6,
  usersPerSync: 500,
  usersPerPage: 100,
  burstMinutes: 15,
};

/** The share of a measured maximum an instance is planned to run at, leaving room for bursts. */
export const HEADROOM = 0.7;

export type PartnerNeeds = {
  pagesPerDay: number;
  usersPerDay: number;
  averagePagesPerSec: number;
  peakPagesPerSec: number;
};

export function partnerNeeds(load: PartnerLoad): PartnerNeeds {
  const syncsPerDay = load.customers * load.segmentsPerCustomer * load.syncsPerDay;
  const pagesPerSync = Math.ceil(load.usersPerSync / load.usersPerPage);
  const pagesPerDay = syncsPerDay * pagesPerSync;
  const cyclePages = pagesPerDay / load.syncsPerDay;
  return {
    pagesPerDay,
    usersPerDay: syncsPerDay * load.usersPerSync,
    averagePagesPerSec: pagesPerDay / 86_400,
    peakPagesPerSec: cyclePages / (load.burstMinutes * 60),
  };
}

/** One backend's measured inputs to the model. */
export type BackendFigures = {
  backend: string;
  small?: ScenarioRun;
  large?: ScenarioRun;
  grown?: GrownRun;
};

const fmt = (value: number | undefined, digits = 0) =>
  value === undefined || !Number.isFinite(value)
    ? '—'
    : value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });

/** The steady state an instance reached: the grown scenario's median window, else small's run. */
function steady(f: BackendFigures): {
  pagesPerSec?: number;
  usersPerSec?: number;
  cpuMsPerPage?: number;
  databaseCpuMsPerPage?: number;
  source: string;
} {
  if (f.grown) {
    const windows = f.grown.server.windows;
    return {
      pagesPerSec: median(windows.map((w) => w.pagesPerSec)),
      usersPerSec: median(windows.map((w) => w.usersPerSec)),
      cpuMsPerPage: f.grown.serverCpu.cpuMsPerPage,
      databaseCpuMsPerPage: f.grown.serverCpu.databaseCpuMsPerPage,
      source: 'grown',
    };
  }
  const server: Measurement | undefined = f.small?.server;
  return {
    pagesPerSec: server?.pagesPerSec,
    usersPerSec: server?.usersPerSec,
    cpuMsPerPage: server?.cpuMsPerPage,
    databaseCpuMsPerPage: server?.databaseCpuMsPerPage,
    source: 'small',
  };
}

/** The "Capacity model" section of RESULTS.md: measured figures, then what they project. */
export function capacityLines(
  figures: BackendFigures[],
  scenarios: Scenarios,
  machine: { databaseCores: number; partner?: PartnerLoad },
): string[] {
  const partner = machine.partner ?? EXAMPLE_PARTNER;
  const usable = figures.filter((f) => f.small || f.large || f.grown);
  if (usable.length === 0) return [];
  const smallUsers = scenarios.small.workload.usersPerPage;
  const largeUsers = scenarios.large.workload.usersPerPage;
  const lines = [
    '## Capacity model',
    '',
    `Measured in this run: CPU per page of the server process and (PostgreSQL) of the database's ` +
      `processes, fitted through the small (${smallUsers}-user) and large (${largeUsers}-user) ` +
      'pages into a fixed cost per page and a cost per 1,000 users; and the steady state one ' +
      'instance reached on the grown store (random ids, 100-user pages with churn), or the small ' +
      'scenario where grown was not run. Everything per day is projected from those rates.',
    '',
    '| Backend | Server CPU ms per page + per 1,000 users | Database CPU ms per page + per 1,000 users | Steady state (measured) | Server / database CPU ms per page there | Pages/day, users/day at 100 % (projected) | …at 70 % |',
    '| --- | --- | --- | --- | --- | --- | --- |',
  ];
  const need = partnerNeeds(partner);
  const plans: string[] = [];
  const databaseLimit: string[] = [];
  for (const f of usable) {
    const server = fitCost(
      { users: smallUsers, ms: f.small?.server.cpuMsPerPage },
      { users: largeUsers, ms: f.large?.server.cpuMsPerPage },
    );
    const database = fitCost(
      { users: smallUsers, ms: f.small?.server.databaseCpuMsPerPage },
      { users: largeUsers, ms: f.large?.server.databaseCpuMsPerPage },
    );
    const s = steady(f);
    const perDay = (rate: number | undefined, share: number) =>
      `${fmt((rate ?? NaN) * 86_400 * share)} / ${fmt((s.usersPerSec ?? NaN) * 86_400 * share)}`;
    const cost = (line: CostLine | undefined) =>
      line ? `${fmt(line.fixedMs, 3)} + ${fmt(line.per1000UsersMs, 3)}` : '—';
    lines.push(
      `| ${f.backend} | ${cost(server)} | ${cost(database)} | ${fmt(s.pagesPerSec, 1)} pages/s, ` +
        `${fmt(s.usersPerSec)} users/s (${s.source}) | ${fmt(s.cpuMsPerPage, 2)} / ` +
        `${fmt(s.databaseCpuMsPerPage, 2)} | ${perDay(s.pagesPerSec, 1)} | ${perDay(s.pagesPerSec, HEADROOM)} |`,
    );
    plans.push(...partnerPlan(f, s, need));
    databaseLimit.push(...databaseLimitLines(f, s, machine.databaseCores));
  }
  lines.push(
    '',
    ...(databaseLimit.length > 0 ? ['### Instances per PostgreSQL', '', ...databaseLimit, ''] : []),
    `### Sizing example: ${fmt(partner.customers)} customers × ${partner.segmentsPerCustomer} segments × ${partner.syncsPerDay} syncs a day`,
    '',
    `Assumed (Heap documents neither): ${fmt(partner.usersPerSync)} users change per sync, in pages of ` +
      `${partner.usersPerPage}; a cycle's syncs arrive within ${partner.burstMinutes} minutes. That is ` +
      `${fmt(need.pagesPerDay)} pages and ${fmt(need.usersPerDay)} users a day: ` +
      `${fmt(need.averagePagesPerSec, 1)} pages/s on average, ${fmt(need.peakPagesPerSec, 1)} pages/s ` +
      `during a cycle's burst. Instances are planned at ${Math.round(HEADROOM * 100)} % of what one ` +
      'reached here.',
    '',
    ...plans,
  );
  return lines;
}

function partnerPlan(
  f: BackendFigures,
  s: ReturnType<typeof steady>,
  need: PartnerNeeds,
): string[] {
  const rate = s.pagesPerSec;
  if (rate === undefined || !Number.isFinite(rate) || rate <= 0) return [];
  const instances = Math.ceil(need.peakPagesPerSec / (rate * HEADROOM));
  const serverCoreHours = ((s.cpuMsPerPage ?? NaN) * need.pagesPerDay) / 3.6e6;
  const parts = [
    `- ${f.backend}: the burst needs ${instances} instance(s) at ${fmt(rate * HEADROOM, 1)} pages/s ` +
      `each (projected); a day's pages cost ${fmt(serverCoreHours, 2)} core-hours of server CPU`,
  ];
  if (s.databaseCpuMsPerPage !== undefined && Number.isFinite(s.databaseCpuMsPerPage)) {
    const dbCoreHours = (s.databaseCpuMsPerPage * need.pagesPerDay) / 3.6e6;
    const dbCoresAtPeak = (s.databaseCpuMsPerPage * need.peakPagesPerSec) / 1000;
    parts.push(
      ` and ${fmt(dbCoreHours, 2)} of PostgreSQL CPU; during the burst PostgreSQL needs ` +
        `${fmt(dbCoresAtPeak, 2)} cores for its CPU alone`,
    );
  }
  return [`${parts.join('')}.`];
}

/**
 * How many instances one PostgreSQL serves before it is the limit: the database's ceiling measured
 * here (floor P: the same work as one call per delivery, nothing in the way) against what one
 * instance could do on a core of its own (1,000 ms over its CPU per page); and whether that ceiling
 * is the database's CPU or its commits (WAL flushes and the change feed's head row, both held to
 * commit), judged by how far floor P stays below what its CPU per page would allow.
 */
function databaseLimitLines(
  f: BackendFigures,
  s: ReturnType<typeof steady>,
  databaseCores: number,
): string[] {
  const floor = f.small?.floorSame;
  const dbMs = f.small?.server.databaseCpuMsPerPage;
  const serverMs = f.small?.server.cpuMsPerPage;
  if (!floor?.pagesPerSec || dbMs === undefined || !Number.isFinite(dbMs)) return [];
  const cpuCeiling = (databaseCores * 1000) / dbMs;
  const instanceCeiling = serverMs !== undefined && serverMs > 0 ? 1000 / serverMs : NaN;
  const limit =
    floor.pagesPerSec < 0.8 * cpuCeiling
      ? "its commits, not its CPU: floor P stays well below what PostgreSQL's CPU per page allows, " +
        'so the time goes to waiting for WAL flushes and for the change-feed head row each ' +
        'delivery holds until its commit'
      : "its CPU: floor P comes close to what PostgreSQL's CPU per page allows";
  return [
    `- Measured: floor P applied ${fmt(floor.pagesPerSec, 1)} small pages/s on this machine's ` +
      `cluster; the server's deliveries cost PostgreSQL ${fmt(dbMs, 2)} CPU ms each, so its ` +
      `${databaseCores} cores would allow ${fmt(cpuCeiling)} pages/s: the limit here is ${limit}.`,
    `- Projected: one instance on a core of its own does ${fmt(instanceCeiling)} small pages/s ` +
      `(1,000 ms / ${fmt(serverMs, 2)} ms of server CPU per page), so one such PostgreSQL serves ` +
      `about ${fmt(floor.pagesPerSec / instanceCeiling, 1)} instance(s) running flat out before it ` +
      `is the limit. ${paceLine(s, serverMs)}`,
  ];
}

/** Who set the pace of the steady state measured: the instance's own CPU or what it waited for. */
function paceLine(s: ReturnType<typeof steady>, smallServerMs: number | undefined): string {
  const ms = s.cpuMsPerPage ?? smallServerMs;
  if (!s.pagesPerSec || ms === undefined || !Number.isFinite(ms)) return '';
  const busy = (s.pagesPerSec * ms) / 1000;
  return busy < 0.8
    ? `At the steady state measured (${fmt(s.pagesPerSec, 1)} pages/s, ${s.source}) the server ` +
        `process was busy ${fmt(busy, 2)} cores: it waited for the database, which set the pace.`
    : `At the steady state measured (${fmt(s.pagesPerSec, 1)} pages/s, ${s.source}) the server ` +
        `process was busy ${fmt(busy, 2)} cores: its own CPU set the pace.`;
}
