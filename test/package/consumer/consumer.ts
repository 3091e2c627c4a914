// A partner's TypeScript code importing every entry of the installed package: only tsc reads it (the tarball test).
import {
  checkHeapHashHeader,
  createHeapWebhooks,
  createMembership,
  parseWebhookBody,
  signHeapHash,
  verifyHeapHash,
  type DeliveryStore,
  type DrainDelivery,
  type HeapWebhooks,
  type HeapWebhooksOptions,
  type ReceiveInput,
  type ReceiveResult,
  type Store,
  type SyncDelivery,
  type UnknownDelivery,
} from 'heap-partner-api';
import { heapWebhooks } from 'heap-partner-api/express';
import { createNodeHandler } from 'heap-partner-api/node';
import { createFetchHandler } from 'heap-partner-api/web';
import heapWebhooksPluginDefault, { heapWebhooksPlugin } from 'heap-partner-api/fastify';
// The stores are only type-checked here: their drivers' native parts are not built in this project.
import type { openSqliteStore, SqliteStore } from 'heap-partner-api/sqlite';
import type { openPostgresStore, PostgresStore } from 'heap-partner-api/postgres';
import type { createApp, loadConfig } from 'heap-partner-api/app';

export const options: HeapWebhooksOptions = { secrets: ['current', 'previous'] };
export const heap: HeapWebhooks = createHeapWebhooks(options);

heap.on('sync', (delivery: SyncDelivery) => {
  const segmentId: number = delivery.segment.id;
  const added: string[] = delivery.add;
  console.log(segmentId, added.length);
});
heap.on('drain', async (delivery: DrainDelivery) => {
  console.log(delivery.segment.id);
});

export async function receive(input: ReceiveInput): Promise<number> {
  const result: ReceiveResult = await heap.verifyAndReceive(input);
  return result.status;
}

export const fetchHandler: (request: Request) => Promise<Response> = createFetchHandler(heap);
// @ts-expect-error a Fetch handler takes a Request, not a URL string: proves the types are real, not any.
void fetchHandler('https://example.com/webhook');

export const middlewares = [heapWebhooks(heap, { path: '/heap/webhook' }), heapWebhooks(options)];
export const nodeHandler = createNodeHandler(heap, { path: '/heap/webhook' });
export const plugins = [heapWebhooksPlugin, heapWebhooksPluginDefault];

export const signature = {
  header: signHeapHash('secret', '{}'),
  verified: verifyHeapHash({ header: 'ts:1,hmac:x', body: '{}', secrets: ['secret'] }).ok,
  checked: checkHeapHashHeader({ header: undefined }).ok,
  parsed: parseWebhookBody(Buffer.from('{}')).ok,
};

export type Stores = {
  sqlite: SqliteStore;
  postgres: PostgresStore;
  openSqlite: typeof openSqliteStore;
  openPostgres: typeof openPostgresStore;
};
// Either backend is a whole Store, and what receiving and the membership API need is part of it.
export const asStore = (store: SqliteStore | PostgresStore): Store => store;
export const asDeliveryStore = (store: Store): DeliveryStore => store;
export const membershipOf = (store: SqliteStore) => createMembership(store);
export type Server = { createApp: typeof createApp; loadConfig: typeof loadConfig };
export type Unknown = UnknownDelivery;
