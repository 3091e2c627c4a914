// Slowloris against the built server: trickled headers and bodies are cut off, and a genuine delivery is not kept waiting.
import { rmSync } from 'node:fs';
import http from 'node:http';
import { signHeapHash } from '../../src/webhook/signature';
import { rawConnect, sleep, type RawConnection } from '../support/rawHttp';
import { startServer, type ServerProcess } from '../support/serverProcess';
import { syncBody, tempDir } from '../support/testApp';

const SECRET = 'slow-clients-secret';
const ADMIN_TOKEN = 'slow-clients-admin-token';

const started: { server: ServerProcess; dataDir: string }[] = [];

/** The built server as Heap's README starts it (WEBHOOK_SECRET exported, NODE_ENV unset). */
async function start(env: Record<string, string> = {}): Promise<ServerProcess> {
  const dataDir = tempDir('hpa-slow-');
  const server = await startServer({
    WEBHOOK_SECRET: SECRET,
    ADMIN_TOKEN,
    DATA_DIR: dataDir,
    ...env,
  });
  started.push({ server, dataDir });
  return server;
}

afterAll(async () => {
  for (const { server, dataDir } of started) {
    server.child.kill('SIGTERM');
    await server.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});

/** POSTs a correctly signed sync on a fresh connection; resolves with the status and the time it took. */
function deliver(
  port: number,
  body: string,
): Promise<{ status: number; ms: number; body: string }> {
  const startedAt = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/webhook',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'heap-hash': signHeapHash(SECRET, body, Date.now()),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, ms: Date.now() - startedAt, body: text }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('with the default limits', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start();
  });

  it('300 connections trickling headers do not delay a genuine delivery, and are cut off after headersTimeout', async () => {
    const HEADERS_TIMEOUT_MS = 10_000;
    const slow: { conn: RawConnection; startedAt: number }[] = [];
    for (let i = 0; i < 300; i++) {
      const conn = await rawConnect(server.port);
      const startedAt = Date.now();
      await conn.write('POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Trickle: ');
      slow.push({ conn, startedAt });
    }
    // One more header byte on every connection about every second, as slowloris does.
    const trickle = setInterval(() => {
      for (const { conn } of slow) void conn.write('a');
    }, 1000);
    try {
      await sleep(2500);
      const openWhenSent = slow.filter(({ conn }) => !conn.socket.destroyed).length;
      const body = JSON.stringify(syncBody({ segmentId: 5, add: ['not-kept-waiting'] }));
      const genuine = await deliver(server.port, body);
      process.stdout.write(
        `slowloris: genuine delivery answered ${genuine.status} in ${genuine.ms} ms with ${openWhenSent} trickling connections open\n`,
      );
      expect(openWhenSent).toBe(300);
      expect(genuine.status).toBe(200);
      expect(genuine.ms).toBeLessThan(3000);

      const outcomes = await Promise.all(
        slow.map(async ({ conn, startedAt }) => {
          const closedAt = await conn.closed;
          const response = await conn.response.catch(() => undefined);
          return { status: response?.status, heldMs: closedAt - startedAt };
        }),
      );
      const longest = Math.max(...outcomes.map((o) => o.heldMs));
      process.stdout.write(`slowloris: trickling connections held at most ${longest} ms\n`);
      expect(outcomes.every((o) => o.status === 408)).toBe(true);
      // Node checks every second (connectionsCheckingInterval); allow a generous margin.
      expect(longest).toBeLessThan(HEADERS_TIMEOUT_MS + 5000);
    } finally {
      clearInterval(trickle);
      for (const { conn } of slow) conn.close();
    }
  }, 60_000);
});

describe('with short limits', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await start({
      HTTP_HEADERS_TIMEOUT_MS: '2000',
      HTTP_REQUEST_TIMEOUT_MS: '3000',
      HTTP_MAX_REQUESTS_PER_SOCKET: '2',
      // Budget for exactly one body of the largest size, so holding it shows.
      WEBHOOK_BODY_LIMIT: '1kb',
      WEBHOOK_MAX_INFLIGHT_BYTES: '1kb',
      RETRY_AFTER_SECONDS: '1',
    });
  });

  it('cuts off a body trickled at 1 byte/s after requestTimeout, and releases its buffer', async () => {
    const REQUEST_TIMEOUT_MS = 3000;
    const conn = await rawConnect(server.port);
    const startedAt = Date.now();
    await conn.write(
      'POST /webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Content-Length: 1024\r\nHeap-Hash: ${signHeapHash(SECRET, 'x'.repeat(1024), Date.now())}\r\n\r\n`,
    );
    const trickle = setInterval(() => void conn.write('x'), 1000);
    try {
      await sleep(1000);
      // The trickled body holds the whole budget meanwhile.
      const body = JSON.stringify(syncBody({ segmentId: 6, add: ['after-the-trickle'] }));
      const during = await deliver(server.port, body);
      expect(during.status).toBe(503);
      expect(JSON.parse(during.body)).toMatchObject({ error: 'server_busy' });

      const closedAt = await conn.closed;
      const response = await conn.response.catch(() => undefined);
      process.stdout.write(
        `slow body: cut off with ${response?.status} after ${closedAt - startedAt} ms\n`,
      );
      expect(response?.status).toBe(408);
      expect(closedAt - startedAt).toBeLessThan(REQUEST_TIMEOUT_MS + 5000);

      // Its reservation came back: the next delivery is read and applied.
      const after = await deliver(server.port, body);
      expect(after.status).toBe(200);
    } finally {
      clearInterval(trickle);
      conn.close();
    }
  }, 30_000);

  it('keeps an idle keep-alive connection open beyond headersTimeout and Node’s 5 s default', async () => {
    const conn = await rawConnect(server.port);
    const get = 'GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    await conn.write(get);
    const first = await conn.nextResponse();
    expect(first.status).toBe(200);
    expect(first.headers['keep-alive']).toMatch(/^timeout=65\b/);
    await sleep(6000);
    expect(conn.socket.destroyed).toBe(false);
    await conn.write(get);
    expect((await conn.nextResponse()).status).toBe(200);
    conn.close();
  }, 30_000);

  it('closes a connection after HTTP_MAX_REQUESTS_PER_SOCKET requests', async () => {
    const conn = await rawConnect(server.port);
    const get = 'GET /healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    await conn.write(get);
    expect((await conn.nextResponse()).headers.connection).toBe('keep-alive');
    await conn.write(get);
    const last = await conn.nextResponse();
    expect(last.status).toBe(200);
    expect(last.headers.connection).toBe('close');
    await conn.closed;
  });
});
