// JSON error responses: the one shape every failure takes, and the handlers that guarantee it.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { isStoreUnavailable } from '../src/store/errors';

export type ErrorBody = { error: string; message: string };

export function sendError(res: Response, status: number, error: string, message: string): void {
  res.status(status).json({ error, message } satisfies ErrorBody);
}

/** 404 for any path nobody serves. */
export const notFound: RequestHandler = (req, res) => {
  sendError(res, 404, 'not_found', `Nothing is served at ${req.method} ${req.path}.`);
};

/** 405 for a known path asked with a method it does not serve. */
export function methodNotAllowed(allowed: string[]): RequestHandler {
  return (req, res) => {
    res.setHeader('Allow', allowed.join(', '));
    sendError(
      res,
      405,
      'method_not_allowed',
      `${req.method} is not allowed here; use ${allowed.join(' or ')}.`,
    );
  };
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

/** Last handler: every error becomes JSON; only unexpected ones are logged with their stack. */
export function errorHandler(logger: Logger, retryAfterSeconds: number): ErrorRequestHandler {
  return (error, req, res, next) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const { status, body, headers } = describeError(error, retryAfterSeconds);
    if (status >= 500) {
      const level = status === 503 ? 'warn' : 'error';
      logger[level]({ err: error, path: req.path, method: req.method }, body.message);
    }
    for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
    sendError(res, status, body.error, body.message);
  };
}
