// Reads a webhook body as the raw bytes on the wire, within a per-request limit and a shared budget; never inflates.
import type { Request, RequestHandler, Response } from 'express';
import type { WebhookBodyBudget } from '../src/webhook/bodyBudget';
import { sendError } from './errors';

export type BodyRefusal = 'unsupported_content_encoding' | 'payload_too_large' | 'server_busy';

export type ReadWebhookBodyOptions = {
  /** Largest body, in bytes as received. */
  limitBytes: number;
  /** Shared by every webhook request of the process. */
  budget: WebhookBodyBudget;
  /** Seconds a client is told to wait after a 503. */
  retryAfterSeconds: number;
  /** Told about every refusal (for the deliveries log). */
  onRefused?: (req: Request, status: number, reason: BodyRefusal) => void;
};

/**
 * Heap documents no compression, and the signature is over the bytes as sent: a compressed body
 * could only be verified by inflating it first, which lets anyone make us allocate 1,000 times
 * what they send. So only identity is accepted, and it is refused before the body is read.
 */
export function isIdentityEncoding(header: string | undefined): boolean {
  return header === undefined || header.trim() === '' || header.trim().toLowerCase() === 'identity';
}

/** The declared Content-Length, or undefined for a chunked (or absent) body. */
function declaredLength(req: Request): number | undefined {
  const raw = req.headers['content-length'];
  // Node's parser has already refused a malformed or conflicting Content-Length.
  return raw === undefined ? undefined : Number(raw);
}

/**
 * Sets `req.body` to the body's bytes, or answers for itself: 415 for a Content-Encoding other
 * than identity, 413 once the body is above the limit (by its Content-Length before reading, or
 * as soon as a chunked body passes it), 503 + Retry-After when the shared budget cannot hold it
 * (by its Content-Length before reading, or as a chunked body grows). A declared length is
 * reserved whole, because that is what its buffer takes. The reservation is held until the
 * response is done or the connection closes, whichever comes first.
 */
export function readWebhookBody(options: ReadWebhookBodyOptions): RequestHandler {
  const { limitBytes, budget } = options;

  const refuse = (req: Request, res: Response, status: number, reason: BodyRefusal) => {
    options.onRefused?.(req, status, reason);
    if (status === 503) res.setHeader('Retry-After', String(options.retryAfterSeconds));
    sendError(res, status, reason, REFUSAL_MESSAGES[reason](limitBytes));
  };

  return (req, res, next) => {
    if (!isIdentityEncoding(req.headers['content-encoding'])) {
      refuse(req, res, 415, 'unsupported_content_encoding');
      return;
    }
    const declared = declaredLength(req);
    if (declared !== undefined && declared > limitBytes) {
      refuse(req, res, 413, 'payload_too_large');
      return;
    }
    const reservation = budget.reserve();
    // 'close' comes after the response is sent and also when the client goes away first.
    res.once('close', reservation.release);
    if (declared !== undefined && !reservation.add(declared)) {
      refuse(req, res, 503, 'server_busy');
      return;
    }

    // With a declared length the bytes go straight into one buffer of that size; a chunked body
    // is kept as its chunks, each reserved as it arrives, and joined at the end.
    const whole = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
    let chunks: Buffer[] = [];
    let received = 0;

    const detach = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    // Stop buffering, answer now, and let the rest of the body drain to nowhere so the
    // connection can carry the next request.
    const stop = (status: number, reason: BodyRefusal) => {
      detach();
      chunks = [];
      reservation.release();
      req.on('error', ignore);
      req.resume();
      refuse(req, res, status, reason);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (whole) {
        chunk.copy(whole, received - chunk.length);
        return;
      }
      if (received > limitBytes) stop(413, 'payload_too_large');
      else if (!reservation.add(chunk.length)) stop(503, 'server_busy');
      else chunks.push(chunk);
    };
    const onEnd = () => {
      detach();
      req.body = whole ?? (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, received));
      chunks = [];
      next();
    };
    // The client went away mid-body: nobody is left to answer.
    const onError = () => {
      detach();
      chunks = [];
      reservation.release();
      req.on('error', ignore);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  };
}

const ignore = () => undefined;

const REFUSAL_MESSAGES: Record<BodyRefusal, (limitBytes: number) => string> = {
  unsupported_content_encoding: () =>
    'Content-Encoding must be identity (or absent): the signature covers the body as sent, uncompressed.',
  payload_too_large: (limitBytes) => `The body exceeds the ${limitBytes}-byte limit.`,
  server_busy: () => 'Too many webhook bodies are being received at once; retry later.',
};
