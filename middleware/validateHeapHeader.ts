// Express adapter over src/signature: refuses unsigned or forged webhooks before the body is parsed.
import type { Request, RequestHandler } from 'express';
import {
  checkHeapHashHeader,
  verifyHeapHash,
  type SignatureFailure,
} from '../src/webhook/signature';
import type { WebhookBodyBudget } from '../src/webhook/bodyBudget';
import { sendError } from './errors';
import { readWebhookBody, type BodyRefusal } from './readWebhookBody';

export type ValidateHeapHeaderOptions = {
  /** Current secret first, then the previous one during a rotation. */
  secrets: readonly string[];
  toleranceOldMs: number;
  toleranceAheadMs: number;
  bodyLimitBytes: number;
  /** Bounds the body bytes buffered at once across requests. */
  bodyBudget: WebhookBodyBudget;
  /** Seconds a client is told to wait after a 503 (the budget is spent). */
  retryAfterSeconds: number;
  /** Told about every refused request (for the deliveries log); never given the expected HMAC. */
  onRejected?: (req: Request, reason: SignatureFailure) => void;
  /** Told about every body refused before it was verified (415, 413, 503). */
  onBodyRefused?: (req: Request, status: number, reason: BodyRefusal) => void;
};

/** Set on res.locals for the handler once the signature checked out. */
export type VerifiedSignature = { replayKey: string; secretIndex: number };

const MESSAGES: Record<SignatureFailure, string> = {
  missing_signature: 'The Heap-Hash header is missing.',
  malformed_signature: 'The Heap-Hash header must look like ts:<unix ms>,hmac:<base64>.',
  timestamp_out_of_tolerance: "The Heap-Hash timestamp is too far from the server's clock.",
  invalid_signature: 'The Heap-Hash signature does not match the body.',
};

/**
 * Three steps, in order: check the header (without reading the body), read the raw body as bytes
 * (bounded, never inflated: see readWebhookBody), verify the HMAC over exactly those bytes.
 * Nothing parses JSON before the last step passes.
 */
export function validateHeapHeader(options: ValidateHeapHeaderOptions): RequestHandler[] {
  const refuse = (req: Request, res: Parameters<RequestHandler>[1], reason: SignatureFailure) => {
    options.onRejected?.(req, reason);
    sendError(res, 403, reason, MESSAGES[reason]);
  };

  const checkHeader: RequestHandler = (req, res, next) => {
    const checked = checkHeapHashHeader({
      header: req.headers['heap-hash'],
      toleranceOldMs: options.toleranceOldMs,
      toleranceAheadMs: options.toleranceAheadMs,
    });
    if (checked.ok) next();
    else refuse(req, res, checked.reason);
  };

  // Any content type: the bytes are what was signed, whatever the sender labelled them.
  const readRawBody = readWebhookBody({
    limitBytes: options.bodyLimitBytes,
    budget: options.bodyBudget,
    retryAfterSeconds: options.retryAfterSeconds,
    onRefused: options.onBodyRefused,
  });

  const verifyBody: RequestHandler = (req, res, next) => {
    const result = verifyHeapHash({
      header: req.headers['heap-hash'],
      body: rawBody(req),
      secrets: options.secrets,
      toleranceOldMs: options.toleranceOldMs,
      toleranceAheadMs: options.toleranceAheadMs,
    });
    if (!result.ok) {
      refuse(req, res, result.reason);
      return;
    }
    res.locals.heapSignature = {
      replayKey: result.replayKey,
      secretIndex: result.secretIndex,
    } satisfies VerifiedSignature;
    next();
  };

  return [checkHeader, readRawBody, verifyBody];
}

/** The request body as read by validateHeapHeader (empty when there was none). */
export function rawBody(req: Request): Buffer {
  return Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
}
