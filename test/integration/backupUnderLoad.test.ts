// `heap-partner-api backup` as a real process beside a serving server under delivery load, and its refusals.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SQLITE_FILE } from '../../src/config/store';
import { SqliteStore } from '../../src/store/sqlite/store';
import { OWN_ENVIRONMENT } from '../../src/store/types';
import { deliver, inParallel } from '../support/load';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { syncBody, tempDir } from '../support/testApp';
import { runCli } from '../support/runProcess';

const SECRET = 'backup-under-load-secret';
/** ANSI escape (ESC): progress drawing, which must never reach output that is not a terminal. */
const ESC = '\x1b';

/** Runs the built CLI with exactly `env` (plus PATH), as a cron job or an operator would. */
function cli(args: string[], env: Record<string, string>, cwd = tempDir('hpa-backup-cwd-')) {
  return runCli(args, env, cwd);
}

/** A migrated store file with one segment of `users` members, as a stopped server leaves it. */
async function storeWith(dataDir: string, users: number): Promise<void> {
  const store = new SqliteStore({ file: path.join(dataDir, SQLITE_FILE) });
  const add = Array.from({ length: users }, (_, i) => `seed-${i}`);
  await store.applyDelivery({
    signatureKey: `seed-${users}`,
    actionType: 'segment.users.sync',
    meta: { receivedAt: Date.now(), path: '/webhook', bodySha256: null },
    work: {
      kind: 'sync',
      tenant: OWN_ENVIRONMENT,
      segmentId: 1,
      segmentName: undefined,
      customerConfig: undefined,
      taskId: 'seed',
      pageNumber: 1,
      totalPages: 1,
      add,
      remove: [],
    },
  });
  await store.close();
}

function leftovers(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.includes('.partial'));
}

describe('a backup taken while the server applies deliveries', () => {
  let server: ServerProcess | undefined;

  afterEach(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    server = undefined;
  });

  test('opens, passes integrity_check and holds every delivery acknowledged before it started', async () => {
    const dataDir = tempDir('hpa-backup-data-');
    server = await startServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET });
    const url = server.url;

    // A store of some size first (60,000 members), so the copy takes many steps while
    // deliveries keep committing.
    await inParallel(
      Array.from({ length: 12 }, (_, page) => page),
      2,
      async (page) => {
        const add = Array.from({ length: 5000 }, (_, u) => `base-${page}-${u}@example.com`);
        const raw = JSON.stringify(
          syncBody({ segmentId: 1, taskId: 'base', page: page + 1, totalPages: 12, add }),
        );
        const answer = await deliver(url, raw, { secret: SECRET });
        expect(answer.status).toBe(200);
      },
    );

    // Load: small sync pages, each its own task and users, sent until the backup has finished.
    const acknowledgedAt = new Map<number, number>();
    let next = 0;
    let stop = false;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop) {
          const n = next++;
          const add = Array.from({ length: 20 }, (_, u) => `load-${n}-${u}`);
          const raw = JSON.stringify(
            syncBody({ segmentId: 100 + (n % 5), taskId: `load-${n}`, add }),
          );
          const answer = await deliver(url, raw, { secret: SECRET });
          if (answer.status >= 200 && answer.status < 300) acknowledgedAt.set(n, Date.now());
        }
      }),
    );
    while (acknowledgedAt.size < 50) await new Promise((resolve) => setTimeout(resolve, 20));

    const backupDir = tempDir('hpa-backup-out-');
    const file = path.join(backupDir, 'under-load.sqlite');
    const startedAt = Date.now();
    const before = [...acknowledgedAt].filter(([, at]) => at < startedAt).map(([n]) => n);
    const run = await cli(['backup', file, '--verify'], { DATA_DIR: dataDir });
    const finishedAt = Date.now();
    stop = true;
    await load;

    const during = [...acknowledgedAt.values()].filter((at) => at >= startedAt && at <= finishedAt);
    // The closing note quotes this output.
    process.stdout.write(
      `$ heap-partner-api backup ${file} --verify   (exit ${run.code}, ${finishedAt - startedAt} ms)\n` +
        `${run.stdout}${run.stderr}` +
        `load: ${before.length} deliveries acknowledged before the backup started, ` +
        `${during.length} while it ran\n`,
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toContain(`to ${file}:`);
    expect(run.stdout).toContain('integrity_check: ok');
    expect(run.stdout).toMatch(/^schema version \d+ \(\d{3}_\w+\)$/m);
    expect(run.stdout).not.toContain(ESC);
    expect(during.length).toBeGreaterThan(0);

    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(leftovers(backupDir)).toEqual([]);
    for (const suffix of ['-wal', '-shm', '-journal'])
      expect(existsSync(file + suffix)).toBe(false);

    const copy = new Database(file, { readonly: true, fileMustExist: true });
    try {
      expect(copy.pragma('integrity_check', { simple: true })).toBe('ok');
      expect(copy.pragma('journal_mode', { simple: true })).toBe('delete');
      const appliedTasks = new Set(
        (
          copy.prepare("SELECT task_id FROM deliveries WHERE status = 'applied'").all() as {
            task_id: string;
          }[]
        ).map((row) => row.task_id),
      );
      // Members hold integer user keys (migration 005); the ids are in the users dictionary.
      const isMember = copy.prepare(
        'SELECT 1 FROM users u JOIN members m ON m.uk = u.uk WHERE u.user_id = ?',
      );
      const missing = before.filter(
        (n) => !appliedTasks.has(`load-${n}`) || !isMember.get(`load-${n}-19`),
      );
      expect(before.length).toBeGreaterThanOrEqual(50);
      expect(missing).toEqual([]);
      const baseMembers = copy
        .prepare(
          "SELECT count(*) AS n FROM users u JOIN members m ON m.uk = u.uk WHERE u.user_id LIKE 'base-%'",
        )
        .get() as { n: number };
      expect(baseMembers.n).toBe(60_000);
    } finally {
      copy.close();
    }
  }, 120_000);
});

describe('refusals', () => {
  test('an existing file is kept unless --force, which replaces it', async () => {
    const dataDir = tempDir('hpa-backup-data-');
    await storeWith(dataDir, 10);
    const out = tempDir('hpa-backup-out-');
    const file = path.join(out, 'existing.sqlite');
    writeFileSync(file, 'yesterday');

    const refused = await cli(['backup', file], { DATA_DIR: dataDir });

    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${file} already exists: pass --force to replace it`);
    expect(readFileSync(file, 'utf8')).toBe('yesterday');
    expect(leftovers(out)).toEqual([]);

    const forced = await cli(['backup', file, '--force', '--verify'], { DATA_DIR: dataDir });

    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('integrity_check: ok');
    expect(forced.stdout).toContain('members 10');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(leftovers(out)).toEqual([]);
  });

  test('PostgreSQL configured: points at pg_dump, never echoes the URL', async () => {
    const run = await cli(['backup', 'x.sqlite'], {
      DATABASE_URL: 'postgres://heap:hunter2secret@127.0.0.1:1/heap',
    });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('PostgreSQL (127.0.0.1:1/heap)');
    expect(run.stderr).toContain('pg_dump');
    expect(run.stderr).toContain('"Backups" under "Running in production"');
    expect(run.stderr + run.stdout).not.toContain('hunter2secret');
  });

  test('no database in DATA_DIR: says so and creates nothing', async () => {
    const dataDir = tempDir('hpa-backup-empty-');
    const cwd = tempDir('hpa-backup-cwd-');

    const run = await cli(['backup', 'x.sqlite'], { DATA_DIR: dataDir }, cwd);

    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      `There is no SQLite database at ${path.join(dataDir, SQLITE_FILE)}`,
    );
    expect(readdirSync(dataDir)).toEqual([]);
    expect(readdirSync(cwd)).toEqual([]);
  });

  test.each([
    [
      'a directory that does not exist',
      (dir: string) => path.join(dir, 'nope', 'x.sqlite'),
      'no such directory',
    ],
    [
      'a path through a file',
      (dir: string) => path.join(dir, 'file', 'x.sqlite'),
      'not a directory',
    ],
  ])('an unwritable destination (%s) exits 1 and names it', async (_, destination, why) => {
    const dataDir = tempDir('hpa-backup-data-');
    await storeWith(dataDir, 1);
    const out = tempDir('hpa-backup-out-');
    writeFileSync(path.join(out, 'file'), '');

    const run = await cli(['backup', destination(out)], { DATA_DIR: dataDir });

    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot write the backup in ${path.dirname(destination(out))}`);
    expect(run.stderr).toContain(why);
  });

  test('the database itself is refused as the destination', async () => {
    const dataDir = tempDir('hpa-backup-data-');
    await storeWith(dataDir, 1);
    const before = readFileSync(path.join(dataDir, SQLITE_FILE));

    const run = await cli(['backup', path.join(dataDir, SQLITE_FILE), '--force'], {
      DATA_DIR: dataDir,
    });

    expect(run.code).toBe(2);
    expect(run.stderr).toContain('is the database itself');
    expect(readFileSync(path.join(dataDir, SQLITE_FILE)).equals(before)).toBe(true);
  });
});

describe('--verify-only', () => {
  test('checks a backup before a restore: a good one exits 0, a damaged one 1', async () => {
    const dataDir = tempDir('hpa-backup-data-');
    await storeWith(dataDir, 3000);
    const out = tempDir('hpa-backup-out-');
    const file = path.join(out, 'good.sqlite');
    expect((await cli(['backup', file], { DATA_DIR: dataDir })).code).toBe(0);

    // No configuration needed: the server's DATA_DIR may be the thing being replaced.
    const good = await cli(['backup', file, '--verify-only'], {});

    expect(good.code).toBe(0);
    expect(good.stdout).toContain('integrity_check: ok');
    expect(good.stdout).toContain('members 3,000');
    expect(good.stdout).toMatch(/^change feed: last seq 1$/m);

    const damaged = path.join(out, 'damaged.sqlite');
    const bytes = readFileSync(file);
    // Overwrite the middle of the file (members' b-tree pages) with 0xff.
    bytes.fill(0xff, Math.floor(bytes.length / 2), Math.floor(bytes.length / 2) + 600);
    writeFileSync(damaged, bytes);

    const bad = await cli(['backup', damaged, '--verify-only'], {});

    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('integrity_check: FAILED');
    expect(bad.stderr).toContain('failed its integrity check: do not restore it');
    expect(bad.stdout).toBe('');
  });
});
