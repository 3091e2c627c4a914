// The store contract, in parts: DeliveryStore (receiving), ConnectionStore, AdminQueries, MembershipStore, HealthProbe; Store is all of them.

/** Tenant key for deliveries without an id_token: the partner's own Heap environment. */
export const OWN_ENVIRONMENT = '';

/** Facts about the HTTP request, kept in the deliveries log. Never secrets, never user ids. */
export type RequestMeta = {
  receivedAt: number;
  path: string;
  /** sha256 hex of the raw body. */
  bodySha256: string | null;
};

export type SyncPage = {
  kind: 'sync';
  tenant: string;
  segmentId: number;
  segmentName: string | undefined;
  customerConfig: unknown;
  taskId: string;
  pageNumber: number;
  totalPages: number;
  /** Users to add; disjoint from `remove`, no repeats (the service normalises them). */
  add: string[];
  /** Users to remove; no repeats. */
  remove: string[];
};

export type SegmentDrain = {
  kind: 'drain';
  tenant: string;
  segmentId: number;
  segmentName: string | undefined;
  customerConfig: unknown;
};

/** A correctly signed action this receiver does not know: recorded, not applied. */
export type UnknownAction = {
  kind: 'unknown';
  tenant: string;
  segmentId: number | null;
};

export type AcceptedDelivery = {
  meta: RequestMeta;
  actionType: string;
  /** sha256 of the exact `ts` + `hmac` pair: a replay of the same signed request is a duplicate. */
  signatureKey: string;
  work: SyncPage | SegmentDrain | UnknownAction;
};

export type ApplyStatus = 'applied' | 'duplicate' | 'ignored';

export type ApplyOutcome = {
  status: ApplyStatus;
  segmentId: number | null;
  /** Members after this delivery (null when no segment is involved). */
  memberCount: number | null;
  /** Memberships that actually changed. */
  added: number;
  removed: number;
  /** Why a duplicate was recognised. */
  duplicateOf?: 'signature' | 'page';
  /** A page redelivered with a different body than the one applied (worth a warning). */
  contentDiffers?: boolean;
  /** For sync pages: whether every page of the task has now arrived. */
  taskComplete?: boolean;
  /** Whether the tenant is the own environment or has an active OAuth connection. */
  linked: boolean;
};

/** A request refused before it could be applied (bad signature, bad payload, too large, …). */
export type RejectedDelivery = {
  meta: RequestMeta;
  httpStatus: number;
  reason: string;
  actionType?: string;
  tenant?: string;
  segmentId?: number | null;
};

export type SegmentRecord = {
  tenant: string;
  segmentId: number;
  name: string | null;
  customerConfig: unknown;
  memberCount: number;
  createdAt: number;
  updatedAt: number;
  lastSyncAt: number | null;
  lastDrainAt: number | null;
};

export type SyncTaskRecord = {
  tenant: string;
  segmentId: number;
  taskId: string;
  totalPages: number;
  pagesReceived: number;
  complete: boolean;
  firstDeliveryAt: number;
  lastDeliveryAt: number;
  completedAt: number | null;
};

export type ChangeRecord = {
  seq: number;
  at: number;
  tenant: string;
  segmentId: number;
  kind: 'sync' | 'drain';
  taskId: string | null;
  pageNumber: number | null;
  added: string[];
  removed: string[];
  /** For a drain, how many members were removed (`removed` stays empty). */
  removedCount: number;
  memberCount: number;
};

export type DeliveryRecord = {
  id: number;
  receivedAt: number;
  path: string;
  actionType: string | null;
  tenant: string | null;
  segmentId: number | null;
  taskId: string | null;
  pageNumber: number | null;
  status: ApplyStatus | 'rejected';
  httpStatus: number;
  reason: string | null;
  bodySha256: string | null;
  added: number;
  removed: number;
  linked: boolean | null;
};

export type ConnectionInput = {
  idToken: string;
  envId: string;
  partnerAppId: string;
  authorizedBy: string;
  authorizedScope: string;
  authorizedAtUtc: string;
  /** The access token sealed by src/tokenCipher (never the plaintext). */
  accessTokenSealed: string;
  at: number;
};

export type ConnectionRecord = {
  idToken: string;
  envId: string;
  partnerAppId: string;
  authorizedBy: string;
  authorizedScope: string;
  authorizedAtUtc: string;
  connectedAt: number;
  updatedAt: number;
  disconnectedAt: number | null;
  /** Connected and holding a token: deliveries for it are linked. */
  active: boolean;
};

export type Page<T> = { items: T[]; nextCursor: string | null };

/** A stored access token, still sealed, with the connection it is bound to. */
export type SealedAccessToken = { idToken: string; sealed: string };

export type UserSegment = { segmentId: number; name: string | null; addedAt: number };

export type SizePoint = { seq: number; at: number; memberCount: number };

export type DeliveryQuery = {
  limit: number;
  /** Only deliveries with an id below this (paging newest → oldest). */
  before?: number;
  status?: DeliveryRecord['status'];
  reason?: string;
  tenant?: string;
  /** Inclusive lower and exclusive upper bound on receivedAt (unix ms). */
  since?: number;
  until?: number;
};

/** A request refused before its signature verified: counted, never stored one by one. */
export type Refusal = { reason: string; httpStatus: number; at: number };

/** Refusals of one reason and status within one minute (`minute`: unix ms at its start). */
export type RefusalCount = { minute: number; reason: string; httpStatus: number; count: number };

export type RefusalCountQuery = {
  /** Distinct minutes to return (each with all its rows), newest first. */
  limit: number;
  /** Only minutes before this one (paging newest → oldest). */
  before?: number;
  /** Only minutes starting at or after this time. */
  since?: number;
};

/** What the retention job deletes, one bounded batch at a time (src/store/retention.ts). */
export const RETENTION_TARGETS = [
  'accepted_signatures',
  'deliveries',
  'refusal_counts',
  'sync_pages',
  'sync_tasks',
  'changes',
  'oauth_states',
  'audit_log',
] as const;
export type RetentionTarget = (typeof RETENTION_TARGETS)[number];

export type DeliveryStat = {
  status: DeliveryRecord['status'];
  reason: string | null;
  count: number;
};

/** An admin dashboard session, kept by the hash of its id so a database reader cannot use it. */
export type AdminSessionRecord = {
  createdAt: number;
  /** Updated at most about once a minute (see AdminAccess), so idle time is that coarse. */
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
};

/** What the admin audit log records (src/admin/audit.ts). */
export const AUDIT_EVENTS = [
  'sign_in',
  'sign_in_failed',
  'sign_out',
  'disconnect',
  'token_key_rotation',
  'retention_run',
] as const;
export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** Small facts about an event: fixed phrases and counts, never a credential or a session id. */
export type AuditDetail = Record<string, string | number | boolean | null>;

/** One event to record. */
export type AuditEntry = {
  at: number;
  event: AuditEvent;
  /** The client address as Express derived it (TRUST_PROXY); null for the CLI and the jobs. */
  client: string | null;
  /** The connection concerned (a disconnect), as its id_token. */
  tenant: string | null;
  detail: AuditDetail | null;
};

/** Refused sign-ins of one minute and one detail, counted instead of recorded one by one. */
export type AuditCount = {
  event: AuditEvent;
  /** Unix ms at the start of the minute. */
  minute: number;
  detail: AuditDetail;
  count: number;
};

export type AuditRecord = AuditEntry & {
  id: number;
  /** 1, or how many attempts a counted row stands for. */
  count: number;
  /** Set on counted rows: the minute they count (then `at` is that minute's start). */
  minute: number | null;
};

export type AuditQuery = {
  limit: number;
  /** Only entries with an id below this (paging newest → oldest). */
  before?: number;
  event?: AuditEvent;
};

/** When a segment last completed a sync task, and the newest task if it has not completed. */
export type SegmentFreshnessRecord = {
  tenant: string;
  segmentId: number;
  /** The Heap environment id of the tenant's connection (null: own environment or none). */
  envId: string | null;
  /** completed_at of its most recent completed sync task; null when none completed (retained). */
  lastSyncCompletedAt: number | null;
  /** Seconds since then (null: never completed). */
  ageSeconds: number | null;
  /** Last completed sync older than the threshold, or none completed. */
  stale: boolean;
  /** The segment's newest sync task, when it has not completed (pages missing). */
  incompleteTask: {
    taskId: string;
    totalPages: number;
    pagesReceived: number;
    firstDeliveryAt: number;
    lastDeliveryAt: number;
    /** Page numbers (1-based) not received yet, the lowest first, at most MAX_MISSING_PAGES. */
    missingPages: number[];
    /** How many pages are missing in all (more than missingPages lists when it is capped). */
    missingCount: number;
  } | null;
};

/** How many segments are stale and which are stalest: the metrics' gauges (the admin API lists them one by one). */
export interface SegmentFreshnessSummary {
  /** Segments that have had a sync task (and were not drained since their last sync). */
  segments: number;
  /** Of those, last completed sync task older than staleAfterSeconds (or never completed). */
  stale: number;
  /**
   * The `top` stalest; ageSeconds null = never completed. environmentId is the connection's Heap
   * env_id (`own`, or a short hash without a connection), never the id_token: it becomes a label.
   */
  oldest: Array<{ environmentId: string; segmentId: string; ageSeconds: number | null }>;
}

export type FreshnessQuery = {
  staleAfterSeconds: number;
  now?: Date;
  tenant?: string;
  segmentId?: number;
  /** Only the stale ones. */
  staleOnly?: boolean;
  limit: number;
};

/** The admin audit log: recorded, counted, listed (pruned by pruneBatch('audit_log')). */
export interface AuditStore {
  recordAudit(entry: AuditEntry): Promise<void>;
  /** Adds to the per-minute count rows (one upsert per minute, event and detail). */
  addAuditCounts(counts: AuditCount[]): Promise<void>;
  /** Newest first; `before` is an id cursor. */
  listAudit(query: AuditQuery): Promise<AuditRecord[]>;
}

/**
 * What receiving webhooks needs: applying a verified delivery exactly once, logging refusals.
 * A partner with their own database implements only this to embed the receive core.
 */
export interface DeliveryStore {
  /** Applies one delivery atomically; resolves only once it is durably committed. */
  applyDelivery(delivery: AcceptedDelivery): Promise<ApplyOutcome>;
  /**
   * Logs a refused request whose signature verified (a row in the deliveries log). Requests
   * refused before that go to countRefusal instead.
   */
  recordRejected(rejection: RejectedDelivery): Promise<void>;
  /**
   * Counts a request refused before its signature verified, in memory only: never a statement
   * or a connection per call. The counts reach refusal_counts (one row per minute, reason and
   * status) on a timer, on flushRefusalCounts and on close.
   */
  countRefusal(refusal: Refusal): void;
  /**
   * Whether an id_token has an active OAuth connection (connected and holding a token): the
   * check behind refusing deliveries for unknown id_tokens. One indexed point read.
   */
  hasActiveConnection(idToken: string): Promise<boolean>;
}

/** OAuth connections and their sealed tokens, OAuth states and admin sessions. */
export interface ConnectionStore {
  /** Creates or re-authorises a connection; `created` is false when it already existed. */
  upsertConnection(connection: ConnectionInput): Promise<{ created: boolean }>;
  getConnection(idToken: string): Promise<ConnectionRecord | undefined>;
  listConnections(): Promise<ConnectionRecord[]>;
  /** The sealed access token of an active connection. */
  getSealedAccessToken(idToken: string): Promise<string | undefined>;
  /**
   * Every stored access token, sealed, in id_token order, `limit` at a time strictly after
   * `after` (re-sealing them all with a new key pages through this).
   */
  listSealedAccessTokens(options: { after?: string; limit: number }): Promise<SealedAccessToken[]>;
  /**
   * Swaps a connection's sealed token for the same token sealed under another key, only if it
   * is still `expected`: false when it changed meanwhile (re-authorized, disconnected), so a
   * newer token is never overwritten by an older one.
   */
  replaceSealedAccessToken(
    idToken: string,
    expected: string,
    replacement: string,
  ): Promise<boolean>;
  /** Marks the connection disconnected and deletes its token; false if there was none. */
  disconnect(idToken: string, at: number): Promise<boolean>;
  /**
   * Remembers an OAuth state (by hash) until it expires. With `cap`, refuses (false, nothing
   * stored) while `cap.maxPending` unexpired states are outstanding. Expired states are deleted by
   * the retention job.
   */
  saveOAuthState(
    stateHash: string,
    expiresAt: number,
    cap?: { now: number; maxPending: number },
  ): Promise<boolean>;
  /** Uses up a state: true only once, and only before it expires. */
  consumeOAuthState(stateHash: string, now: number): Promise<boolean>;
  /**
   * Records a new admin session (by the sha256 of its id); also forgets sessions that expired
   * or were revoked, so the table holds only live ones.
   */
  createAdminSession(idHash: string, createdAt: number, expiresAt: number): Promise<void>;
  getAdminSession(idHash: string): Promise<AdminSessionRecord | undefined>;
  /** Moves last_seen_at forward (never back) for the idle timeout. */
  touchAdminSession(idHash: string, at: number): Promise<void>;
  /** Signs a session out for every instance sharing the store; false if it was not live. */
  revokeAdminSession(idHash: string, at: number): Promise<boolean>;
}

/** The few reads the in-process membership API needs (src/store/membership.ts). */
export interface MembershipStore {
  /** The segments of one tenant a user belongs to (the partner's hot-path lookup; indexed). */
  segmentsOfUser(tenant: string, userId: string): Promise<UserSegment[]>;
  /** Whether a user is a member of one segment (one indexed point read). */
  isMember(tenant: string, segmentId: number, userId: string): Promise<boolean>;
  /**
   * Members in user-id order, `limit` at a time, strictly after the cursor (keyset paging: a
   * member present throughout is returned exactly once, however syncs change the rest).
   * `prefix` keeps only user ids that start with it.
   */
  listMembers(
    tenant: string,
    segmentId: number,
    options: { after?: string; limit: number; prefix?: string },
  ): Promise<Page<string>>;
  /** The change feed in strict seq order, strictly after `after`; optionally one segment's. */
  listChanges(options: {
    after: number;
    limit: number;
    tenant?: string;
    segmentId?: number;
  }): Promise<ChangeRecord[]>;
}

/** What the admin API and the retention job read and prune: segments, tasks, feeds, logs, stats. */
export interface AdminQueries extends MembershipStore {
  /** Writes the counted refusals now (one statement). */
  flushRefusalCounts(): Promise<void>;
  /** Refusal counts for up to `limit` minutes, newest minute first, then by reason and status. */
  listRefusalCounts(query: RefusalCountQuery): Promise<RefusalCount[]>;
  getSegment(tenant: string, segmentId: number): Promise<SegmentRecord | undefined>;
  /** Segments, optionally of one tenant, ordered by tenant then segment id. */
  listSegments(options: { tenant?: string }): Promise<SegmentRecord[]>;
  getSyncTask(
    tenant: string,
    segmentId: number,
    taskId: string,
  ): Promise<SyncTaskRecord | undefined>;
  /** Sync tasks of a segment, most recently delivered first. */
  listSyncTasks(
    tenant: string,
    segmentId: number,
    options: { limit: number },
  ): Promise<SyncTaskRecord[]>;
  /** Segment size after each change (from the change feed), oldest first, from `since`. */
  segmentSizeHistory(
    tenant: string,
    segmentId: number,
    options: { since?: number; limit: number },
  ): Promise<SizePoint[]>;
  /** The deliveries log, newest first; `before` is an id cursor. */
  listDeliveries(options: DeliveryQuery): Promise<DeliveryRecord[]>;
  /**
   * How many deliveries since a time, by status and reason (the overview's accepted vs rejected),
   * counted refusals included as status 'rejected' (by minute, so from the minute `since` is in).
   */
  deliveryStats(since: number): Promise<DeliveryStat[]>;
  /**
   * Deletes at most `limit` rows of one retention target older than `cutoff` (unix ms) in one
   * short statement, and says how many. accepted_signatures/deliveries by receipt time,
   * refusal_counts by minute, sync_pages by their task's last delivery, sync_tasks (once their
   * pages are gone) by last delivery, oauth_states by expiry (`cutoff` = now), changes from the
   * oldest up to the first one at or after `cutoff`, always keeping the newest; audit_log by time.
   */
  pruneBatch(target: RetentionTarget, cutoff: number, limit: number): Promise<number>;
  /** The oldest seq still in the change feed (null when empty): older ones were pruned. */
  oldestChangeSeq(): Promise<number | null>;
  /**
   * Segments by how long ago they last completed a sync task, stalest first (never completed
   * first); segments drained since their last sync are left out (Heap stopped syncing them on
   * purpose). The same SQL as segmentFreshness.
   */
  listSegmentFreshness(query: FreshnessQuery): Promise<SegmentFreshnessRecord[]>;
  /** How many segments there are and how many are stale, and the `top` stalest. */
  segmentFreshness(opts: {
    staleAfterSeconds: number;
    top: number;
    now?: Date;
  }): Promise<SegmentFreshnessSummary>;
}

/** One readiness check's outcome; `reason` is a short fixed phrase, never a secret or an address. */
export type HealthCheck = { ok: true } | { ok: false; reason: string };

/** What /readyz asks a backend: whether it can serve requests right now. */
export interface HealthProbe {
  /**
   * Runs the backend's cheap checks, each by name (e.g. `database`, or SQLite's `writer` and
   * `reader`), bounded by `deadlineMs` where the backend can bound them (the caller bounds the
   * whole call too). Never rejects: a failing check is a value.
   */
  probe(deadlineMs: number): Promise<Record<string, HealthCheck>>;
}

/**
 * What a backend can tell the metrics module (src/metrics) beyond the Store contract; each part is
 * optional, and `storeInstrumentation` finds the ones a store has.
 */
export interface StoreInstrumentation {
  /**
   * SQLite: `listener` is told how many writes each group commit carried, once it has committed.
   * Returns a function that stops telling it.
   */
  observeCommits?(listener: (batchSize: number) => void): () => void;
  /** PostgreSQL: the pool's connections right now, and the callers waiting for one. */
  poolStats?(): PoolStats;
  /**
   * SQLite: gives memory back while the server is quiet (the connections' page caches; the
   * worker thread's V8 heap). The server calls it; nothing depends on it having run.
   */
  releaseMemory?(): void | Promise<void>;
}

export type PoolStats = { total: number; idle: number; waiting: number };

/** The instrumentation a store offers (none for a partner's own DeliveryStore). */
export function storeInstrumentation(store: object): StoreInstrumentation {
  const { observeCommits, poolStats, releaseMemory } = store as StoreInstrumentation;
  return {
    ...(typeof observeCommits === 'function' ? { observeCommits: observeCommits.bind(store) } : {}),
    ...(typeof poolStats === 'function' ? { poolStats: poolStats.bind(store) } : {}),
    ...(typeof releaseMemory === 'function' ? { releaseMemory: releaseMemory.bind(store) } : {}),
  };
}

/** A whole backend: every part above, plus the SQLite worker's entry point and closing. */
export interface Store
  extends DeliveryStore, ConnectionStore, AdminQueries, AuditStore, HealthProbe {
  /** Adds counts to refusal_counts (what a flush writes; the SQLite worker's entry point). */
  addRefusalCounts(counts: RefusalCount[]): Promise<void>;
  /** Flushes counted refusals, then closes. */
  close(): Promise<void>;
}
