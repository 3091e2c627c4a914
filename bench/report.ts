// Ratios to the floors, the issue's targets, and RESULTS.md / the console summary built from them.
import { capacityLines } from './capacity';
import type { MachineFacts } from './machine';
import { median, trend, type GrownFigures, type WindowFigures } from './grown';
import type { MembershipFigures } from './floorStore';
import type { GrownRun, IdleFigures, Measurement, ScenarioRun } from './run';
import { TARGETS, type ScenarioName, type Scenarios } from './scenarios';

export type BackendLabel = 'SQLite' | 'PostgreSQL';

export type ScenarioReport = {
  backend: BackendLabel;
  scenario: ScenarioName;
  skipped?: string;
  run?: ScenarioRun;
  /** The grown scenario reports windows instead (it has no floor A). */
  grown?: GrownRun;
};

export type TargetCheck = { target: string; measured: string; pass: boolean };

export type IdleReport = { backend: BackendLabel; figures?: IdleFigures; skipped?: string };

const pct = (value: number) => `${(value * 100).toFixed(0)} %`;
const num = (value: number | undefined, digits = 0) =>
  value === undefined || Number.isNaN(value)
    ? '—'
    : value.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
      });

/** The same-work floor of a backend: C (raw better-sqlite3) or P (one PL/pgSQL call a delivery). */
export function sameFloorName(backend: BackendLabel, scenario: ScenarioName): string {
  if (scenario === 'lookup') {
    return backend === 'SQLite'
      ? "floor C: the store's query on raw better-sqlite3"
      : "floor P: the store's query on raw pg";
  }
  return backend === 'SQLite'
    ? 'floor C: raw better-sqlite3, same work'
    : 'floor P: one PL/pgSQL call a delivery, same work';
}

const sameLetter = (backend: BackendLabel) => (backend === 'SQLite' ? 'C' : 'P');
/** The lookup's floor over HTTP: floor A's bare node:http with floor C's or P's query. */
const httpFloorName = (backend: BackendLabel) => `floor A+${sameLetter(backend)}`;

/** A share of a floor, for a figure where more is better. */
function share(server: number | undefined, floor: number | undefined): number {
  return server === undefined || !floor ? NaN : server / floor;
}

export function describeScenario(name: ScenarioName, scenarios: Scenarios): string {
  switch (name) {
    case 'small':
    case 'small-sequential':
    case 'large': {
      const s = scenarios[name];
      const half = s.workload.usersPerPage / 2;
      const length = s.amount ? `${s.amount} pages` : `${s.durationSeconds} s`;
      const ids =
        s.workload.ids === 'random'
          ? 'e-mail-like random ids'
          : 'sequential ids (`u<n>.<name>@bench.example`, every insert at the end of the indexes)';
      return `${s.workload.usersPerPage.toLocaleString('en-US')} users per page (${half} adds, ${half} removes of members added ${s.workload.lagTasks} tasks earlier, strangers before that), ${ids}, ${s.connections} connections, ${length}`;
    }
    case 'grown': {
      const { shape, connections, windows, windowSeconds, lookup } = scenarios.grown;
      const segments = shape.tenants * shape.segmentsPerTenant;
      const expected = (shape.tenants * shape.usersPerTenant * (1 + shape.maxSegmentsPerUser)) / 2;
      return (
        `a grown store: ${shape.tenants} tenants × ${shape.segmentsPerTenant} segments (${segments}), ` +
        `${shape.usersPerTenant.toLocaleString('en-US')} users a tenant, each in 1–${shape.maxSegmentsPerUser} ` +
        `of its tenant's segments (about ${Math.round(expected).toLocaleString('en-US')} memberships), ` +
        `e-mail-like random ids, loaded in pages of ${shape.loadPageSize.toLocaleString('en-US')} users; ` +
        `then re-syncs of ${shape.usersPerPage} users a page (half real members removed, half ` +
        `non-members added), tasks of ${shape.pagesPerTask} pages on a random segment, ` +
        `${connections} connections, ${windows} windows of ${windowSeconds} s; then user → segments ` +
        `lookups on that store over the admin API at ${lookup.rate.toLocaleString('en-US')}/s, paced, ` +
        `in ${lookup.pacedWindows} window(s) of ${lookup.pacedSeconds} s, the median one by p99 reported`
      );
    }
    case 'huge': {
      const s = scenarios.huge;
      return `a single page of ${s.workload.usersPerPage.toLocaleString('en-US')} new users, sent ${s.pages} time(s) (a new segment each), one at a time`;
    }
    case 'lookup': {
      const s = scenarios.lookup;
      const members = (s.population.segments * s.population.membersPerSegment).toLocaleString(
        'en-US',
      );
      const length = s.amount ? `${s.amount} lookups` : `${s.durationSeconds} s`;
      return (
        `user → segments over HTTP (the admin API, bearer token) against a store holding ${members} members: ` +
        `latency at ${s.rate.toLocaleString('en-US')} lookups/s sent on schedule in ${s.pacedWindows} window(s) of ${s.pacedSeconds} s, ` +
        `the median one by p99 reported ` +
        `(after ${s.warmUpSeconds} s of the same, not measured), ` +
        `then throughput with ${s.connections} connections kept busy for ${length}`
      );
    }
  }
}

/** Today's-main figures on the grown scenario that its targets are multiples of (bench/BASELINE.md). */
export type GrownBaseline = { usersPerSec: number; bytesPerMembership: number };
export type GrownBaselines = Partial<Record<BackendLabel, GrownBaseline>>;

/**
 * The grown baselines in bench/BASELINE.md, one line a backend, exactly:
 * `- Target baseline, grown, SQLite: 11,971 users/s, 132.6 bytes/membership`
 * (the only lines read; the tables around them are for people).
 */
export function parseGrownBaselines(markdown: string | undefined): GrownBaselines {
  const baselines: GrownBaselines = {};
  const line =
    /^- Target baseline, grown, (SQLite|PostgreSQL): ([\d,]+(?:\.\d+)?) users\/s, ([\d,]+(?:\.\d+)?) bytes\/membership/gm;
  for (const match of (markdown ?? '').matchAll(line)) {
    const figure = (text: string) => Number(text.replace(/,/g, ''));
    baselines[match[1] as BackendLabel] = {
      usersPerSec: figure(match[2]),
      bytesPerMembership: figure(match[3]),
    };
  }
  return baselines;
}

/**
 * Issues 14's and 15's targets, judged on this run for each backend that ran; targets whose
 * scenario did not run are left out. A grown target without its baseline fails ("no baseline"):
 * a multiple of nothing proves nothing.
 */
export function checkTargets(
  reports: ScenarioReport[],
  idle: IdleReport[],
  baselines: GrownBaselines = {},
): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const backend of ['SQLite', 'PostgreSQL'] as const) {
    checks.push(...backendTargets(backend, reports, idle, baselines[backend]));
  }
  return checks;
}

/**
 * The floor's own figure beside an absolute target's: where even the floor (the same work with
 * nothing in the way) misses the target, the machine, not the server, is what stands between.
 */
function floorAlso(floor: string, value: number | undefined, unit: string, digits = 0): string {
  return value === undefined || !Number.isFinite(value)
    ? ''
    : ` (${floor}: ${num(value, digits)} ${unit})`;
}

function backendTargets(
  backend: BackendLabel,
  reports: ScenarioReport[],
  idle: IdleReport[],
  baseline: GrownBaseline | undefined,
): TargetCheck[] {
  const report = (name: ScenarioName) =>
    reports.find((r) => r.backend === backend && r.scenario === name);
  const targets = TARGETS[backend];
  const floor = `floor ${sameLetter(backend)}`;
  const checks: TargetCheck[] = [];
  const add = (target: string, measured: string, pass: boolean) =>
    checks.push({ target: `${backend} ${target}`, measured, pass });

  const small = report('small')?.run;
  if (small) {
    const ratio = share(small.server.pagesPerSec, small.floorSame?.pagesPerSec);
    add(
      `small: ≥ ${pct(targets.smallShareOfFloor)} of ${floor} in pages/s`,
      `${pct(ratio)} (${num(small.server.pagesPerSec)} of ${num(small.floorSame?.pagesPerSec)} pages/s)`,
      ratio >= targets.smallShareOfFloor,
    );
    add(
      `small: p99 ≤ ${targets.smallP99Ms} ms`,
      `${num(small.server.p99Ms, 1)} ms${floorAlso(floor, small.floorSame?.p99Ms, 'ms', 1)}`,
      (small.server.p99Ms ?? Infinity) <= targets.smallP99Ms,
    );
    add(
      'small: zero non-2xx',
      `${small.server.non2xx} non-2xx, ${small.server.errors} errors`,
      small.server.non2xx === 0 && small.server.errors === 0,
    );
  }
  const large = report('large')?.run;
  if (large) {
    const ratio = share(large.server.usersPerSec, large.floorSame?.usersPerSec);
    add(
      `large: ≥ ${pct(targets.largeShareOfFloor)} of ${floor} in users/s`,
      `${pct(ratio)} (${num(large.server.usersPerSec)} of ${num(large.floorSame?.usersPerSec)} users/s)`,
      ratio >= targets.largeShareOfFloor,
    );
  }
  const huge = report('huge')?.run;
  if (huge) {
    add(
      `huge: answered 200 in ≤ ${num(targets.hugeMs)} ms (slowest of the pages sent)`,
      `${num(huge.server.maxMs)} ms${floorAlso(floor, huge.floorSame?.maxMs, 'ms')}, ${huge.server.non2xx} non-2xx`,
      (huge.server.maxMs ?? Infinity) <= targets.hugeMs && huge.server.non2xx === 0,
    );
    add(
      `huge: peak RSS ≤ ${TARGETS.hugePeakRssMb} MB`,
      `${num(huge.server.peakRssMb)} MB`,
      (huge.server.peakRssMb ?? Infinity) <= TARGETS.hugePeakRssMb,
    );
  }
  const lookup = report('lookup')?.run;
  if (lookup) {
    add(
      `lookup over HTTP: p99 ≤ ${TARGETS.lookupP99Ms} ms at the paced rate`,
      `${num(lookup.server.p99Ms, 2)} ms${floorAlso('floor A', lookup.floorA.p99Ms, 'ms', 2)}` +
        floorAlso(
          `${httpFloorName(backend)}, the same query over bare HTTP`,
          lookup.floorHttpSame?.p99Ms,
          'ms',
          2,
        ),
      (lookup.server.p99Ms ?? Infinity) <= TARGETS.lookupP99Ms,
    );
    const membership = lookup.membership;
    // Its floor: on SQLite the store's statement raw and awaited (bench/lookupFloor.ts), on
    // PostgreSQL floor P (the same prepared statement on raw pg, awaited).
    const inProcessFloor =
      backend === 'SQLite'
        ? floorAlso('floor, raw statement awaited', lookup.membershipFloor?.p99Us, 'µs', 1)
        : floorAlso(floor, (lookup.floorSame?.p99Ms ?? NaN) * 1000, 'µs', 1);
    add(
      `lookup in-process (Membership.segmentsOf): p99 ≤ ${TARGETS.membershipP99Us} µs`,
      membership
        ? `${num(membership.p99Us, 1)} µs (p50 ${num(membership.p50Us, 1)} µs, ${num(membership.lookups)} lookups)${inProcessFloor}`
        : 'not measured',
      (membership?.p99Us ?? Infinity) <= TARGETS.membershipP99Us,
    );
  }
  const grown = report('grown')?.grown;
  if (grown) {
    const windows = grown.server.windows;
    const usersPerSec = median(windows.map((w) => w.usersPerSec));
    const p99 = median(windows.map((w) => w.p99Ms));
    const bytes = median(windows.map((w) => w.bytesPerMembership));
    const over = targets.grownUsersPerSecOverBaseline;
    const floorWindows = grown.floorSame.windows;
    const floorUsersPerSec = floorWindows.length
      ? median(floorWindows.map((w) => w.usersPerSec))
      : undefined;
    const floorP99 = floorWindows.length ? median(floorWindows.map((w) => w.p99Ms)) : undefined;
    add(
      `grown: users/s ≥ ${num(over, 1)}× the baseline (median of windows)`,
      baseline
        ? `${num(usersPerSec)} users/s, ${num(usersPerSec / baseline.usersPerSec, 2)}× the baseline's ${num(baseline.usersPerSec)}` +
            (floorUsersPerSec === undefined
              ? ''
              : ` (${floor}: ${num(floorUsersPerSec)}, ${num(floorUsersPerSec / baseline.usersPerSec, 2)}×)`)
        : `${num(usersPerSec)} users/s; no baseline in bench/BASELINE.md`,
      baseline !== undefined && usersPerSec >= over * baseline.usersPerSec,
    );
    add(
      `grown: p99 ≤ ${targets.grownP99Ms} ms (median of windows)`,
      `${num(p99, 1)} ms${floorAlso(floor, floorP99, 'ms', 1)}`,
      p99 <= targets.grownP99Ms,
    );
    // Issue 15 item 2: the lookup target holds on the grown store too. A grown run without its
    // lookup phase (an older result) fails as unmeasured rather than passing.
    add(
      `grown: lookup over HTTP p99 ≤ ${TARGETS.lookupP99Ms} ms at the paced rate`,
      grown.lookup
        ? `${num(grown.lookup.p99Ms, 2)} ms (p50 ${num(grown.lookup.p50Ms, 2)} ms, ${num(grown.lookup.completed)} lookups)` +
            floorAlso(
              `${httpFloorName(backend)}, the same query over bare HTTP`,
              grown.lookupFloor?.p99Ms,
              'ms',
              2,
            )
        : 'not measured',
      (grown.lookup?.p99Ms ?? Infinity) <= TARGETS.lookupP99Ms,
    );
    const bytesShare = targets.grownBytesShareOfBaseline;
    if (bytesShare !== undefined) {
      add(
        `grown: bytes/membership ≤ ${pct(bytesShare)} of the baseline's (median of windows)`,
        baseline
          ? `${num(bytes, 1)}, ${pct(bytes / baseline.bytesPerMembership)} of the baseline's ${num(baseline.bytesPerMembership, 1)}`
          : `${num(bytes, 1)}; no baseline in bench/BASELINE.md`,
        baseline !== undefined && bytes <= bytesShare * baseline.bytesPerMembership,
      );
    }
  }
  const idleFigures = idle.find((i) => i.backend === backend)?.figures;
  if (idleFigures) {
    add(
      `idle RSS ≤ ${TARGETS.idleRssMb} MB`,
      `${num(idleFigures.idleRssMb, 1)} MB after ${idleFigures.idleSeconds} more s without a request ` +
        `(${num(idleFigures.startRssMb, 1)} MB 1.5 s after start-up)`,
      idleFigures.idleRssMb <= TARGETS.idleRssMb,
    );
  }
  return checks;
}

const FIGURE_HEADER =
  '| | pages/s | users/s | p50 ms | p99 ms | max ms | OK | non-2xx | errors | peak RSS MB | RSS at start MB | CPU ms/page | DB CPU ms/page | CPU: process / database / load generator / others / stolen (cores) |\n' +
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';

function figureRow(label: string, m: Measurement, lookup: boolean): string {
  const rate = lookup ? `${num(m.pagesPerSec)} lookups/s` : num(m.pagesPerSec, 1);
  return `| ${label} | ${rate} | ${lookup ? '—' : num(m.usersPerSec)} | ${num(m.p50Ms, 2)} | ${num(m.p99Ms, 2)} | ${num(m.maxMs, 1)} | ${num(m.completed)} | ${m.non2xx} | ${m.errors} | ${num(m.peakRssMb)} | ${num(m.startRssMb, 1)} | ${lookup ? '—' : num(m.cpuMsPerPage, 2)} | ${lookup ? '—' : num(m.databaseCpuMsPerPage, 2)} | ${num(m.cpu.target, 2)} / ${num(m.cpu.database, 2)} / ${num(m.cpu.generator, 2)} / ${num(m.cpu.foreign, 2)} / ${num(m.cpu.stolen, 2)} |`;
}

/** The in-process target's floor on SQLite (bench/lookupFloor.ts), in one sentence. */
export function membershipFloorLine(m: MembershipFigures): string {
  return (
    `its floor: the store's statement on raw better-sqlite3 (read-only, mapped as the server's reader), ` +
    `each call awaited, the same users after the same unmeasured pass: p50 ${num(m.p50Us, 1)} µs, ` +
    `p99 ${num(m.p99Us, 1)} µs, max ${num(m.maxUs)} µs, CPU ${num(m.cpuUsPerLookup, 1)} µs per lookup`
  );
}

/** The in-process Membership API's lookups (the lookup scenario), in one sentence. */
export function membershipLine(m: MembershipFigures): string {
  return (
    `in-process Membership.segmentsOf (the toolkit's API, store opened as the server opens it), ` +
    `${num(m.lookups)} lookups one at a time after as many unmeasured: p50 ${num(m.p50Us, 1)} µs, ` +
    `p99 ${num(m.p99Us, 1)} µs, max ${num(m.maxUs)} µs, CPU ${num(m.cpuUsPerLookup, 1)} µs per lookup`
  );
}

/** Server figure over floor figure, as "1.23×" (for times: lower is better). */
const times = (server: number | undefined, floor: number | undefined, digits: number) =>
  `${num((server ?? NaN) / (floor ?? NaN), digits)}×`;

function ratiosLine(report: ScenarioReport): string {
  const run = report.run as ScenarioRun;
  const letter = sameLetter(report.backend);
  if (report.scenario === 'huge') {
    return (
      `Ratios (time, lower is better): server / floor A = ${times(run.server.maxMs, run.floorA.maxMs, 1)}, ` +
      `server / floor B = ${times(run.server.maxMs, run.floorB.maxMs, 2)}, ` +
      `server / floor ${letter} = ${times(run.server.maxMs, run.floorSame?.maxMs, 2)} (slowest page each); ` +
      `CPU per page: server / floor ${letter} = ${times(run.server.cpuMsPerPage, run.floorSame?.cpuMsPerPage, 2)}.`
    );
  }
  if (report.scenario === 'lookup') {
    const saturated = run.serverSaturated ?? run.server;
    const floorSaturated = run.floorASaturated ?? run.floorA;
    return (
      `Ratios: p99 at the paced rate ${num(run.server.p99Ms, 2)} ms against floor A's ${num(run.floorA.p99Ms, 2)} ms ` +
      `(${num((run.server.p99Ms ?? NaN) / (run.floorA.p99Ms ?? NaN), 1)}×); with every connection busy the server ` +
      `answers ${pct(share(saturated.pagesPerSec, floorSaturated.pagesPerSec))} of floor A's lookups/s; ` +
      `floor B's store call alone: p99 ${num(run.floorB.p99Ms, 3)} ms; ` +
      `floor ${letter}'s raw query alone: p99 ${num(run.floorSame?.p99Ms, 3)} ms.`
    );
  }
  return (
    `Ratios: server / floor A = ${pct(share(run.server.pagesPerSec, run.floorA.pagesPerSec))}, ` +
    `server / floor B = ${pct(share(run.server.pagesPerSec, run.floorB.pagesPerSec))}, ` +
    `server / floor ${letter} = ${pct(share(run.server.pagesPerSec, run.floorSame?.pagesPerSec))} ` +
    `(pages/s; users/s is the same ratio); p99 server / floor ${letter} = ` +
    `${times(run.server.p99Ms, run.floorSame?.p99Ms, 1)}; CPU per page server / floor ${letter} = ` +
    `${times(run.server.cpuMsPerPage, run.floorSame?.cpuMsPerPage, 2)}.`
  );
}

/**
 * Every server figure against its three floors in one table: pages/s as a share of each floor
 * (more is better) for small and large, the slowest page's time (huge) or the paced p99 (lookup)
 * as a multiple of each floor's (less is better); then CPU per page (per lookup), the server's
 * and its same-work floor's.
 */
export function ratioTable(reports: ScenarioReport[]): string[] {
  const rows = reports.filter((r) => r.run);
  if (rows.length === 0) return [];
  const lines = [
    '## Ratios to the floors',
    '',
    "A: bare node:http (HTTP ceiling); B: the store's own apply (lookup: query) without HTTP; " +
      'C (SQLite) / P (PostgreSQL): the same work straight on the database (see Configuration).',
    '',
    '| Backend | Scenario | Compared on | Server | ÷ floor A | ÷ floor B | ÷ floor C/P | p99 ÷ floor C/P | Server CPU ms/page | Server: database CPU ms/page | Floor C/P CPU ms/page | CPU ÷ floor C/P |',
    '| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const report of rows) {
    const { server, floorA, floorB, floorSame } = report.run as ScenarioRun;
    const letter = sameLetter(report.backend);
    const huge = report.scenario === 'huge';
    const lookup = report.scenario === 'lookup';
    const ratio = (floor: Measurement | undefined) =>
      huge
        ? times(server.maxMs, floor?.maxMs, 2)
        : lookup
          ? times(server.p99Ms, floor?.p99Ms, 1)
          : pct(share(server.pagesPerSec, floor?.pagesPerSec));
    const comparedOn = huge
      ? 'slowest page, ms (less is better)'
      : lookup
        ? 'p99 ms at the paced rate (less is better); CPU per lookup'
        : 'pages/s (more is better)';
    const figure = huge
      ? num(server.maxMs)
      : lookup
        ? num(server.p99Ms, 2)
        : num(server.pagesPerSec, 1);
    lines.push(
      `| ${report.backend} | ${report.scenario} | ${comparedOn} | ` +
        `${figure} | ${ratio(floorA)} | ${ratio(floorB)} | ` +
        `${floorSame ? `${ratio(floorSame)} (${letter})` : '—'} | ` +
        `${huge || lookup ? '—' : times(server.p99Ms, floorSame?.p99Ms, 1)} | ${num(server.cpuMsPerPage, 2)} | ` +
        `${num(server.databaseCpuMsPerPage, 2)} | ${num(floorSame?.cpuMsPerPage, 2)} | ${times(server.cpuMsPerPage, floorSame?.cpuMsPerPage, 2)} |`,
    );
  }
  lines.push(
    '',
    'CPU ms/page: user + system CPU of the process (every thread, from /proc) over the measured ' +
      "window, per page applied; a floor counts its timed work only. The server's database CPU: " +
      "every process of the PostgreSQL cluster the bench started (the postmaster's children, exited " +
      'ones included) over the server\'s window, per page; "—" on SQLite, which runs inside the ' +
      'server process.',
  );
  return lines;
}

export type ReportInput = {
  quick: boolean;
  command: string;
  facts: MachineFacts;
  loadAverage: number[];
  scenarios: Scenarios;
  reports: ScenarioReport[];
  idle: IdleReport[];
  configuration: string[];
  /** Figures kept from earlier runs (bench/BASELINE.md), markdown with its own heading. */
  baseline?: string;
};

export function renderMarkdown(input: ReportInput): string {
  const checks = checkTargets(input.reports, input.idle, parseGrownBaselines(input.baseline));
  const lines: string[] = [
    '# Benchmark results',
    '',
    `Written by \`${input.command}\` on ${input.facts.date}${input.quick ? ' in quick (CI smoke) mode: these figures prove the harness runs and mean nothing' : ''}.`,
    'Absolute numbers are noisy on this shared machine; the targets are ratios to floors measured in',
    'the same run, one after another. The CPU column splits what the machine did meanwhile, in cores',
    `out of ${input.facts.nproc}: the measured process, the database server (PostgreSQL's cluster), the load generator (this bench process) and`,
    "everything else (other developers' work on this shared machine), and the time the hypervisor",
    'gave our CPUs to other virtual machines while ours wanted them (steal time, which no code here',
    'can avoid and which shows up directly in latency).',
    '',
    '## Machine',
    '',
    '| | |',
    '| --- | --- |',
    `| CPU | ${input.facts.cpus} (nproc ${input.facts.nproc}) |`,
    `| Memory | ${input.facts.memoryGb} GiB |`,
    `| OS | ${input.facts.os} |`,
    `| Node.js | ${input.facts.node} |`,
    `| SQLite | ${input.facts.sqlite} (better-sqlite3) |`,
    `| Data directory's disk | ${input.facts.disk} |`,
    `| A durable 4 KiB write there (write + fdatasync) | p50 ${num(input.facts.sync.p50Ms, 2)} ms, p99 ${num(input.facts.sync.p99Ms, 2)} ms (${input.facts.sync.samples} writes) |`,
    `| Load average at start | ${input.loadAverage.map((v) => v.toFixed(2)).join(', ')} |`,
    '',
    '## Configuration',
    '',
    ...input.configuration.map((line) => `- ${line}`),
    '',
    '## Targets (issues 14 and 15, default durable configuration)',
    '',
  ];
  if (input.quick)
    lines.push('Not judged in quick mode: its scenarios are too small to mean anything.');
  else if (checks.length === 0) lines.push('No scenario with a target ran.');
  else {
    lines.push('| Target | Measured | Result |', '| --- | --- | --- |');
    for (const check of checks) {
      lines.push(`| ${check.target} | ${check.measured} | ${check.pass ? 'pass' : '**FAIL**'} |`);
    }
  }
  lines.push('', ...ratioTable(input.reports));
  const capacity = capacityLines(
    (['SQLite', 'PostgreSQL'] as const).map((backend) => {
      const of = (scenario: ScenarioName) =>
        input.reports.find((r) => r.backend === backend && r.scenario === scenario);
      return {
        backend,
        small: of('small')?.run,
        large: of('large')?.run,
        grown: of('grown')?.grown,
      };
    }),
    input.scenarios,
    // The bench's cluster runs on this machine, so its cores are the database's.
    { databaseCores: input.facts.nproc },
  );
  if (capacity.length > 0) lines.push('', ...capacity);
  if (input.baseline) lines.push('', input.baseline.trim());
  lines.push('', '## Figures', '', '### Idle', '');
  for (const { backend, figures, skipped } of input.idle) {
    lines.push(
      figures
        ? `- ${backend}: ${num(figures.startRssMb, 1)} MB RSS 1.5 s after start-up, ${num(figures.idleRssMb, 1)} MB after ${figures.idleSeconds} more seconds without a request.`
        : `- ${backend}: skipped: ${skipped}.`,
    );
  }
  lines.push('');
  for (const report of input.reports) {
    lines.push(
      `### ${report.backend}: ${report.scenario}`,
      '',
      describeScenario(report.scenario, input.scenarios) + '.',
      '',
    );
    if (report.grown) {
      lines.push(...grownLines(report.backend, report.grown), '');
      continue;
    }
    const run = report.run;
    if (!run) {
      lines.push(`Skipped: ${report.skipped}.`, '');
      continue;
    }
    const lookup = report.scenario === 'lookup';
    lines.push(FIGURE_HEADER);
    if (lookup) {
      const { rate, connections } = input.scenarios.lookup;
      const paced = `at ${num(rate)} lookups/s, paced`;
      const busy = `${connections} connections kept busy`;
      lines.push(figureRow(`server ${paced}`, run.server, true));
      if (run.serverSaturated) lines.push(figureRow(`server, ${busy}`, run.serverSaturated, true));
      lines.push(figureRow(`floor A: bare node:http ${paced}`, run.floorA, true));
      if (run.floorASaturated) {
        lines.push(figureRow(`floor A: bare node:http, ${busy}`, run.floorASaturated, true));
      }
      if (run.floorHttpSame) {
        const name = `${httpFloorName(report.backend)}: the store's query over bare node:http ${paced}`;
        lines.push(figureRow(name, run.floorHttpSame, true));
      }
    } else {
      lines.push(
        figureRow('server', run.server, false),
        figureRow('floor A: bare node:http', run.floorA, false),
      );
    }
    lines.push(figureRow('floor B: store only', run.floorB, lookup));
    if (run.floorSame) {
      lines.push(figureRow(sameFloorName(report.backend, report.scenario), run.floorSame, lookup));
    }
    lines.push('');
    lines.push(ratiosLine(report), '');
    if (run.membership) lines.push(`- ${membershipLine(run.membership)}`);
    if (run.membershipFloor) lines.push(`- ${membershipFloorLine(run.membershipFloor)}`);
    for (const note of run.notes) lines.push(`- ${note}`);
    for (const problem of run.problems) lines.push(`- **Problem:** ${problem}`);
    lines.push('');
  }
  return lines.join('\n');
}

/** One line per scenario and per target, for the terminal. */
export function renderSummary(
  reports: ScenarioReport[],
  idle: IdleReport[],
  judge: boolean,
  baselines: GrownBaselines = {},
): string {
  const lines: string[] = [];
  for (const report of reports) {
    const head = `${report.backend} ${report.scenario}`.padEnd(18);
    if (report.grown) {
      const { server, floorB, floorSame } = report.grown;
      lines.push(
        `${head} ${grownSummary('server', server)}`,
        `  ${grownSummary('floor B', floorB)}`,
        `  ${grownSummary(`floor ${sameLetter(report.backend)}`, floorSame)}`,
      );
      if (report.grown.lookup) lines.push(`  ${grownLookupLine(report.grown.lookup)}`);
      if (report.grown.lookupFloor) {
        const who = httpFloorName(report.backend);
        lines.push(`  ${grownLookupLine(report.grown.lookupFloor, who)}`);
      }
      continue;
    }
    if (!report.run) {
      lines.push(`${head} skipped: ${report.skipped}`);
      continue;
    }
    const { server, floorA, floorB, floorSame } = report.run;
    const cpuPerPage = (m: Measurement) => num(m.cpuMsPerPage, 2);
    const same = floorSame
      ? `floor ${sameLetter(report.backend)} ${num(floorSame.pagesPerSec, 1)}/s cpu ${cpuPerPage(floorSame)} ms/page | `
      : '';
    lines.push(
      `${head} ${num(server.pagesPerSec, 1)}/s p50 ${num(server.p50Ms, 2)} ms p99 ${num(server.p99Ms, 2)} ms ` +
        `max ${num(server.maxMs, 1)} ms non-2xx ${server.non2xx} peak ${num(server.peakRssMb)} MB ` +
        `cpu ${cpuPerPage(server)} ms/page | floor A ${num(floorA.pagesPerSec, 1)}/s | ` +
        `floor B ${num(floorB.pagesPerSec, 1)}/s cpu ${cpuPerPage(floorB)} ms/page | ${same}` +
        `others ${num(server.cpu.foreign, 2)}/${num(floorB.cpu.foreign, 2)} cores | ` +
        `stolen ${num(server.cpu.stolen, 2)}/${num(floorB.cpu.stolen, 2)} cores`,
    );
    lines.push(`  ${ratiosLine(report)}`);
    if (report.run.membership) lines.push(`  ${membershipLine(report.run.membership)}`);
    if (report.run.membershipFloor) {
      lines.push(`  ${membershipFloorLine(report.run.membershipFloor)}`);
    }
  }
  if (!judge) lines.push('targets: not judged in quick mode');
  else
    for (const check of checkTargets(reports, idle, baselines)) {
      lines.push(`${check.pass ? 'pass' : 'FAIL'}  ${check.target}: ${check.measured}`);
    }
  return lines.join('\n');
}

const WINDOW_HEADER =
  '| | window | pages/s | users/s | p50 ms | p99 ms | non-2xx | errors | RSS MB | database + WAL MB | bytes/membership | memberships | load avg (1 min) |\n' +
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';

function windowRow(label: string, index: number, w: WindowFigures): string {
  return `| ${label} | ${index + 1} | ${num(w.pagesPerSec, 1)} | ${num(w.usersPerSec)} | ${num(w.p50Ms, 2)} | ${num(w.p99Ms, 2)} | ${w.non2xx} | ${w.errors} | ${num(w.rssMb)} | ${num(w.storeMb)} | ${num(w.bytesPerMembership, 1)} | ${num(w.memberships)} | ${num(w.loadAverage, 2)} |`;
}

/** Medians over the windows and the first-vs-last trend, in one line. */
export function grownSummary(who: string, figures: GrownFigures): string {
  const windows = figures.windows;
  const t = trend(windows);
  const sign = (value: number) => (value >= 0 ? `+${num(value)}` : num(value));
  return (
    `${who}: load ${num(figures.loadedMemberships)} memberships in ${num(figures.loadSeconds, 1)} s; ` +
    `median of ${windows.length} windows ${num(median(windows.map((w) => w.pagesPerSec)), 1)} pages/s, ` +
    `${num(median(windows.map((w) => w.usersPerSec)))} users/s, p99 ${num(median(windows.map((w) => w.p99Ms)), 2)} ms, ` +
    `${num(median(windows.map((w) => w.bytesPerMembership)), 1)} bytes/membership` +
    (t
      ? `; last/first window: users/s ${num(t.usersPerSec, 2)}×, p99 ${num(t.p99, 2)}×, RSS ${sign(t.rssMb)} MB, store ${sign(t.storeMb)} MB`
      : '')
  );
}

/** The grown scenario's lookup phase (the server's or its floor's, paced), in one sentence. */
export function grownLookupLine(m: Measurement, who = 'server'): string {
  return (
    `${who}, user → segments on the grown store at ${num(m.pagesPerSec)} lookups/s, paced: ` +
    `p50 ${num(m.p50Ms, 2)} ms, p99 ${num(m.p99Ms, 2)} ms, max ${num(m.maxMs, 1)} ms, ` +
    `${num(m.completed)} lookups, ${m.non2xx} non-2xx, ${m.errors} errors, ` +
    `CPU ${num(m.cpuMsPerPage, 3)} ms per lookup` +
    (m.databaseCpuMsPerPage !== undefined && Number.isFinite(m.databaseCpuMsPerPage)
      ? ` (database ${num(m.databaseCpuMsPerPage, 3)} ms)`
      : '') +
    `; stolen ${num(m.cpu.stolen, 3)} cores`
  );
}

/** The grown scenario's section: every window of the server and of its floors. */
export function grownLines(backend: BackendLabel, run: GrownRun): string[] {
  const same = `floor ${sameLetter(backend)}`;
  const lines = [WINDOW_HEADER];
  run.server.windows.forEach((w, i) => lines.push(windowRow('server', i, w)));
  run.floorB.windows.forEach((w, i) => lines.push(windowRow('floor B: store only', i, w)));
  run.floorSame.windows.forEach((w, i) =>
    lines.push(windowRow(sameFloorName(backend, 'grown'), i, w)),
  );
  lines.push(
    '',
    `- ${grownSummary('server', run.server)}; CPU ${num(run.serverCpu.cpuMsPerPage, 2)} ms/page` +
      (Number.isFinite(run.serverCpu.databaseCpuMsPerPage)
        ? `, database CPU ${num(run.serverCpu.databaseCpuMsPerPage, 2)} ms/page`
        : ''),
    `- ${grownSummary('floor B', run.floorB)}`,
    `- ${grownSummary(same, run.floorSame)}`,
  );
  if (run.lookup) lines.push(`- ${grownLookupLine(run.lookup)}`);
  if (run.lookupFloor) {
    lines.push(
      `- ${grownLookupLine(run.lookupFloor, `${httpFloorName(backend)} (bare node:http, the store's query)`)}`,
    );
  }
  for (const note of run.notes) lines.push(`- ${note}`);
  for (const problem of run.problems) lines.push(`- **Problem:** ${problem}`);
  return lines;
}
