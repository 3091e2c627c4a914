// Another local user reading the data: the built server keeps DATA_DIR 0700 and every file in it 0600.
import { readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { signHeapHash } from '../../src/webhook/signature';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { syncBody, tempDir } from '../support/testApp';

const SECRET = 'file-mode-test-secret';
let running: ServerProcess | undefined;
let savedUmask: number;

beforeAll(() => {
  // The usual umask, under which files are world-readable unless the server says otherwise.
  savedUmask = process.umask(0o022);
});

afterAll(() => {
  process.umask(savedUmask);
});

afterEach(async () => {
  running?.child.kill('SIGKILL');
  await running?.exited;
  running = undefined;
});

const mode = (file: string) => statSync(file).mode & 0o777;

async function deliver(url: string): Promise<void> {
  const body = JSON.stringify(syncBody({ add: ['user-1', 'user-2'] }));
  const res = await fetch(`${url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash(SECRET, body) },
    body,
  });
  expect(res.status).toBe(200);
}

it('creates DATA_DIR 0700 and the database, its -wal and -shm, and generated secrets 0600', async () => {
  const dataDir = path.join(tempDir(), 'data');
  running = await startServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET });
  await deliver(running.url);
  expect(mode(dataDir)).toBe(0o700);
  const files = readdirSync(dataDir).sort();
  expect(files).toEqual(
    expect.arrayContaining([
      'heap-partner.sqlite',
      'heap-partner.sqlite-shm',
      'heap-partner.sqlite-wal',
      'admin-token',
      'session-secret',
      'token-encryption-key',
    ]),
  );
  for (const file of files) {
    expect([file, mode(path.join(dataDir, file))]).toEqual([file, 0o600]);
  }
});

it('tightens a database file an older version left readable by others', async () => {
  const dataDir = tempDir();
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'heap-partner.sqlite');
  writeFileSync(file, '', { mode: 0o644 });
  expect(mode(file)).toBe(0o644);
  running = await startServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET });
  await deliver(running.url);
  for (const name of [
    'heap-partner.sqlite',
    'heap-partner.sqlite-wal',
    'heap-partner.sqlite-shm',
  ]) {
    expect([name, mode(path.join(dataDir, name))]).toEqual([name, 0o600]);
  }
});
