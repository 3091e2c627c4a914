// Webhook routes: the Express adapter over the receive core on the three paths Heap may be given.
import { Router } from 'express';
import type { Logger } from 'pino';
import { heapWebhooks } from '../src/adapters/express';
import type { Config } from '../src/config/index';
import type { Store } from '../src/store/types';
import { WebhookBodyBudget } from '../src/webhook/bodyBudget';
import { createHeapWebhooks, type ReceiveObserver } from '../src/webhook/receive';

/** The seed's two paths and the single URL a partner registers in the Developers Hub. */
export const WEBHOOK_PATHS = ['/webhook', '/users_sync', '/users_drain'] as const;

export type WebhookDeps = {
  config: Config;
  store: Store;
  logger: Logger;
  /** Body bytes buffered at once; one per process (createApp makes it), or one per router. */
  webhookBodyBudget?: WebhookBodyBudget;
  /** Told every answer (the app's metrics). */
  observer?: ReceiveObserver;
};

export function webhookRouter({
  config,
  store,
  logger,
  webhookBodyBudget = new WebhookBodyBudget(config.webhook.maxInflightBytes),
  observer,
}: WebhookDeps): Router {
  const heap = createHeapWebhooks({
    secrets: config.webhook.secrets,
    toleranceOldMs: config.webhook.toleranceOldMs,
    toleranceAheadMs: config.webhook.toleranceAheadMs,
    bodyLimitBytes: config.webhook.bodyLimitBytes,
    bodyBudget: webhookBodyBudget,
    retryAfterSeconds: config.retryAfterSeconds,
    unknownIdToken: config.unknownIdToken,
    store,
    logger,
    observer,
  });
  const router = Router();
  // Express matches the paths (its usual case and trailing-slash rules); the adapter answers
  // every method, a 405 for anything but POST.
  router.all([...WEBHOOK_PATHS], heapWebhooks(heap));
  return router;
}
