// PostgreSQL migrations: once under concurrency, verified or applied at start-up, npm run migrate, no secrets shown.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { PostgresStore, runMigrations } from '../../src/store/postgres/store';
import {
  applyMigrations,
  loadMigrations,
  MIGRATION_LOCK,
} from '../../src/store/postgres/migrations';
import { createDatabase, freePort } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { repoRoot, serverEntry, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { runNode } from '../support/runProcess';

const migrateCli = path.join(repoRoot, 'dist', 'src', 'cli', 'migrate.js');
const PASSWORD = 'pw-that-must-not-show';

/** The URL with a password in it (the test cluster trusts loopback, so any password works). */
const withPassword = (url: string) => url.replace('postgres@', `postgres:${PASSWORD}@`);

/** The exit code and everything printed, stdout and stderr together. */
async function runMigrate(args: string[], env: Record<string, string>) {
  const { code, output } = await runNode(migrateCli, args, env);
  return { code, output };
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describePostgres('PostgreSQL migrations', (baseUrl) => {
  let running: ServerProcess | undefined;
  afterEach(() => {
    running?.child.kill('SIGKILL');
    running = undefined;
  });

  it('applies each migration once when many instances migrate at the same moment', async () => {
    const url = await createDatabase(baseUrl);
    const reports = await Promise.all(
      Array.from({ length: 6 }, () => runMigrations({ url }, 'apply')),
    );
    const names = loadMigrations().map((m) => m.name);
    expect(reports.filter((r) => r.applied.length > 0)).toEqual([
      { applied: names, pending: [], unknown: [] },
    ]);
    expect(await sql(url, 'SELECT version, name FROM schema_migrations')).toEqual(
      loadMigrations().map((m) => ({ version: m.version, name: m.name })),
    );
    expect(await runMigrations({ url }, 'verify')).toEqual({
      applied: [],
      pending: [],
      unknown: [],
    });
  });

  it('refuses to open an unmigrated database in verify mode, and names the fix', async () => {
    const url = await createDatabase(baseUrl);
    await expect(PostgresStore.open({ url, migrations: 'verify' })).rejects.toThrow(
      /lacks migrations 001_init(, \d+_\w+)*; run npm run migrate/,
    );
  });

  it('upgrades a database at 001 with its data: 002 adds refusal counts and retention indexes', async () => {
    const url = await createDatabase(baseUrl);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const [first] = loadMigrations();
      await applyMigrations(client, [first]);
      await client.query(
        `INSERT INTO deliveries (received_at, path, status, http_status, reason)
         VALUES (1000, '/webhook', 'rejected', 403, 'invalid_signature')`,
      );
    } finally {
      await client.end();
    }
    const { store, migrations } = await PostgresStore.open({ url, migrations: 'apply' });
    try {
      expect(migrations.applied).toContain('002_retention');
      expect(await store.listDeliveries({ limit: 10 })).toMatchObject([
        { reason: 'invalid_signature' },
      ]);
      store.countRefusal({ reason: 'invalid_signature', httpStatus: 403, at: 60_000 });
      await store.flushRefusalCounts();
      expect(await store.listRefusalCounts({ limit: 1 })).toHaveLength(1);
      expect(await store.pruneBatch('deliveries', 2000, 10)).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('upgrades a database at 004 written by the per-statement store: 005 applies deliveries in one call on its rows', async () => {
    const url = await createDatabase(baseUrl);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const upTo004 = loadMigrations().filter((m) => m.version <= 4);
      await applyMigrations(client, upTo004);
      // Rows as the store before 005 wrote them: a segment of 3 members after two applied pages.
      await client.query(`
        INSERT INTO segments (tenant, segment_id, name, customer_config, member_count, created_at,
                              updated_at, last_sync_at)
        VALUES ('env-1', 10, 'Ten', '{"k":1}', 3, 1000, 2000, 2000);
        INSERT INTO members (sid, user_id, added_at)
        SELECT sid, u, 1000 FROM segments, unnest(ARRAY['a@x', 'b@x', 'é@x']) AS u;
        INSERT INTO accepted_signatures VALUES ('old-sig', 2000);
        INSERT INTO sync_pages VALUES ('env-1', 10, 'T', 1, '${'ab'.repeat(32)}', 1000),
                                      ('env-1', 10, 'T', 2, '${'ab'.repeat(32)}', 2000);
        INSERT INTO sync_tasks VALUES ('env-1', 10, 'T', 3, 2, 1000, 2000, NULL);
        INSERT INTO changes VALUES
          (1, 1000, 'env-1', 10, 'sync', 'T', 1, ARRAY['a@x', 'b@x'], '{}', 0, 2),
          (2, 2000, 'env-1', 10, 'sync', 'T', 2, ARRAY['é@x'], '{}', 0, 3);
        UPDATE change_feed_head SET last_seq = 2;`);
    } finally {
      await client.end();
    }
    const { store, migrations } = await PostgresStore.open({ url, migrations: 'apply' });
    const page = (pageNumber: number, signatureKey: string, add: string[], remove: string[]) => ({
      meta: { receivedAt: 3000, path: '/webhook', bodySha256: 'ab'.repeat(32) },
      actionType: 'segment.users.sync',
      signatureKey,
      work: {
        kind: 'sync' as const,
        tenant: 'env-1',
        segmentId: 10,
        segmentName: undefined,
        customerConfig: null,
        taskId: 'T',
        pageNumber,
        totalPages: 3,
        add,
        remove,
      },
    });
    try {
      expect(migrations.applied).toEqual(['005_apply_delivery', '006_apply_delivery_removal_plan']);
      expect(await store.applyDelivery(page(2, 'new-sig', ['z@x'], []))).toMatchObject({
        status: 'duplicate',
        duplicateOf: 'page',
        contentDiffers: false,
        memberCount: 3,
      });
      expect(await store.applyDelivery(page(3, 'old-sig', ['z@x'], []))).toMatchObject({
        status: 'duplicate',
        duplicateOf: 'signature',
      });
      expect(await store.applyDelivery(page(3, 'sig-3', ['z@x'], ['a@x', 'nobody']))).toEqual({
        status: 'applied',
        segmentId: 10,
        memberCount: 3,
        added: 1,
        removed: 1,
        taskComplete: true,
        linked: false,
      });
      expect((await store.listMembers('env-1', 10, { limit: 10 })).items).toEqual([
        'b@x',
        'z@x',
        'é@x',
      ]);
      expect(await store.getSegment('env-1', 10)).toMatchObject({
        name: 'Ten',
        customerConfig: { k: 1 },
        memberCount: 3,
      });
      const feed = await store.listChanges({ after: 0, limit: 10 });
      expect(feed.map((c) => [c.seq, c.pageNumber, c.added, c.removed, c.memberCount])).toEqual([
        [1, 1, ['a@x', 'b@x'], [], 2],
        [2, 2, ['é@x'], [], 3],
        [3, 3, ['z@x'], ['a@x'], 3],
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses a migration edited after it was applied, and tolerates a newer build’s', async () => {
    const url = await createDatabase(baseUrl);
    await runMigrations({ url }, 'apply');
    await sql(
      url,
      `INSERT INTO schema_migrations (version, name, checksum) VALUES (999, '999_next', 'x')`,
    );
    expect(await runMigrations({ url }, 'verify')).toEqual({
      applied: [],
      pending: [],
      unknown: [999],
    });
    await sql(url, `UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`);
    await expect(runMigrations({ url }, 'apply')).rejects.toThrow(
      /001_init was changed after it was applied/,
    );
  });

  it('npm run migrate: --check lists pending, then applies, never printing the password', async () => {
    const url = withPassword(await createDatabase(baseUrl));
    const env = { DATABASE_URL: url };
    const check = await runMigrate(['--check'], env);
    expect(check).toEqual({ code: 1, output: expect.stringMatching(/pending 001_init/) });
    const apply = await runMigrate([], env);
    expect(apply).toEqual({ code: 0, output: expect.stringMatching(/applied 001_init/) });
    expect(await runMigrate([], env)).toEqual({
      code: 0,
      output: expect.stringMatching(/up to date/),
    });
    expect(await runMigrate(['--check'], env)).toEqual({
      code: 0,
      output: expect.stringMatching(/up to date/),
    });
    for (const output of [check.output, apply.output]) {
      expect(output).toMatch(/^127\.0\.0\.1:\d+\/hpa_[0-9a-f]+: /);
      expect(output).not.toContain(PASSWORD);
    }
  });

  it('npm run migrate: the SQLite file without DATABASE_URL, exit 2 with a bad one, 1 when unreachable', async () => {
    // Without DATABASE_URL it is DATA_DIR's SQLite file that is migrated (none yet here).
    expect(await runMigrate([], {})).toEqual({
      code: 0,
      output: expect.stringMatching(/no SQLite store yet/),
    });
    const bad = await runMigrate([], { DATABASE_URL: `mysql://root:${PASSWORD}@db/x` });
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('DATABASE_URL must be a postgres:// or postgresql:// URL');
    expect(bad.output).not.toContain(PASSWORD);
    const down = await runMigrate([], {
      DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:1/x`,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    expect(down).toEqual({
      code: 1,
      output: expect.stringMatching(
        /127\.0\.0\.1:1\/x: migration failed: PostgreSQL is unavailable/,
      ),
    });
    expect(down.output).not.toContain(PASSWORD);
  });

  it('the server migrates at start-up and shows the database without its password', async () => {
    const url = withPassword(await createDatabase(baseUrl));
    running = await startServer({ DATABASE_URL: url, DATA_DIR: tempDir(), WEBHOOK_SECRET: 's' });
    expect(running.stdout()).toContain('"msg":"applied PostgreSQL migrations"');
    expect(running.stderr()).toMatch(
      /Store: +PostgreSQL at 127\.0\.0\.1:\d+\/hpa_[0-9a-f]+ \(pool of 10/,
    );
    expect(running.stdout() + running.stderr()).not.toContain(PASSWORD);
    const health = await fetch(`${running.url}/healthcheck`);
    expect(health.status).toBe(200);
  });

  it('a starting instance answers 503 store_unavailable while another holds the migration lock', async () => {
    const url = await createDatabase(baseUrl);
    const migrating = new pg.Client({ connectionString: url });
    await migrating.connect();
    await migrating.query('BEGIN');
    await migrating.query('SELECT pg_advisory_xact_lock($1, $2)', [...MIGRATION_LOCK]);
    const port = await freePort();
    const starting = startServer({
      DATABASE_URL: url,
      PORT: String(port),
      DATA_DIR: tempDir(),
      WEBHOOK_SECRET: 's',
      RETRY_AFTER_SECONDS: '3',
    });
    let answer: Response | undefined;
    while (!answer) {
      answer = await fetch(`http://127.0.0.1:${port}/healthcheck`).catch(async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        return undefined;
      });
    }
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('3');
    expect(await answer.json()).toEqual({
      error: 'store_unavailable',
      message: expect.any(String),
    });
    // Alive (an orchestrator must not restart it), not ready (no traffic until migrated).
    const live = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get('retry-after')).toBe('3');
    expect(await ready.json()).toEqual({
      error: 'not_ready',
      message: expect.stringContaining('migrations'),
      checks: { migrations: 'failing' },
    });
    await migrating.query('COMMIT');
    await migrating.end();
    running = await starting;
    expect((await fetch(`${running.url}/healthcheck`)).status).toBe(200);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
  });

  it('the server refuses to start on an unmigrated database with DATABASE_MIGRATE_ON_START=false, or an unreachable one', async () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, [serverEntry], {
        env: {
          PATH: process.env.PATH ?? '',
          PORT: '0',
          DATA_DIR: tempDir(),
          WEBHOOK_SECRET: 's',
          ...env,
        },
        encoding: 'utf8',
        timeout: 20_000,
      });
    const url = withPassword(await createDatabase(baseUrl));
    const unmigrated = run({ DATABASE_URL: url, DATABASE_MIGRATE_ON_START: 'false' });
    expect(unmigrated.status).toBe(1);
    expect(unmigrated.stderr).toMatch(
      /cannot start: the store \(PostgreSQL at .*\): the database lacks migrations 001_init(, \d+_\w+)*; run npm run migrate/,
    );
    const unreachable = run({
      DATABASE_URL: `postgres://postgres:${PASSWORD}@127.0.0.1:1/x`,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
    });
    expect(unreachable.status).toBe(1);
    expect(unreachable.stderr).toContain('cannot start: the store (PostgreSQL at 127.0.0.1:1/x');
    expect(unreachable.stderr).toContain('unreachable');
    for (const result of [unmigrated, unreachable]) {
      expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    }
  });
});
