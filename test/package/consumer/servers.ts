// Runs in the tarball test's fresh project: each adapter of the installed package receives a signed sync and refuses a forged one.
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { createHeapWebhooks, signHeapHash, type HeapWebhooks } from 'heap-partner-api';
import { heapWebhooks } from 'heap-partner-api/express';
import { heapWebhooksPlugin } from 'heap-partner-api/fastify';
import { createNodeHandler } from 'heap-partner-api/node';
import { createFetchHandler } from 'heap-partner-api/web';
import { createShopApp } from './examples/express-existing-app/app';

const SECRET = 'tarball-test-secret';
const PATH = '/heap/webhook';

type Outcome = {
  adapter: string;
  signed: { status: number; body: unknown };
  forged: { status: number; body: unknown };
  /** What the app's sync handler saw (users added), in order. */
  received: string[];
};

function syncBody(user: string): string {
  return JSON.stringify({
    id_token: 'tarball-env',
    action_type: 'segment.users.sync',
    data: {
      segment: { id: 4242, name: 'Tarball segment' },
      sync_info: { page_number: 1, total_pages: 1, sync_task_id: `task-${user}` },
      add: [{ id: user }],
      remove: [],
    },
  });
}

function receiver(): { heap: HeapWebhooks; received: string[] } {
  const received: string[] = [];
  const heap = createHeapWebhooks({ secrets: [SECRET] });
  heap.on('sync', (delivery) => {
    received.push(...delivery.add);
  });
  return { heap, received };
}

type Send = (body: string, heapHash: string) => Promise<{ status: number; body: unknown }>;

async function exercise(adapter: string, send: Send, received: string[]): Promise<Outcome> {
  const signedBody = syncBody(`${adapter}-user`);
  const forgedBody = syncBody(`${adapter}-forger`);
  const signed = await send(signedBody, signHeapHash(SECRET, signedBody));
  const forged = await send(forgedBody, signHeapHash('a-guessed-secret', forgedBody));
  return { adapter, signed, forged, received };
}

async function listen(server: http.Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH}`;
}

function overHttp(url: string): Send {
  return async (body, heapHash) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'heap-hash': heapHash },
      body,
    });
    return { status: response.status, body: await response.json() };
  };
}

async function main(): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  const servers: http.Server[] = [];

  {
    const { heap, received } = receiver();
    const app = express();
    app.use(heapWebhooks(heap, { path: PATH }));
    app.use(express.json());
    const server = http.createServer(app);
    servers.push(server);
    outcomes.push(await exercise('express', overHttp(await listen(server)), received));
  }
  {
    const { heap, received } = receiver();
    const server = http.createServer(createNodeHandler(heap, { path: PATH }));
    servers.push(server);
    outcomes.push(await exercise('node', overHttp(await listen(server)), received));
  }
  {
    // Node's own Request and Response (undici), no server: as a route handler is called.
    const { heap, received } = receiver();
    const handle = createFetchHandler(heap);
    const send: Send = async (body, heapHash) => {
      const request = new Request(`http://localhost${PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'heap-hash': heapHash },
        body,
      });
      const response = await handle(request);
      if (!(response instanceof Response))
        throw new Error('the Fetch handler did not answer a Response');
      return { status: response.status, body: await response.json() };
    };
    outcomes.push(await exercise('web', send, received));
  }
  {
    const { heap, received } = receiver();
    const app = Fastify();
    await app.register(heapWebhooksPlugin, { heap, path: PATH });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    outcomes.push(await exercise('fastify', overHttp(`${address}${PATH}`), received));
    await app.close();
  }
  {
    // examples/express-existing-app, compiled against the installed package.
    const received: string[] = [];
    const { app } = createShopApp({ webhookSecrets: [SECRET], log: (line) => received.push(line) });
    const server = http.createServer(app);
    servers.push(server);
    outcomes.push(await exercise('example-express', overHttp(await listen(server)), received));
  }

  for (const server of servers) server.close();
  return outcomes;
}

main().then(
  (outcomes) => process.stdout.write(JSON.stringify(outcomes)),
  (error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  },
);
