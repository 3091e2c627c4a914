// Attack: started as Heap's README starts it (WEBHOOK_SECRET exported, NODE_ENV unset), make the server sign and apply deliveries through the sandbox.
import path from 'node:path';
import { readSecretFile } from '../../src/config/index';
import { signHeapHash } from '../../src/webhook/signature';
import { adminGet, rawRequest } from '../support/rawHttp';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { syncBody, tempDir } from '../support/testApp';

const REAL_SECRET = 'the-real-secret-from-heaps-developers-hub';
const HUB = '/heap-emulator/api/hub';

let server: ServerProcess;
let adminToken: string;
beforeAll(async () => {
  const dataDir = tempDir('hpa-forgery-');
  // Exactly Heap's README: export WEBHOOK_SECRET=…; npm start. No NODE_ENV, no CLIENT_ID.
  server = await startServer({ DATA_DIR: dataDir, WEBHOOK_SECRET: REAL_SECRET });
  adminToken = readSecretFile(path.join(dataDir, 'admin-token')) ?? '';
  expect(adminToken).not.toBe('');
});
afterAll(() => {
  server?.child.kill('SIGKILL');
});

it('says in the banner that the sandbox is off, and why, and prints no one-click link', () => {
  const banner = server.stderr();
  expect(banner).toContain('Sandbox:        off because WEBHOOK_SECRET is set');
  expect(banner).not.toContain('/heap-emulator');
  expect(banner).not.toContain('#code=');
  expect(server.stdout()).toMatch(/"sandbox":false[^\n]*"msg":"listening"/);
});

it.each([
  ['POST', `${HUB}/sample-segment`, '{}'],
  ['POST', `${HUB}/syncs`, JSON.stringify({ segment_id: 7, users: 1000 })],
  ['POST', `${HUB}/drain`, JSON.stringify({ segment_id: 7 })],
  ['PUT', `${HUB}/webhook`, JSON.stringify({ url: 'http://127.0.0.1:9/x' })],
  ['GET', '/heap-emulator/developers-hub', undefined],
  ['GET', '/heap-emulator/api/partner/oauth/authorize', undefined],
])('%s %s is a 404 and sends nothing', async (method, urlPath, body) => {
  for (const host of [`localhost:${server.port}`, `127.0.0.1:${server.port}`]) {
    const res = await rawRequest({
      port: server.port,
      method,
      path: urlPath,
      body,
      headers: { host },
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'not_found' });
  }
});

it('applies nothing: no segment and no delivery in the store after all of the above', async () => {
  // Give a background run (had one started) time to deliver before looking.
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await adminGet(server.url, adminToken, '/api/segments')).toMatchObject({ segments: [] });
  expect(await adminGet(server.url, adminToken, '/api/deliveries')).toMatchObject({
    deliveries: [],
  });
  // Control: a delivery really signed with the secret shows up through the same admin API.
  const raw = JSON.stringify(syncBody({ segmentId: 99, add: ['genuine'] }));
  const genuine = await fetch(`${server.url}/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'heap-hash': signHeapHash(REAL_SECRET, raw) },
    body: raw,
  });
  expect(genuine.status).toBe(200);
  expect(await adminGet(server.url, adminToken, '/api/segments')).toMatchObject({
    segments: [{ segment_id: 99, member_count: 1 }],
  });
});

it('leaves Connect Heap unconfigured (503) rather than backed by the emulator', async () => {
  const res = await fetch(`${server.url}/api/authorize`, { redirect: 'manual' });
  expect(res.status).toBe(503);
  expect(res.headers.get('location')).toBeNull();
  expect(server.stderr()).toContain('disabled: set CLIENT_ID, CLIENT_SECRET, REDIRECT_URI');
});
