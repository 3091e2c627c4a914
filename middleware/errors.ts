// JSON error responses: the one shape every failure takes, and the handlers that guarantee it.
import type { ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { isStoreUnavailable } from '../src/store/errors';

export type ErrorBody = { error: string; message: string };

/** Answers with a JSON body; plain node:http, so Express routes and the webhook receiver share it. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const json = JSON.stringify(body);
  res
    .writeHead(status, {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(json)),
    })
    .end(json);
}

export function sendError(
  res: ServerResponse,
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
): void {
  sendJson(res, status, { error, message } satisfies ErrorBody, headers);
}

/** 404 for any path nobody serves. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, 'not_found', `Nothing is served at ${req.method} ${req.path}.`);
};

/** 405 for a known path asked with a method it does not serve. */
export function sendMethodNotAllowed(
  res: ServerResponse,
  method: string | undefined,
  allowed: string[],
): void {
  sendError(
    res,
    405,
    'method_not_allowed',
    `${method} is not allowed here; use ${allowed.join(' or ')}.`,
    { Allow: allowed.join(', ') },
  );
}

export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res) => sendMethodNotAllowed(res, req.method, allowed);
}

type HttpError = Error & { status?: number; statusCode?: number; type?: string; limit?: number };

/** Maps a thrown error to an HTTP status and our JSON error body. */
export function describeError(
  error: unknown,
  retryAfterSeconds: number,
): { status: number; body: ErrorBody; headers?: Record<string, string> } {
  if (isStoreUnavailable(error)) {
    return {
      status: 503,
      body: {
        error: 'store_unavailable',
        message: 'Storage is temporarily unavailable; retry later.',
      },
      headers: { 'Retry-After': String(retryAfterSeconds) },
    };
  }
  const httpError = error as HttpError;
  if (httpError?.type === 'entity.too.large') {
    return {
      status: 413,
      body: {
        error: 'payload_too_large',
        message: httpError.limit
          ? `The body exceeds the ${httpError.limit}-byte limit.`
          : 'The body is too large.',
      },
    };
  }
  const status = httpError?.status ?? httpError?.statusCode;
  if (error instanceof URIError || (typeof status === 'number' && status >= 400 && status < 500)) {
    return {
      status: typeof status === 'number' && status >= 400 && status < 500 ? status : 400,
      body: { error: 'bad_request', message: 'The request could not be read.' },
    };
  }
  return {
    status: 500,
    body: {
      error: 'internal_error',
      message: 'Something went wrong on our side; it has been logged.',
    },
  };
}

/** Answers an error as JSON; only unexpected ones are logged, with their stack. */
export function respondWithError(
  res: ServerResponse,
  error: unknown,
  context: { logger: Logger; retryAfterSeconds: number; method?: string; path: string },
): void {
  const { status, body, headers } = describeError(error, context.retryAfterSeconds);
  if (status >= 500) {
    const level = status === 503 ? 'warn' : 'error';
    context.logger[level]({ err: error, path: context.path, method: context.method }, body.message);
  }
  sendError(res, status, body.error, body.message, headers);
}

/** Last handler: every error becomes JSON. */
export function errorHandler(logger: Logger, retryAfterSeconds: number): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    respondWithError(res, error, { logger, retryAfterSeconds, method: req.method, path: req.path });
  };
}
