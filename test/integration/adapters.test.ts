// Each adapter over real HTTP on loopback: a signed sync is received, a forged one refused, limits apply.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { heapWebhooks } from '../../src/adapters/express';
import heapWebhooksPlugin from '../../src/adapters/fastify';
import { createNodeHandler } from '../../src/adapters/node';
import { createFetchHandler } from '../../src/adapters/web';
import { createHeapWebhooks, type SyncDelivery } from '../../src/webhook/receive';
import { signHeapHash } from '../../src/webhook/signature';
import { validateHeapHeader, verifyHeapSignature } from '../../middleware/verifyHeapSignature';
import { syncBody } from '../support/testApp';

const SECRET = 'adapter-secret';

type Answer = { status: number; body: Record<string, unknown>; headers: http.IncomingHttpHeaders };

/** POSTs raw bytes with node:http (no client library between us and the adapter). */
function post(
  url: string,
  body: string,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({
          status: res.statusCode ?? 0,
          body: text ? JSON.parse(text) : {},
          headers: res.headers,
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

function signedSync(add: string[], secret = SECRET) {
  const body = JSON.stringify(syncBody({ segmentId: 11, add }));
  return {
    body,
    headers: { 'Content-Type': 'application/json', 'Heap-Hash': signHeapHash(secret, body) },
  };
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A core that records the user ids of every sync it is handed. */
function recordingCore(options: { bodyLimitBytes?: number } = {}) {
  const received: SyncDelivery[] = [];
  const heap = createHeapWebhooks({
    secrets: SECRET,
    onSync: (delivery) => void received.push(delivery),
    ...options,
  });
  return { heap, received };
}

/** The checks every adapter must pass, given the URL its webhook answers on. */
async function receivesAndRefuses(url: string, received: SyncDelivery[]) {
  const good = signedSync(['ada']);
  const accepted = await post(url, good.body, good.headers);
  expect(accepted.status).toBe(200);
  expect(accepted.body).toMatchObject({ status: 'applied', segment_id: 11, added: 1 });
  expect(received.map((d) => d.add)).toEqual([['ada']]);

  const forged = signedSync(['mallory'], 'guessed-secret');
  const refused = await post(url, forged.body, forged.headers);
  expect(refused).toMatchObject({ status: 403, body: { error: 'invalid_signature' } });
  expect(received).toHaveLength(1);
}

async function enforcesLimits(url: string) {
  const big = signedSync(['x'.repeat(500)]);
  expect(await post(url, big.body, big.headers)).toMatchObject({
    status: 413,
    body: { error: 'payload_too_large' },
  });
  // Chunked: no Content-Length to go by, cut off as it passes the limit.
  const chunked = await new Promise<number>((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: big.headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.write(big.body.slice(0, 200));
    req.end(big.body.slice(200));
  });
  expect(chunked).toBe(413);
  const gz = signedSync(['y']);
  expect(await post(url, gz.body, { ...gz.headers, 'Content-Encoding': 'gzip' })).toMatchObject({
    status: 415,
    body: { error: 'unsupported_content_encoding' },
  });
}

describe('Express adapter', () => {
  let server: http.Server;
  afterEach(() => close(server));

  it('receives under a path prefix, refuses forged bodies and keeps the body limits', async () => {
    const { heap, received } = recordingCore({ bodyLimitBytes: 300 });
    const app = express();
    app.use('/integrations/heap', heapWebhooks(heap, { path: '/webhook' }));
    // The host app's own JSON routes still work beside it.
    app.use(express.json());
    app.post('/api/echo', (req, res) => void res.json(req.body));
    server = http.createServer(app);
    const base = await listen(server);
    await receivesAndRefuses(`${base}/integrations/heap/webhook`, received);
    await enforcesLimits(`${base}/integrations/heap/webhook`);
    expect(await post(`${base}/integrations/heap/webhook`, '', {}, 'GET')).toMatchObject({
      status: 405,
      body: { error: 'method_not_allowed' },
    });
    expect(
      await post(`${base}/api/echo`, '{"a":1}', { 'Content-Type': 'application/json' }),
    ).toMatchObject({ status: 200, body: { a: 1 } });
  });

  it('builds its own core from options', async () => {
    const received: SyncDelivery[] = [];
    const app = express();
    app.post('/heap', heapWebhooks({ secrets: [SECRET], onSync: (d) => void received.push(d) }));
    server = http.createServer(app);
    await receivesAndRefuses(`${await listen(server)}/heap`, received);
  });

  it('answers a clear error naming the fix when express.json() read the body first', async () => {
    const { heap, received } = recordingCore();
    const app = express();
    app.use(express.json());
    app.post('/heap', heapWebhooks(heap));
    server = http.createServer(app);
    const good = signedSync(['ada']);
    const answer = await post(`${await listen(server)}/heap`, good.body, good.headers);
    expect(answer.status).toBe(500);
    expect(answer.body.error).toBe('body_already_parsed');
    expect(answer.body.message).toMatch(/mount heapWebhooks before express\.json\(\)/);
    expect(received).toHaveLength(0);
  });
});

describe('node:http adapter', () => {
  let server: http.Server;
  afterEach(() => close(server));

  it('receives on its path, refuses forged bodies, 404s other paths without next()', async () => {
    const { heap, received } = recordingCore({ bodyLimitBytes: 300 });
    server = http.createServer(createNodeHandler(heap, { path: '/webhook' }));
    const base = await listen(server);
    await receivesAndRefuses(`${base}/webhook?from=heap`, received);
    await enforcesLimits(`${base}/webhook`);
    expect(await post(`${base}/elsewhere`, '{}')).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
  });

  it('hands other paths to next() when given one', async () => {
    const { heap, received } = recordingCore();
    const handler = createNodeHandler(heap, { path: '/webhook' });
    server = http.createServer((req, res) =>
      handler(req, res, () => {
        res.writeHead(204).end();
      }),
    );
    const base = await listen(server);
    expect((await post(`${base}/other`, '')).status).toBe(204);
    await receivesAndRefuses(`${base}/webhook`, received);
  });
});

describe('Fetch-API adapter', () => {
  it('takes Node’s own Request objects and answers Responses', async () => {
    const { heap, received } = recordingCore({ bodyLimitBytes: 300 });
    const handle = createFetchHandler(heap);
    const good = signedSync(['ada']);
    const response = await handle(
      new Request('https://partner.example/api/heap', {
        method: 'POST',
        headers: good.headers,
        body: good.body,
      }),
    );
    expect(response).toBeInstanceOf(Response);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'applied', added: 1 });
    const forged = signedSync(['m'], 'nope');
    const refused = await handle(
      new Request('https://partner.example/api/heap', {
        method: 'POST',
        headers: forged.headers,
        body: forged.body,
      }),
    );
    expect(refused.status).toBe(403);
    expect(received).toHaveLength(1);
    // A streamed body past the limit is cut off, with no Content-Length to go by.
    const chunks = [new TextEncoder().encode('{"a":"'), new TextEncoder().encode('z'.repeat(400))];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const tooBig = await handle(
      new Request('https://partner.example/api/heap', {
        method: 'POST',
        headers: { 'Heap-Hash': signHeapHash(SECRET, 'whatever') },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    );
    expect(tooBig.status).toBe(413);
  });

  it('serves real HTTP through a small node:http bridge', async () => {
    const { heap, received } = recordingCore({ bodyLimitBytes: 300 });
    const handle = createFetchHandler(heap);
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(req.headers)) {
          if (typeof value === 'string') headers.set(name, value);
        }
        void handle(
          new Request(`http://127.0.0.1${req.url}`, {
            method: req.method,
            headers,
            body: Buffer.concat(chunks),
          }),
        ).then(async (response) => {
          res.writeHead(response.status, Object.fromEntries(response.headers));
          res.end(Buffer.from(await response.arrayBuffer()));
        });
      });
    });
    const base = await listen(server);
    try {
      await receivesAndRefuses(`${base}/api/heap`, received);
      await enforcesLimits(`${base}/api/heap`);
    } finally {
      await close(server);
    }
  });
});

describe('Fastify plugin', () => {
  it('receives on its route under a prefix, beside the app’s own JSON routes', async () => {
    const { heap, received } = recordingCore({ bodyLimitBytes: 300 });
    const app = Fastify();
    await app.register(heapWebhooksPlugin, { heap, path: '/webhook', prefix: '/heap' });
    app.post('/api/echo', async (request) => request.body);
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await receivesAndRefuses(`${base}/heap/webhook`, received);
      await enforcesLimits(`${base}/heap/webhook`);
      // The raw-bytes parser stays inside the plugin: the app's JSON parser is untouched.
      expect(
        await post(`${base}/api/echo`, '{"a":1}', { 'Content-Type': 'application/json' }),
      ).toMatchObject({ status: 200, body: { a: 1 } });
    } finally {
      await app.close();
    }
  });

  it('accepts options instead of a core', async () => {
    const received: SyncDelivery[] = [];
    const app = Fastify();
    await app.register(heapWebhooksPlugin, {
      heap: { secrets: SECRET, onSync: (d) => void received.push(d) },
    });
    const base = await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      await receivesAndRefuses(`${base}/webhook`, received);
    } finally {
      await app.close();
    }
  });
});

describe('verifyHeapSignature middleware (validateHeapHeader, the seed’s name)', () => {
  let server: http.Server;
  afterEach(() => close(server));

  it('leaves the verified raw bytes in req.body for the route and refuses forged ones', async () => {
    const app = express();
    app.post('/users_sync', validateHeapHeader({ secrets: [SECRET] }), (req, res) => {
      const body = JSON.parse((req.body as Buffer).toString('utf8')) as { action_type: string };
      res.json({ action_type: body.action_type, signed: res.locals.heapSignature !== undefined });
    });
    server = http.createServer(app);
    const base = await listen(server);
    const good = signedSync(['ada']);
    expect(await post(`${base}/users_sync`, good.body, good.headers)).toMatchObject({
      status: 200,
      body: { action_type: 'segment.users.sync', signed: true },
    });
    const forged = signedSync(['ada'], 'wrong');
    expect(await post(`${base}/users_sync`, forged.body, forged.headers)).toMatchObject({
      status: 403,
      body: { error: 'invalid_signature' },
    });
    expect(verifyHeapSignature).toBe(validateHeapHeader);
  });
});
