// Express middleware that only verifies the Heap-Hash signature over the raw body (for handlers that parse and apply it themselves).
import type { Request, RequestHandler } from 'express';
import { pathOf, readNodeRequest } from '../src/adapters/nodeRequest';
import {
  createHeapWebhooks,
  isHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
} from '../src/webhook/receive';

/** Set on res.locals.heapSignature once the signature checked out. */
export type VerifiedSignature = { signatureKey: string; secretIndex: number };

/**
 * Reads the raw body within the core's limits (after the header checks), verifies the signature
 * over exactly those bytes, and leaves them in req.body as a Buffer. Every refusal is answered and
 * recorded by the receive core (src/webhook/receive.ts); nothing parses JSON before it passes.
 */
export function verifyHeapSignature(
  heapOrOptions: HeapWebhooks | HeapWebhooksOptions,
): RequestHandler {
  const heap = isHeapWebhooks(heapOrOptions) ? heapOrOptions : createHeapWebhooks(heapOrOptions);
  return (req, res, next) => {
    const path = pathOf(req.originalUrl);
    readNodeRequest(heap, req, path, (release) => res.once('close', release)).then((read) => {
      if (!read) return;
      const result = read.ok
        ? heap.verifySignature({ heapHash: req.headers['heap-hash'], rawBody: read.body, path })
        : read;
      if (!result.ok) {
        for (const [name, value] of Object.entries(result.result.headers ?? {})) {
          res.setHeader(name, value);
        }
        res.status(result.result.status).json(result.result.body);
        return;
      }
      req.body = result.body;
      res.locals.heapSignature = {
        signatureKey: result.signatureKey,
        secretIndex: result.secretIndex,
      } satisfies VerifiedSignature;
      next();
    }, next);
  };
}

/** The seed's name for it (Heap's reference app mounts `validateHeapHeader`). */
export const validateHeapHeader = verifyHeapSignature;

/** The request body as read by verifyHeapSignature (empty when there was none). */
export function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}
