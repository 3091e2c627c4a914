// Attack: read the metrics from the network, without the token or around it, and look for secrets or user ids in them.
import net from 'node:net';
import os from 'node:os';
import { startLiveApp } from '../support/liveApp';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { tempDir } from '../support/testApp';
import { signHeapHash } from '../../src/webhook/signature';

const WEBHOOK_SECRET = 'real-webhook-secret-from-heap-0123';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const ADMIN_TOKEN = 'admin-token-0123456789abcdef';

/** This machine's addresses other machines could use to reach it (none on a loopback-only box). */
function networkAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((info): info is os.NetworkInterfaceInfo => info !== undefined && !info.internal)
    .filter((info) => !(info.family === 'IPv6' && info.address.startsWith('fe80:')))
    .map((info) => info.address);
}

function tryConnect(address: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve('timeout');
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
  });
}

const running: ServerProcess[] = [];
afterEach(() => {
  for (const server of running.splice(0)) server.child.kill('SIGKILL');
});

// A real secret exported and NODE_ENV unset: as safe as production.
const realSecretEnv = { WEBHOOK_SECRET, ADMIN_TOKEN };

test('nothing is served by default: no /metrics on a server reachable from the network', async () => {
  const server = await startServer({ ...realSecretEnv, DATA_DIR: tempDir(), HOST: '0.0.0.0' });
  running.push(server);
  for (const headers of [{}, { authorization: `Bearer ${ADMIN_TOKEN}` }] as Record<
    string,
    string
  >[]) {
    const res = await fetch(`${server.url}/metrics`, { headers });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('heap_partner');
  }
  expect(server.stdout()).not.toContain('metrics_port');
});

test('METRICS_PORT listens on loopback only, even when the app faces the network', async () => {
  const server = await startServer({
    ...realSecretEnv,
    DATA_DIR: tempDir(),
    HOST: '0.0.0.0',
    METRICS_PORT: '0',
  });
  running.push(server);
  const line = server
    .stdout()
    .split('\n')
    .find((l) => l.includes('"msg":"listening"'));
  const port = (JSON.parse(line ?? '{}') as { metrics_port: number }).metrics_port;
  expect(await tryConnect('127.0.0.1', port)).toBe('connected');
  for (const address of networkAddresses()) {
    expect(await tryConnect(address, port)).toBe('ECONNREFUSED');
    // The app's port (HOST=0.0.0.0: IPv4) is reachable there, and has no /metrics.
    if (net.isIPv4(address)) {
      const res = await fetch(`http://${address}:${server.port}/metrics`);
      expect(res.status).toBe(404);
    }
  }
});

test('without the token nothing leaks; with it, no secret, token, id_token or user id is in the text', async () => {
  const app = await startLiveApp({ WEBHOOK_SECRET, ADMIN_TOKEN, METRICS_TOKEN });
  try {
    const idToken = 'customer-id-token-7f3a9c';
    const userIds = ['user-secret-alice@example.com', 'user-secret-bob-42'];
    const body = JSON.stringify({
      id_token: idToken,
      action_type: 'segment.users.sync',
      data: {
        segment: { id: 99, name: 'VIP customers' },
        sync_info: { page_number: 1, total_pages: 1, sync_task_id: 'task-secret-1' },
        add: userIds.map((id) => ({ id })),
        remove: [],
      },
    });
    const header = signHeapHash(WEBHOOK_SECRET, body);
    const posted = await fetch(`${app.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'heap-hash': header },
      body,
    });
    expect(posted.status).toBe(200);
    // A forgery naming its own action must not become a label value.
    await fetch(`${app.url}/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'heap-hash': 'ts:1,hmac:Zm9yZ2Vk' },
      body: '{"action_type":"attacker_label"}',
    });

    for (const authorization of [undefined, `Bearer ${ADMIN_TOKEN}`, `Bearer ${METRICS_TOKEN}x`]) {
      const res = await fetch(`${app.url}/metrics`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status).toBe(401);
      expect(await res.text()).not.toContain('heap_partner');
    }

    const res = await fetch(`${app.url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text).toContain('heap_partner_webhook_deliveries_total');
    const hmac = header.split('hmac:')[1];
    for (const secret of [
      WEBHOOK_SECRET,
      ADMIN_TOKEN,
      METRICS_TOKEN,
      idToken,
      hmac,
      'task-secret-1',
      'VIP customers',
      'attacker_label',
      ...userIds,
    ]) {
      expect(text).not.toContain(secret);
    }
  } finally {
    await app.close();
  }
});
