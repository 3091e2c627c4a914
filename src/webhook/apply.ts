// Domain rules for applying a delivery: tenant mapping, de-duplication of users, "remove wins".
import { createHash } from 'node:crypto';
import type { WebhookDelivery } from './payload';
import {
  OWN_ENVIRONMENT,
  type AcceptedDelivery,
  type ApplyOutcome,
  type RequestMeta,
  type DeliveryStore,
} from '../store/types';

/** The tenant key a delivery belongs to: its id_token, or the partner's own environment. */
export function tenantOf(idToken: string | undefined): string {
  return idToken ?? OWN_ENVIRONMENT;
}

/**
 * Normalises a page's user lists: each user once, and a user listed in both `add` and `remove`
 * of the same page is removed. A page carries no order between its two lists, so we take the
 * side that cannot leave a stale member behind: a partner acting on membership (messaging,
 * targeting) must not keep acting on someone Heap also said has left.
 */
export function normaliseUsers(
  add: string[],
  remove: string[],
): { add: string[]; remove: string[] } {
  // One set of every user seen, removes first: a 2,000-user page is normalised in one pass
  // over each list, and lists without repeats (Heap's) are returned as they came.
  const seen = new Set(remove);
  const uniqueRemove = seen.size === remove.length ? remove : [...seen];
  const uniqueAdd: string[] = [];
  for (const id of add) {
    if (!seen.has(id)) {
      seen.add(id);
      uniqueAdd.push(id);
    }
  }
  return { add: uniqueAdd, remove: uniqueRemove };
}

/** Turns a validated delivery into the unit of work the store applies atomically. */
export function toAcceptedDelivery(
  delivery: WebhookDelivery,
  meta: RequestMeta,
  signatureKey: string,
): AcceptedDelivery {
  const tenant = tenantOf(delivery.idToken);
  const base = { meta, actionType: delivery.actionType, signatureKey };
  switch (delivery.kind) {
    case 'sync':
      return {
        ...base,
        work: {
          kind: 'sync',
          tenant,
          segmentId: delivery.segment.id,
          segmentName: delivery.segment.name,
          customerConfig: delivery.customerConfig,
          taskId: delivery.syncInfo.syncTaskId,
          pageNumber: delivery.syncInfo.pageNumber,
          totalPages: delivery.syncInfo.totalPages,
          ...normaliseUsers(delivery.add, delivery.remove),
        },
      };
    case 'drain':
      return {
        ...base,
        work: {
          kind: 'drain',
          tenant,
          segmentId: delivery.segment.id,
          segmentName: delivery.segment.name,
          customerConfig: delivery.customerConfig,
        },
      };
    case 'unknown':
      return { ...base, work: { kind: 'unknown', tenant, segmentId: delivery.segmentId } };
  }
}

export type UnknownIdTokenPolicy = 'accept' | 'reject';

/**
 * Applies a verified, validated delivery; resolves once it is committed. With the 'reject'
 * policy, a delivery for an id_token without an active connection is refused instead of being
 * stored as unlinked.
 */
export async function applyDelivery(
  store: DeliveryStore,
  delivery: WebhookDelivery,
  meta: RequestMeta,
  signatureKey: string,
  unknownIdToken: UnknownIdTokenPolicy = 'accept',
): Promise<ApplyOutcome | { refused: 'unknown_id_token' }> {
  const tenant = tenantOf(delivery.idToken);
  if (unknownIdToken === 'reject' && tenant !== OWN_ENVIRONMENT) {
    if (!(await store.hasActiveConnection(tenant))) return { refused: 'unknown_id_token' };
  }
  return store.applyDelivery(toAcceptedDelivery(delivery, meta, signatureKey));
}

/** A short, non-reversible label for a tenant, safe for info-level logs. */
export function tenantLabel(tenant: string): string {
  if (tenant === OWN_ENVIRONMENT) return 'own';
  return createHash('sha256').update(tenant).digest('hex').slice(0, 12);
}
