// The messages between the SQLite worker thread and the Store proxy on the main thread.
import type { Store } from '../types';

export type StoreMethod = keyof Store;

/** Every Store method, so the proxy forwards each and the worker refuses anything else. */
export const STORE_METHODS = Object.keys({
  applyDelivery: true,
  recordRejected: true,
  countRefusal: true,
  flushRefusalCounts: true,
  addRefusalCounts: true,
  listRefusalCounts: true,
  pruneBatch: true,
  oldestChangeSeq: true,
  getSegment: true,
  listSegments: true,
  listMembers: true,
  segmentsOfUser: true,
  isMember: true,
  hasActiveConnection: true,
  getSyncTask: true,
  listSyncTasks: true,
  listChanges: true,
  segmentSizeHistory: true,
  listDeliveries: true,
  deliveryStats: true,
  upsertConnection: true,
  getConnection: true,
  listConnections: true,
  getSealedAccessToken: true,
  listSealedAccessTokens: true,
  replaceSealedAccessToken: true,
  disconnect: true,
  saveOAuthState: true,
  consumeOAuthState: true,
  createAdminSession: true,
  getAdminSession: true,
  touchAdminSession: true,
  revokeAdminSession: true,
  listSegmentFreshness: true,
  segmentFreshness: true,
  recordAudit: true,
  addAuditCounts: true,
  listAudit: true,
  probe: true,
  close: true,
} satisfies Record<StoreMethod, true>) as StoreMethod[];

/**
 * Not a Store method: shrinks the worker's SQLite caches and collects its V8 heap (see
 * SqliteWorkerStore.releaseMemory).
 */
export const RELEASE_MEMORY = 'releaseMemory';

export type WorkerMethod = StoreMethod | typeof RELEASE_MEMORY;

export type StoreCall = { id: number; method: WorkerMethod; args: unknown[] };

/**
 * Calls and replies cross in batches: the calls made in one turn of the main thread's event loop
 * go in one message (except the first call to an idle worker, which goes alone at once; see
 * SqliteWorkerStore.send), every answer ready in one turn of the worker's in one message. Each
 * message wakes the other thread (a system call and a context switch on each side), which cost
 * more CPU per delivery than copying the delivery itself.
 */
export type StoreCalls = StoreCall[];

/** An error crosses the thread boundary as data; `unavailable` becomes a 503 again. */
export type WorkerError = { name: string; message: string; unavailable: boolean };

export type WorkerReply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WorkerError };

export type WorkerReplies = { replies: WorkerReply[] };

/** Told without being asked: a group commit's size (StoreInstrumentation.observeCommits). */
export type WorkerEvent = { event: 'commit'; batchSize: number };

export type WorkerStarted = { started: true } | { started: false; error: WorkerError };
