// A Next.js-style route handler (app/api/heap/webhook/route.ts) receiving Heap webhooks with heap-partner-api/web.
import { createHeapWebhooks, type DrainDelivery, type SyncDelivery } from 'heap-partner-api';
import { createFetchHandler } from 'heap-partner-api/web';
import { audiences } from './audiences';

const secret = process.env.HEAP_WEBHOOK_SECRET;
if (!secret) throw new Error('HEAP_WEBHOOK_SECRET is not set: the webhook secret from Heap');

const heap = createHeapWebhooks({
  secrets: [secret],
  // A handler that throws (say the database is down) makes Heap retry: the answer is a 503 with
  // Retry-After, never a 200 that would lose the page.
  onSync: async (delivery: SyncDelivery) => {
    await audiences.applyPage(delivery);
  },
  onDrain: async (delivery: DrainDelivery) => {
    await audiences.drain(delivery);
  },
});

const handle = createFetchHandler(heap);

/** The same function works as a Hono route (`(c) => handle(c.req.raw)`), in Bun, Deno or a worker. */
export async function POST(request: Request): Promise<Response> {
  return handle(request);
}
