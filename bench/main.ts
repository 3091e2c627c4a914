// npm run bench [-- --quick]: every scenario on SQLite (and PostgreSQL when available), then RESULTS.md.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import prettier from 'prettier';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { choosePostgres, placeMaker, postmasterPid, type Backend } from './backends';
import { machineFacts, meterDatabase } from './machine';
import {
  checkTargets,
  parseGrownBaselines,
  renderMarkdown,
  renderSummary,
  type BackendLabel,
  type IdleReport,
  type ScenarioReport,
} from './report';
import {
  measureIdle,
  runGrown,
  runHuge,
  runIngest,
  runLookup,
  PACED_ATTEMPTS,
  RUN_ATTEMPTS,
  STOLEN_LIMIT_LATENCY,
  STOLEN_LIMIT_THROUGHPUT,
  type GrownRun,
  type RunContext,
  type ScenarioRun,
} from './run';
import { FULL, QUICK, SCENARIO_NAMES, type ScenarioName, type Scenarios } from './scenarios';

const BENCH_DIR = path.join(__dirname, '..', '..', 'bench');
/** Longest wait for V8's memory reducer to run after start-up (it took 10 to 30 s here). */
const IDLE_SECONDS = 60;

async function runScenario(
  context: RunContext,
  scenarios: Scenarios,
  name: ScenarioName,
): Promise<{ run?: ScenarioRun; grown?: GrownRun }> {
  switch (name) {
    case 'small':
    case 'small-sequential':
    case 'large':
      return { run: await runIngest(context, scenarios[name]) };
    case 'grown':
      return { grown: await runGrown(context, scenarios.grown) };
    case 'huge':
      return { run: await runHuge(context, scenarios.huge) };
    case 'lookup':
      return { run: await runLookup(context, scenarios.lookup) };
  }
}

async function main(): Promise<number> {
  const argv = await yargs(hideBin(process.argv))
    .scriptName('npm run bench --')
    .usage('$0 [--quick] [--only small,huge] [--scenario grown --backend sqlite]')
    .option('quick', {
      type: 'boolean',
      default: false,
      describe: 'CI smoke mode: tiny scenarios, a few seconds; fails only if the harness breaks',
    })
    .option('only', {
      alias: 'scenario',
      type: 'string',
      describe:
        `Comma-separated scenarios to run (${SCENARIO_NAMES.join(', ')}); the results go to ` +
        'bench/out/ unless --out says otherwise, so RESULTS.md keeps the whole suite',
    })
    .option('backend', {
      choices: ['both', 'sqlite', 'postgres'] as const,
      default: 'both' as const,
      describe: 'Which store to run the scenarios on (postgres: as --postgres would find it)',
    })
    .option('idle', {
      type: 'boolean',
      describe: 'Measure the idle server (default: with the whole suite, not with --only)',
    })
    .option('out', { type: 'string', describe: 'Where to write the results (markdown)' })
    .option('cpu-prof', {
      type: 'boolean',
      default: false,
      describe: 'Run the server under node --cpu-prof (profiles in bench/out/profiles)',
    })
    .option('postgres', {
      type: 'boolean',
      default: true,
      describe:
        'Also run every scenario on PostgreSQL: the server in DATABASE_URL (a new database per run, ' +
        'so it needs CREATEDB), else a throwaway cluster like the tests start (--no-postgres: skip)',
    })
    .option('keep', { type: 'boolean', default: false, describe: 'Keep the temporary data' })
    .strict()
    .help()
    .parse();

  const quick = argv.quick;
  const scenarios = quick ? QUICK : FULL;
  const selected = argv.only
    ? argv.only.split(',').map((name) => name.trim() as ScenarioName)
    : [...SCENARIO_NAMES];
  const unknown = selected.filter((name) => !SCENARIO_NAMES.includes(name));
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(', ')}`);

  const workDir = mkdtempSync(path.join(os.tmpdir(), 'hpa-bench-'));
  const profileDir = path.join(BENCH_DIR, 'out', 'profiles');
  if (argv.cpuProf) mkdirSync(profileDir, { recursive: true });
  const loadAverage = os.loadavg();
  const facts = machineFacts(workDir);
  const postgres = await choosePostgres(argv.postgres && argv.backend !== 'sqlite');
  const measureIdleToo = argv.idle ?? !argv.only;
  const backends: { label: BackendLabel; backend?: Backend; skipped?: string }[] = [];
  if (argv.backend !== 'postgres') backends.push({ label: 'SQLite', backend: { kind: 'sqlite' } });
  if (argv.backend !== 'sqlite') {
    backends.push({
      label: 'PostgreSQL',
      backend: postgres.backend,
      skipped: postgres.backend ? undefined : postgres.skipped,
    });
  }

  const reports: ScenarioReport[] = [];
  const idle: IdleReport[] = [];
  try {
    for (const { label, backend, skipped } of backends) {
      if (!backend) {
        if (measureIdleToo) idle.push({ backend: label, skipped });
        for (const scenario of selected) reports.push({ backend: label, scenario, skipped });
        continue;
      }
      const places = placeMaker(backend, workDir);
      // PostgreSQL's CPU is metered when the bench started the cluster (an external one is unseen).
      meterDatabase(
        backend.kind === 'postgres' && 'cluster' in postgres && postgres.cluster
          ? postmasterPid(postgres.cluster)
          : undefined,
      );
      const context: RunContext = {
        freshPlace: places.fresh,
        secret: randomBytes(32).toString('base64url'),
        adminToken: randomBytes(32).toString('base64url'),
        serverNodeArgs: argv.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
        settleMs: quick ? 200 : 1500,
      };
      try {
        if (measureIdleToo) {
          process.stderr.write(`bench: ${label} idle…\n`);
          idle.push({
            backend: label,
            figures: await measureIdle(context, quick ? 0 : IDLE_SECONDS),
          });
        }
        for (const scenario of selected) {
          process.stderr.write(`bench: ${label} ${scenario}…\n`);
          reports.push({
            backend: label,
            scenario,
            ...(await runScenario(context, scenarios, scenario)),
          });
        }
      } finally {
        await places.cleanUp();
      }
    }
  } finally {
    if ('cluster' in postgres) postgres.cluster?.destroy();
    if (!argv.keep) rmSync(workDir, { recursive: true, force: true });
  }

  const flags = [
    quick ? '--quick' : '',
    argv.only ? `--only ${argv.only}` : '',
    argv.backend !== 'both' ? `--backend ${argv.backend}` : '',
  ].filter(Boolean);
  const command = `npm run bench${flags.length ? ` -- ${flags.join(' ')}` : ''}`;
  const baselineFile = path.join(BENCH_DIR, 'BASELINE.md');
  const baseline = existsSync(baselineFile) ? readFileSync(baselineFile, 'utf8') : undefined;
  const baselines = parseGrownBaselines(baseline);
  const markdown = renderMarkdown({
    quick,
    baseline,
    command,
    facts,
    loadAverage,
    scenarios,
    reports,
    idle,
    configuration: [
      'Server under test: `node dist/src/server/main.js` as its own process, default configuration ' +
        '(development, no OAuth client), a fresh temporary `DATA_DIR` per scenario, `WEBHOOK_SECRET` and ' +
        '`ADMIN_TOKEN` set, `HTTP_MAX_REQUESTS_PER_SOCKET=0` (autocannon ignores `Connection: close` and ' +
        'then times every later answer on that connection from the request before it; see bench/load.ts), ' +
        'log level info written to a file. SQLite: WAL, `synchronous=FULL`, group ' +
        'commit (every 200 is committed to disk first), the writer in a worker thread, queries on the ' +
        'main thread.',
      'Load generator: autocannon in the bench process on the same machine, one request in flight per ' +
        'connection, latencies of every 2xx answer in full precision. Pages are unique (no duplicates), ' +
        'built and signed just before each run, so every signature is well within the default 300 s ' +
        'tolerance, which is left as it is.',
      'User ids (issue 15): e-mail-like and random by default (bench/ids.ts): ' +
        '`<1–7 random base-36 chars><7 base-36 chars>.<word>@<one of 50 domains>`, the 7 characters a ' +
        'bijection of the user number, so ids are unique, spread over the whole key space as ' +
        "customers' identities are, and the same from a seed in every process. small-sequential keeps " +
        'the old `u<n>.<name>@bench.example` ids (every insert at the end of the indexes) for comparison.',
      'grown: a child process loads the store through `Store.applyDelivery` in pages of 10,000 users ' +
        '(two in flight), segment by segment (the first sync of each); then a fresh server takes re-sync ' +
        'pages over HTTP (autocannon, one run, answers put in the window of the moment they came). Each ' +
        'page removes half its users from the real members of its segment and adds the other half from ' +
        "the tenant's users not in it (bench/grown.ts keeps a member list and bitmap per segment, so " +
        'removes always name members); tasks of 5 pages go to a random segment. RSS, database + WAL ' +
        '(the SQLite file and its -wal; on PostgreSQL pg_database_size plus the WAL directory) and the ' +
        "1-minute load average are read at each window's end; bytes per membership divides database + " +
        'WAL by the memberships the generator holds then (the change feed, deliveries log and replay ' +
        'keys are in the bytes). Floors B and C/P load their own store with the same pages and apply ' +
        'the same re-sync pages (the same generator) for as many windows of apply time.',
      'Floor A (HTTP ceiling): a bare `node:http` server that reads the body, verifies the Heap-Hash ' +
        '(src/signature) and `JSON.parse`s it, under the same load (pages cycled from 2,000 pre-signed ones).',
      'Floor B (storage ceiling): `Store.applyDelivery` of the same pages in a loop in its own process, ' +
        'no HTTP, with as many calls in flight as the scenario has connections, on the same default ' +
        'durable configuration; pages are parsed outside the timing. For huge, each page alone; for ' +
        'lookup, `Store.segmentsOfUser` one call at a time. For SQLite the store runs on the calling ' +
        "thread: the engine alone, without the server's worker thread.",
      'Floor C (SQLite, same work): raw better-sqlite3 in its own process, a lean schema of its own ' +
        '(bench/floorSqlite.ts), WAL, `synchronous=FULL`, ideal group commit: the pages of as many ' +
        'connections as the scenario has share one BEGIN IMMEDIATE … COMMIT, no savepoint. Per page: ' +
        'the replay key, the page claim, one DELETE per removed and one INSERT OR IGNORE per added ' +
        'member (the members rows and the user → segments index), the segment count UPDATE, the sync ' +
        'task upsert, the deliveries-log row and a change-feed row with the user lists as JSON (the ' +
        "segment row is inserted the first time only). Each page's latency is its batch's time.",
      'Floor P (PostgreSQL, same work): one call per delivery of a PL/pgSQL function in a lean schema ' +
        'of its own (bench/floorPostgres.ts) in a fresh database of the same cluster, autocommit, a ' +
        'pool of as many connections as the scenario has, that many calls in flight. The function ' +
        'writes what the store writes (replay key, page claim, segment upsert, removes, adds, segment ' +
        'count, sync task, deliveries row) and takes `seq` from a one-row feed head updated last and ' +
        'held to commit, so the change feed stays gap-free in commit order as in the store.',
      "For lookup, floors C and P run the store's own user → segments SQL straight through " +
        'better-sqlite3 (read-only, on the store file the scenario filled) or pg (one connection, a ' +
        'prepared statement), one query at a time, for the same users as floor B. The in-process ' +
        "target's floor (SQLite, bench/lookupFloor.ts): the store's statement on raw better-sqlite3, " +
        "read-only and mapped as the server's reader, each call awaited as Membership.segmentsOf " +
        'callers await it, the same users after the same unmeasured pass; on PostgreSQL floor P is ' +
        'that floor. On PostgreSQL the filled database gets VACUUM (ANALYZE) and CHECKPOINT before ' +
        'anything is measured (else autovacuum of the fill runs in the measured windows), and ' +
        "pg_stat_activity is sampled during each measured window (the scenario's notes).",
      "Grown, then: user → segments lookups on the server's grown store over the admin API, paced " +
        'as the lookup scenario paces them, each for a random real member (issue 15: lookup p99 ≤ ' +
        "3 ms at 2,000/s on the grown store); the windows' CPU per page leaves them out.",
      'Floors A+C and A+P, the lookup over HTTP with nothing in the way (bench/floorHttpLookup.ts): ' +
        "bare node:http answering the admin API's lookup path with the store's own statement on the " +
        "same store (SQLite: read-only on the main thread, mapped as the server's reader; " +
        "PostgreSQL: a pool of the server's size, prepared) and the same JSON, no Express, no " +
        'authentication, no headers; paced as the server, right after it (lookup and grown).',
      'Floors B, C and P run right before and right after the server (B outermost) and are reported ' +
        "as one figure each. CPU ms/page: the process's user + system CPU (/proc, every thread) over " +
        "the measured window per page applied; for a floor, only its timed work. PostgreSQL's own " +
        'processes are not in it (they are "others").',
      'Steal time (the hypervisor running other virtual machines on our CPUs) is measured for every ' +
        'run. Lookup latency is judged on open-loop paced windows (requests sent on schedule, ' +
        `answered or not), ${scenarios.lookup.pacedWindows} of ${scenarios.lookup.pacedSeconds} s ` +
        'each after the warm-up, the one with the median p99 reported (every window in the notes); ' +
        `a window with more than ${STOLEN_LIMIT_LATENCY} cores of steal ` +
        `(${Math.round(STOLEN_LIMIT_LATENCY * 1000 * scenarios.lookup.pacedSeconds)} ms in ` +
        `${scenarios.lookup.pacedSeconds} s) is measured again (at most ${PACED_ATTEMPTS} in all), ` +
        `and an ingest server run with more than ${STOLEN_LIMIT_THROUGHPUT} cores of steal is run ` +
        `again on a new store (at most ${RUN_ATTEMPTS} in all); the last is kept, and every ` +
        "discarded one is listed in the scenario's notes.",
      postgres.backend
        ? `${postgres.description}. Its own processes are "database" in the CPU column when the bench ` +
          'started the cluster (else "others"), and in no RSS figure.'
        : `PostgreSQL: skipped (${postgres.skipped}).`,
      "Peak RSS is the server process's VmHWM from /proc (a fresh server per scenario); RSS at start is " +
        'its VmRSS 1.5 s after start-up; idle RSS is VmRSS once the server has sat without a request ' +
        `until V8's memory reducer returned what start-up used transiently (at most ${quick ? 0 : IDLE_SECONDS} s).`,
    ],
  });
  const partial = argv.only || argv.backend !== 'both';
  const out =
    argv.out ??
    path.join(
      BENCH_DIR,
      quick
        ? 'out/RESULTS.quick.md'
        : partial
          ? `out/RESULTS.${selected.join('+')}.${argv.backend}.md`
          : 'RESULTS.md',
    );
  mkdirSync(path.dirname(out), { recursive: true });
  // Formatted as the repository's other files are, so `npm test`'s Prettier check passes.
  writeFileSync(
    out,
    await prettier.format(markdown, { ...(await prettier.resolveConfig(out)), filepath: out }),
  );
  process.stdout.write(
    `${renderSummary(reports, idle, !quick, baselines)}\nwrote ${path.relative(process.cwd(), out)}\n`,
  );

  const problems = reports.flatMap((r) =>
    [...(r.run?.problems ?? []), ...(r.grown?.problems ?? [])].map(
      (p) => `${r.backend} ${r.scenario}: ${p}`,
    ),
  );
  if (problems.length > 0) {
    process.stderr.write(
      `bench: the harness or the server misbehaved:\n  ${problems.join('\n  ')}\n`,
    );
    return 1;
  }
  // Quick mode measures nothing worth judging: only a broken harness fails it.
  if (!quick && checkTargets(reports, idle, baselines).some((check) => !check.pass)) return 2;
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
