// GET /metrics as a node:http handler (the app's route and the METRICS_PORT listener share it): bearer token, exposition text.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tokensEqual } from '../admin/credentials';
import type { AppMetrics } from './appMetrics';

export const METRICS_PATH = '/metrics';

function sendError(res: ServerResponse, status: number, error: string, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify({ error, message }));
}

/** Whether the request presents `Authorization: Bearer <token>` (compared in constant time). */
export function presentsToken(req: IncomingMessage, token: string): boolean {
  const bearer = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
  return bearer !== null && tokensEqual(bearer[1], token);
}

/**
 * Answers GET/HEAD /metrics with the exposition text; with a token, only to a request that
 * presents it (401 otherwise, with the same answer for a missing and a wrong token). The caller
 * routes only /metrics here.
 */
export function metricsHandler(
  metrics: AppMetrics,
  token: string | undefined,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed here; use GET.`);
      return;
    }
    if (token !== undefined && !presentsToken(req, token)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="heap-partner-api metrics"');
      sendError(res, 401, 'invalid_credentials', 'Send Authorization: Bearer <METRICS_TOKEN>.');
      return;
    }
    metrics.metrics().then(
      (text) => {
        res.statusCode = 200;
        res.setHeader('Content-Type', metrics.contentType);
        res.setHeader('Cache-Control', 'no-store');
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => sendError(res, 500, 'internal_error', 'The metrics could not be collected.'),
    );
  };
}
