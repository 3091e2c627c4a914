// The built heap-partner-api CLI, spawned as a child process: its commands, their help, serve + send, migrate, mistakes.
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { loadMigrations } from '../../src/store/postgres/migrations';
import { createDatabase } from '../support/postgres';
import { describePostgres } from '../support/describePostgres';
import { repoRoot, startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { runCli, type ProcessRun } from '../support/runProcess';

const cliPath = path.join(repoRoot, 'bin', 'heap-partner-api.js');
const COMMANDS = ['serve', 'send', 'check', 'migrate', 'backup', 'rotate-token-key', 'emulator'];
const SECRET = 'cli-main-secret';

/** Runs the CLI in an empty directory with exactly `env` (plus PATH): no .env, no data of ours. */
function cli(args: string[], env: Record<string, string> = {}): Promise<ProcessRun> {
  return runCli(args, env);
}

describe('help', () => {
  test('--help lists every command', async () => {
    const result = await cli(['--help']);

    expect(result.code).toBe(0);
    for (const command of COMMANDS) {
      expect(result.stdout).toMatch(new RegExp(`^  heap-partner-api ${command} `, 'm'));
    }
  });

  test.each(COMMANDS)('%s --help shows its options and examples', async (command) => {
    const result = await cli([command, '--help']);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^heap-partner-api ${command}`));
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toMatch(new RegExp(`^  (\\S+=\\S+ )*heap-partner-api ${command}`, 'm'));
  });

  test("send --help shows the seed script's flags", async () => {
    const result = await cli(['send', '--help']);

    for (const flag of ['--type', '--url', '--secret', '--id-token', '--at', '--print', '--file']) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('heap-partner-api send -t sync -u localhost:3000/users_sync');
  });
});

describe('mistakes', () => {
  test('an unknown command exits 2, names it and lists the commands', async () => {
    const result = await cli(['bogus']);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('unknown command "bogus"');
    expect(result.stderr).toContain(COMMANDS.join(', '));
  });

  test('no command exits 2 and lists the commands', async () => {
    const result = await cli([]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Name a command: ${COMMANDS.join(', ')}`);
  });

  test.each([
    [['migrate', '--bogus'], 'Unknown argument: bogus'],
    [['send', '--segment', 'abc'], '--segment must be a whole number'],
    [['rotate-token-key', 'extra'], 'Unknown argument: extra'],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const result = await cli(args);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
  });
});

describe('serve and send', () => {
  let server: ServerProcess | undefined;
  afterEach(() => {
    server?.child.kill('SIGKILL');
    server = undefined;
  });

  test('serve starts the server as npm start does; send delivers to it; SIGTERM stops it', async () => {
    server = await startServer({ WEBHOOK_SECRET: SECRET, DATA_DIR: tempDir() }, tempDir(), [
      cliPath,
      'serve',
    ]);
    expect(server.stderr()).toContain('heap-partner-api is listening on');

    const sent = await cli(['send', '-s', SECRET, '-u', `127.0.0.1:${server.port}/users_sync`]);

    expect(sent.code).toBe(0);
    expect(sent.stdout).toMatch(/^200 OK\n/);
    expect(sent.stdout).toContain('"status":"applied"');

    const refused = await cli(['send', '-s', 'wrong', '-u', `127.0.0.1:${server.port}/webhook`]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/^403 Forbidden\n/);

    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  test('send to where nothing listens exits 1 and says so', async () => {
    const result = await cli(['send', '-s', SECRET, '-u', '127.0.0.1:1/webhook']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('is the server running?');
  });
});

describe('migrate on SQLite', () => {
  test('without DATABASE_URL it migrates the file in DATA_DIR: --check exit 1 while pending', async () => {
    const dataDir = tempDir();
    const empty = await cli(['migrate', '--check'], { DATA_DIR: dataDir });
    expect(empty.code).toBe(0);
    expect(empty.stdout).toContain('no SQLite store yet');

    // A version-4 file (written by a2b1da7): 005_user_keys is pending.
    const file = path.join(dataDir, 'heap-partner.sqlite');
    copyFileSync(path.join(__dirname, '..', 'fixtures', 'sqlite-v4.sqlite'), file);
    const pending = await cli(['migrate', '--check'], { DATA_DIR: dataDir });
    expect(pending.code).toBe(1);
    expect(pending.stdout).toContain(`${file}: pending 005_user_keys`);

    const applied = await cli(['migrate'], { DATA_DIR: dataDir });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`${file}: applied 005_user_keys`);

    const again = await cli(['migrate'], { DATA_DIR: dataDir });
    expect(again.stdout).toContain('up to date, nothing to apply');
    const upToDate = await cli(['migrate', '--check'], { DATA_DIR: dataDir });
    expect(upToDate.code).toBe(0);
    expect(upToDate.stdout).toContain(`${file}: up to date`);
  });
});

describePostgres('migrate on PostgreSQL', (baseUrl) => {
  test('--check lists pending (exit 1), migrate applies them one line each, then --check is up to date', async () => {
    const env = { DATABASE_URL: await createDatabase(baseUrl) };

    const pending = await cli(['migrate', '--check'], env);
    expect(pending.code).toBe(1);
    expect(pending.stdout).toMatch(/: pending 001_init/);

    const applied = await cli(['migrate'], env);
    expect(applied.code).toBe(0);
    const lines = applied.stdout.trimEnd().split('\n');
    expect(lines.map((line) => line.replace(/^.*: applied /, ''))).toEqual(
      loadMigrations().map((migration) => migration.name),
    );

    const current = await cli(['migrate', '--check'], env);
    expect(current.code).toBe(0);
    expect(current.stdout).toMatch(/: up to date/);
  });
});
