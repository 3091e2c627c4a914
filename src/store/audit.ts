// The audit log's rows as both backends keep them: detail as JSON text, counted rows by minute.
import type { AuditCount, AuditDetail, AuditEntry, AuditEvent, AuditRecord } from './types';

/** Longest client address kept: a forwarded address is whatever the proxy chain says. */
export const MAX_AUDIT_CLIENT_LENGTH = 100;

export type AuditRow = {
  id: number;
  at: number;
  event: string;
  client: string | null;
  tenant: string | null;
  detail: string | null;
  count: number;
  minute: number | null;
};

/** Detail as stored: JSON with its keys sorted, so equal details of counted rows are equal text. */
export function auditDetailText(detail: AuditDetail | null): string | null {
  if (detail === null) return null;
  const sorted = Object.fromEntries(
    Object.entries(detail).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return JSON.stringify(sorted);
}

/** An entry's column values (the client address bounded; PostgreSQL text cannot hold NUL). */
export function auditEntryValues(entry: AuditEntry) {
  const clean = (value: string | null) => (value === null ? null : value.replace(/\0/g, ''));
  return {
    at: entry.at,
    event: entry.event,
    client: clean(entry.client === null ? null : entry.client.slice(0, MAX_AUDIT_CLIENT_LENGTH)),
    tenant: clean(entry.tenant),
    detail: auditDetailText(entry.detail),
  };
}

export function auditCountValues(count: AuditCount) {
  return {
    event: count.event,
    minute: count.minute,
    detail: auditDetailText(count.detail) as string,
    count: count.count,
  };
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    at: row.at,
    event: row.event as AuditEvent,
    client: row.client,
    tenant: row.tenant,
    detail: row.detail === null ? null : (JSON.parse(row.detail) as AuditDetail),
    count: row.count,
    minute: row.minute,
  };
}
