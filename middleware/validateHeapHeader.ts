// node:http adapter over src/signature: refuses unsigned or forged webhooks before the body is parsed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import { checkHeapHashHeader, verifyHeapHash, type SignatureFailure } from '../src/signature';
import { sendError } from './errors';

/** `C` is whatever the caller passes along with each request (e.g. the matched path). */
export type ValidateHeapHeaderOptions<C> = {
  /** Current secret first, then the previous one during a rotation. */
  secrets: readonly string[];
  toleranceOldMs: number;
  toleranceAheadMs: number;
  bodyLimitBytes: number;
  /** Told about every refused request (for the deliveries log); never given the expected HMAC. */
  onRejected?: (req: IncomingMessage, context: C, reason: SignatureFailure) => void;
  /** The body could not be read (too large, aborted, bad encoding): answer it. */
  onBodyError: (req: IncomingMessage, res: ServerResponse, context: C, error: unknown) => void;
};

/** What the handler gets once the signature checked out. */
export type VerifiedSignature = { replayKey: string; secretIndex: number };

export type VerifiedHandler<C> = (
  req: IncomingMessage,
  res: ServerResponse,
  context: C,
  body: Buffer,
  signature: VerifiedSignature,
) => void;

const MESSAGES: Record<SignatureFailure, string> = {
  missing_signature: 'The Heap-Hash header is missing.',
  malformed_signature: 'The Heap-Hash header must look like ts:<unix ms>,hmac:<base64>.',
  timestamp_out_of_tolerance: "The Heap-Hash timestamp is too far from the server's clock.",
  invalid_signature: 'The Heap-Hash signature does not match the body.',
};

type WithBody = IncomingMessage & { body?: unknown };

/**
 * Three steps, in order: check the header (without reading the body), read the raw body as bytes,
 * verify the HMAC over exactly those bytes. Only then is `handler` called; nothing parses JSON
 * before. Plain node:http request and response, so the webhook paths need no framework.
 */
export function validateHeapHeader<C>(
  options: ValidateHeapHeaderOptions<C>,
  handler: VerifiedHandler<C>,
): (req: IncomingMessage, res: ServerResponse, context: C) => void {
  const refuse = (
    req: IncomingMessage,
    res: ServerResponse,
    context: C,
    reason: SignatureFailure,
  ) => {
    options.onRejected?.(req, context, reason);
    sendError(res, 403, reason, MESSAGES[reason]);
  };
  // Any content type: the bytes are what was signed, whatever the sender labelled them. The
  // reader is body-parser's (as express.raw): limit, Content-Encoding and aborted requests.
  const readRawBody = express.raw({ type: () => true, limit: options.bodyLimitBytes });
  const tolerance = {
    toleranceOldMs: options.toleranceOldMs,
    toleranceAheadMs: options.toleranceAheadMs,
  };

  return (req, res, context) => {
    const header = req.headers['heap-hash'];
    const checked = checkHeapHashHeader({ header, ...tolerance });
    if (!checked.ok) {
      refuse(req, res, context, checked.reason);
      return;
    }
    readRawBody(req as express.Request, res as express.Response, (error?: unknown) => {
      if (error) {
        options.onBodyError(req, res, context, error);
        return;
      }
      const raw = (req as WithBody).body;
      const body = Buffer.isBuffer(raw) ? raw : Buffer.alloc(0);
      const result = verifyHeapHash({ header, body, secrets: options.secrets, ...tolerance });
      if (!result.ok) {
        refuse(req, res, context, result.reason);
        return;
      }
      handler(req, res, context, body, {
        replayKey: result.replayKey,
        secretIndex: result.secretIndex,
      });
    });
  };
}
