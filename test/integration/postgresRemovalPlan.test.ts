// apply_delivery's member removal is one index probe on both keys per removed user however stale the statistics (migration 006), read from auto_explain.
import pg from 'pg';
import { applyMigrations, loadMigrations } from '../../src/store/postgres/migrations';
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';

/** One applied sync page through apply_delivery, as the store calls it (migration 005's arguments). */
async function applyPage(
  client: pg.Client,
  page: number,
  add: string[],
  remove: string[],
): Promise<{ added: number; removed: number }> {
  const { rows } = await client.query<{ status: string; added: string; removed: string }>(
    `SELECT status, added, removed FROM apply_delivery($1, $2, '/users_sync', 'sync', $3,
       'sync', 'env-1', 7, 'Seven', NULL, 'task', $4, 1000, $5::text[], $6::text[])`,
    [`sig-${page}`, 1000 + page, 'ab'.repeat(32), page, add, remove],
  );
  expect(rows[0].status).toBe('applied');
  return { added: Number(rows[0].added), removed: Number(rows[0].removed) };
}

/** The plans auto_explain reports for the removal statement inside apply_delivery. */
function removalPlans(notices: string[]): string[] {
  return notices.filter((text) => /DELETE FROM members m WHERE m\.sid = /.test(text));
}

/**
 * Calls apply_delivery on one session as a pooled connection does: a few pages while the segment
 * is small (PL/pgSQL may then keep a generic plan), then the segment grows to 3,000 members
 * without an ANALYZE (autovacuum is off for the table, as a burst outruns it), then one page that
 * removes 20 of them. Returns auto_explain's plans of that page's removal statements.
 */
async function lastRemovalPlan(baseUrl: string, upTo: number): Promise<string[]> {
  const url = await createDatabase(baseUrl);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await applyMigrations(
      client,
      loadMigrations().filter((m) => m.version <= upTo),
    );
    await client.query('ALTER TABLE members SET (autovacuum_enabled = off)');
    for (let page = 1; page <= 8; page++) {
      const outcome = await applyPage(client, page, [`small-${page}@x`], [`small-${page - 1}@x`]);
      expect(outcome).toEqual({ added: 1, removed: page === 1 ? 0 : 1 });
    }
    await client.query(
      `INSERT INTO members (sid, user_id, added_at)
       SELECT s.sid, 'grown-' || i || '@x', 1 FROM segments s, generate_series(1, 3000) i`,
    );
    const notices: string[] = [];
    client.on('notice', (notice) => notices.push(notice.message ?? ''));
    await client.query(`LOAD 'auto_explain'`);
    await client.query(`SET auto_explain.log_min_duration = 0`);
    await client.query(`SET auto_explain.log_nested_statements = on`);
    await client.query(`SET auto_explain.log_analyze = on`);
    await client.query(`SET client_min_messages = log`);
    const removed = Array.from({ length: 20 }, (_, i) => `grown-${i * 100 + 1}@x`);
    expect(await applyPage(client, 9, [], removed)).toEqual({ added: 0, removed: 20 });
    await client.query(`SET client_min_messages = notice`);
    return removalPlans(notices);
  } finally {
    await client.end();
  }
}

describePostgres('apply_delivery: the member removal plan (migration 006)', (baseUrl) => {
  it('probes an index on both keys once per removed user after the segment grew', async () => {
    const plans = await lastRemovalPlan(baseUrl, Infinity);
    expect(plans).toHaveLength(20);
    for (const plan of plans) {
      // Either index on (sid, user_id) or (user_id, sid): both keys are its condition.
      expect(plan).toMatch(/Index Scan using members_(pkey|by_user) on members m/);
      const condition = plan.split('\n').find((line) => line.includes('Index Cond:')) ?? '';
      expect(condition).toMatch(/sid = /);
      expect(condition).toMatch(/user_id = /);
      expect(plan).not.toMatch(/Filter/);
    }
  });

  it('(at 005, the plan it replaces: the cached generic plan scans the whole segment)', async () => {
    const plans = await lastRemovalPlan(baseUrl, 5);
    expect(plans).toHaveLength(1);
    expect(plans[0]).toMatch(/Filter: \(user_id = ANY/);
    expect(plans[0]).toMatch(/Rows Removed by Filter: 29\d\d/);
  });
});
