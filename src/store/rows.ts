// Table rows as both SQL backends return them (snake_case columns), and their mapping to records.
import type {
  AdminSessionRecord,
  ChangeRecord,
  ConnectionRecord,
  DeliveryRecord,
  RefusalCount,
  SegmentRecord,
  SyncTaskRecord,
} from './types';

export type ConnectionRow = {
  id_token: string;
  env_id: string;
  partner_app_id: string;
  authorized_by: string;
  authorized_scope: string;
  authorized_at_utc: string;
  access_token_sealed: string | null;
  connected_at: number;
  updated_at: number;
  disconnected_at: number | null;
};

export type SyncTaskRow = {
  tenant: string;
  segment_id: number;
  task_id: string;
  total_pages: number;
  pages_received: number;
  first_delivery_at: number;
  last_delivery_at: number;
  completed_at: number | null;
};

/** A segments row with customer_config already decoded (SQLite keeps it as text, PostgreSQL as jsonb). */
export type SegmentRow = {
  tenant: string;
  segment_id: number;
  name: string | null;
  customer_config: unknown;
  member_count: number;
  created_at: number;
  updated_at: number;
  last_sync_at: number | null;
  last_drain_at: number | null;
};

export function toSyncTaskRecord(row: SyncTaskRow): SyncTaskRecord {
  return {
    tenant: row.tenant,
    segmentId: row.segment_id,
    taskId: row.task_id,
    totalPages: row.total_pages,
    pagesReceived: row.pages_received,
    complete: row.completed_at !== null,
    firstDeliveryAt: row.first_delivery_at,
    lastDeliveryAt: row.last_delivery_at,
    completedAt: row.completed_at,
  };
}

export function toConnectionRecord(row: ConnectionRow): ConnectionRecord {
  return {
    idToken: row.id_token,
    envId: row.env_id,
    partnerAppId: row.partner_app_id,
    authorizedBy: row.authorized_by,
    authorizedScope: row.authorized_scope,
    authorizedAtUtc: row.authorized_at_utc,
    connectedAt: row.connected_at,
    updatedAt: row.updated_at,
    disconnectedAt: row.disconnected_at,
    active: row.access_token_sealed !== null,
  };
}

export function toSegmentRecord(row: SegmentRow): SegmentRecord {
  return {
    tenant: row.tenant,
    segmentId: row.segment_id,
    name: row.name,
    customerConfig: row.customer_config,
    memberCount: row.member_count,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastSyncAt: row.last_sync_at,
    lastDrainAt: row.last_drain_at,
  };
}

export type AdminSessionRow = {
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  revoked_at: number | null;
};

export function toAdminSessionRecord(row: AdminSessionRow): AdminSessionRecord {
  return {
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

/** A changes row with its user lists already decoded (SQLite keeps JSON text, PostgreSQL text[]). */
export type ChangeRow = {
  seq: number;
  at: number;
  tenant: string;
  segment_id: number;
  kind: 'sync' | 'drain';
  task_id: string | null;
  page_number: number | null;
  added: string[];
  removed: string[];
  removed_count: number;
  member_count: number;
};

export function toChangeRecord(row: ChangeRow): ChangeRecord {
  return {
    seq: row.seq,
    at: row.at,
    tenant: row.tenant,
    segmentId: row.segment_id,
    kind: row.kind,
    taskId: row.task_id,
    pageNumber: row.page_number,
    added: row.added,
    removed: row.removed,
    removedCount: row.removed_count,
    memberCount: row.member_count,
  };
}

/** A deliveries row; `linked` is 0/1 in SQLite, a boolean in PostgreSQL. */
export type DeliveryRow = {
  id: number;
  received_at: number;
  path: string;
  action_type: string | null;
  tenant: string | null;
  segment_id: number | null;
  task_id: string | null;
  page_number: number | null;
  status: DeliveryRecord['status'];
  http_status: number;
  reason: string | null;
  body_sha256: string | null;
  added: number;
  removed: number;
  linked: number | boolean | null;
};

export function toDeliveryRecord(row: DeliveryRow): DeliveryRecord {
  return {
    id: row.id,
    receivedAt: row.received_at,
    path: row.path,
    actionType: row.action_type,
    tenant: row.tenant,
    segmentId: row.segment_id,
    taskId: row.task_id,
    pageNumber: row.page_number,
    status: row.status,
    httpStatus: row.http_status,
    reason: row.reason,
    bodySha256: row.body_sha256,
    added: row.added,
    removed: row.removed,
    linked: row.linked === null ? null : Boolean(row.linked),
  };
}

export type RefusalCountRow = {
  minute: number;
  reason: string;
  http_status: number;
  count: number;
};

export function toRefusalCount(row: RefusalCountRow): RefusalCount {
  return { minute: row.minute, reason: row.reason, httpStatus: row.http_status, count: row.count };
}
