// Fetch-API adapter: createFetchHandler(heap) is (request: Request) => Promise<Response>, for Next.js, Hono, Bun, Deno, workers.
import { readWebBody } from '../webhook/readBody';
import type { HeapWebhooks, ReceiveResult } from '../webhook/receive';
import { methodNotAllowed } from './nodeRequest';

export type FetchHandler = (request: Request) => Promise<Response>;

function toResponse(result: ReceiveResult): Response {
  return Response.json(result.body, { status: result.status, headers: result.headers });
}

/** Every request given to it is a webhook: route to it where the webhook URL should be. */
export function createFetchHandler(heap: HeapWebhooks): FetchHandler {
  return async (request) => {
    if (request.method !== 'POST') return toResponse(methodNotAllowed(request.method));
    const path = new URL(request.url).pathname;
    const heapHash = request.headers.get('heap-hash') ?? undefined;
    const rawLength = request.headers.get('content-length');
    const declaredLength =
      rawLength !== null && /^[0-9]+$/.test(rawLength) ? Number(rawLength) : undefined;
    const admitted = heap.admit({
      heapHash,
      contentEncoding: request.headers.get('content-encoding') ?? undefined,
      contentLength: declaredLength,
      path,
    });
    if (!admitted.ok) return toResponse(admitted.result);
    try {
      const read = await readWebBody(request.body, {
        limitBytes: heap.bodyLimitBytes,
        reservation: admitted.reservation,
        declaredLength,
      });
      if (!read.ok) return toResponse(heap.refuseBody(path, read.status, read.reason));
      return toResponse(await heap.verifyAndReceive({ heapHash, rawBody: read.body, path }));
    } finally {
      admitted.reservation.release();
    }
  };
}

export {
  createHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
} from '../webhook/receive';
