// node:http adapter: createNodeHandler(heap, { path? }) is a plain (req, res, next?) request handler.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeapWebhooks } from '../webhook/receive';
import {
  methodNotAllowed,
  pathMatches,
  pathOf,
  receiveNodeRequest,
  sendNodeResult,
} from './nodeRequest';

export type NodeHandlerOptions = {
  /** Path(s) to answer; others go to next(), or get a JSON 404 without it. Default: every path. */
  path?: string | readonly string[];
};

export type NodeHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (error?: unknown) => void,
) => void;

export function createNodeHandler(
  heap: HeapWebhooks,
  { path }: NodeHandlerOptions = {},
): NodeHandler {
  const paths = path === undefined ? undefined : typeof path === 'string' ? [path] : path;
  return (req, res, next) => {
    const requestPath = pathOf(req.url);
    if (!pathMatches(requestPath, paths)) {
      if (next) next();
      else {
        sendNodeResult(res, {
          status: 404,
          body: {
            error: 'not_found',
            message: `Nothing is served at ${req.method} ${requestPath}.`,
          },
        });
      }
      return;
    }
    if (req.method !== 'POST') {
      sendNodeResult(res, methodNotAllowed(req.method));
      return;
    }
    receiveNodeRequest(heap, req, requestPath, (release) => res.once('close', release)).then(
      (result) => {
        if (result && !res.headersSent) sendNodeResult(res, result);
      },
      (error: unknown) => {
        if (next) next(error);
        else res.destroy(error as Error);
      },
    );
  };
}

export {
  createHeapWebhooks,
  type HeapWebhooks,
  type HeapWebhooksOptions,
} from '../webhook/receive';
