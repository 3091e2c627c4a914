// Attack: the endpoint the emulator (or the CLI) delivers to answers with an endless, gzip-bombed or trickled body.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { createEmulator, type Emulator } from '../../src/emulator';
import { DEFAULT_MAX_RESPONSE_BYTES, sendSignedWebhook } from '../../src/webhook/send';

const MiB = 1024 * 1024;
/** What the hostile endpoint is willing to send: far more than anyone should read. */
const OFFERED_BYTES = 512 * MiB;

type Hostile = { url: string; written: () => number; close: () => Promise<void> };

/** An endpoint that answers 500 with `OFFERED_BYTES` of body, counting what it got to write. */
async function hostileEndpoint(mode: 'plain' | 'gzip-bomb' | 'trickle'): Promise<Hostile> {
  const bomb = mode === 'gzip-bomb' ? await gzipOfZeros(OFFERED_BYTES) : undefined;
  let written = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    if (mode === 'trickle') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('x'), 200);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (bomb) {
      res.writeHead(500, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      written = bomb.length;
      res.end(bomb);
      return;
    }
    res.writeHead(500, { 'content-type': 'text/plain' });
    const chunk = Buffer.alloc(MiB, 'A');
    const pump = () => {
      while (written < OFFERED_BYTES) {
        written += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => (written = Math.min(written, OFFERED_BYTES)));
    pump();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`,
    written: () => written,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A small gzip stream that inflates to `size` zero bytes. */
function gzipOfZeros(size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const gzip = zlib.createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gzip.on('data', (part: Buffer) => parts.push(part));
    gzip.on('end', () => resolve(Buffer.concat(parts)));
    gzip.on('error', reject);
    const zeros = Buffer.alloc(MiB);
    for (let sent = 0; sent < size; sent += MiB) gzip.write(zeros);
    gzip.end();
  });
}

let hostile: Hostile | undefined;
let emulator: Emulator | undefined;
afterEach(async () => {
  await emulator?.close();
  await hostile?.close();
  emulator = hostile = undefined;
});

it('the emulator reads a few KiB of an endless answer, keeps a short excerpt, and hangs up', async () => {
  hostile = await hostileEndpoint('plain');
  emulator = createEmulator({
    clients: [
      {
        clientId: 'c',
        clientSecret: 's',
        redirectUri: 'http://localhost:3000/cb',
        appName: 'App',
      },
    ],
    webhook: { url: hostile.url, secret: 'emulator-test-secret' },
  });
  const { url } = await emulator.listen();
  const res = await fetch(`${url}/api/hub/sample-segment`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const run = (await res.json()) as {
    state: string;
    pages: { attempts: { status: number; error: string }[] }[];
  };
  expect(run.state).toBe('failed');
  const [attempt] = run.pages[0].attempts;
  expect(attempt.status).toBe(500);
  expect(attempt.error).toMatch(/^HTTP 500: A+$/);
  expect(attempt.error.length).toBeLessThanOrEqual(250);
  // The endpoint got to write a small part of what it offered before the emulator hung up
  // (socket buffers hold a few MiB at most).
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(hostile.written()).toBeLessThan(64 * MiB);
});

it('a gzip bomb is cut at the same limit, counted after inflating', async () => {
  hostile = await hostileEndpoint('gzip-bomb');
  const result = await sendSignedWebhook({ url: hostile.url, secret: 's', body: '{}' });
  expect(result).toMatchObject({ ok: true, status: 500, truncated: true });
  if (!result.ok) throw new Error(result.error);
  expect(result.body.length).toBe(DEFAULT_MAX_RESPONSE_BYTES);
  const small = await sendSignedWebhook({
    url: hostile.url,
    secret: 's',
    body: '{}',
    maxResponseBytes: 100,
  });
  expect(small.ok && small.body.length).toBe(100);
});

it('a trickled answer is cut off at the timeout, body included', async () => {
  hostile = await hostileEndpoint('trickle');
  const result = await sendSignedWebhook({
    url: hostile.url,
    secret: 's',
    body: '{}',
    timeoutMs: 1500,
  });
  expect(result).toMatchObject({ ok: false, error: 'timed out after 1500 ms' });
});
