// Webhook routes: every path accepts every Heap action and dispatches on action_type.
import { createHash } from 'node:crypto';
import { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { describeError, methodNotAllowed, sendError } from '../middleware/errors';
import {
  rawBody,
  validateHeapHeader,
  type VerifiedSignature,
} from '../middleware/validateHeapHeader';
import type { Config } from '../src/config/index';
import { parseWebhookBody, specValidator } from '../src/webhook/payload';
import { RefusalLog } from '../src/webhook/refusalLog';
import { applyDelivery, tenantLabel, tenantOf } from '../src/webhook/apply';
import type { RequestMeta, Store } from '../src/store/types';
import { WebhookBodyBudget } from '../src/webhook/bodyBudget';

/** The seed's two paths and the single URL a partner registers in the Developers Hub. */
export const WEBHOOK_PATHS = ['/webhook', '/users_sync', '/users_drain'] as const;

export type WebhookDeps = {
  config: Config;
  store: Store;
  logger: Logger;
  /** Body bytes buffered at once; one per process (createApp makes it), or one per router. */
  webhookBodyBudget?: WebhookBodyBudget;
};

export function webhookRouter({
  config,
  store,
  logger,
  webhookBodyBudget = new WebhookBodyBudget(config.webhook.maxInflightBytes),
}: WebhookDeps): Router {
  const router = Router();
  // Compile the spec's validator now, not on the first delivery (which would wait for it).
  specValidator('WebhookRequest');

  const requestMeta = (req: Request): RequestMeta => ({
    receivedAt: Date.now(),
    path: req.path,
    bodySha256: Buffer.isBuffer(req.body)
      ? createHash('sha256').update(req.body).digest('hex')
      : null,
  });

  const refusalLog = new RefusalLog(logger);

  /**
   * Every refusal goes through here. A request whose signature verified (it comes from Heap, or
   * someone holding the secret) gets a row in the deliveries log and an info line. Anything
   * refused before that (bad or missing signature, too large, busy, …) can be sent by anyone at
   * any rate, so it is only counted (store.countRefusal: in memory, one row per reason per
   * minute) and logged at debug with a summary a minute. A failure to record must not change the
   * answer.
   */
  const recordRejected = (
    req: Request,
    httpStatus: number,
    reason: string,
    extra: { actionType?: string; tenant?: string } = {},
  ) => {
    const signed = req.res?.locals.heapSignature !== undefined;
    if (!signed) {
      refusalLog.refused({ path: req.path, status: httpStatus, reason });
      store.countRefusal({ reason, httpStatus, at: Date.now() });
      return;
    }
    logger.info({ path: req.path, status: httpStatus, reason }, 'webhook refused');
    store
      .recordRejected({ meta: requestMeta(req), httpStatus, reason, ...extra })
      .catch((error: unknown) =>
        logger.warn({ err: error }, 'could not record a refused delivery in the deliveries log'),
      );
  };

  const verify = validateHeapHeader({
    secrets: config.webhook.secrets,
    toleranceOldMs: config.webhook.toleranceOldMs,
    toleranceAheadMs: config.webhook.toleranceAheadMs,
    bodyLimitBytes: config.webhook.bodyLimitBytes,
    bodyBudget: webhookBodyBudget,
    retryAfterSeconds: config.retryAfterSeconds,
    onRejected: (req, reason) => recordRejected(req, 403, reason),
    onBodyRefused: (req, status, reason) => recordRejected(req, status, reason),
  });

  const receive: RequestHandler = async (req, res) => {
    const started = process.hrtime.bigint();
    const body = rawBody(req);
    const signature = res.locals.heapSignature as VerifiedSignature;
    const parsed = parseWebhookBody(body);
    if (!parsed.ok) {
      recordRejected(req, 400, parsed.error);
      sendError(res, 400, parsed.error, parsed.message);
      return;
    }
    const { delivery } = parsed;
    const outcome = await applyDelivery(
      store,
      delivery,
      requestMeta(req),
      signature.replayKey,
      config.unknownIdToken,
    );
    if ('refused' in outcome) {
      recordRejected(req, 403, outcome.refused, {
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
    res.json({
      status: outcome.status,
      action_type: delivery.actionType,
      segment_id: outcome.segmentId,
      member_count: outcome.memberCount,
      added: outcome.added,
      removed: outcome.removed,
    });

    const logFields = {
      path: req.path,
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

  // Body-reading failures (too large, aborted) on webhook paths are deliveries too: log them.
  const bodyErrors: ErrorRequestHandler = (error, req, _res, next) => {
    const { status, body } = describeError(error, config.retryAfterSeconds);
    if (status < 500) recordRejected(req, status, body.error);
    next(error);
  };

  for (const path of WEBHOOK_PATHS) {
    router.post(path, ...verify, receive);
    router.all(path, methodNotAllowed(['POST']));
  }
  router.use(WEBHOOK_PATHS as unknown as string[], bodyErrors);
  return router;
}
