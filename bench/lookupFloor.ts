// The in-process lookup's floor: raw better-sqlite3 on a lookup store's file, the store's query, awaited as Membership callers await it.
import Database from 'better-sqlite3';
import { percentile } from './load';
import { BENCH_ID_TOKEN, lookupUsers, type LookupPopulation } from './workload';

/**
 * node dist/bench/lookupFloor.js <store file> [queries]
 *
 * The file is a store the lookup scenario filled (`--only lookup --keep` leaves it in the bench's
 * temporary directory). Each variant is the statement a store could run, prepared once, on a
 * read-only connection mapped as the server maps its reader (256 MiB), each call wrapped in a
 * resolved promise and awaited: what Membership.segmentsOf costs with no store code around it.
 * As the bench's membership row: one pass over other users first, not measured, then the timed
 * pass; every lookup must find 5 segments.
 */
const POPULATION: LookupPopulation = {
  segments: 100,
  membersPerSegment: 10_000,
  users: 200_000,
  pageSize: 2000,
};

type Lookup = (tenant: string, userId: string) => unknown[];

async function measure(name: string, lookup: Lookup, queries: number): Promise<void> {
  const users = lookupUsers(POPULATION, queries * 2);
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
    if (rows.length !== 5) throw new Error(`${name}: ${rows.length} segments for ${users[i]}`);
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  process.stdout.write(
    `${name.padEnd(44)} p50 ${percentile(sorted, 50).toFixed(1)} µs  p99 ${percentile(sorted, 99).toFixed(1)} µs  ` +
      `max ${sorted[sorted.length - 1].toFixed(0)} µs  CPU ${((cpu.user + cpu.system) / queries).toFixed(1)} µs/lookup\n`,
  );
}

async function main(): Promise<void> {
  const [file, count] = process.argv.slice(2);
  const queries = Number(count ?? 20_000);
  const db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('mmap_size = 268435456');
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
    for (const [name, lookup] of variants) await measure(`${round}: ${name}`, lookup, queries);
  }
  db.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
