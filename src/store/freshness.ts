// Segment freshness (when each segment last completed a sync task, which pages an unfinished one lacks): the SQL both backends run, once.
import { tenantLabel } from '../webhook/apply';
import type { FreshnessQuery, SegmentFreshnessRecord, SegmentFreshnessSummary } from './types';

/** Missing page numbers listed per unfinished task (the count says how many in all). */
export const MAX_MISSING_PAGES = 50;
/** Received page numbers read to find the missing ones (a task's pages, bounded). */
const MAX_PAGES_READ = 100_000;

/**
 * The segments that count, each with its last completed sync task and its newest task. One index
 * probe per segment for each (sync_tasks_by_completion, sync_tasks_by_segment_delivery, migration
 * 004: ORDER BY … LIMIT 1 reads one index entry, where max() or a tie-breaker would read every
 * task of the segment), never a scan of every task. Segments drained since their last sync are left out: Heap
 * stopped syncing them on purpose, which is not an integration failing silently.
 *
 * Written once for both dialects: `:name` parameters become `@name` (better-sqlite3) or `$n`
 * (node-postgres); CAST gives PostgreSQL a type for parameters compared only with NULL.
 */
const SEGMENTS_WITH_SYNCS = `
  SELECT s.tenant, s.segment_id,
    (SELECT c.completed_at FROM sync_tasks c
      WHERE c.tenant = s.tenant AND c.segment_id = s.segment_id AND c.completed_at IS NOT NULL
      ORDER BY c.completed_at DESC LIMIT 1) AS last_completed_at,
    (SELECT n.task_id FROM sync_tasks n
      WHERE n.tenant = s.tenant AND n.segment_id = s.segment_id
      ORDER BY n.last_delivery_at DESC LIMIT 1) AS newest_task_id
  FROM segments s
  WHERE s.last_sync_at IS NOT NULL
    AND (s.last_drain_at IS NULL OR s.last_drain_at < s.last_sync_at)
    AND (CAST(:tenant AS text) IS NULL OR s.tenant = :tenant)
    AND (CAST(:segmentId AS bigint) IS NULL OR s.segment_id = :segmentId)`;

const IS_STALE = 'f.last_completed_at IS NULL OR f.last_completed_at < :cutoff';

/** Stalest first: never completed, then the oldest completion; the newest task beside each. */
export const FRESHNESS_LIST_SQL = `
  SELECT f.tenant, f.segment_id, f.last_completed_at, cn.env_id, t.task_id, t.total_pages,
         t.pages_received, t.completed_at AS task_completed_at, t.first_delivery_at,
         t.last_delivery_at
  FROM (${SEGMENTS_WITH_SYNCS}) f
  LEFT JOIN connections cn ON cn.id_token = f.tenant
  LEFT JOIN sync_tasks t
    ON t.tenant = f.tenant AND t.segment_id = f.segment_id AND t.task_id = f.newest_task_id
  WHERE (:staleOnly = 0 OR ${IS_STALE})
  ORDER BY CASE WHEN f.last_completed_at IS NULL THEN 0 ELSE 1 END, f.last_completed_at,
           f.tenant, f.segment_id
  LIMIT :limit`;

/** How many segments count, and how many of them are stale (the same selection and rule). */
export const FRESHNESS_COUNT_SQL = `
  SELECT count(*) AS segments, coalesce(sum(CASE WHEN ${IS_STALE} THEN 1 ELSE 0 END), 0) AS stale
  FROM (${SEGMENTS_WITH_SYNCS}) f`;

/** The page numbers received for one task, in order (to say which are missing). */
export const RECEIVED_PAGES_SQL = `
  SELECT page_number FROM sync_pages
  WHERE tenant = :tenant AND segment_id = :segmentId AND task_id = :taskId AND page_number >= 1
  ORDER BY page_number LIMIT :limit`;

export type FreshnessRow = {
  tenant: string;
  segment_id: number;
  last_completed_at: number | null;
  env_id: string | null;
  task_id: string | null;
  total_pages: number | null;
  pages_received: number | null;
  task_completed_at: number | null;
  first_delivery_at: number | null;
  last_delivery_at: number | null;
};

export type FreshnessParams = {
  tenant: string | null;
  segmentId: number | null;
  cutoff: number;
  staleOnly: 0 | 1;
  limit: number;
};

/** The parameters of FRESHNESS_LIST_SQL / FRESHNESS_COUNT_SQL for a query. */
export function freshnessParams(
  query: Omit<FreshnessQuery, 'limit'> & { limit?: number },
): FreshnessParams & { nowMs: number; staleAfterMs: number } {
  const nowMs = (query.now ?? new Date()).getTime();
  const staleAfterMs = query.staleAfterSeconds * 1000;
  return {
    tenant: query.tenant ?? null,
    segmentId: query.segmentId ?? null,
    cutoff: nowMs - staleAfterMs,
    staleOnly: query.staleOnly ? 1 : 0,
    limit: query.limit ?? 0,
    nowMs,
    staleAfterMs,
  };
}

/** Whether a row's newest task is unfinished (its received pages are then worth reading). */
export function hasIncompleteTask(row: FreshnessRow): boolean {
  return row.task_id !== null && row.task_completed_at === null;
}

export function receivedPagesParams(row: FreshnessRow) {
  return {
    tenant: row.tenant,
    segmentId: row.segment_id,
    taskId: row.task_id as string,
    limit: MAX_PAGES_READ,
  };
}

/** The lowest page numbers of 1..total not in `received` (sorted), at most `max`. */
export function missingPages(total: number, received: number[], max = MAX_MISSING_PAGES): number[] {
  const missing: number[] = [];
  let next = 1;
  for (const page of received) {
    if (page > total || missing.length >= max) break;
    while (next < page && missing.length < max) missing.push(next++);
    next = Math.max(next, page + 1);
  }
  while (next <= total && missing.length < max) missing.push(next++);
  return missing;
}

export function toFreshnessRecord(
  row: FreshnessRow,
  params: { nowMs: number; cutoff: number },
  received: number[] = [],
): SegmentFreshnessRecord {
  const completed = row.last_completed_at;
  const total = row.total_pages ?? 0;
  return {
    tenant: row.tenant,
    segmentId: row.segment_id,
    envId: row.env_id,
    lastSyncCompletedAt: completed,
    ageSeconds:
      completed === null ? null : Math.max(0, Math.floor((params.nowMs - completed) / 1000)),
    stale: completed === null || completed < params.cutoff,
    incompleteTask: hasIncompleteTask(row)
      ? {
          taskId: row.task_id as string,
          totalPages: total,
          pagesReceived: row.pages_received ?? 0,
          firstDeliveryAt: row.first_delivery_at as number,
          lastDeliveryAt: row.last_delivery_at as number,
          missingPages: missingPages(total, received),
          missingCount: Math.max(0, total - (row.pages_received ?? 0)),
        }
      : null,
  };
}

export function toFreshnessSummary(
  counts: { segments: number; stale: number },
  oldest: SegmentFreshnessRecord[],
): SegmentFreshnessSummary {
  return {
    segments: Number(counts.segments),
    stale: Number(counts.stale),
    // The Heap env_id, never the id_token (a metrics label is no place for it); `own` for the
    // own environment, a short hash for a tenant without a connection.
    oldest: oldest.map((record) => ({
      environmentId: record.envId ?? tenantLabel(record.tenant),
      segmentId: String(record.segmentId),
      ageSeconds: record.ageSeconds,
    })),
  };
}

/** `:name` → `@name` for better-sqlite3. */
export function sqliteNamed(sql: string): string {
  return sql.replace(/:([a-zA-Z]+)/g, '@$1');
}

/** `:name` → `$n` for node-postgres, with the values in that order. */
export function postgresPositional(
  sql: string,
  params: Record<string, unknown>,
): { text: string; values: unknown[] } {
  const names: string[] = [];
  const text = sql.replace(/:([a-zA-Z]+)/g, (_match, name: string) => {
    let index = names.indexOf(name);
    if (index < 0) index = names.push(name) - 1;
    return `$${index + 1}`;
  });
  return { text, values: names.map((name) => params[name]) };
}
