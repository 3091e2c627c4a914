// Oversized, compressed and concurrent webhook bodies: refused before they are read, counted while buffered, always released.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { createApp } from '../../src/app';
import { createLogger } from '../../src/server/logger';
import { signHeapHash } from '../../src/webhook/signature';
import { SqliteStore } from '../../src/store/sqlite/store';
import { WebhookBodyBudget } from '../../src/webhook/bodyBudget';
import { rawConnect, sleep, type RawResponse } from '../support/rawHttp';
import { allMembers, syncBody, testConfig, TEST_SECRET } from '../support/testApp';

const LIMIT = 64 * 1024;
const BUDGET = 2 * LIMIT;

let server: http.Server;
let port = 0;
let budget: WebhookBodyBudget;
let store: SqliteStore;

beforeAll(async () => {
  const config = testConfig({
    WEBHOOK_BODY_LIMIT: String(LIMIT),
    WEBHOOK_MAX_INFLIGHT_BYTES: String(BUDGET),
    RETRY_AFTER_SECONDS: '3',
    LOG_LEVEL: 'silent',
  });
  store = new SqliteStore({ file: config.sqlite.file, busyTimeoutMs: 1000 });
  budget = new WebhookBodyBudget(config.webhook.maxInflightBytes);
  const app = createApp({
    config,
    store,
    logger: createLogger('silent'),
    webhookBodyBudget: budget,
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await store.close();
});

/** A well-formed Heap-Hash with a current timestamp that no body matches. */
const forgedHeader = () => `ts:${Date.now()},hmac:${Buffer.alloc(32, 7).toString('base64')}`;

function head(options: {
  length?: number;
  chunked?: boolean;
  encoding?: string;
  heapHash?: string | null;
}): string {
  const lines = ['POST /webhook HTTP/1.1', 'Host: 127.0.0.1', 'Content-Type: application/json'];
  const heapHash = options.heapHash === undefined ? forgedHeader() : options.heapHash;
  if (heapHash !== null) lines.push(`Heap-Hash: ${heapHash}`);
  if (options.encoding) lines.push(`Content-Encoding: ${options.encoding}`);
  if (options.chunked) lines.push('Transfer-Encoding: chunked');
  else lines.push(`Content-Length: ${options.length ?? 0}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

const chunk = (bytes: Buffer) => `${bytes.length.toString(16)}\r\n${bytes.toString('latin1')}\r\n`;

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function errorOf(response: RawResponse): unknown {
  return JSON.parse(response.body);
}

afterEach(async () => {
  // Whatever a test did, every reservation comes back.
  await waitFor(() => budget.inUseBytes === 0, 'the in-flight bytes to return to 0');
});

describe('webhook bodies are bounded before verification', () => {
  it('refuses Content-Encoding other than identity with 415 before reading the body', async () => {
    const bomb = gzipSync(Buffer.alloc(LIMIT * 10, '{'));
    const conn = await rawConnect(port);
    // The body's bytes are never sent: the answer cannot depend on reading them.
    await conn.write(head({ length: bomb.length, encoding: 'gzip' }));
    const response = await conn.response;
    expect(response.status).toBe(415);
    expect(errorOf(response)).toEqual({
      error: 'unsupported_content_encoding',
      message: expect.stringContaining('identity'),
    });
    expect(budget.inUseBytes).toBe(0);
    conn.close();
  });

  it('accepts a body labelled Content-Encoding: identity', async () => {
    const body = JSON.stringify(syncBody({ segmentId: 7, add: ['identity-user'] }));
    const conn = await rawConnect(port);
    await conn.write(
      head({
        length: body.length,
        encoding: 'identity',
        heapHash: signHeapHash(TEST_SECRET, body, Date.now()),
      }) + body,
    );
    expect((await conn.response).status).toBe(200);
    expect(await allMembers(store, '', 7)).toEqual(['identity-user']);
    conn.close();
  });

  it('refuses a declared Content-Length above the limit with 413 before reading the body', async () => {
    const conn = await rawConnect(port);
    await conn.write(head({ length: LIMIT + 1 }));
    const response = await conn.response;
    expect(response.status).toBe(413);
    expect(errorOf(response)).toEqual({
      error: 'payload_too_large',
      message: `The body exceeds the ${LIMIT}-byte limit.`,
    });
    conn.close();
  });

  it('cuts a chunked body off with 413 as soon as it passes the limit', async () => {
    const conn = await rawConnect(port);
    await conn.write(head({ chunked: true }));
    const piece = Buffer.alloc(8 * 1024, 'a');
    let sent = 0;
    let answered: RawResponse | undefined;
    void conn.response.then((r) => (answered = r));
    // Keep sending (up to 4x the limit) until the server answers.
    while (!answered && sent < 4 * LIMIT) {
      await conn.write(chunk(piece));
      sent += piece.length;
      await sleep(5);
    }
    const response = await conn.response;
    expect(response.status).toBe(413);
    expect(errorOf(response)).toMatchObject({ error: 'payload_too_large' });
    // Answered while the body was still coming, not after it ended.
    expect(sent).toBeLessThan(4 * LIMIT);
    conn.close();
  });

  it('refuses an unsigned request with 403 without reading its body', async () => {
    const conn = await rawConnect(port);
    await conn.write(head({ length: LIMIT, heapHash: null }));
    const response = await conn.response;
    expect(response.status).toBe(403);
    expect(errorOf(response)).toMatchObject({ error: 'missing_signature' });
    expect(budget.inUseBytes).toBe(0);
    conn.close();
  });
});

describe('the in-flight budget (WEBHOOK_MAX_INFLIGHT_BYTES)', () => {
  it('answers 503 + Retry-After beyond it, and gives every byte back however requests end', async () => {
    // Two bodies of the largest size, half sent: together they hold the whole budget.
    const holders = await Promise.all([rawConnect(port), rawConnect(port)]);
    for (const holder of holders) {
      await holder.write(head({ length: LIMIT }) + 'x'.repeat(100));
    }
    await waitFor(() => budget.inUseBytes === BUDGET, 'both bodies to be reserved');

    // A declared body that does not fit: refused without being read.
    const declared = await rawConnect(port);
    await declared.write(head({ length: 10 }));
    const busy = await declared.response;
    expect(busy.status).toBe(503);
    expect(busy.headers['retry-after']).toBe('3');
    expect(errorOf(busy)).toEqual({ error: 'server_busy', message: expect.any(String) });

    // A chunked body is refused as soon as its first chunk finds no room.
    const chunked = await rawConnect(port);
    await chunked.write(head({ chunked: true }) + chunk(Buffer.from('{"a":1}')));
    expect((await chunked.response).status).toBe(503);
    expect(budget.inUseBytes).toBe(BUDGET);

    // A client that goes away mid-body releases its share...
    holders[0].close();
    await waitFor(() => budget.inUseBytes === LIMIT, 'the aborted body to be released');
    // ...and one that finishes (a forged signature here) releases it after its answer.
    await holders[1].write('x'.repeat(LIMIT - 100));
    expect((await holders[1].response).status).toBe(403);
    await waitFor(() => budget.inUseBytes === 0, 'the finished body to be released');

    // With room again, a genuine delivery is read and applied.
    const body = JSON.stringify(syncBody({ segmentId: 8, add: ['after-the-flood'] }));
    const genuine = await rawConnect(port);
    await genuine.write(
      head({ length: body.length, heapHash: signHeapHash(TEST_SECRET, body, Date.now()) }) + body,
    );
    expect((await genuine.response).status).toBe(200);
    expect(await allMembers(store, '', 8)).toEqual(['after-the-flood']);
    for (const conn of [declared, chunked, genuine]) conn.close();
  });

  it('releases a chunked body that was read in full', async () => {
    const body = Buffer.from(JSON.stringify(syncBody({ segmentId: 9, add: ['chunked-user'] })));
    const conn = await rawConnect(port);
    await conn.write(
      head({ chunked: true, heapHash: signHeapHash(TEST_SECRET, body, Date.now()) }) +
        chunk(body.subarray(0, 10)) +
        chunk(body.subarray(10)) +
        '0\r\n\r\n',
    );
    expect((await conn.response).status).toBe(200);
    expect(await allMembers(store, '', 9)).toEqual(['chunked-user']);
    conn.close();
  });
});
