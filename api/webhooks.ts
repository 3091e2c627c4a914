// Webhook receiver on plain node:http (Heap's hot path skips Express); every path accepts every action.
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import {
  describeError,
  respondWithError,
  sendError,
  sendJson,
  sendMethodNotAllowed,
} from '../middleware/errors';
import { validateHeapHeader, type VerifiedSignature } from '../middleware/validateHeapHeader';
import type { Config } from '../src/config';
import { parseWebhookBody, specValidator } from '../src/payload';
import { applyDelivery, tenantLabel, tenantOf } from '../src/segments';
import type { RequestMeta, Store } from '../src/store/types';

/** The seed's two paths and the single URL a partner registers in the Developers Hub. */
export const WEBHOOK_PATHS = ['/webhook', '/users_sync', '/users_drain'] as const;

export type WebhookDeps = { config: Config; store: Store; logger: Logger };

/** Handles the request if it is for a webhook path (and returns true); otherwise leaves it alone. */
export type WebhookReceiver = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * The path of a request as a webhook route sees it, or undefined for any other path. Matching
 * is as lenient as Express's default routing: any letter case, one optional trailing slash.
 */
function webhookPath(url: string | undefined): string | undefined {
  const pathname = (url ?? '').split('?', 1)[0];
  const normalised = pathname.toLowerCase().replace(/(.)\/$/, '$1');
  return (WEBHOOK_PATHS as readonly string[]).includes(normalised) ? pathname : undefined;
}

type WithBody = IncomingMessage & { body?: unknown };

function requestMeta(req: IncomingMessage, path: string): RequestMeta {
  const body = (req as WithBody).body;
  return {
    receivedAt: Date.now(),
    path,
    bodySha256: Buffer.isBuffer(body) ? createHash('sha256').update(body).digest('hex') : null,
  };
}

export function webhookReceiver({ config, store, logger }: WebhookDeps): WebhookReceiver {
  // Compiled now rather than on the first delivery, which would otherwise take ~400 ms.
  specValidator('WebhookRequest');

  // The deliveries log records refusals too; a failure to record must not change the answer.
  const recordRejected = (
    req: IncomingMessage,
    path: string,
    httpStatus: number,
    reason: string,
    extra: { actionType?: string; tenant?: string } = {},
  ) => {
    logger.info({ path, status: httpStatus, reason }, 'webhook refused');
    store
      .recordRejected({ meta: requestMeta(req, path), httpStatus, reason, ...extra })
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'could not record a refused delivery in the deliveries log'),
      );
  };

  const receive = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer,
    signature: VerifiedSignature,
  ) => {
    const started = process.hrtime.bigint();
    const parsed = parseWebhookBody(body);
    if (!parsed.ok) {
      recordRejected(req, path, 400, parsed.error);
      sendError(res, 400, parsed.error, parsed.message);
      return;
    }
    const { delivery } = parsed;
    const outcome = await applyDelivery(
      store,
      delivery,
      requestMeta(req, path),
      signature.replayKey,
      config.unknownIdToken,
    );
    if ('refused' in outcome) {
      recordRejected(req, path, 403, outcome.refused, {
        actionType: delivery.actionType,
        tenant: tenantOf(delivery.idToken),
      });
      sendError(
        res,
        403,
        outcome.refused,
        'No active connection for this id_token (UNKNOWN_ID_TOKEN=reject); connect it with OAuth first.',
      );
      return;
    }
    sendJson(res, 200, {
      status: outcome.status,
      action_type: delivery.actionType,
      segment_id: outcome.segmentId,
      member_count: outcome.memberCount,
      added: outcome.added,
      removed: outcome.removed,
    });

    const logFields = {
      path,
      action: delivery.actionType,
      status: outcome.status,
      tenant: tenantLabel(tenantOf(delivery.idToken)),
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
    if (signature.secretIndex > 0) {
      logger.info('webhook signed with WEBHOOK_SECRET_PREVIOUS; finish the secret rotation');
    }
  };

  const fail = (req: IncomingMessage, res: ServerResponse, path: string, error: unknown) =>
    respondWithError(res, error, {
      logger,
      retryAfterSeconds: config.retryAfterSeconds,
      method: req.method,
      path,
    });

  const verified = validateHeapHeader<string>(
    {
      secrets: config.webhook.secrets,
      toleranceOldMs: config.webhook.toleranceOldMs,
      toleranceAheadMs: config.webhook.toleranceAheadMs,
      bodyLimitBytes: config.webhook.bodyLimitBytes,
      onRejected: (req, path, reason) => recordRejected(req, path, 403, reason),
      // Body-reading failures (too large, aborted) are deliveries too: log them.
      onBodyError: (req, res, path, error) => {
        const { status, body } = describeError(error, config.retryAfterSeconds);
        if (status < 500) recordRejected(req, path, status, body.error);
        fail(req, res, path, error);
      },
    },
    (req, res, path, body, signature) => {
      receive(req, res, path, body, signature).catch((error: unknown) =>
        fail(req, res, path, error),
      );
    },
  );

  return (req, res) => {
    const path = webhookPath(req.url);
    if (path === undefined) return false;
    if (req.method === 'POST') verified(req, res, path);
    else sendMethodNotAllowed(res, req.method, ['POST']);
    return true;
  };
}
