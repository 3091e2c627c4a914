// Table rows as both SQL backends return them (snake_case columns), and their mapping to records.
import type { AdminSessionRecord, ConnectionRecord, SegmentRecord, SyncTaskRecord } from './types';

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
