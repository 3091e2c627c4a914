// Attack: point the sandbox's signed deliveries at another host (SSRF) with PUT /heap-emulator/api/hub/webhook.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { rawRequest } from '../support/rawHttp';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';

let server: ServerProcess;
let target: http.Server;
let targetUrl: string;
const reachedTarget: string[] = [];

beforeAll(async () => {
  server = await startServer({ DATA_DIR: tempDir('hpa-ssrf-') });
  // The "other host" the attacker wants requests sent to: a local server that records them.
  target = http.createServer((req, res) => {
    reachedTarget.push(`${req.method} ${req.url}`);
    res.end('ok');
  });
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}/collect`;
});
afterAll(async () => {
  server?.child.kill('SIGKILL');
  await new Promise((resolve) => target.close(resolve));
});

const hub = (method: string, urlPath: string, body: unknown) =>
  rawRequest({
    port: server.port,
    method,
    path: `/heap-emulator/api/hub${urlPath}`,
    body: JSON.stringify(body),
    headers: { host: `localhost:${server.port}` },
  });

it('refuses any webhook URL but the app’s own, and no request reaches the other host', async () => {
  for (const url of [
    targetUrl,
    `http://localhost.evil.example:${server.port}/webhook`,
    `http://localhost:${server.port}/api/overview`,
    `http://127.0.0.1:${server.port}/webhook`,
  ]) {
    const res = await hub('PUT', '/webhook', { url });
    expect([url, res.status]).toEqual([url, 403]);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'webhook_url_not_allowed', field: 'url' });
  }
  expect(JSON.parse((await hub('GET', '/webhook', undefined)).body)).toMatchObject({
    url: `http://localhost:${server.port}/webhook`,
  });
  const sent = await hub('POST', '/sample-segment', {});
  expect(sent.status).toBe(200);
  expect(JSON.parse(sent.body)).toMatchObject({
    state: 'succeeded',
    webhook_url: `http://localhost:${server.port}/webhook`,
  });
  const synced = await hub('POST', '/syncs', { segment_id: 3, users: 5 });
  expect(synced.status).toBe(202);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  expect(reachedTarget).toEqual([]);
});

it('accepts the app’s own webhook paths', async () => {
  for (const suffix of ['/users_sync', '/users_drain', '/webhook']) {
    const url = `http://localhost:${server.port}${suffix}`;
    const res = await hub('PUT', '/webhook', { url });
    expect([url, res.status]).toEqual([url, 200]);
  }
  expect(reachedTarget).toEqual([]);
});
