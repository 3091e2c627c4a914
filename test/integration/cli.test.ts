// The real bin/generateTestHeapHeaders.js, spawned as a child process against a live server on loopback.
import { createHash, randomUUID } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApp } from '../../src/app';
import { loadConfig, type Environment } from '../../src/config/index';
import { createLogger } from '../../src/server/logger';
import { SqliteStore } from '../../src/store/sqlite/store';
import { runProcess, type ProcessRun as Run } from '../support/runProcess';

const repoRoot = path.resolve(__dirname, '..', '..');
const cliPath = path.join(repoRoot, 'bin', 'generateTestHeapHeaders.js');
// Only what the shell needs to find sh and curl: the CLI must not see this process's environment.
const SHELL_PATH = '/usr/local/bin:/usr/bin:/bin';
const SECRET = 'test-secret';

type SampleSync = {
  id_token: string;
  data: { segment: { id: number }; add: { id: string }[]; remove: { id: string }[] };
};
const sample = JSON.parse(
  readFileSync(path.join(repoRoot, 'bin', 'data', 'sync.json'), 'utf8'),
) as SampleSync;
const sampleSegment = sample.data.segment.id;
const sampleMembers = sample.data.add
  .map((user) => user.id)
  .filter((id) => !sample.data.remove.some((user) => user.id === id))
  .sort();

type Running = { store: SqliteStore; port: number; url: string; close: () => Promise<void> };

async function startServer(env: Environment, cwd: string): Promise<Running> {
  // As `npm start` does: without WEBHOOK_SECRET, the development secret is generated.
  const loaded = loadConfig(env, cwd, { createMissingSecrets: true });
  if (!loaded.ok) throw new Error(loaded.problems.join('; '));
  const { config } = loaded;
  const store = new SqliteStore({ file: config.sqlite.file });
  const app = createApp({ config, store, logger: createLogger('silent') });
  const server = await new Promise<Server>((resolve) => {
    const listening = app.listen(0, () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  return {
    store,
    port,
    url: `http://127.0.0.1:${port}/webhook`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    },
  };
}

const run = runProcess;

let scratch: string;
let server: Running;
let emptyDir: string;

/** Runs the CLI from `cwd` (an empty directory unless given) with exactly `env`. */
function cli(args: string[], options: { cwd?: string; env?: Environment } = {}): Promise<Run> {
  return run(process.execPath, [cliPath, ...args], {
    cwd: options.cwd ?? emptyDir,
    env: options.env ?? {},
  });
}

function sh(script: string): Promise<Run> {
  return run('sh', ['-c', script], { cwd: emptyDir, env: { PATH: SHELL_PATH } });
}

function freshDir(name: string): string {
  return mkdtempSync(path.join(scratch, `${name}-`));
}

function tenant(): string {
  return `tenant-${randomUUID()}`;
}

async function members(store: SqliteStore, tenantKey: string, segment: number) {
  return (await store.listMembers(tenantKey, segment, { limit: 10_000 })).items;
}

beforeAll(async () => {
  scratch = mkdtempSync(path.join(tmpdir(), 'heap-cli-'));
  emptyDir = freshDir('cwd');
  const dataDir = freshDir('data');
  server = await startServer({ WEBHOOK_SECRET: SECRET, DATA_DIR: dataDir }, dataDir);
});

afterAll(async () => {
  await server?.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('sending', () => {
  test('the sample sync is applied under its own id_token', async () => {
    const result = await cli(['-t', 'sync', '-s', SECRET, '-u', server.url]);

    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^200 OK\n/);
    expect(JSON.parse(result.stdout.split('\n')[1])).toMatchObject({
      status: 'applied',
      action_type: 'segment.users.sync',
      segment_id: sampleSegment,
      member_count: sampleMembers.length,
    });
    expect(await members(server.store, sample.id_token, sampleSegment)).toEqual(sampleMembers);
    expect(await server.store.getSegment(sample.id_token, sampleSegment)).toMatchObject({
      memberCount: sampleMembers.length,
      name: 'Trial users',
    });
  });

  test('a drain for the same tenant and segment empties it', async () => {
    const token = tenant();
    expect((await cli(['-s', SECRET, '-u', server.url, '-i', token])).code).toBe(0);
    expect(await members(server.store, token, sampleSegment)).toHaveLength(sampleMembers.length);

    const result = await cli(['-t', 'drain', '-s', SECRET, '-u', server.url, '-i', token]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"action_type":"segment.users.drain"');
    expect(result.stdout).toContain('"status":"applied"');
    expect(await members(server.store, token, sampleSegment)).toEqual([]);
    const segment = await server.store.getSegment(token, sampleSegment);
    expect(segment?.memberCount).toBe(0);
    expect(segment?.lastDrainAt).not.toBeNull();
  });

  test.each(['past', 'future'])(
    '-a %s is refused as out of tolerance and changes nothing',
    async (at) => {
      const token = tenant();
      const result = await cli(['-a', at, '-s', SECRET, '-u', server.url, '-i', token]);

      expect(result.code).toBe(1);
      expect(result.stdout).toMatch(/^403 Forbidden\n/);
      expect(result.stdout).toContain('"error":"timestamp_out_of_tolerance"');
      expect(await server.store.getSegment(token, sampleSegment)).toBeUndefined();
    },
  );

  test('a wrong -s is refused as an invalid signature and changes nothing', async () => {
    const token = tenant();
    const result = await cli(['-s', 'not-the-secret', '-u', server.url, '-i', token]);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^403 Forbidden\n/);
    expect(result.stdout).toContain('"error":"invalid_signature"');
    expect(result.stderr).toContain('pass the secret it uses with -s');
    expect(await server.store.getSegment(token, sampleSegment)).toBeUndefined();
  });

  test('-i sets the tenant, and -i "" sends none (the own environment)', async () => {
    const token = tenant();
    expect((await cli(['-s', SECRET, '-u', server.url, '-i', token])).code).toBe(0);
    expect(await members(server.store, token, sampleSegment)).toEqual(sampleMembers);

    const segment = 900_000_001;
    expect(
      (await cli(['-s', SECRET, '-u', server.url, '-i', '', '--segment', `${segment}`])).code,
    ).toBe(0);
    expect(await members(server.store, '', segment)).toEqual(sampleMembers);
  });

  test('ID_TOKEN from the environment sets the tenant when -i is absent', async () => {
    const token = tenant();
    const result = await cli(['-s', SECRET, '-u', server.url], { env: { ID_TOKEN: token } });

    expect(result.code).toBe(0);
    expect(await members(server.store, token, sampleSegment)).toEqual(sampleMembers);
  });

  test('--segment overrides data.segment.id', async () => {
    const token = tenant();
    const result = await cli(['-s', SECRET, '-u', server.url, '-i', token, '--segment', '777']);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"segment_id":777');
    expect(await members(server.store, token, 777)).toEqual(sampleMembers);
    expect(await server.store.getSegment(token, sampleSegment)).toBeUndefined();
  });

  test('-f sends a pretty-printed file byte for byte, and the server accepts it', async () => {
    const token = tenant();
    const body =
      `{\r\n  "id_token" :   ${JSON.stringify(token)},\n\t"action_type":"segment.users.sync" ,\n` +
      `  "data": { "segment": {"id": 31337},\n    "sync_info": { "page_number": 1, "total_pages": 1,` +
      ` "sync_task_id": "pretty" },\n    "add": [ {"id": "zoë@example.org"} ,{ "id": "li@example.org" } ] }\n}\n`;
    const file = path.join(freshDir('file'), 'pretty.json');
    writeFileSync(file, body);

    const result = await cli(['-f', file, '-s', SECRET, '-u', server.url]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"status":"applied"');
    expect(await members(server.store, token, 31337)).toEqual([
      'li@example.org',
      'zoë@example.org',
    ]);
    const [delivery] = await server.store.listDeliveries({ limit: 1 });
    expect(delivery.bodySha256).toBe(createHash('sha256').update(body).digest('hex'));
  });

  test('-f with a body that is not JSON reaches the server unchanged: 400, exit 1', async () => {
    const file = path.join(freshDir('not-json'), 'broken.json');
    writeFileSync(file, '  {"action_type": \n');

    const result = await cli(['-f', file, '-s', SECRET, '-u', server.url]);

    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^400 Bad Request\n/);
    expect(result.stdout).toContain('"error":"invalid_json"');
  });

  test('--users 250 --pages 3 sends one complete sync task of 250 users', async () => {
    const token = tenant();
    const result = await cli([
      '-s',
      SECRET,
      '-u',
      server.url,
      '-i',
      token,
      '--users',
      '250',
      '--pages',
      '3',
    ]);

    expect(result.code).toBe(0);
    for (const page of [1, 2, 3]) expect(result.stdout).toContain(`page ${page}/3: 200 OK\n`);
    expect(result.stdout.match(/"status":"applied"/g)).toHaveLength(3);
    const taskId = /sync task ([0-9a-f-]{36}): 3 of 3 pages accepted/.exec(result.stdout)?.[1];
    expect(taskId).toBeDefined();
    const stored = await members(server.store, token, sampleSegment);
    expect(stored).toHaveLength(250);
    expect(stored).toEqual(expect.arrayContaining(['user-1@example.com', 'user-250@example.com']));
    expect(await server.store.getSyncTask(token, sampleSegment, taskId ?? '')).toMatchObject({
      totalPages: 3,
      pagesReceived: 3,
      complete: true,
    });
  });

  test('-u without a scheme means http://', async () => {
    const token = tenant();
    const result = await cli([
      '-s',
      SECRET,
      '-u',
      `localhost:${server.port}/users_sync`,
      '-i',
      token,
    ]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"status":"applied"');
    expect(await members(server.store, token, sampleSegment)).toEqual(sampleMembers);
  });

  test('a server that is not running gives exit 1 and says so', async () => {
    const closed = await startServer({ WEBHOOK_SECRET: SECRET }, freshDir('closed'));
    await closed.close();

    const result = await cli(['-s', SECRET, '-u', closed.url]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('connection refused: is the server running?');
  });
});

describe('finding the secret', () => {
  test('WEBHOOK_SECRET (and ID_TOKEN) from a .env file in the working directory', async () => {
    const token = tenant();
    const cwd = freshDir('dotenv');
    writeFileSync(path.join(cwd, '.env'), `WEBHOOK_SECRET=${SECRET}\nID_TOKEN=${token}\n`);

    const result = await cli(['-u', server.url], { cwd });

    expect(result.code).toBe(0);
    expect(result.stdout).toContain('"status":"applied"');
    expect(await members(server.store, token, sampleSegment)).toEqual(sampleMembers);
  });

  describe('the development secret a server generated in DATA_DIR', () => {
    let workDir: string;
    let generated: Running;

    beforeAll(async () => {
      workDir = freshDir('generated');
      // No WEBHOOK_SECRET: the server generates a random secret in ./data/webhook-secret.
      generated = await startServer({}, workDir);
    });
    afterAll(() => generated.close());

    test('read from ./data when DATA_DIR is not set', async () => {
      const token = tenant();
      const result = await cli(['-u', generated.url, '-i', token], { cwd: workDir });

      expect(result.code).toBe(0);
      expect(result.stdout).toContain('"status":"applied"');
      expect(await members(generated.store, token, sampleSegment)).toEqual(sampleMembers);
    });

    test('read from DATA_DIR when it is set', async () => {
      const token = tenant();
      const result = await cli(['-u', generated.url, '-i', token], {
        env: { DATA_DIR: path.join(workDir, 'data') },
      });

      expect(result.code).toBe(0);
      expect(await members(generated.store, token, sampleSegment)).toEqual(sampleMembers);
    });
  });

  test('no secret anywhere: exit 2, nothing sent, and a message saying what to do', async () => {
    const before = await server.store.listDeliveries({ limit: 1 });

    const result = await cli(['-u', server.url]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('No webhook secret found');
    expect(result.stderr).toContain('-s <secret>');
    expect(result.stderr).toContain('start the server once');
    expect(result.stderr).toContain(path.join(emptyDir, 'data', 'webhook-secret'));
    expect(await server.store.listDeliveries({ limit: 1 })).toEqual(before);
  });
});

describe('-p prints curl commands that work through a shell', () => {
  test('printing sends nothing; running the command applies the sync', async () => {
    const token = tenant();
    const printed = await cli(['-p', '-s', SECRET, '-u', server.url, '-i', token]);

    expect(printed.code).toBe(0);
    expect(printed.stdout).toMatch(/^curl .*\n$/);
    expect(await server.store.getSegment(token, sampleSegment)).toBeUndefined();

    const ran = await sh(printed.stdout);

    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('"status":"applied"');
    expect(ran.stdout).toContain('HTTP 200');
    expect(await members(server.store, token, sampleSegment)).toEqual(sampleMembers);
  });

  test("a payload file with a ' in a user id survives the quoting", async () => {
    const token = tenant();
    const file = path.join(freshDir('quote'), "o'brien.json");
    writeFileSync(
      file,
      JSON.stringify(
        {
          id_token: token,
          action_type: 'segment.users.sync',
          data: {
            segment: { id: 4242 },
            sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'quotes' },
            add: [{ id: "o'brien@example.org" }, { id: `$HOME "and" \`backticks\`` }],
          },
        },
        null,
        2,
      ),
    );
    const printed = await cli(['-p', '-f', file, '-s', SECRET, '-u', server.url]);
    expect(printed.code).toBe(0);

    const ran = await sh(printed.stdout);

    expect(ran.stdout).toContain('HTTP 200');
    expect(await members(server.store, token, 4242)).toEqual([
      '$HOME "and" `backticks`',
      "o'brien@example.org",
    ]);
  });

  test('several pages print one command a line, and running them completes the task', async () => {
    const token = tenant();
    const printed = await cli([
      '-p',
      '-s',
      SECRET,
      '-u',
      server.url,
      '-i',
      token,
      '--users',
      '5',
      '--pages',
      '2',
    ]);

    const lines = printed.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).toMatch(/^curl /);

    const ran = await sh(printed.stdout);

    expect(ran.stdout.match(/HTTP 200/g)).toHaveLength(2);
    expect(await members(server.store, token, sampleSegment)).toHaveLength(5);
  });
});

describe('usage', () => {
  test('--help documents every flag with examples', async () => {
    const result = await cli(['--help']);

    expect(result.code).toBe(0);
    for (const flag of [
      '-t, --type',
      '-u, --url',
      '-s, --secret',
      '-i, --id-token',
      '-a, --at',
      '-p, --print',
      '-f, --file',
      '--segment',
      '--users',
      '--pages',
    ]) {
      expect(result.stdout).toContain(flag);
    }
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('-t sync -u localhost:3000/users_sync');
  });

  test.each([
    [['--segment', 'abc'], '--segment must be a whole number'],
    [['-t', 'bogus'], 'Invalid values'],
    [['-f', 'x.json', '-i', 'token'], '-f sends the file as it is'],
    [['--pages', '2'], '--pages splits a --users task'],
    [['-t', 'drain', '--users', '3'], 'cannot be combined with -t drain'],
    [['-u', 'ftp://example.org/hook'], 'must be an http or https URL'],
    [['stray'], 'Unknown argument: stray'],
  ])('%j is a usage error (exit 2) and sends nothing', async (args, message) => {
    const before = await server.store.listDeliveries({ limit: 1 });
    const result = await cli(['-u', server.url, ...args, '-s', SECRET]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(await server.store.listDeliveries({ limit: 1 })).toEqual(before);
  });

  test('-f with a missing file is a usage error', async () => {
    const result = await cli(['-f', 'missing.json', '-s', SECRET, '-u', server.url]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('Cannot read -f missing.json');
  });

  test('without dist/ the shim says to build first', async () => {
    const copy = freshDir('no-dist');
    mkdirSync(path.join(copy, 'bin'));
    copyFileSync(cliPath, path.join(copy, 'bin', 'generateTestHeapHeaders.js'));

    const result = await run(
      process.execPath,
      [path.join(copy, 'bin', 'generateTestHeapHeaders.js')],
      {
        cwd: copy,
        env: {},
      },
    );

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('run npm install (or npm run build) first');
  });
});
