// The real server process: config refusal, dev secret, kill -9 durability, restart, graceful shutdown.
import { readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { signHeapHash } from '../../src/webhook/signature';
import { SqliteStore } from '../../src/store/sqlite/store';
import { readSecretFile } from '../../src/config/index';
import { allMembers, syncBody, tempDir } from '../support/testApp';
import { serverEntry, startServer, type ServerProcess } from '../support/serverProcess';

const SECRET = 'process-secret';

async function post(server: ServerProcess, body: unknown, secret = SECRET) {
  const raw = JSON.stringify(body);
  const res = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash(secret, raw) },
    body: raw,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

let running: ServerProcess | undefined;
afterEach(() => {
  running?.child.kill('SIGKILL');
  running = undefined;
});

it('refuses to start in production without WEBHOOK_SECRET or ADMIN_TOKEN and names them', () => {
  const result = spawnSync(process.execPath, [serverEntry], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', DATA_DIR: tempDir() },
    encoding: 'utf8',
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('WEBHOOK_SECRET is required when NODE_ENV=production');
  expect(result.stderr).toContain('ADMIN_TOKEN is required when NODE_ENV=production');
});

it('refuses an invalid setting in any environment', () => {
  const result = spawnSync(process.execPath, [serverEntry], {
    env: { PATH: process.env.PATH ?? '', PORT: 'eighty', DATA_DIR: tempDir() },
    encoding: 'utf8',
  });
  expect(result.status).toBe(1);
  expect(result.stderr).toContain('PORT must be a whole number');
});

it('generates a development secret (mode 0600) and prints where it is, never the secret', async () => {
  // Not there yet, as on a fresh clone: the server creates it (loadConfig alone would not).
  const dataDir = path.join(tempDir(), 'data');
  running = await startServer({ DATA_DIR: dataDir });
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  expect(readdirSync(dataDir)).toEqual(
    expect.arrayContaining([
      'webhook-secret',
      'session-secret',
      'token-encryption-key',
      'admin-token',
    ]),
  );
  const file = path.join(dataDir, 'webhook-secret');
  const secret = readSecretFile(file);
  expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const banner = running.stderr();
  expect(banner).toContain(file);
  expect(banner).toContain(`POST http://localhost:${running.port}/webhook`);
  expect(banner).toContain(
    `generateTestHeapHeaders.js -t sync -u localhost:${running.port}/users_sync`,
  );
  expect(banner + running.stdout()).not.toContain(secret);
  const res = await post(running, syncBody({ add: ['dev-user'] }), secret);
  expect(res.status).toBe(200);
});

it('prints a one-click dashboard sign-in link in development that works once, never the token', async () => {
  const dataDir = tempDir();
  running = await startServer({ DATA_DIR: dataDir });
  const banner = running.stderr();
  const token = readSecretFile(path.join(dataDir, 'admin-token'));
  expect(statSync(path.join(dataDir, 'admin-token')).mode & 0o777).toBe(0o600);
  expect(banner).toContain(path.join(dataDir, 'admin-token'));
  expect(banner + running.stdout()).not.toContain(token);
  const link = new RegExp(`http://localhost:${running.port}/login#code=([A-Za-z0-9_-]{43})`).exec(
    banner,
  );
  expect(link).not.toBeNull();
  const signIn = () =>
    fetch(`${running!.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: link![1] }),
    });
  const first = await signIn();
  expect(first.status).toBe(200);
  expect(first.headers.getSetCookie()[0]).toMatch(/^hpa_admin=.*HttpOnly; SameSite=Strict/);
  expect((await signIn()).status).toBe(401);
  expect(running.stdout()).not.toContain(link![1]);
});

it('prints no sign-in link in production', async () => {
  running = await startServer({
    DATA_DIR: tempDir(),
    NODE_ENV: 'production',
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN: 'production-admin-token-xyz',
    SESSION_SECRET: 'production-session-secret-of-32-bytes',
  });
  expect(running.stderr()).toContain(
    `Dashboard:      http://localhost:${running.port}/   (sign in with ADMIN_TOKEN)`,
  );
  expect(running.stderr()).not.toContain('#code=');
  expect(running.stderr() + running.stdout()).not.toContain('production-admin-token-xyz');
});

it('keeps a delivery answered 200 through kill -9, and recognises it after a restart', async () => {
  const dataDir = tempDir();
  const env = { DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET };
  running = await startServer(env);
  const page = syncBody({ idToken: 'env-k', taskId: 'K', add: ['survivor-1', 'survivor-2'] });
  expect((await post(running, page)).body).toMatchObject({ status: 'applied', member_count: 2 });
  running.child.kill('SIGKILL');
  expect(await running.exited).toMatchObject({ signal: 'SIGKILL' });

  const store = new SqliteStore({ file: path.join(dataDir, 'heap-partner.sqlite') });
  expect(await allMembers(store, 'env-k', 42)).toEqual(['survivor-1', 'survivor-2']);
  await store.close();

  running = await startServer(env);
  const again = await post(running, page);
  expect(again.body).toMatchObject({ status: 'duplicate', member_count: 2 });
  const next = await post(running, syncBody({ idToken: 'env-k', taskId: 'K2', add: ['third'] }));
  expect(next.body).toMatchObject({ status: 'applied', member_count: 3 });
});

// Development listens on both loopback addresses: 127.0.0.1 is the http.Server's own socket,
// ::1 a second listener that hands its connections over; shutdown must wait for both.
it.each(['127.0.0.1', '[::1]'])(
  'finishes an in-flight request to %s on SIGTERM, then exits 0',
  async (address) => {
    const dataDir = tempDir();
    running = await startServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: SECRET });
    const server = running;
    const base = `http://${address}:${server.port}`;
    const raw = JSON.stringify(syncBody({ add: ['in-flight'] }));
    const header = signHeapHash(SECRET, raw);
    const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        `${base}/webhook`,
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(raw),
            'heap-hash': header,
          },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      // Send half the body, signal the server, then the rest: the request is in flight throughout.
      req.write(raw.slice(0, 20));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(raw.slice(20)), 300);
      }, 200);
    });
    const res = await response;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'applied', added: 1 });
    expect(await server.exited).toEqual({ code: 0, signal: null });
    expect(server.stdout()).toContain('"msg":"stopped"');
    running = undefined;
  },
);
