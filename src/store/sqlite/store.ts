// The embedded Store: one SQLite file (WAL, synchronous=FULL), set-based SQL, one transaction a delivery.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../errors';
import { failedCheck } from '../health';
import {
  toAdminSessionRecord,
  toChangeRecord,
  toConnectionRecord,
  toDeliveryRecord,
  toRefusalCount,
  toSegmentRecord,
  toSyncTaskRecord,
  type AdminSessionRow,
  type ChangeRow,
  type ConnectionRow,
  type DeliveryRow,
  type RefusalCountRow,
  type SyncTaskRow,
} from '../rows';
import { RefusalBuffer } from '../refusalBuffer';
import {
  applyDeliveryPlan,
  keysetPage,
  rejectedRow,
  runNow,
  type DeliveryStatements,
} from '../delivery';
import { auditCountValues, auditEntryValues, toAuditRecord, type AuditRow } from '../audit';
import {
  FRESHNESS_COUNT_SQL,
  FRESHNESS_LIST_SQL,
  RECEIVED_PAGES_SQL,
  freshnessParams,
  hasIncompleteTask,
  receivedPagesParams,
  sqliteNamed,
  toFreshnessRecord,
  toFreshnessSummary,
  type FreshnessRow,
} from '../freshness';
import { SqliteGroupCommit } from './groupCommit';
import { migrateSqlite } from './migrations';
import { decodeUserList, encodeUserList } from './userLists';
import {
  OWN_ENVIRONMENT,
  type AcceptedDelivery,
  type AdminSessionRecord,
  type ApplyOutcome,
  type AuditCount,
  type AuditEntry,
  type AuditQuery,
  type AuditRecord,
  type FreshnessQuery,
  type SegmentFreshnessRecord,
  type SegmentFreshnessSummary,
  type HealthCheck,
  type ChangeRecord,
  type ConnectionInput,
  type ConnectionRecord,
  type DeliveryQuery,
  type DeliveryRecord,
  type DeliveryStat,
  type Page,
  type Refusal,
  type RefusalCount,
  type RefusalCountQuery,
  type RejectedDelivery,
  type SealedAccessToken,
  type RetentionTarget,
  type SegmentRecord,
  type SizePoint,
  type UserSegment,
  type Store,
  type StoreInstrumentation,
  type SyncPage,
  type SyncTaskRecord,
} from '../types';

export type SqliteStoreOptions = {
  file: string;
  busyTimeoutMs?: number;
  /**
   * A reader beside the writer: opens an existing store read-only, without migrating it. Only
   * the query methods work; every write fails.
   */
  readOnly?: boolean;
  /**
   * PRAGMA mmap_size for this connection: reads then come straight from the OS page cache
   * instead of a read() call and a copy per page (default: SQLite's, no mapping).
   */
  mmapBytes?: number;
  /** How often counted refusals are written (default: every minute). */
  refusalFlushMs?: number;
};

/**
 * One bounded batch of the change feed's oldest entries: it reads at most `limit` rows from the
 * oldest, deletes them up to (not including) the first one at or after the cutoff, and never the
 * newest entry. Deleting a prefix in seq order keeps "everything below the oldest seq is gone"
 * true, which the admin API's 410 changes_expired relies on.
 */
const PRUNE_CHANGES_SQLITE = `
WITH oldest AS (SELECT seq, at FROM changes ORDER BY seq LIMIT @limit),
     stop AS (SELECT min(seq) AS seq FROM oldest WHERE at >= @cutoff)
DELETE FROM changes
WHERE seq IN (SELECT seq FROM oldest WHERE seq < coalesce((SELECT seq FROM stop), 9007199254740991))
  AND seq < (SELECT max(seq) FROM changes)`;

/**
 * Member paging walks the tenant's dictionary when the segment holds at least 1/DENSE_SCAN of the
 * tenant's users (a page then reads at most about DENSE_SCAN × limit dictionary entries).
 */
const DENSE_SCAN = 16;

// SQLite result codes that mean "storage is unavailable right now", not "this request is bad".
const UNAVAILABLE_CODES =
  /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CANTOPEN|READONLY|PROTOCOL|NOTADB|CORRUPT)/;

type SqliteSegmentRow = {
  sid: number;
  tenant: string;
  segment_id: number;
  name: string | null;
  customer_config: string | null;
  member_count: number;
  created_at: number;
  updated_at: number;
  last_sync_at: number | null;
  last_drain_at: number | null;
};

/**
 * The database holds memberships and sealed tokens: only its owner may read it. The file is
 * created 0600 before SQLite opens it (a worker thread cannot change the umask), and an existing
 * one is tightened; SQLite gives the -wal and -shm files the database file's mode.
 */
function createPrivateFile(file: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
  }
}

/**
 * User → segments (the toolkit's hot path and the admin lookup), positional (tenant, user id).
 * Exported so the bench's in-process floor (bench/lookupFloor.ts) runs exactly this statement.
 */
export const SEGMENTS_OF_USER_SQL = `SELECT s.segment_id AS segmentId, s.name AS name, m.added_at AS addedAt
  FROM tenants t CROSS JOIN users u CROSS JOIN members m CROSS JOIN segments s
  WHERE t.tenant = ? AND u.tk = t.tk AND u.user_id = ? AND m.uk = u.uk
    AND s.sid = m.sid AND s.tenant = t.tenant
  ORDER BY s.segment_id`;

/**
 * A segment's size after each change since a time, (tenant, segment id, since, limit). Migration
 * 008's index covers it, so it never reads the changes' rows (their user lists); exported for the
 * test that holds it to that.
 */
export const SIZE_HISTORY_SQL = `SELECT seq, at, member_count FROM changes
  WHERE tenant = ? AND segment_id = ? AND at >= ? ORDER BY seq LIMIT ?`;

/** Every statement the store runs but the retention deletes, prepared once. */
function prepareStatements(db: Database.Database) {
  return {
    acceptSignature: db.prepare(
      'INSERT OR IGNORE INTO accepted_signatures (signature_key, received_at) VALUES (?, ?)',
    ),
    claimPage: db.prepare(
      `INSERT OR IGNORE INTO sync_pages (tenant, segment_id, task_id, page_number, body_sha256, received_at)
       VALUES (?, ?, ?, ?, ?, ?)`,
    ),
    pageBodySha: db.prepare(
      `SELECT body_sha256 FROM sync_pages
       WHERE tenant = ? AND segment_id = ? AND task_id = ? AND page_number = ?`,
    ),
    upsertSegment: db.prepare(
      `INSERT INTO segments (tenant, segment_id, name, customer_config, created_at, updated_at)
       VALUES (@tenant, @segmentId, @name, @customerConfig, @now, @now)
       ON CONFLICT (tenant, segment_id) DO UPDATE SET
         name = coalesce(excluded.name, segments.name),
         customer_config = coalesce(excluded.customer_config, segments.customer_config),
         updated_at = excluded.updated_at
       RETURNING sid, member_count`,
    ),
    segment: db.prepare('SELECT * FROM segments WHERE tenant = ? AND segment_id = ?'),
    // The user dictionary (migration 005): a tenant's key, then its users' integer keys.
    tenantKey: db.prepare('SELECT tk, users FROM tenants WHERE tenant = ?'),
    insertTenant: db.prepare('INSERT INTO tenants (tenant) VALUES (?) RETURNING tk'),
    userKeys: db.prepare(
      // CROSS JOIN: each id probes users_by_id; left to itself the planner walked the tenant's
      // whole dictionary and matched every entry against the list.
      `SELECT j.value AS user_id, u.uk FROM json_each(?) j
       CROSS JOIN users u ON u.tk = ? AND u.user_id = j.value`,
    ),
    // No RETURNING: the new users' keys are read back by addMembers' join, not as 100,000 rows.
    // OR IGNORE, not ON CONFLICT DO NOTHING: a multi-row INSERT whose NOT NULL constraints could
    // abort it opens a statement journal, and SQLite then copies every page it modifies (a
    // temporary file past 64 KiB): on 2,000-user pages that doubled the statement's cost. The
    // values are never NULL (our tenant key, the page's string ids), so IGNORE only skips the
    // users already in the dictionary, as DO NOTHING did.
    insertUsers: db.prepare(
      'INSERT OR IGNORE INTO users (tk, user_id) SELECT ?, value FROM json_each(?)',
    ),
    // A user whose last membership went leaves the dictionary in the same transaction, so it
    // never holds anyone who is in no segment (a returning user gets a new, appended key).
    dropOrphanUsers: db.prepare(
      `DELETE FROM users WHERE uk IN (SELECT value FROM json_each(?))
       AND NOT EXISTS (SELECT 1 FROM members m WHERE m.uk = users.uk)`,
    ),
    countUsers: db.prepare('UPDATE tenants SET users = users + ? WHERE tk = ?'),
    removeMembers: db.prepare(
      `DELETE FROM members WHERE sid = ? AND uk IN (SELECT value FROM json_each(?))
       RETURNING uk`,
    ),
    // The page's ids joined to the dictionary (every one is in it by then), in the page's order;
    // plucked: the new members' keys come back as bare numbers, not one object a row. OR IGNORE
    // for the reason given at insertUsers (no value is ever NULL; existing members are skipped).
    addMembers: db
      .prepare(
        `INSERT OR IGNORE INTO members (sid, uk, added_at)
         SELECT ?, u.uk, ? FROM json_each(?) j CROSS JOIN users u ON u.tk = ? AND u.user_id = j.value
         RETURNING uk`,
      )
      .pluck(),
    drainMembers: db.prepare('DELETE FROM members WHERE sid = ? RETURNING uk'),
    afterSync: db.prepare(
      `UPDATE segments SET member_count = member_count + ?, last_sync_at = ?, updated_at = ?
       WHERE sid = ? RETURNING member_count`,
    ),
    afterDrain: db.prepare(
      'UPDATE segments SET member_count = 0, last_drain_at = ?, updated_at = ? WHERE sid = ?',
    ),
    upsertTask: db.prepare(
      `INSERT INTO sync_tasks (tenant, segment_id, task_id, total_pages, pages_received,
                               first_delivery_at, last_delivery_at, completed_at)
       VALUES (@tenant, @segmentId, @taskId, @totalPages, 1, @now, @now,
               CASE WHEN @totalPages <= 1 THEN @now END)
       ON CONFLICT (tenant, segment_id, task_id) DO UPDATE SET
         total_pages = excluded.total_pages,
         pages_received = sync_tasks.pages_received + 1,
         last_delivery_at = excluded.last_delivery_at,
         completed_at = coalesce(sync_tasks.completed_at,
           CASE WHEN sync_tasks.pages_received + 1 >= excluded.total_pages THEN excluded.last_delivery_at END)
       RETURNING completed_at`,
    ),
    insertChange: db.prepare(
      `INSERT INTO changes (at, tenant, segment_id, kind, task_id, page_number, added, removed,
                            removed_count, member_count)
       VALUES (@at, @tenant, @segmentId, @kind, @taskId, @pageNumber, @added, @removed,
               @removedCount, @memberCount)`,
    ),
    insertDelivery: db.prepare(
      `INSERT INTO deliveries (received_at, path, action_type, tenant, segment_id, task_id,
                               page_number, status, http_status, reason, body_sha256, added, removed,
                               linked)
       VALUES (@receivedAt, @path, @actionType, @tenant, @segmentId, @taskId, @pageNumber,
               @status, @httpStatus, @reason, @bodySha256, @added, @removed, @linked)`,
    ),
    activeConnection: db.prepare(
      `SELECT 1 FROM connections WHERE id_token = ? AND access_token_sealed IS NOT NULL`,
    ),
    upsertConnection: db.prepare(
      `INSERT INTO connections (id_token, env_id, partner_app_id, authorized_by, authorized_scope,
                                authorized_at_utc, access_token_sealed, connected_at, updated_at)
       VALUES (@idToken, @envId, @partnerAppId, @authorizedBy, @authorizedScope,
               @authorizedAtUtc, @accessTokenSealed, @at, @at)
       ON CONFLICT (id_token) DO UPDATE SET
         env_id = excluded.env_id, partner_app_id = excluded.partner_app_id,
         authorized_by = excluded.authorized_by, authorized_scope = excluded.authorized_scope,
         authorized_at_utc = excluded.authorized_at_utc,
         access_token_sealed = excluded.access_token_sealed,
         updated_at = excluded.updated_at, disconnected_at = NULL
       RETURNING connected_at = updated_at AS created`,
    ),
    connection: db.prepare('SELECT * FROM connections WHERE id_token = ?'),
    connections: db.prepare('SELECT * FROM connections ORDER BY connected_at, id_token'),
    sealedTokens: db.prepare(
      `SELECT id_token AS idToken, access_token_sealed AS sealed FROM connections
       WHERE access_token_sealed IS NOT NULL AND id_token > ? ORDER BY id_token LIMIT ?`,
    ),
    replaceSealedToken: db.prepare(
      `UPDATE connections SET access_token_sealed = ?
       WHERE id_token = ? AND access_token_sealed = ?`,
    ),
    disconnect: db.prepare(
      `UPDATE connections SET access_token_sealed = NULL, disconnected_at = ?, updated_at = ?
       WHERE id_token = ? AND disconnected_at IS NULL`,
    ),
    saveState: db.prepare('INSERT INTO oauth_states (state_hash, expires_at) VALUES (?, ?)'),
    // The count is an index range (oauth_states_by_expiry) of at most maxPending entries.
    saveStateCapped: db.prepare(
      `INSERT INTO oauth_states (state_hash, expires_at) SELECT @hash, @expiresAt
       WHERE (SELECT count(*) FROM oauth_states WHERE expires_at > @now) < @maxPending`,
    ),
    addRefusalCount: db.prepare(
      `INSERT INTO refusal_counts (minute, reason, http_status, count)
       VALUES (@minute, @reason, @httpStatus, @count)
       ON CONFLICT (minute, reason, http_status) DO UPDATE SET count = count + excluded.count`,
    ),
    refusalCounts: db.prepare(
      `SELECT minute, reason, http_status, count FROM refusal_counts
       WHERE minute IN (
         SELECT DISTINCT minute FROM refusal_counts
         WHERE (@before IS NULL OR minute < @before) AND (@since IS NULL OR minute >= @since)
         ORDER BY minute DESC LIMIT @limit)
       ORDER BY minute DESC, reason, http_status`,
    ),
    oldestChange: db.prepare('SELECT min(seq) AS seq FROM changes'),
    consumeState: db.prepare(
      'DELETE FROM oauth_states WHERE state_hash = ? AND expires_at > ? RETURNING 1',
    ),
    createAdminSession: db.prepare(
      `INSERT INTO admin_sessions (id_hash, created_at, last_seen_at, expires_at)
       VALUES (?, ?, ?, ?)`,
    ),
    pruneAdminSessions: db.prepare(
      'DELETE FROM admin_sessions WHERE expires_at <= ? OR revoked_at IS NOT NULL',
    ),
    adminSession: db.prepare(
      `SELECT created_at, last_seen_at, expires_at, revoked_at FROM admin_sessions
       WHERE id_hash = ?`,
    ),
    touchAdminSession: db.prepare(
      'UPDATE admin_sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?',
    ),
    revokeAdminSession: db.prepare(
      `UPDATE admin_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL
       AND expires_at > ?`,
    ),
    // Member pages in user-id order, two ways. Dense (the segment holds a good share of its
    // tenant's users): walk the tenant's dictionary in user-id order and probe each user's
    // membership, stopping at the page's end. Sparse: the segment's members, their ids, sorted.
    membersDense: db.prepare(
      `SELECT u.user_id FROM users u CROSS JOIN members m ON m.sid = @sid AND m.uk = u.uk
       WHERE u.tk = @tk AND u.user_id > @after ORDER BY u.user_id LIMIT @limit`,
    ),
    // A prefix is a key range: [prefix, prefix || U+10FFFF), so the dictionary's index serves it.
    // One lower bound, max(after, prefix) (the cursor itself excluded): with two (> after and
    // >= prefix) the planner took the cursor's and walked the tenant's ids from there, 9.5 ms
    // against 0.32 ms a 100-id page on the grown store.
    membersDenseWithPrefix: db.prepare(
      `SELECT u.user_id FROM users u CROSS JOIN members m ON m.sid = @sid AND m.uk = u.uk
       WHERE u.tk = @tk AND u.user_id >= max(@after, @prefix) AND u.user_id <> @after
         AND u.user_id < @prefix || char(1114111)
       ORDER BY u.user_id LIMIT @limit`,
    ),
    membersSparse: db.prepare(
      `SELECT u.user_id FROM members m CROSS JOIN users u ON u.uk = m.uk
       WHERE m.sid = @sid AND u.user_id > @after ORDER BY u.user_id LIMIT @limit`,
    ),
    membersSparseWithPrefix: db.prepare(
      `SELECT u.user_id FROM members m CROSS JOIN users u ON u.uk = m.uk
       WHERE m.sid = @sid AND u.user_id > @after AND u.user_id >= @prefix
         AND u.user_id < @prefix || char(1114111)
       ORDER BY u.user_id LIMIT @limit`,
    ),
    segments: db.prepare('SELECT * FROM segments ORDER BY tenant, segment_id'),
    segmentsOfTenant: db.prepare('SELECT * FROM segments WHERE tenant = ? ORDER BY segment_id'),
    // CROSS JOIN fixes the join order: the tenant, the user's key, the user's few memberships
    // (one key range of members, added_at included: migration 007), then their segments. Left to
    // itself the planner could probe the user in every segment of the tenant. Positional
    // parameters and columns named as UserSegment's fields: the rows are the answer as they are.
    segmentsOfUser: db.prepare(SEGMENTS_OF_USER_SQL),
    syncTasks: db.prepare(
      `SELECT * FROM sync_tasks WHERE tenant = ? AND segment_id = ?
       ORDER BY last_delivery_at DESC, task_id LIMIT ?`,
    ),
    changesFiltered: db.prepare(
      `SELECT * FROM changes
       WHERE seq > @after AND (@tenant IS NULL OR tenant = @tenant)
         AND (@segmentId IS NULL OR segment_id = @segmentId)
       ORDER BY seq LIMIT @limit`,
    ),
    sizeHistory: db.prepare(SIZE_HISTORY_SQL),
    deliveriesFiltered: db.prepare(
      `SELECT * FROM deliveries
       WHERE (@before IS NULL OR id < @before) AND (@status IS NULL OR status = @status)
         AND (@reason IS NULL OR reason = @reason) AND (@tenant IS NULL OR tenant = @tenant)
         AND (@since IS NULL OR received_at >= @since) AND (@until IS NULL OR received_at < @until)
       ORDER BY id DESC LIMIT @limit`,
    ),
    // Whole minutes after the one `since` falls in come from the per-minute counts (migration
    // 006); that first minute is counted row by row from `since` on, so the figure stays exact.
    deliveryStats: db.prepare(
      `SELECT status, reason, sum(count) AS count FROM (
         SELECT status, nullif(reason, '') AS reason, count FROM delivery_counts
         WHERE minute >= @since - @since % 60000 + 60000
         UNION ALL
         SELECT status, reason, count(*) AS count FROM deliveries
         WHERE received_at >= @since AND received_at < @since - @since % 60000 + 60000
         GROUP BY status, reason
         UNION ALL
         SELECT 'rejected', reason, sum(count) FROM refusal_counts WHERE minute > @since - 60000
         GROUP BY reason)
       GROUP BY status, reason ORDER BY status, reason`,
    ),
    syncTask: db.prepare(
      'SELECT * FROM sync_tasks WHERE tenant = ? AND segment_id = ? AND task_id = ?',
    ),
    freshness: db.prepare(sqliteNamed(FRESHNESS_LIST_SQL)),
    freshnessCount: db.prepare(sqliteNamed(FRESHNESS_COUNT_SQL)),
    receivedPages: db.prepare(sqliteNamed(RECEIVED_PAGES_SQL)),
    recordAudit: db.prepare(
      `INSERT INTO audit_log (at, event, client, tenant, detail)
       VALUES (@at, @event, @client, @tenant, @detail)`,
    ),
    addAuditCount: db.prepare(
      `INSERT INTO audit_log (at, event, detail, count, minute)
       VALUES (@minute, @event, @detail, @count, @minute)
       ON CONFLICT (event, minute, detail) WHERE minute IS NOT NULL
       DO UPDATE SET count = count + excluded.count`,
    ),
    listAudit: db.prepare(
      `SELECT * FROM audit_log
       WHERE (@before IS NULL OR id < @before) AND (@event IS NULL OR event = @event)
       ORDER BY id DESC LIMIT @limit`,
    ),
    // Primary-key probes: the segment, the tenant's key, the user's key, the membership.
    isMember: db.prepare(
      `SELECT 1 FROM segments s CROSS JOIN tenants t CROSS JOIN users u CROSS JOIN members m
       WHERE s.tenant = @tenant AND s.segment_id = @segmentId AND t.tenant = s.tenant
         AND u.tk = t.tk AND u.user_id = @userId AND m.sid = s.sid AND m.uk = u.uk`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The writer checkpoints the WAL into the database file when a commit leaves it at least this many
 * pages long (SQLite's default is 1,000, 4 MB). A 4-page commit of 2,000-user pages writes about
 * 1,300 pages to the WAL, so at the default every such commit also ran a checkpoint, copying each
 * of its pages into the file again and syncing it, on the writer's thread: 16-19 ms of a 47-56 ms
 * commit cycle in the large benchmark. At 4,000 a checkpoint comes every third commit or so and
 * writes a page changed by several commits once: the COMMIT took 11.5-12.7 ms and the server
 * applied 76 pages/s instead of 67-69 (three runs each, alternated; 10,000 gained nothing more).
 * The WAL file then stays up to about 16 MB (plus the pages of the commit that crossed the mark);
 * durability is unchanged: a commit is in the WAL, synced, before it is answered.
 */
export const WAL_AUTOCHECKPOINT_PAGES = 4000;

export class SqliteStore implements Store, StoreInstrumentation {
  private readonly db: Database.Database;
  private readonly statements: Statements;
  /** Deliveries and the refusals log share commits (see SqliteGroupCommit). */
  private readonly writes: SqliteGroupCommit;
  private readonly refusals: RefusalBuffer;
  /** One bounded DELETE per retention target, each taking @cutoff and @limit. */
  private readonly prune;
  /** The statements the shared delivery algorithm (../delivery) runs. */
  private readonly delivery: DeliveryStatements;
  private readonly commitListeners = new Set<(batchSize: number) => void>();

  constructor(options: SqliteStoreOptions) {
    const timeout = options.busyTimeoutMs ?? 5000;
    try {
      if (options.readOnly) {
        this.db = new Database(options.file, { timeout, readonly: true, fileMustExist: true });
      } else {
        createPrivateFile(options.file);
        this.db = new Database(options.file, { timeout });
        this.db.pragma('journal_mode = WAL');
        // FULL: a commit is on disk before we answer 200, so even power loss keeps it.
        this.db.pragma('synchronous = FULL');
        this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
        migrateSqlite(this.db);
      }
      if (options.mmapBytes !== undefined) {
        this.db.pragma(`mmap_size = ${Math.max(0, Math.floor(options.mmapBytes))}`);
      }
    } catch (error) {
      throw asStoreError(error);
    }
    const db = this.db;
    this.statements = prepareStatements(db);
    this.prune = {
      accepted_signatures: db.prepare(
        `DELETE FROM accepted_signatures WHERE signature_key IN (
           SELECT signature_key FROM accepted_signatures WHERE received_at < @cutoff LIMIT @limit)`,
      ),
      deliveries: db.prepare(
        `DELETE FROM deliveries WHERE id IN (
           SELECT id FROM deliveries WHERE received_at < @cutoff ORDER BY received_at LIMIT @limit)`,
      ),
      refusal_counts: db.prepare(
        `DELETE FROM refusal_counts WHERE (minute, reason, http_status) IN (
           SELECT minute, reason, http_status FROM refusal_counts WHERE minute < @cutoff LIMIT @limit)`,
      ),
      // Pages go by their task's last delivery, so an incomplete task that is still receiving
      // pages keeps all of them; the task row goes once its pages are gone (next target).
      sync_pages: db.prepare(
        `DELETE FROM sync_pages WHERE (tenant, segment_id, task_id, page_number) IN (
           SELECT p.tenant, p.segment_id, p.task_id, p.page_number
           FROM sync_tasks t JOIN sync_pages p
             ON p.tenant = t.tenant AND p.segment_id = t.segment_id AND p.task_id = t.task_id
           WHERE t.last_delivery_at < @cutoff LIMIT @limit)`,
      ),
      sync_tasks: db.prepare(
        `DELETE FROM sync_tasks WHERE (tenant, segment_id, task_id) IN (
           SELECT t.tenant, t.segment_id, t.task_id FROM sync_tasks t
           WHERE t.last_delivery_at < @cutoff AND NOT EXISTS (
             SELECT 1 FROM sync_pages p
             WHERE p.tenant = t.tenant AND p.segment_id = t.segment_id AND p.task_id = t.task_id)
           LIMIT @limit)`,
      ),
      changes: db.prepare(PRUNE_CHANGES_SQLITE),
      oauth_states: db.prepare(
        `DELETE FROM oauth_states WHERE state_hash IN (
           SELECT state_hash FROM oauth_states WHERE expires_at <= @cutoff LIMIT @limit)`,
      ),
      audit_log: db.prepare(
        `DELETE FROM audit_log WHERE id IN (
           SELECT id FROM audit_log WHERE at < @cutoff ORDER BY at LIMIT @limit)`,
      ),
    } satisfies Record<RetentionTarget, Database.Statement>;
    this.delivery = sqliteDeliveryStatements(this.statements);
    this.writes = new SqliteGroupCommit(db, asStoreError, (batchSize) => {
      for (const listener of this.commitListeners) listener(batchSize);
    });
    this.refusals = new RefusalBuffer(
      (counts) => this.addRefusalCounts(counts),
      options.refusalFlushMs,
    );
  }

  /** StoreInstrumentation: each group commit's size, for the metrics. */
  observeCommits(listener: (batchSize: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /** See SqliteGroupCommit.setLateArrivals (the worker thread's own messages). */
  pullLateWrites(pull: () => void): void {
    this.writes.setLateArrivals(pull);
  }

  applyDelivery(delivery: AcceptedDelivery): Promise<ApplyOutcome> {
    return this.writes.run(() => runNow(applyDeliveryPlan(this.delivery, delivery)));
  }

  recordRejected(rejection: RejectedDelivery): Promise<void> {
    return this.writes.run(() => {
      void this.delivery.insertDelivery(rejectedRow(rejection));
    });
  }

  countRefusal(refusal: Refusal): void {
    this.refusals.count(refusal);
  }

  flushRefusalCounts(): Promise<void> {
    return this.refusals.flush();
  }

  addRefusalCounts(counts: RefusalCount[]): Promise<void> {
    return this.writes.run(() => {
      for (const count of counts) this.statements.addRefusalCount.run(count);
    });
  }

  listRefusalCounts(query: RefusalCountQuery): Promise<RefusalCount[]> {
    return this.run(() =>
      (
        this.statements.refusalCounts.all({
          limit: query.limit,
          before: query.before ?? null,
          since: query.since ?? null,
        }) as RefusalCountRow[]
      ).map(toRefusalCount),
    );
  }

  pruneBatch(target: RetentionTarget, cutoff: number, limit: number): Promise<number> {
    return this.writes.run(() => this.prune[target].run({ cutoff, limit }).changes);
  }

  oldestChangeSeq(): Promise<number | null> {
    return this.run(() => (this.statements.oldestChange.get() as { seq: number | null }).seq);
  }

  listSegmentFreshness(query: FreshnessQuery): Promise<SegmentFreshnessRecord[]> {
    return this.run(() => this.freshnessRecords(query));
  }

  segmentFreshness(opts: {
    staleAfterSeconds: number;
    top: number;
    now?: Date;
  }): Promise<SegmentFreshnessSummary> {
    return this.run(() => {
      const { tenant, segmentId, cutoff } = freshnessParams(opts);
      const counts = this.statements.freshnessCount.get({ tenant, segmentId, cutoff }) as {
        segments: number;
        stale: number;
      };
      const oldest = opts.top > 0 ? this.freshnessRecords({ ...opts, limit: opts.top }, false) : [];
      return toFreshnessSummary(counts, oldest);
    });
  }

  /** The freshness rows, and for each unfinished newest task the pages it lacks (`pages`). */
  private freshnessRecords(query: FreshnessQuery, pages = true): SegmentFreshnessRecord[] {
    const params = freshnessParams(query);
    const { tenant, segmentId, cutoff, staleOnly, limit } = params;
    const rows = this.statements.freshness.all({
      tenant,
      segmentId,
      cutoff,
      staleOnly,
      limit,
    }) as FreshnessRow[];
    return rows.map((row) =>
      toFreshnessRecord(
        row,
        params,
        pages && hasIncompleteTask(row)
          ? (
              this.statements.receivedPages.all(receivedPagesParams(row)) as {
                page_number: number;
              }[]
            ).map((page) => page.page_number)
          : [],
      ),
    );
  }

  recordAudit(entry: AuditEntry): Promise<void> {
    return this.writes.run(() => {
      this.statements.recordAudit.run(auditEntryValues(entry));
    });
  }

  addAuditCounts(counts: AuditCount[]): Promise<void> {
    return this.writes.run(() => {
      for (const count of counts) this.statements.addAuditCount.run(auditCountValues(count));
    });
  }

  listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    return this.run(() =>
      (
        this.statements.listAudit.all({
          limit: query.limit,
          before: query.before ?? null,
          event: query.event ?? null,
        }) as AuditRow[]
      ).map(toAuditRecord),
    );
  }

  getSegment(tenant: string, segmentId: number): Promise<SegmentRecord | undefined> {
    return this.run(() => {
      const row = this.statements.segment.get(tenant, segmentId) as SqliteSegmentRow | undefined;
      return row && fromSqliteSegment(row);
    });
  }

  listSegments(options: { tenant?: string }): Promise<SegmentRecord[]> {
    return this.run(() => {
      const rows = (
        options.tenant === undefined
          ? this.statements.segments.all()
          : this.statements.segmentsOfTenant.all(options.tenant)
      ) as SqliteSegmentRow[];
      return rows.map(fromSqliteSegment);
    });
  }

  listMembers(
    tenant: string,
    segmentId: number,
    options: { after?: string; limit: number; prefix?: string },
  ): Promise<Page<string>> {
    return this.run(() => {
      const segment = this.statements.segment.get(tenant, segmentId) as
        SqliteSegmentRow | undefined;
      if (!segment) return { items: [], nextCursor: null };
      const after = options.after ?? '';
      const tenantRow = this.statements.tenantKey.get(tenant) as
        { tk: number; users: number } | undefined;
      if (!tenantRow) return { items: [], nextCursor: null };
      // Dense when a page of `limit` members takes at most DENSE_SCAN times as many dictionary
      // entries to walk; otherwise sorting the segment's own members is the cheaper plan.
      const dense = segment.member_count * DENSE_SCAN >= tenantRow.users;
      const params = { sid: segment.sid, tk: tenantRow.tk, after, limit: options.limit };
      const s = this.statements;
      const rows = (
        options.prefix
          ? (dense ? s.membersDenseWithPrefix : s.membersSparseWithPrefix).all({
              ...params,
              prefix: options.prefix,
            })
          : (dense ? s.membersDense : s.membersSparse).all(params)
      ) as { user_id: string }[];
      return keysetPage(
        rows.map((row) => row.user_id),
        options.limit,
      );
    });
  }

  /**
   * The toolkit's hot path (Membership.segmentsOf) and the admin lookup: one statement whose rows
   * are the answer, no closure, no second object per row.
   */
  segmentsOfUser(tenant: string, userId: string): Promise<UserSegment[]> {
    try {
      return Promise.resolve(this.statements.segmentsOfUser.all(tenant, userId) as UserSegment[]);
    } catch (error) {
      return Promise.reject(asStoreError(error));
    }
  }

  isMember(tenant: string, segmentId: number, userId: string): Promise<boolean> {
    return this.run(
      () => this.statements.isMember.get({ tenant, segmentId, userId }) !== undefined,
    );
  }

  getSyncTask(
    tenant: string,
    segmentId: number,
    taskId: string,
  ): Promise<SyncTaskRecord | undefined> {
    return this.run(() => {
      const row = this.statements.syncTask.get(tenant, segmentId, taskId) as
        SyncTaskRow | undefined;
      return row && toSyncTaskRecord(row);
    });
  }

  listSyncTasks(
    tenant: string,
    segmentId: number,
    options: { limit: number },
  ): Promise<SyncTaskRecord[]> {
    return this.run(() =>
      (this.statements.syncTasks.all(tenant, segmentId, options.limit) as SyncTaskRow[]).map(
        toSyncTaskRecord,
      ),
    );
  }

  listChanges(options: {
    after: number;
    limit: number;
    tenant?: string;
    segmentId?: number;
  }): Promise<ChangeRecord[]> {
    return this.run(() =>
      (
        this.statements.changesFiltered.all({
          after: options.after,
          limit: options.limit,
          tenant: options.tenant ?? null,
          segmentId: options.segmentId ?? null,
        }) as (Omit<ChangeRow, 'added' | 'removed'> & { added: StoredList; removed: StoredList })[]
      ).map((row) =>
        toChangeRecord({
          ...row,
          added: decodeUserList(row.added),
          removed: decodeUserList(row.removed),
        }),
      ),
    );
  }

  segmentSizeHistory(
    tenant: string,
    segmentId: number,
    options: { since?: number; limit: number },
  ): Promise<SizePoint[]> {
    return this.run(() =>
      (
        this.statements.sizeHistory.all(tenant, segmentId, options.since ?? 0, options.limit) as {
          seq: number;
          at: number;
          member_count: number;
        }[]
      ).map((row) => ({ seq: row.seq, at: row.at, memberCount: row.member_count })),
    );
  }

  listDeliveries(options: DeliveryQuery): Promise<DeliveryRecord[]> {
    return this.run(() =>
      (
        this.statements.deliveriesFiltered.all({
          limit: options.limit,
          before: options.before ?? null,
          status: options.status ?? null,
          reason: options.reason ?? null,
          tenant: options.tenant ?? null,
          since: options.since ?? null,
          until: options.until ?? null,
        }) as DeliveryRow[]
      ).map(toDeliveryRecord),
    );
  }

  deliveryStats(since: number): Promise<DeliveryStat[]> {
    return this.run(() => this.statements.deliveryStats.all({ since }) as DeliveryStat[]);
  }

  upsertConnection(connection: ConnectionInput): Promise<{ created: boolean }> {
    return this.run(() => {
      const row = this.statements.upsertConnection.get(connection) as { created: number };
      return { created: row.created === 1 };
    });
  }

  hasActiveConnection(idToken: string): Promise<boolean> {
    return this.run(() => this.statements.activeConnection.get(idToken) !== undefined);
  }

  getConnection(idToken: string): Promise<ConnectionRecord | undefined> {
    return this.run(() => {
      const row = this.statements.connection.get(idToken) as ConnectionRow | undefined;
      return row && toConnectionRecord(row);
    });
  }

  listConnections(): Promise<ConnectionRecord[]> {
    return this.run(() =>
      (this.statements.connections.all() as ConnectionRow[]).map(toConnectionRecord),
    );
  }

  getSealedAccessToken(idToken: string): Promise<string | undefined> {
    return this.run(() => {
      const row = this.statements.connection.get(idToken) as ConnectionRow | undefined;
      return row?.access_token_sealed ?? undefined;
    });
  }

  listSealedAccessTokens(options: { after?: string; limit: number }): Promise<SealedAccessToken[]> {
    return this.run(
      () =>
        this.statements.sealedTokens.all(options.after ?? '', options.limit) as SealedAccessToken[],
    );
  }

  replaceSealedAccessToken(
    idToken: string,
    expected: string,
    replacement: string,
  ): Promise<boolean> {
    return this.run(
      () => this.statements.replaceSealedToken.run(replacement, idToken, expected).changes > 0,
    );
  }

  disconnect(idToken: string, at: number): Promise<boolean> {
    return this.run(() => this.statements.disconnect.run(at, at, idToken).changes > 0);
  }

  saveOAuthState(
    stateHash: string,
    expiresAt: number,
    cap?: { now: number; maxPending: number },
  ): Promise<boolean> {
    return this.run(() =>
      cap
        ? this.statements.saveStateCapped.run({ hash: stateHash, expiresAt, ...cap }).changes > 0
        : this.statements.saveState.run(stateHash, expiresAt).changes > 0,
    );
  }

  consumeOAuthState(stateHash: string, now: number): Promise<boolean> {
    return this.run(() => this.statements.consumeState.get(stateHash, now) !== undefined);
  }

  createAdminSession(idHash: string, createdAt: number, expiresAt: number): Promise<void> {
    return this.run(() => {
      this.statements.pruneAdminSessions.run(createdAt);
      this.statements.createAdminSession.run(idHash, createdAt, createdAt, expiresAt);
    });
  }

  getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined> {
    return this.run(() => {
      const row = this.statements.adminSession.get(idHash) as AdminSessionRow | undefined;
      return row && toAdminSessionRecord(row);
    });
  }

  touchAdminSession(idHash: string, at: number): Promise<void> {
    return this.run(() => {
      this.statements.touchAdminSession.run(at, idHash, at);
    });
  }

  revokeAdminSession(idHash: string, at: number): Promise<boolean> {
    return this.run(() => this.statements.revokeAdminSession.run(at, idHash, at).changes > 0);
  }

  /**
   * `database`: a writable store takes and releases the write lock (BEGIN IMMEDIATE, ROLLBACK),
   * so a file another process holds locked fails the check as it would fail a delivery; a
   * read-only one reads the schema. SQLite's busy wait is cut to the deadline meanwhile, since it
   * blocks this thread.
   */
  async probe(deadlineMs: number): Promise<Record<string, HealthCheck>> {
    const db = this.db;
    try {
      const busyTimeout = db.pragma('busy_timeout', { simple: true }) as number;
      db.pragma(`busy_timeout = ${Math.max(0, Math.min(busyTimeout, Math.floor(deadlineMs)))}`);
      try {
        if (db.readonly) db.prepare('SELECT count(*) FROM sqlite_master').get();
        // Inside a transaction (never between two awaits here) the lock is already ours.
        else if (!db.inTransaction) db.exec('BEGIN IMMEDIATE; ROLLBACK');
      } finally {
        db.pragma(`busy_timeout = ${busyTimeout}`);
      }
      return { database: { ok: true } };
    } catch (error) {
      return { database: failedCheck(asStoreError(error)) };
    }
  }

  /**
   * Frees the page cache pages no statement is using (PRAGMA shrink_memory), for a quiet server
   * to give memory back: the cache refills from the file, or the OS page cache, on the next reads.
   */
  releaseMemory(): void {
    if (this.db.open) this.db.pragma('shrink_memory');
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    // Counted refusals are written before the file closes (a failure to must not stop closing).
    await this.refusals.close().catch(() => undefined);
    if (!this.db.open) return;
    this.writes.flush();
    this.db.close();
  }

  private run<T>(work: () => T): Promise<T> {
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(asStoreError(error));
    }
  }
}

/** A change row's user list as SQLite hands it back (see userLists.ts). */
type StoredList = string | Uint8Array;

/** customer_config is stored as JSON text. */
function fromSqliteSegment(row: SqliteSegmentRow): SegmentRecord {
  const customerConfig: unknown =
    row.customer_config === null ? null : JSON.parse(row.customer_config);
  return toSegmentRecord({ ...row, customer_config: customerConfig });
}

function asStoreError(error: unknown): unknown {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    return new StoreUnavailableError(`SQLite is unavailable (${code})`, { cause: error });
  }
  // By message, not `instanceof TypeError`: the native addon's errors come from another realm
  // under jest's module sandbox, where instanceof fails.
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && /database connection is not open/.test(message)) {
    return new StoreUnavailableError('SQLite store is closed', { cause: error });
  }
  return error;
}

/**
 * The delivery algorithm's statements over SQLite's prepared ones: user lists go in as JSON, and
 * user ids become the tenant's integer user keys (migration 005) on the way in and back.
 */
function sqliteDeliveryStatements(s: Statements): DeliveryStatements {
  const pageKey = (page: SyncPage) =>
    [page.tenant, page.segmentId, page.taskId, page.pageNumber] as const;
  /**
   * Each segment's tenant key, set by upsertSegment, which every sync and drain runs first in its
   * own transaction (so a rolled-back new tenant is never used afterwards).
   */
  const tenantOfSegment = new Map<number, number>();
  const tenantKey = (tenant: string): number => {
    const row = s.tenantKey.get(tenant) as { tk: number } | undefined;
    return row?.tk ?? (s.insertTenant.get(tenant) as { tk: number }).tk;
  };
  const tkOf = (sid: number): number => {
    const tk = tenantOfSegment.get(sid);
    if (tk === undefined) throw new Error(`segment ${sid} was not upserted in this delivery`);
    return tk;
  };
  /** The keys these ids have in the tenant's dictionary (ids not in it are left out). */
  const keysOf = (tk: number, ids: string[]): Map<string, number> => {
    const keys = new Map<string, number>();
    for (const row of s.userKeys.all(JSON.stringify(ids), tk) as {
      user_id: string;
      uk: number;
    }[]) {
      keys.set(row.user_id, row.uk);
    }
    return keys;
  };
  /** Maps returned keys back to ids, in the order the database returned them. */
  const idsOf = (rows: unknown[], byKey: Map<number, string>) =>
    (rows as { uk: number }[]).map((row) => byKey.get(row.uk)!);
  const invert = (keys: Map<string, number>) => {
    const byKey = new Map<number, string>();
    for (const [id, uk] of keys) byKey.set(uk, id);
    return byKey;
  };
  const dropOrphans = (tk: number, rows: unknown[]) => {
    if (rows.length === 0) return;
    const uks = (rows as { uk: number }[]).map((row) => row.uk);
    const dropped = s.dropOrphanUsers.run(JSON.stringify(uks)).changes;
    if (dropped > 0) s.countUsers.run(-dropped, tk);
  };
  return {
    acceptSignature: (signatureKey, at, tenant) => ({
      accepted: s.acceptSignature.run(signatureKey, at).changes > 0,
      active: tenant !== OWN_ENVIRONMENT && s.activeConnection.get(tenant) !== undefined,
    }),
    claimPage: (page, bodySha256, now) =>
      s.claimPage.run(...pageKey(page), bodySha256, now).changes > 0,
    claimedPageSha: (page) =>
      (s.pageBodySha.get(...pageKey(page)) as { body_sha256: string | null }).body_sha256,
    memberCount: (tenant, segmentId) =>
      (s.segment.get(tenant, segmentId) as SqliteSegmentRow | undefined)?.member_count,
    upsertSegment: (segment) => {
      const sid = (s.upsertSegment.get(segment) as { sid: number }).sid;
      tenantOfSegment.set(sid, tenantKey(segment.tenant));
      return sid;
    },
    removeMembers: (sid, ids) => {
      const tk = tkOf(sid);
      const keys = keysOf(tk, ids);
      if (keys.size === 0) return [];
      const rows = s.removeMembers.all(sid, JSON.stringify([...keys.values()]));
      dropOrphans(tk, rows);
      return idsOf(rows, invert(keys));
    },
    // Memory, not only time: a first sync of 100,000 users used to hold the ids three times as
    // JS strings (the page, the new users' rows, a key → id map) plus two maps and three JSON
    // copies. Now the list goes in as one JSON text used twice; when every user became a member
    // (a first sync) the added ids are the page's list itself, and only a partial add asks the
    // dictionary which keys are whose.
    addMembers: (sid, ids, now) => {
      const tk = tkOf(sid);
      const json = JSON.stringify(ids);
      const created = s.insertUsers.run(tk, json).changes;
      if (created > 0) s.countUsers.run(created, tk);
      const added = s.addMembers.all(sid, now, json, tk) as number[];
      if (added.length === ids.length) return ids;
      if (added.length === 0) return [];
      const byKey = invert(keysOf(tk, ids));
      return added.map((uk) => byKey.get(uk)!);
    },
    afterSync: (sid, delta, now) =>
      (s.afterSync.get(delta, now, now, sid) as { member_count: number }).member_count,
    countTaskPage: (page, now) =>
      (
        s.upsertTask.get({
          tenant: page.tenant,
          segmentId: page.segmentId,
          taskId: page.taskId,
          totalPages: page.totalPages,
          now,
        }) as { completed_at: number | null }
      ).completed_at !== null,
    drainMembers: (sid) => {
      const rows = s.drainMembers.all(sid);
      dropOrphans(tkOf(sid), rows);
      return rows.length;
    },
    afterDrain: (sid, now) => {
      s.afterDrain.run(now, now, sid);
    },
    insertDelivery: (row) => {
      s.insertDelivery.run({ ...row, linked: row.linked === null ? null : row.linked ? 1 : 0 });
    },
    insertChange: (change) => {
      s.insertChange.run({
        ...change,
        added: encodeUserList(change.added),
        removed: encodeUserList(change.removed),
      });
    },
  };
}
