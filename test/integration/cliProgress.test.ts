// Progress of backup, big sends and migrate: drawn on a terminal (a real pty, or a stand-in stream), absent elsewhere.
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { main as backup } from '../../src/cli/backup';
import { main as migrate } from '../../src/cli/migrate';
import { SQLITE_FILE } from '../../src/config/store';
import { SqliteStore } from '../../src/store/sqlite/store';
import { loadMigrations } from '../../src/store/postgres/migrations';
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { listenLocally } from '../support/heapDelivery';
import { repoRoot } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { runCli, runProcess } from '../support/runProcess';

const cliPath = path.join(repoRoot, 'bin', 'heap-partner-api.js');
const ERASE = '\r\x1b[2K';
const ESC = '\x1b';

/** A stand-in terminal: records what is drawn. */
function terminal() {
  const writes: string[] = [];
  return { isTTY: true, writes, write: (text: string) => writes.push(text) };
}

type Run = { code: number | null; output: string };

/** Runs the CLI on a real pseudo-terminal (util-linux script), stdout and stderr together. */
function onTerminal(args: string[], env: Record<string, string>): Promise<Run> {
  const command = [process.execPath, cliPath, ...args].map((arg) => `'${arg}'`).join(' ');
  return run('script', ['-qec', command, '/dev/null'], env);
}

function inPipe(args: string[], env: Record<string, string>): Promise<Run> {
  return run(process.execPath, [cliPath, ...args], env);
}

async function run(file: string, args: string[], env: Record<string, string>): Promise<Run> {
  const { code, output } = await runProcess(file, args, {
    cwd: tempDir('hpa-progress-cwd-'),
    env: { PATH: process.env.PATH ?? '', TERM: 'xterm', ...env },
  });
  return { code, output };
}

describe('send of a sync in many pages', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // Answers like the app does; the progress is the sender's, whatever the receiver.
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"applied"}');
      });
    });
    url = `${await listenLocally(server)}/webhook`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const args = () => [
    'send',
    '-s',
    'progress-secret',
    '-u',
    url,
    '--users',
    '2000',
    '--pages',
    '20',
  ];

  test('on a terminal: pages sent / total with the percentage, erased before the summary', async () => {
    const result = await onTerminal(args(), {});

    expect(result.code).toBe(0);
    expect(result.output).toContain(`${ERASE}send 0/20 pages (0%)`);
    expect(result.output).toContain(`${ERASE}send 19/20 pages (95%)`);
    // The summary starts right after the erased progress line.
    expect(result.output).toMatch(
      new RegExp(`${ESC}\\[2Ksync task [\\w-]+: 20 of 20 pages accepted \\(20 applied\\)`),
    );
  });

  test('in a pipe: the same answers and summary, no escape codes', async () => {
    const result = await inPipe(args(), {});

    expect(result.code).toBe(0);
    expect(result.output).toContain('page 20/20: 200 OK');
    expect(result.output).toMatch(/sync task [\w-]+: 20 of 20 pages accepted \(20 applied\)/);
    expect(result.output).not.toContain(ESC);
    expect(result.output).not.toContain('\r');
  });
});

describe('backup', () => {
  async function store(): Promise<string> {
    const dataDir = tempDir('hpa-progress-data-');
    const db = new SqliteStore({ file: path.join(dataDir, SQLITE_FILE) });
    await db.applyDelivery({
      signatureKey: 'progress',
      actionType: 'segment.users.sync',
      meta: { receivedAt: Date.now(), path: '/webhook', bodySha256: null },
      work: {
        kind: 'sync',
        tenant: '',
        segmentId: 1,
        segmentName: undefined,
        customerConfig: undefined,
        taskId: 't',
        pageNumber: 1,
        totalPages: 1,
        add: Array.from({ length: 30_000 }, (_, i) => `user-${i}@example.com`),
        remove: [],
      },
    });
    await db.close();
    return dataDir;
  }

  test('on a terminal: pages copied / total with the percentage, erased before the result', async () => {
    const dataDir = await store();
    const progress = terminal();
    const out: string[] = [];
    const file = path.join(tempDir('hpa-progress-out-'), 'b.sqlite');

    const code = await backup(
      { file, force: false, verify: false },
      { DATA_DIR: dataDir },
      { out: (line) => out.push(line), err: (line) => out.push(line), progress },
    );

    expect(code).toBe(0);
    const drawn = progress.writes.filter((text) => text !== ERASE);
    expect(drawn.length).toBeGreaterThan(2);
    expect(drawn[0].startsWith(`${ERASE}backup 0/`)).toBe(true);
    expect(drawn[0]).toMatch(/backup 0\/[\d,]+ pages \(0%\)$/);
    const total = /\/([\d,]+) pages/.exec(drawn[0])![1];
    expect(drawn).toContain(`${ERASE}backup ${total}/${total} pages (100%)`);
    expect(progress.writes[progress.writes.length - 1]).toBe(ERASE);
    expect(out[0]).toContain(`${total} pages`);
  });

  test('in a pipe: one result line on stdout, nothing on stderr', async () => {
    const dataDir = await store();
    const file = path.join(tempDir('hpa-progress-out-'), 'b.sqlite');

    const result = await runCli(['backup', file], { DATA_DIR: dataDir });

    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(result.stdout).not.toContain(ESC);
  });
});

describePostgres('migrate', (baseUrl) => {
  test('on a terminal: names each migration as it starts, erased before the applied lines', async () => {
    const progress = terminal();
    const lines: string[] = [];

    const code = await migrate(
      [],
      { DATABASE_URL: await createDatabase(baseUrl) },
      (line) => lines.push(line),
      progress,
    );

    expect(code).toBe(0);
    const names = loadMigrations().map((migration) => migration.name);
    expect(progress.writes).toEqual([
      ...names.map(
        (name, index) =>
          `${ERASE}migrate ${index}/${names.length} migrations (${Math.floor((index / names.length) * 100)}%) applying ${name}`,
      ),
      ERASE,
    ]);
    expect(lines.map((line) => line.replace(/^.*: applied /, ''))).toEqual(names);
  });

  test('in a pipe: only the applied lines, no escape codes', async () => {
    const result = await inPipe(['migrate'], { DATABASE_URL: await createDatabase(baseUrl) });

    expect(result.code).toBe(0);
    expect(result.output).toMatch(/: applied 001_init/);
    expect(result.output).not.toContain(ESC);
  });
});
