// Attack: flood the webhook with unsigned/forged requests to fill the disk (SQLite) or the pool (PostgreSQL).
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { signHeapHash } from '../../src/webhook/signature';
import { describePostgres } from '../support/describePostgres';
import { createDatabase } from '../support/postgres';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { syncBody, tempDir } from '../support/testApp';

const SECRET = 'flood-test-webhook-secret';
const ADMIN_TOKEN = 'flood-test-admin-token-0123456789';

/** Bytes the directory takes on disk (allocated blocks, as du counts them) and its file sizes. */
function diskUsage(dir: string): { blocks: number; size: number } {
  let blocks = 0;
  let size = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      const inner = diskUsage(file);
      blocks += inner.blocks;
      size += inner.size;
    } else {
      const stat = statSync(file);
      blocks += stat.blocks * 512;
      size += stat.size;
    }
  }
  return { blocks, size };
}

/** The three ways an attacker without the secret gets refused: no header, garbage, wrong key. */
function forgedHeaders(i: number, body: string): Record<string, string> {
  const base = { 'content-type': 'application/json' };
  if (i % 3 === 0) return base;
  if (i % 3 === 1) return { ...base, 'heap-hash': 'ts:nope,hmac:nope' };
  return { ...base, 'heap-hash': signHeapHash('attacker-guess', body, Date.now()) };
}

/** Sends `count` refused requests over `parallel` keep-alive connections; returns the statuses. */
async function flood(url: string, count: number, parallel = 32): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: parallel });
  const body = JSON.stringify(syncBody({ add: ['victim@example.com'] }));
  const statuses = new Map<number, number>();
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(
          `${url}/webhook`,
          { method: 'POST', agent, headers: forgedHeaders(i, body) },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  agent.destroy();
  return statuses;
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
}

function infoLinesAbout(server: ServerProcess, pattern: RegExp): number {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((line) => line.level >= 30 && pattern.test(line.msg)).length;
}

let running: ServerProcess | undefined;
afterEach(async () => {
  if (running && running.child.exitCode === null && running.child.signalCode === null) {
    running.child.kill('SIGKILL');
    await running.exited;
  }
  running = undefined;
});

it('5,000 unsigned requests grow the SQLite data directory by well under 1 MB', async () => {
  const dataDir = tempDir('hpa-flood-');
  const env = { DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET, ADMIN_TOKEN, LOG_LEVEL: 'info' };
  // A first start creates the files; measure them closed, as after the flood.
  running = await startServer(env);
  await stop(running);
  const before = diskUsage(dataDir);

  running = await startServer(env);
  const statuses = await flood(running.url, 5000);
  expect(Object.fromEntries(statuses)).toEqual({ 403: 5000 });
  // Shutting down writes the counts (as the once-a-minute flush would) and closes the file.
  const server = running;
  await stop(server);
  const after = diskUsage(dataDir);

  const grown = Math.max(after.blocks - before.blocks, after.size - before.size);
  console.log(
    `refusal flood: 5000 refused requests grew ${dataDir} by ${grown} bytes (blocks ${before.blocks} -> ${after.blocks}, sizes ${before.size} -> ${after.size})`,
  );
  expect(grown).toBeLessThan(256 * 1024);

  // Every refusal is accounted for, as counts, and none is a row.
  const db = new Database(path.join(dataDir, 'heap-partner.sqlite'), { readonly: true });
  try {
    const counted = db
      .prepare('SELECT reason, sum(count) AS n FROM refusal_counts GROUP BY reason ORDER BY reason')
      .all();
    expect(counted).toEqual([
      { reason: 'invalid_signature', n: 1666 },
      { reason: 'malformed_signature', n: 1667 },
      { reason: 'missing_signature', n: 1667 },
    ]);
    expect(db.prepare('SELECT count(*) AS n FROM deliveries').get()).toEqual({ n: 0 });
  } finally {
    db.close();
  }
  // Logged at info once or twice (the first refusal, maybe a summary), not 5,000 times.
  expect(infoLinesAbout(server, /refus/)).toBeLessThanOrEqual(3);
}, 120_000);

describePostgres('refusal flood on PostgreSQL', (baseUrl) => {
  it('takes no pool connection per unsigned request: counts are written once, at flush', async () => {
    const url = await createDatabase(baseUrl, 'flood');
    const dataDir = tempDir('hpa-flood-pg-');
    running = await startServer({
      DATA_DIR: dataDir,
      DATABASE_URL: url,
      WEBHOOK_SECRET: SECRET,
      ADMIN_TOKEN,
      LOG_LEVEL: 'info',
    });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const appConnections = async () =>
        Number(
          (
            await admin.query<{ n: string }>(
              `SELECT count(*) AS n FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = 'heap-partner-api'`,
            )
          ).rows[0].n,
        );
      const statuses = await flood(running.url, 2000);
      expect(Object.fromEntries(statuses)).toEqual({ 403: 2000 });
      // The pool opens connections only when a statement needs one: none did.
      expect(await appConnections()).toBe(0);
      await stop(running);
      const counted = await admin.query<{ n: string }>(
        'SELECT sum(count) AS n FROM refusal_counts',
      );
      expect(Number(counted.rows[0].n)).toBe(2000);
      const rows = await admin.query<{ n: string }>('SELECT count(*) AS n FROM deliveries');
      expect(Number(rows.rows[0].n)).toBe(0);
    } finally {
      await admin.end();
    }
  }, 120_000);
});
