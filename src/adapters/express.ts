// Express adapter: heapWebhooks(heap | options, { path? }) is middleware that reads the raw body itself.
import type { Request, RequestHandler, Response } from 'express';
import {
  createHeapWebhooks,
  isHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
  type ReceiveResult,
} from '../webhook/receive';
import { methodNotAllowed, pathMatches, pathOf, receiveNodeRequest } from './nodeRequest';

export type HeapWebhooksMiddlewareOptions = {
  /** Path(s) under the mount point to answer; others go to next(). Default: every request. */
  path?: string | readonly string[];
};

/**
 * The signature covers the bytes as sent, so a body parser that ran first (express.json(),
 * express.urlencoded(), …) has left nothing to verify; re-serialising its object would not give
 * the same bytes back. Say so, rather than wait for a body that will never come.
 */
const BODY_ALREADY_READ: ReceiveResult = {
  status: 500,
  body: {
    error: 'body_already_parsed',
    message:
      'A body parser (e.g. express.json()) read this request before heapWebhooks could verify its raw bytes: mount heapWebhooks before express.json() and any other body parser.',
  },
};

function send(res: Response, result: ReceiveResult): void {
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  res.status(result.status).json(result.body);
}

/** Whether something before us already consumed the request stream. */
function bodyAlreadyRead(req: Request): boolean {
  return req.body !== undefined || req.readableEnded;
}

export function heapWebhooks(
  heapOrOptions: HeapWebhooks | HeapWebhooksOptions,
  { path }: HeapWebhooksMiddlewareOptions = {},
): RequestHandler {
  const heap = isHeapWebhooks(heapOrOptions) ? heapOrOptions : createHeapWebhooks(heapOrOptions);
  const paths = path === undefined ? undefined : typeof path === 'string' ? [path] : path;
  return (req, res, next) => {
    if (!pathMatches(req.path, paths)) {
      next();
      return;
    }
    if (req.method !== 'POST') {
      send(res, methodNotAllowed(req.method));
      return;
    }
    if (bodyAlreadyRead(req)) {
      send(res, BODY_ALREADY_READ);
      return;
    }
    // The full path (mount prefix included) is what the logs and the deliveries log show.
    receiveNodeRequest(heap, req, pathOf(req.originalUrl), (release) =>
      res.once('close', release),
    ).then((result) => {
      if (result && !res.headersSent) send(res, result);
    }, next);
  };
}

export { createHeapWebhooks, type HeapWebhooks, type HeapWebhooksOptions };
