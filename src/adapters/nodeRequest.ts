// Receives one webhook from a node:http request: what the Express, node:http and Fastify adapters share.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { BodyReservation } from '../webhook/bodyBudget';
import { readNodeBody } from '../webhook/readBody';
import type { HeapWebhooks, ReceiveResult } from '../webhook/receive';

/** The request's path without its query string (what the logs and the deliveries log show). */
export function pathOf(url: string | undefined): string {
  const path = (url ?? '/').split('?')[0];
  return path === '' ? '/' : path;
}

/** Whether a request path is one of the configured ones (a trailing slash is tolerated). */
export function pathMatches(path: string, paths: readonly string[] | undefined): boolean {
  if (!paths) return true;
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return paths.includes(trimmed);
}

/** The core's checks before any byte is read, from node:http headers. */
export function admitNodeRequest(
  heap: HeapWebhooks,
  headers: IncomingHttpHeaders,
  path: string,
):
  | { ok: true; reservation: BodyReservation; declaredLength: number | undefined }
  | { ok: false; result: ReceiveResult } {
  const rawLength = headers['content-length'];
  // Node's parser has already refused a malformed or conflicting Content-Length.
  const declaredLength = rawLength === undefined ? undefined : Number(rawLength);
  const admitted = heap.admit({
    heapHash: headers['heap-hash'],
    contentEncoding: headers['content-encoding'],
    contentLength: declaredLength,
    path,
  });
  return admitted.ok ? { ...admitted, declaredLength } : admitted;
}

/**
 * Runs the core's checks before any byte is read, then reads the body within its limits. `onClose`
 * is given the budget release for when the response is done (or the client goes away). Resolves
 * undefined when the client went away mid-body.
 */
export async function readNodeRequest(
  heap: HeapWebhooks,
  req: IncomingMessage,
  path: string,
  onClose: (release: () => void) => void,
): Promise<{ ok: true; body: Buffer } | { ok: false; result: ReceiveResult } | undefined> {
  const admitted = admitNodeRequest(heap, req.headers, path);
  if (!admitted.ok) return admitted;
  onClose(admitted.reservation.release);
  const read = await readNodeBody(req, {
    limitBytes: heap.bodyLimitBytes,
    reservation: admitted.reservation,
    declaredLength: admitted.declaredLength,
  });
  if (!read) return undefined;
  if (!read.ok) return { ok: false, result: heap.refuseBody(path, read.status, read.reason) };
  return read;
}

/** Reads the body as above, then verifies and receives it. */
export async function receiveNodeRequest(
  heap: HeapWebhooks,
  req: IncomingMessage,
  path: string,
  onClose: (release: () => void) => void,
): Promise<ReceiveResult | undefined> {
  const read = await readNodeRequest(heap, req, path, onClose);
  if (!read) return undefined;
  if (!read.ok) return read.result;
  return heap.verifyAndReceive({ heapHash: req.headers['heap-hash'], rawBody: read.body, path });
}

/** Writes a result as JSON on a plain node:http response. */
export function sendNodeResult(res: ServerResponse, result: ReceiveResult): void {
  const json = JSON.stringify(result.body);
  res.writeHead(result.status, {
    ...result.headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(json),
  });
  res.end(json);
}

/** 405 for a webhook path asked with another method than POST. */
export function methodNotAllowed(method: string | undefined): ReceiveResult {
  return {
    status: 405,
    headers: { Allow: 'POST' },
    body: {
      error: 'method_not_allowed',
      message: `${method ?? 'This method'} is not allowed here; use POST.`,
    },
  };
}
