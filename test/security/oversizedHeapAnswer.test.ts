// A hostile or broken "Heap" answering huge, endless, gzip-bomb or redirecting responses to the OAuth calls.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { HEAP_RESPONSE_LIMIT_BYTES } from '../../src/oauth/heapClient';
import { Browser, startLiveApp, type LiveApp } from '../support/liveApp';

type Answer = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A stand-in for Heap on loopback: each endpoint answers as the test says, and counts bytes sent. */
class FakeHeap {
  readonly server = http.createServer((req, res) => this.handle(req, res));
  token: Answer = json({
    access_token: 'fake-access-token',
    id_token: 'env-x',
    token_type: 'bearer',
  });
  metadata: Answer = json({
    env_id: 1,
    partner_app_id: 2,
    authorized_by: 'someone',
    authorized_scope: 'segment',
    authorized_at_utc: '2026-01-01T00:00:00Z',
  });
  bytesSent = 0;
  hits: string[] = [];

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.hits.push(`${req.method} ${req.url}`);
    const write = res.write.bind(res) as (chunk: Buffer | string) => boolean;
    res.write = ((chunk: Buffer | string, ...rest: never[]) => {
      this.bytesSent += Buffer.byteLength(chunk);
      return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;
    req.resume();
    req.on('end', () => {
      if (req.url === '/api/partner/oauth/token') this.token(req, res);
      else if (req.url?.startsWith('/api/partner/v1/metadata/')) this.metadata(req, res);
      else res.writeHead(404).end();
    });
  }
}

function json(body: object): Answer {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(JSON.stringify(body));
    res.end();
  };
}

/** A well-formed token answer padded past the limit (declared with a Content-Length). */
function padded(bytes: number): Answer {
  return (_req, res) => {
    const body = JSON.stringify({
      access_token: 'fake-access-token',
      id_token: 'env-x',
      token_type: 'bearer',
      padding: 'x'.repeat(bytes),
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.write(body);
    res.end();
  };
}

/** Chunked, no length, never ending: only the client hanging up stops it. */
const endless: Answer = (_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const pump = () => {
    while (!res.destroyed && res.write(chunk));
    if (!res.destroyed) res.once('drain', pump);
  };
  res.write('{"padding":"');
  pump();
};

/** 64 MiB of JSON whitespace in well under 1 MiB of gzip. */
const bombBody = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20), { level: 9 });
const gzipBomb: Answer = (_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'content-length': bombBody.length,
  });
  res.write(bombBody);
  res.end();
};

let heap: FakeHeap;
let app: LiveApp;

beforeEach(async () => {
  heap = new FakeHeap();
  const heapUrl = await heap.start();
  app = await startLiveApp({
    CLIENT_ID: 'partner-client',
    CLIENT_SECRET: 'partner-client-secret',
    REDIRECT_URI: 'http://127.0.0.1/api/oauth_redirect',
    HEAP_BASE_URL: heapUrl,
  });
  expect(app.config.oauth).toMatchObject({ enabled: true, sandbox: false, heapBaseUrl: heapUrl });
});

afterEach(async () => {
  await app?.close();
  await heap?.close();
});

/** Connect Heap as a browser would, with Heap's redirect back simulated from its authorize URL. */
async function connect(): Promise<{ status: number; page: string }> {
  const browser = new Browser();
  const authorize = await browser.request(`${app.url}/api/authorize`, { method: 'POST' });
  expect(authorize.status).toBe(303);
  const state = new URL(authorize.headers.get('location') ?? '').searchParams.get('state');
  const callback = await browser.request(
    `${app.url}/api/oauth_redirect?code=the-code&state=${state}`,
  );
  return { status: callback.status, page: await callback.text() };
}

async function expectNothingStored(): Promise<void> {
  expect(await app.store.listConnections()).toEqual([]);
  expect(await app.store.getSealedAccessToken('env-x')).toBeUndefined();
  const logs = app.logs.join('\n');
  for (const secret of ['fake-access-token', 'partner-client-secret', 'the-code']) {
    expect([secret, logs.includes(secret)]).toEqual([secret, false]);
  }
}

describe('an oversized answer from Heap is a clean failure, not memory', () => {
  it('refuses a token answer past 1 MiB with a 502 page naming the step; nothing stored', async () => {
    heap.token = padded(HEAP_RESPONSE_LIMIT_BYTES + 1024);
    const { status, page } = await connect();
    expect(status).toBe(502);
    expect(page).toContain('exchanging the authorization code for a token');
    expect(page).toContain('exceeded 1 MiB');
    expect(heap.hits).toEqual(['POST /api/partner/oauth/token']);
    await expectNothingStored();
    expect(app.logs.join('\n')).toMatch(/"step":"token","reason":"too_large"/);
  });

  it('still accepts a token answer just under the limit', async () => {
    heap.token = padded(HEAP_RESPONSE_LIMIT_BYTES - 1024);
    const { status, page } = await connect();
    expect([status, page]).toEqual([200, expect.stringContaining('Heap is connected')]);
    expect((await app.store.listConnections()).map((c) => c.idToken)).toEqual(['env-x']);
  });

  it('hangs up on an endless metadata answer after about the limit', async () => {
    heap.metadata = endless;
    const { status, page } = await connect();
    expect(status).toBe(502);
    expect(page).toContain('reading the environment metadata');
    expect(page).toContain('exceeded 1 MiB');
    await expectNothingStored();
    // Socket buffers on both sides hold a few MiB at most; the stream itself has no end.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(heap.bytesSent).toBeGreaterThan(HEAP_RESPONSE_LIMIT_BYTES);
    expect(heap.bytesSent).toBeLessThan(32 * 1024 * 1024);
  });

  it('stops inflating a gzip bomb at the limit', async () => {
    expect(bombBody.length).toBeLessThan(HEAP_RESPONSE_LIMIT_BYTES);
    heap.token = gzipBomb;
    const { status, page } = await connect();
    expect(status).toBe(502);
    expect(page).toContain('exchanging the authorization code for a token');
    expect(page).toContain('exceeded 1 MiB');
    await expectNothingStored();
  });

  it('does not follow a redirect (the code and client secret stay with Heap)', async () => {
    const elsewhere = new FakeHeap();
    const elsewhereUrl = await elsewhere.start();
    try {
      heap.token = (_req, res) => {
        res.writeHead(307, { location: `${elsewhereUrl}/api/partner/oauth/token` }).end();
      };
      const { status, page } = await connect();
      expect(status).toBe(502);
      expect(page).toContain('Heap answered HTTP 307');
      expect(elsewhere.hits).toEqual([]);
      await expectNothingStored();
    } finally {
      await elsewhere.close();
    }
  });
});
