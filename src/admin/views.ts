// The admin API's JSON shapes: store records → snake_case views with ISO times; never a token.
import type {
  AuditRecord,
  SegmentFreshnessRecord,
  ChangeRecord,
  ConnectionRecord,
  DeliveryRecord,
  SegmentRecord,
  SizePoint,
  SyncTaskRecord,
  UserSegment,
} from '../store/types';
import type { RefusalMinute } from './service';
import { connectionKey } from './urlKeys';

export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/** Everything about a connection except its access token, which never leaves the store. */
export function connectionView(connection: ConnectionRecord) {
  return {
    connection: connectionKey(connection.idToken),
    id_token: connection.idToken,
    env_id: connection.envId,
    partner_app_id: connection.partnerAppId,
    authorized_by: connection.authorizedBy,
    authorized_scope: connection.authorizedScope,
    authorized_at_utc: connection.authorizedAtUtc,
    connected_at: isoTime(connection.connectedAt),
    updated_at: isoTime(connection.updatedAt),
    disconnected_at: isoTime(connection.disconnectedAt),
    active: connection.active,
  };
}

/**
 * Whether a segment's syncs keep arriving: its last completed sync task, how long ago, stale
 * beyond STALE_SEGMENT_HOURS, and its newest task when that one lacks pages. A segment that never
 * had a sync, or was drained since, is not tracked: not stale, nothing completed.
 */
export function freshnessView(freshness: SegmentFreshnessRecord | null) {
  const task = freshness?.incompleteTask ?? null;
  return {
    stale: freshness?.stale ?? false,
    last_sync_completed_at: isoTime(freshness?.lastSyncCompletedAt ?? null),
    age_seconds: freshness?.ageSeconds ?? null,
    incomplete_task: task && {
      sync_task_id: task.taskId,
      total_pages: task.totalPages,
      pages_received: task.pagesReceived,
      missing_pages: task.missingPages,
      missing_count: task.missingCount,
      first_delivery_at: isoTime(task.firstDeliveryAt),
      last_delivery_at: isoTime(task.lastDeliveryAt),
    },
  };
}

export function segmentView(segment: SegmentRecord, freshness: SegmentFreshnessRecord | null) {
  return {
    ...freshnessView(freshness),
    connection: connectionKey(segment.tenant),
    segment_id: segment.segmentId,
    name: segment.name,
    member_count: segment.memberCount,
    customer_config: segment.customerConfig,
    created_at: isoTime(segment.createdAt),
    updated_at: isoTime(segment.updatedAt),
    last_sync_at: isoTime(segment.lastSyncAt),
    last_drain_at: isoTime(segment.lastDrainAt),
  };
}

export function syncTaskView(task: SyncTaskRecord) {
  return {
    sync_task_id: task.taskId,
    total_pages: task.totalPages,
    pages_received: task.pagesReceived,
    complete: task.complete,
    first_delivery_at: isoTime(task.firstDeliveryAt),
    last_delivery_at: isoTime(task.lastDeliveryAt),
    completed_at: isoTime(task.completedAt),
  };
}

export function changeView(change: ChangeRecord) {
  return {
    seq: change.seq,
    at: isoTime(change.at),
    connection: connectionKey(change.tenant),
    segment_id: change.segmentId,
    kind: change.kind,
    sync_task_id: change.taskId,
    page_number: change.pageNumber,
    added: change.added,
    removed: change.removed,
    removed_count: change.removedCount,
    member_count: change.memberCount,
  };
}

export function deliveryView(delivery: DeliveryRecord) {
  return {
    id: delivery.id,
    received_at: isoTime(delivery.receivedAt),
    path: delivery.path,
    action_type: delivery.actionType,
    connection: delivery.tenant === null ? null : connectionKey(delivery.tenant),
    segment_id: delivery.segmentId,
    sync_task_id: delivery.taskId,
    page_number: delivery.pageNumber,
    status: delivery.status,
    http_status: delivery.httpStatus,
    reason: delivery.reason,
    body_sha256: delivery.bodySha256,
    added: delivery.added,
    removed: delivery.removed,
    linked: delivery.linked,
  };
}

export function userSegmentView(segment: UserSegment) {
  return {
    segment_id: segment.segmentId,
    name: segment.name,
    added_at: isoTime(segment.addedAt),
  };
}

export function sizePointView(point: SizePoint) {
  return { seq: point.seq, at: isoTime(point.at), member_count: point.memberCount };
}

/** Requests refused before their signature verified, one minute (counted, never stored singly). */
export function refusalMinuteView(minute: RefusalMinute) {
  return {
    minute: isoTime(minute.minute),
    total: minute.total,
    by_reason: minute.byReason.map((row) => ({
      reason: row.reason,
      http_status: row.httpStatus,
      count: row.count,
    })),
  };
}

/** One audit entry: addresses, fixed phrases and counts, never a credential. */
export function auditView(entry: AuditRecord) {
  return {
    id: entry.id,
    at: isoTime(entry.at),
    event: entry.event,
    client: entry.client,
    connection: entry.tenant === null ? null : connectionKey(entry.tenant),
    detail: entry.detail ?? {},
    count: entry.count,
    counted_minute: isoTime(entry.minute),
  };
}
