// The framework-free receive core: every rule for answering a Heap webhook, shared by all adapters.
import { createHash } from 'node:crypto';
import { isStoreUnavailable } from '../store/errors';
import type { ApplyOutcome, DeliveryStore, RequestMeta } from '../store/types';
import {
  applyDelivery,
  normaliseUsers,
  tenantLabel,
  tenantOf,
  type UnknownIdTokenPolicy,
} from './apply';
import { WebhookBodyBudget, type BodyReservation } from './bodyBudget';
import {
  parseWebhookBody,
  type DrainDelivery,
  type SyncDelivery,
  type UnknownDelivery,
  type WebhookDelivery,
} from './payload';
import { RefusalLog, type RefusalLogger } from './refusalLog';
import { checkHeapHashHeader, verifyHeapHash, type SignatureFailure } from './signature';

export type { DrainDelivery, SyncDelivery, UnknownDelivery, WebhookDelivery };

/** Any logger with pino's (object, message) call shape; console-like loggers can be wrapped. */
export type ReceiveLogger = RefusalLogger & {
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
};

/** Facts a handler gets beside the delivery. */
export type DeliveryInfo = {
  /** The request path (for logs). */
  path: string;
  /**
   * sha256 of the exact signed request: the same request sent again has the same key. Without a
   * store, de-duplicate sync pages by (id_token, segment id, sync_task_id, page_number) instead:
   * Heap may re-sign a page it retries.
   */
  signatureKey: string;
  /** With a store: what applying it did (committed before the handler runs). */
  outcome?: ApplyOutcome;
};

export type DeliveryHandler<D> = (delivery: D, info: DeliveryInfo) => void | Promise<void>;
export type ErrorHandler = (error: unknown, info?: DeliveryInfo) => void;

export type HeapWebhooksOptions = {
  /** The webhook secret from the Developers Hub; during a rotation the current one first. */
  secrets: string | readonly string[];
  /** How old a signature may be, in ms (default 300 s). */
  toleranceOldMs?: number;
  /** How far ahead a signature may be, in ms (default 60 s). */
  toleranceAheadMs?: number;
  /** Applies deliveries exactly once and keeps the deliveries log; without it, handlers only. */
  store?: DeliveryStore;
  /** 'reject' refuses (403) deliveries for an id_token without an active connection (needs a store). */
  unknownIdToken?: UnknownIdTokenPolicy;
  onSync?: DeliveryHandler<SyncDelivery>;
  onDrain?: DeliveryHandler<DrainDelivery>;
  onUnknown?: DeliveryHandler<UnknownDelivery>;
  /** Told when a handler (or the store, unexpectedly) fails; the answer is then 503 or 500. */
  onError?: ErrorHandler;
  /** Where info lines (one per delivery) and refusals go; silent by default. */
  logger?: ReceiveLogger;
  /** Largest body in bytes as received (default 16 MiB). */
  bodyLimitBytes?: number;
  /** Body bytes buffered at once across requests (default 64 MiB, at least one body), or a budget to share. */
  bodyBudget?: WebhookBodyBudget | number;
  /** Seconds Heap is told to wait after a 503 (default 5). */
  retryAfterSeconds?: number;
  /** Told every answer the core gives (the metrics module's hook); must not throw. */
  observer?: ReceiveObserver;
};

/**
 * One answer of the core, for metrics: every refusal (from the headers, while reading the body,
 * after verifying) and every verified delivery's outcome, once each.
 */
export type ReceiveObservation = {
  result: ReceiveResult;
  /** The body's size, once it was read whole (verifyAndReceive). */
  bodyBytes?: number;
  /** Seconds verifyAndReceive took: verifying, parsing, applying (committed) and the handlers. */
  seconds?: number;
};

export type ReceiveObserver = (observation: ReceiveObservation) => void;

export type ReceiveInput = {
  /** The Heap-Hash header as received (undefined when absent). */
  heapHash: string | string[] | undefined;
  /** The body exactly as received. */
  rawBody: Buffer | Uint8Array | string;
  /** The request path, for logs and the deliveries log. */
  path?: string;
};

export type AcceptedBody = {
  status: 'applied' | 'duplicate' | 'ignored';
  action_type: string;
  segment_id: number | null;
  member_count: number | null;
  added: number;
  removed: number;
};
export type ErrorBody = { error: string; message: string };

export type ReceiveResult = {
  status: number;
  body: AcceptedBody | ErrorBody;
  /** Headers to send with it (Retry-After on a 503). */
  headers?: Record<string, string>;
  /** The parsed delivery, once the signature and the payload checked out. */
  delivery?: WebhookDelivery;
};

/** What an adapter knows from the headers alone, before it reads any body. */
export type RequestHead = {
  heapHash: string | string[] | undefined;
  contentEncoding: string | undefined;
  /** The declared Content-Length, undefined for a chunked (or absent) body. */
  contentLength: number | undefined;
  path?: string;
};

/** Admitted: read the body into `reservation` (release it when the response is done). */
export type Admission =
  { ok: true; reservation: BodyReservation } | { ok: false; result: ReceiveResult };

export type SignatureCheck =
  | { ok: true; body: Buffer; signatureKey: string; secretIndex: number }
  | { ok: false; result: ReceiveResult };

export type HandlerEvents = {
  sync: DeliveryHandler<SyncDelivery>;
  drain: DeliveryHandler<DrainDelivery>;
  unknown: DeliveryHandler<UnknownDelivery>;
  error: ErrorHandler;
};

export type HeapWebhooks = {
  /** Verifies, parses, validates, applies (with a store) and calls the handlers; never throws. */
  verifyAndReceive(input: ReceiveInput): Promise<ReceiveResult>;
  /** Adds a handler. */
  on<E extends keyof HandlerEvents>(event: E, handler: HandlerEvents[E]): HeapWebhooks;
  /**
   * For adapters reading a body stream: the checks made from the headers before any byte is read,
   * in order (Heap-Hash header 403, Content-Encoding 415, Content-Length 413, shared budget 503).
   */
  admit(head: RequestHead): Admission;
  /**
   * Only the signature part (header, size, HMAC over the raw bytes), refusals recorded as by
   * verifyAndReceive: for code that parses and applies deliveries itself.
   */
  verifySignature(input: ReceiveInput): SignatureCheck;
  /** For adapters: a body refused while it was read (413 past the limit, 503 budget spent). */
  refuseBody(
    path: string,
    status: 413 | 503,
    reason: 'payload_too_large' | 'server_busy',
  ): ReceiveResult;
  readonly bodyLimitBytes: number;
};

export const DEFAULT_BODY_LIMIT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_RETRY_AFTER_SECONDS = 5;

const SIGNATURE_MESSAGES: Record<SignatureFailure, string> = {
  missing_signature: 'The Heap-Hash header is missing.',
  malformed_signature: 'The Heap-Hash header must look like ts:<unix ms>,hmac:<base64>.',
  timestamp_out_of_tolerance: "The Heap-Hash timestamp is too far from the server's clock.",
  invalid_signature: 'The Heap-Hash signature does not match the body.',
};

const BODY_MESSAGES = {
  unsupported_content_encoding: () =>
    'Content-Encoding must be identity (or absent): the signature covers the body as sent, uncompressed.',
  payload_too_large: (limitBytes: number) => `The body exceeds the ${limitBytes}-byte limit.`,
  server_busy: () => 'Too many webhook bodies are being received at once; retry later.',
};

const silent: ReceiveLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/**
 * Heap documents no compression, and the signature is over the bytes as sent: a compressed body
 * could only be verified by inflating it first, which lets anyone make us allocate 1,000 times
 * what they send. So only identity is accepted, and it is refused before the body is read.
 */
export function isIdentityEncoding(header: string | undefined): boolean {
  return header === undefined || header.trim() === '' || header.trim().toLowerCase() === 'identity';
}

/** Signed = the signature verified; then the body is known and the deliveries log gets a row. */
type Signed = { body: Buffer; extra?: { actionType?: string; tenant?: string } };

export function createHeapWebhooks(options: HeapWebhooksOptions): HeapWebhooks {
  // A missing secret is a configuration mistake, not a reason to refuse every delivery silently.
  if (
    options.secrets === '' ||
    (typeof options.secrets !== 'string' && !Array.isArray(options.secrets))
  ) {
    throw new Error('createHeapWebhooks needs the webhook secret (options.secrets).');
  }
  const secrets: readonly string[] =
    typeof options.secrets === 'string' ? [options.secrets] : options.secrets;
  const { store, toleranceOldMs, toleranceAheadMs } = options;
  const logger = options.logger ?? silent;
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const budget =
    options.bodyBudget instanceof WebhookBodyBudget
      ? options.bodyBudget
      : // By default one body of the largest accepted size always fits.
        new WebhookBodyBudget(
          options.bodyBudget ?? Math.max(DEFAULT_MAX_INFLIGHT_BYTES, bodyLimitBytes),
        );
  const retryAfter = {
    'Retry-After': String(options.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS),
  };
  const refusalLog = new RefusalLog(logger);
  const handlers = {
    sync: [] as DeliveryHandler<SyncDelivery>[],
    drain: [] as DeliveryHandler<DrainDelivery>[],
    unknown: [] as DeliveryHandler<UnknownDelivery>[],
    error: [] as ErrorHandler[],
  };
  if (options.onSync) handlers.sync.push(options.onSync);
  if (options.onDrain) handlers.drain.push(options.onDrain);
  if (options.onUnknown) handlers.unknown.push(options.onUnknown);
  if (options.onError) handlers.error.push(options.onError);

  const requestMeta = (path: string, body: Buffer | undefined): RequestMeta => ({
    receivedAt: Date.now(),
    path,
    bodySha256: body ? createHash('sha256').update(body).digest('hex') : null,
  });

  /**
   * Every refusal goes through here. A request whose signature verified (it comes from Heap, or
   * someone holding the secret) gets a row in the deliveries log and an info line. Anything
   * refused before that (bad or missing signature, too large, busy, …) can be sent by anyone at
   * any rate, so it is only counted (store.countRefusal: in memory, one row per reason per
   * minute) and logged at debug with a summary a minute. A failure to record must not change the
   * answer.
   */
  const refuse = (
    path: string,
    status: number,
    reason: string,
    message: string,
    signed?: Signed,
  ): ReceiveResult => {
    if (!signed) {
      refusalLog.refused({ path, status, reason });
      store?.countRefusal({ reason, httpStatus: status, at: Date.now() });
    } else {
      logger.info({ path, status, reason }, 'webhook refused');
      store
        ?.recordRejected({
          meta: requestMeta(path, signed.body),
          httpStatus: status,
          reason,
          ...signed.extra,
        })
        .catch((error: unknown) =>
          logger.warn({ err: error }, 'could not record a refused delivery in the deliveries log'),
        );
    }
    return {
      status,
      body: { error: reason, message },
      ...(status === 503 ? { headers: retryAfter } : {}),
    };
  };

  const refuseSignature = (path: string, reason: SignatureFailure) =>
    refuse(path, 403, reason, SIGNATURE_MESSAGES[reason]);

  const admit = (head: RequestHead): Admission => {
    const path = head.path ?? '/';
    const checked = checkHeapHashHeader({
      header: head.heapHash,
      toleranceOldMs,
      toleranceAheadMs,
    });
    if (!checked.ok) return { ok: false, result: refuseSignature(path, checked.reason) };
    if (!isIdentityEncoding(head.contentEncoding)) {
      const reason = 'unsupported_content_encoding';
      return { ok: false, result: refuse(path, 415, reason, BODY_MESSAGES[reason]()) };
    }
    if (head.contentLength !== undefined && head.contentLength > bodyLimitBytes) {
      return { ok: false, result: refuseBody(path, 413, 'payload_too_large') };
    }
    // A declared length is reserved whole, because that is what its buffer takes.
    const reservation = budget.reserve();
    if (head.contentLength !== undefined && !reservation.add(head.contentLength)) {
      reservation.release();
      return { ok: false, result: refuseBody(path, 503, 'server_busy') };
    }
    return { ok: true, reservation };
  };

  const refuseBody = (
    path: string,
    status: 413 | 503,
    reason: 'payload_too_large' | 'server_busy',
  ) => refuse(path, status, reason, BODY_MESSAGES[reason](bodyLimitBytes));

  /** Calls the handlers for this delivery's kind, in the order they were added. */
  const callHandlers = async (delivery: WebhookDelivery, info: DeliveryInfo) => {
    switch (delivery.kind) {
      case 'sync':
        for (const handler of handlers.sync) await handler(delivery, info);
        return;
      case 'drain':
        for (const handler of handlers.drain) await handler(delivery, info);
        return;
      case 'unknown':
        for (const handler of handlers.unknown) await handler(delivery, info);
        return;
    }
  };

  const tellError = (error: unknown, info?: DeliveryInfo) => {
    for (const handler of handlers.error) {
      try {
        handler(error, info);
      } catch (inner) {
        logger.error({ err: inner }, 'the webhook error handler threw');
      }
    }
  };

  /**
   * With a store, a delivery whose handler failed is already committed, so Heap's retry comes
   * back as a duplicate: these keys (bounded, in memory) make the retry run the handlers again.
   * A sync page may come back re-signed, hence its page key beside the signature's.
   */
  const handlerFailed = new Set<string>();
  const rememberFailure = (keys: string[]) => {
    for (const key of keys) {
      if (handlerFailed.size >= MAX_REMEMBERED_FAILURES) {
        handlerFailed.delete(handlerFailed.values().next().value as string);
      }
      handlerFailed.add(key);
    }
  };

  /** Without a store nothing is counted: added/removed are the page's lists as normalised. */
  const handlersOnlyOutcome = (delivery: WebhookDelivery): ApplyOutcome => {
    if (delivery.kind === 'sync') {
      const users = normaliseUsers(delivery.add, delivery.remove);
      return {
        status: 'applied',
        segmentId: delivery.segment.id,
        memberCount: null,
        added: users.add.length,
        removed: users.remove.length,
        linked: true,
      };
    }
    const segmentId = delivery.kind === 'drain' ? delivery.segment.id : delivery.segmentId;
    const status = delivery.kind === 'drain' ? 'applied' : 'ignored';
    return { status, segmentId, memberCount: null, added: 0, removed: 0, linked: true };
  };

  const verifySignature = (input: ReceiveInput): SignatureCheck => {
    const path = input.path ?? '/';
    const checked = checkHeapHashHeader({
      header: input.heapHash,
      toleranceOldMs,
      toleranceAheadMs,
    });
    if (!checked.ok) return { ok: false, result: refuseSignature(path, checked.reason) };
    const body =
      typeof input.rawBody === 'string'
        ? Buffer.from(input.rawBody, 'utf8')
        : Buffer.from(input.rawBody.buffer, input.rawBody.byteOffset, input.rawBody.byteLength);
    if (body.length > bodyLimitBytes) {
      return { ok: false, result: refuseBody(path, 413, 'payload_too_large') };
    }
    const verified = verifyHeapHash({
      header: input.heapHash,
      body,
      secrets,
      toleranceOldMs,
      toleranceAheadMs,
    });
    if (!verified.ok) return { ok: false, result: refuseSignature(path, verified.reason) };
    return {
      ok: true,
      body,
      signatureKey: verified.signatureKey,
      secretIndex: verified.secretIndex,
    };
  };

  const verifyAndReceive = async (input: ReceiveInput): Promise<ReceiveResult> => {
    const started = process.hrtime.bigint();
    const path = input.path ?? '/';
    const verified = verifySignature(input);
    if (!verified.ok) return verified.result;
    const { body } = verified;

    const parsed = parseWebhookBody(body);
    if (!parsed.ok) return refuse(path, 400, parsed.error, parsed.message, { body });
    const { delivery } = parsed;
    const tenant = tenantOf(delivery.idToken);
    const info: DeliveryInfo = { path, signatureKey: verified.signatureKey };

    let outcome: ApplyOutcome;
    if (store) {
      try {
        const applied = await applyDelivery(
          store,
          delivery,
          requestMeta(path, body),
          verified.signatureKey,
          options.unknownIdToken,
        );
        if ('refused' in applied) {
          const refused = refuse(
            path,
            403,
            applied.refused,
            'No active connection for this id_token (UNKNOWN_ID_TOKEN=reject); connect it with OAuth first.',
            { body, extra: { actionType: delivery.actionType, tenant } },
          );
          return { ...refused, delivery };
        }
        outcome = applied;
      } catch (error) {
        return { ...storeFailed(error, path), delivery };
      }
      info.outcome = outcome;
    } else {
      outcome = handlersOnlyOutcome(delivery);
    }

    // A duplicate was handled when it was first applied, unless its handler failed then.
    const keys = retryKeys(delivery, tenant, verified.signatureKey);
    if (outcome.status !== 'duplicate' || keys.some((key) => handlerFailed.has(key))) {
      try {
        await callHandlers(delivery, info);
        for (const key of keys) handlerFailed.delete(key);
      } catch (error) {
        rememberFailure(keys);
        logger.warn(
          { err: error, path, action: delivery.actionType },
          'a webhook handler failed; Heap will retry',
        );
        tellError(error, info);
        return {
          status: 503,
          body: {
            error: 'handler_failed',
            message: 'The delivery could not be handled; retry later.',
          },
          headers: retryAfter,
          delivery,
        };
      }
    }

    const logFields = {
      path,
      action: delivery.actionType,
      status: outcome.status,
      tenant: tenantLabel(tenant),
      segment_id: outcome.segmentId,
      ...(delivery.kind === 'sync'
        ? {
            task: delivery.syncInfo.syncTaskId,
            page: delivery.syncInfo.pageNumber,
            total_pages: delivery.syncInfo.totalPages,
            task_complete: outcome.taskComplete,
          }
        : {}),
      added: outcome.added,
      removed: outcome.removed,
      member_count: outcome.memberCount,
      duplicate_of: outcome.duplicateOf,
      linked: outcome.linked,
      ms: Number(process.hrtime.bigint() - started) / 1e6,
    };
    logger.info(logFields, `webhook ${outcome.status}`);
    if (outcome.contentDiffers) {
      logger.warn(logFields, 'a sync page was redelivered with a different body; kept the first');
    }
    if (verified.secretIndex > 0) {
      logger.info({}, 'webhook signed with WEBHOOK_SECRET_PREVIOUS; finish the secret rotation');
    }
    return {
      status: 200,
      body: {
        status: outcome.status,
        action_type: delivery.actionType,
        segment_id: outcome.segmentId,
        member_count: outcome.memberCount,
        added: outcome.added,
        removed: outcome.removed,
      },
      delivery,
    };
  };

  /** Storage down → 503 (Heap retries); anything else is unexpected → 500, logged with its stack. */
  const storeFailed = (error: unknown, path: string): ReceiveResult => {
    if (isStoreUnavailable(error)) {
      logger.warn({ err: error, path }, 'Storage is temporarily unavailable; retry later.');
      return {
        status: 503,
        body: {
          error: 'store_unavailable',
          message: 'Storage is temporarily unavailable; retry later.',
        },
        headers: retryAfter,
      };
    }
    logger.error({ err: error, path }, 'Something went wrong on our side; it has been logged.');
    tellError(error);
    return {
      status: 500,
      body: {
        error: 'internal_error',
        message: 'Something went wrong on our side; it has been logged.',
      },
    };
  };

  // Observed at the public entry points only, so each answer is seen once.
  const observe = (observation: ReceiveObservation): void => {
    try {
      options.observer?.(observation);
    } catch (error) {
      logger.error({ err: error }, 'the webhook observer threw');
    }
  };

  const heap: HeapWebhooks = {
    verifyAndReceive: async (input) => {
      const started = process.hrtime.bigint();
      let result: ReceiveResult;
      try {
        result = await verifyAndReceive(input);
      } catch (error) {
        result = storeFailed(error, input.path ?? '/');
      }
      const bodyBytes =
        typeof input.rawBody === 'string'
          ? Buffer.byteLength(input.rawBody, 'utf8')
          : input.rawBody.byteLength;
      observe({ result, bodyBytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      return result;
    },
    on(event, handler) {
      (handlers[event] as unknown[]).push(handler);
      return heap;
    },
    admit: (head) => {
      const admission = admit(head);
      if (!admission.ok) observe({ result: admission.result });
      return admission;
    },
    verifySignature: (input) => {
      const checked = verifySignature(input);
      if (!checked.ok) observe({ result: checked.result });
      return checked;
    },
    refuseBody: (path, status, reason) => {
      const result = refuseBody(path, status, reason);
      observe({ result });
      return result;
    },
    bodyLimitBytes,
  };
  return heap;
}

const MAX_REMEMBERED_FAILURES = 10_000;

function retryKeys(delivery: WebhookDelivery, tenant: string, signatureKey: string): string[] {
  if (delivery.kind !== 'sync') return [signatureKey];
  const page = [
    tenant,
    delivery.segment.id,
    delivery.syncInfo.syncTaskId,
    delivery.syncInfo.pageNumber,
  ];
  return [signatureKey, JSON.stringify(page)];
}

/** Whether a value is a receive core (and not options for one). */
export function isHeapWebhooks(value: unknown): value is HeapWebhooks {
  return typeof (value as HeapWebhooks | undefined)?.verifyAndReceive === 'function';
}
