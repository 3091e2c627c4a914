// Attack: a web page re-points its own name at 127.0.0.1 (DNS rebinding) to drive the sandbox emulator from a browser.
import path from 'node:path';
import { readSecretFile } from '../../src/config/index';
import { isAllowedEmulatorHost } from '../../src/emulator/hostCheck';
import { adminGet, rawRequest } from '../support/rawHttp';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

let server: ServerProcess;
let adminToken: string;
beforeAll(async () => {
  const dataDir = tempDir('hpa-rebind-');
  // `npm start` with nothing set: the sandbox is on.
  server = await startServer({ DATA_DIR: dataDir });
  adminToken = readSecretFile(path.join(dataDir, 'admin-token')) ?? '';
});
afterAll(() => {
  server?.child.kill('SIGKILL');
});

const sample = (host: string) =>
  rawRequest({
    port: server.port,
    method: 'POST',
    path: '/heap-emulator/api/hub/sample-segment',
    body: '{}',
    headers: { host },
  });

const segments = async () =>
  ((await adminGet(server.url, adminToken, '/api/segments')) as { segments: unknown[] }).segments;

it('refuses emulator routes addressed to another name with 403 host_not_allowed', async () => {
  expect(server.stderr()).toContain('Sandbox:        on');
  for (const host of ['evil.example', `evil.example:${server.port}`, 'localhost.evil.example']) {
    for (const [method, urlPath, body] of [
      ['GET', '/heap-emulator/developers-hub', undefined],
      ['GET', '/heap-emulator/api/hub/webhook', undefined],
      ['GET', '/heap-emulator/api/hub/connections', undefined],
      ['GET', '/heap-emulator/api/partner/oauth/authorize', undefined],
      ['POST', '/heap-emulator/api/hub/syncs', JSON.stringify({ segment_id: 5, users: 10 })],
    ] as const) {
      const res = await rawRequest({
        port: server.port,
        method,
        path: urlPath,
        body,
        headers: { host },
      });
      expect([host, urlPath, res.status]).toEqual([host, urlPath, 403]);
      expect(JSON.parse(res.body)).toEqual({
        error: 'host_not_allowed',
        message: expect.any(String),
      });
    }
    expect((await sample(host)).status).toBe(403);
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await segments()).toEqual([]);
});

it('serves the same request addressed to a loopback name (the control)', async () => {
  const res = await sample(`localhost:${server.port}`);
  expect(res.status).toBe(200);
  expect(JSON.parse(res.body)).toMatchObject({ kind: 'sample', state: 'succeeded' });
  expect(await segments()).toHaveLength(1);
  for (const host of [
    `127.0.0.1:${server.port}`,
    `[::1]:${server.port}`,
    `app.localhost:${server.port}`,
  ]) {
    const page = await rawRequest({
      port: server.port,
      path: '/heap-emulator/developers-hub',
      headers: { host },
    });
    expect([host, page.status]).toEqual([host, 200]);
  }
});

it('leaves the app itself alone: only emulator routes check the Host', async () => {
  const res = await rawRequest({
    port: server.port,
    path: '/healthcheck',
    headers: { host: 'evil.example' },
  });
  expect(res.status).toBe(200);
});

describe('isAllowedEmulatorHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST:3000', true],
    ['a.b.localhost:1', true],
    ['127.0.0.1:3000', true],
    ['127.1.2.3', true],
    ['[::1]:3000', true],
    ['app.example.com', true],
    ['app.example.com:8443', true],
    ['evil.example', false],
    ['localhost.evil.example', false],
    ['evil.example@localhost', false],
    ['localhost/evil', false],
    ['[::2]', false],
    ['0.0.0.0', false],
    ['192.0.2.2:3000', false],
    ['', false],
    [undefined, false],
  ])('%s → %s', (host, allowed) => {
    expect(isAllowedEmulatorHost(host, ['app.example.com'])).toBe(allowed);
  });
});
