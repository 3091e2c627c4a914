// The in-process lookup's floor: raw better-sqlite3 on a lookup store's file, the store's query, awaited as Membership callers await it.
import Database from 'better-sqlite3';
import type { MembershipFigures } from './floorStore';
import { percentile } from './load';
import { BENCH_ID_TOKEN, lookupUsers, type LookupPopulation } from './workload';
import { SEGMENTS_OF_USER_SQL } from '../src/store/sqlite/store';
import { READER_MMAP_BYTES } from '../src/store/sqlite/workerStore';

/**
 * Two uses:
 * - the lookup scenario runs it as a child (one JSON argument, FloorLookupInput) for the
 *   in-process target's floor: the store's own statement (SEGMENTS_OF_USER_SQL), prepared once on
 *   a read-only connection mapped as the server maps its reader (READER_MMAP_BYTES), each call
 *   wrapped in a resolved promise and awaited, for the same users as Membership.segmentsOf in the
 *   same run, after the same unmeasured pass: what Membership.segmentsOf costs with no store code
 *   (and no worker store, no statement cache miss, no row copy) around it;
 * - by hand, `node dist/bench/lookupFloor.js <store file> [queries]` compares statement variants
 *   on a store the lookup scenario filled (`--only lookup --keep` leaves it in the bench's
 *   temporary directory).
 * Every lookup must find the population's segments per user.
 */
/**
 * The figures of timed in-process lookups (µs each, in `latencies`), this process's CPU since
 * `cpu0` per lookup, and its CPU and peak RSS over its life (floor B's membership mode too).
 */
export function membershipFigures(
  latencies: Float64Array,
  cpu0: NodeJS.CpuUsage,
): MembershipFigures {
  const cpu = process.cpuUsage(cpu0);
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  const usage = process.resourceUsage();
  return {
    lookups: latencies.length,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    maxUs: sorted[sorted.length - 1],
    cpuUsPerLookup: (cpu.user + cpu.system) / latencies.length,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
    peakRssKb: usage.maxRSS,
  };
}

export type FloorLookupInput = { file: string; population: LookupPopulation; queries: number };

const POPULATION: LookupPopulation = {
  segments: 100,
  membersPerSegment: 10_000,
  users: 200_000,
  pageSize: 2000,
};

type Lookup = (tenant: string, userId: string) => unknown[];

/** Times `lookup` for `queries` users after as many others, awaited one at a time. */
async function measure(
  population: LookupPopulation,
  lookup: Lookup,
  queries: number,
): Promise<MembershipFigures> {
  const users = lookupUsers(population, queries * 2);
  const expected = (population.segments * population.membersPerSegment) / population.users;
  const call = (userId: string): Promise<unknown[]> => {
    try {
      return Promise.resolve(lookup(BENCH_ID_TOKEN, userId));
    } catch (error) {
      return Promise.reject(error as Error);
    }
  };
  for (const userId of users.slice(queries)) await call(userId);
  const latencies = new Float64Array(queries);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < queries; i++) {
    const t0 = process.hrtime.bigint();
    const rows = await call(users[i]);
    latencies[i] = Number(process.hrtime.bigint() - t0) / 1000;
    if (rows.length !== expected) {
      throw new Error(`${rows.length} segments for ${users[i]}, not ${expected}`);
    }
  }
  return membershipFigures(latencies, cpu0);
}

function openReader(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma(`mmap_size = ${READER_MMAP_BYTES}`);
  return db;
}

/** The lookup scenario's in-process floor: the store's statement, raw, awaited. */
export async function runLookupFloor(input: FloorLookupInput): Promise<MembershipFigures> {
  const db = openReader(input.file);
  try {
    const statement = db.prepare(SEGMENTS_OF_USER_SQL);
    return await measure(
      input.population,
      (tenant, userId) => statement.all(tenant, userId),
      input.queries,
    );
  } finally {
    db.close();
  }
}

function line(name: string, f: MembershipFigures): string {
  return (
    `${name.padEnd(44)} p50 ${f.p50Us.toFixed(1)} µs  p99 ${f.p99Us.toFixed(1)} µs  ` +
    `max ${f.maxUs.toFixed(0)} µs  CPU ${f.cpuUsPerLookup.toFixed(1)} µs/lookup\n`
  );
}

/** The by-hand comparison of statement variants. */
async function compareVariants(file: string, queries: number): Promise<void> {
  const db = openReader(file);
  const userFirst =
    db
      .prepare("SELECT 1 FROM pragma_index_list('members') WHERE name = 'members_by_segment'")
      .get() !== undefined;
  process.stdout.write(
    `${file}: members keyed ${userFirst ? '(uk, sid), index (sid, uk)' : '(sid, uk), index (uk, sid)'}\n`,
  );
  const join = `FROM tenants t CROSS JOIN users u CROSS JOIN members m CROSS JOIN segments s
    WHERE t.tenant = ? AND u.tk = t.tk AND u.user_id = ? AND m.uk = u.uk
      AND s.sid = m.sid AND s.tenant = t.tenant`;
  // The store's statement before this round: named parameters, rows mapped to new objects.
  const named = db.prepare(`SELECT s.segment_id, s.name, m.added_at
    FROM tenants t CROSS JOIN users u CROSS JOIN members m CROSS JOIN segments s
    WHERE t.tenant = @tenant AND u.tk = t.tk AND u.user_id = @userId AND m.uk = u.uk
      AND s.sid = m.sid AND s.tenant = @tenant
    ORDER BY s.segment_id`);
  const aliased = db.prepare(
    `SELECT s.segment_id AS segmentId, s.name AS name, m.added_at AS addedAt ${join} ORDER BY s.segment_id`,
  );
  const unsorted = db.prepare(
    `SELECT s.segment_id AS segmentId, s.name AS name, m.added_at AS addedAt ${join}`,
  );
  const raw = db
    .prepare(`SELECT s.segment_id, s.name, m.added_at ${join} ORDER BY s.segment_id`)
    .raw(true);
  // Without added_at: what the lookup costs when it never leaves the user → segments B-tree.
  const noAddedAt = db.prepare(
    `SELECT s.segment_id AS segmentId, s.name AS name ${join} ORDER BY s.segment_id`,
  );
  const bySegmentId = (a: { segmentId: number }, b: { segmentId: number }) =>
    a.segmentId - b.segmentId;
  const variants: [string, Lookup][] = [
    [
      'named params, rows mapped (the store before)',
      (tenant, userId) =>
        (
          named.all({ userId, tenant }) as {
            segment_id: number;
            name: string | null;
            added_at: number;
          }[]
        ).map((row) => ({ segmentId: row.segment_id, name: row.name, addedAt: row.added_at })),
    ],
    ['positional, aliased columns, no mapping', (tenant, userId) => aliased.all(tenant, userId)],
    [
      'positional, aliased, sorted in JS',
      (tenant, userId) =>
        (unsorted.all(tenant, userId) as { segmentId: number }[]).sort(bySegmentId),
    ],
    ['positional, raw arrays', (tenant, userId) => raw.all(tenant, userId)],
    ['positional, aliased, without added_at', (tenant, userId) => noAddedAt.all(tenant, userId)],
  ];
  // Twice round, so the first variant does not pay for warming the file alone.
  for (let round = 1; round <= 2; round++) {
    for (const [name, lookup] of variants) {
      process.stdout.write(line(`${round}: ${name}`, await measure(POPULATION, lookup, queries)));
    }
  }
  db.close();
}

async function main(): Promise<void> {
  const [first, count] = process.argv.slice(2);
  if (first.startsWith('{')) {
    const figures = await runLookupFloor(JSON.parse(first) as FloorLookupInput);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  } else await compareVariants(first, Number(count ?? 20_000));
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  });
}
