// An existing Express app with its own JSON API that also receives Heap Segment Sync webhooks (heap-partner-api/express).
import express, { type Express } from 'express';
import { createHeapWebhooks, type SyncDelivery } from 'heap-partner-api';
import { heapWebhooks } from 'heap-partner-api/express';

export type ShopOptions = {
  /** The webhook secret from Heap's Developers Hub (current first, then a previous one while rotating). */
  webhookSecrets: string[];
  log?: (line: string) => void;
};

export type Shop = {
  app: Express;
  /** The app's own data: who is in which audience, keyed by `${environment}/${segment id}`. */
  audiences: Map<string, Set<string>>;
};

/** Heap sends no id_token for the partner's own environment; give that one a name of our own. */
function environmentOf(idToken: string | undefined): string {
  return idToken ?? 'own-environment';
}

/**
 * Without a store, Heap's retries can deliver the same page twice, so we key our writes on the
 * page. In a database, insert this key (unique) in the same transaction as the membership rows.
 */
function pageKey(delivery: SyncDelivery): string {
  const { syncTaskId, pageNumber } = delivery.syncInfo;
  return [environmentOf(delivery.idToken), delivery.segment.id, syncTaskId, pageNumber].join(
    '\u0000',
  );
}

export function createShopApp(options: ShopOptions): Shop {
  const log = options.log ?? ((line: string) => console.log(line));
  const audiences = new Map<string, Set<string>>();
  const appliedPages = new Set<string>();
  const audience = (idToken: string | undefined, segmentId: number): Set<string> => {
    const key = `${environmentOf(idToken)}/${segmentId}`;
    let members = audiences.get(key);
    if (!members) audiences.set(key, (members = new Set()));
    return members;
  };

  const heap = createHeapWebhooks({ secrets: options.webhookSecrets });
  heap.on('sync', (delivery) => {
    const key = pageKey(delivery);
    if (appliedPages.has(key)) {
      log(
        `segment ${delivery.segment.id}: page ${delivery.syncInfo.pageNumber} seen before, skipped`,
      );
      return;
    }
    const members = audience(delivery.idToken, delivery.segment.id);
    for (const userId of delivery.add) members.add(userId);
    // Removes after adds: a user in both lists ends up out, as Heap intends.
    for (const userId of delivery.remove) members.delete(userId);
    appliedPages.add(key);
    log(
      `segment ${delivery.segment.id}: +${delivery.add.length} -${delivery.remove.length} ` +
        `(page ${delivery.syncInfo.pageNumber} of ${delivery.syncInfo.totalPages})`,
    );
  });
  heap.on('drain', (delivery) => {
    // A drain empties the segment: the customer removed it from the destination.
    audiences.delete(`${environmentOf(delivery.idToken)}/${delivery.segment.id}`);
    log(`segment ${delivery.segment.id}: drained`);
  });

  const app = express();
  // Before express.json(): the Heap-Hash is checked over the raw bytes, which a JSON parser would
  // consume first. The adapter answers Heap itself (200, 400, 403, 503 + Retry-After).
  app.use(heapWebhooks(heap, { path: '/heap/webhook' }));
  app.use(express.json());

  // The app's own routes, untouched by the webhook receiver.
  app.get('/api/audiences/:segmentId', (req, res) => {
    const environment =
      typeof req.query.environment === 'string' ? req.query.environment : undefined;
    const members = audiences.get(`${environmentOf(environment)}/${req.params.segmentId}`);
    res.json({ members: members ? [...members].sort() : [] });
  });
  app.post('/api/notes', (req, res) => {
    const text: unknown = req.body?.text;
    if (typeof text !== 'string') {
      res.status(400).json({ error: 'invalid_note', message: 'send {"text": "..."}' });
      return;
    }
    res.status(201).json({ note: text });
  });

  return { app, audiences };
}
