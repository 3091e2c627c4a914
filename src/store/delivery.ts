// The delivery algorithm, the documented statement of its rules: SQLite runs it; PostgreSQL runs the same rules as one function.
//
// SQLite drives the generator below statement by statement inside its group commit. PostgreSQL
// runs the same rules as ONE call, apply_delivery() in src/store/postgres/migrations/
// 005_apply_delivery.sql, so a delivery costs it one round trip in autocommit. A change to a rule
// here must be made there too; the store contract suite (test/integration/storeContract.test.ts,
// "delivery rules") runs both stores against the same expected outcomes, log rows and feed.
import {
  OWN_ENVIRONMENT,
  type AcceptedDelivery,
  type ApplyOutcome,
  type ChangeRecord,
  type DeliveryRecord,
  type Page,
  type RejectedDelivery,
  type SegmentDrain,
  type SyncPage,
} from './types';

/** A statement's answer: at once (better-sqlite3 is synchronous) or later (pg). */
export type Answer<T> = T | Promise<T>;

/** A deliveries row to insert: the record without its generated id. */
export type NewDeliveryRow = Omit<DeliveryRecord, 'id'>;

/** A change-feed entry to append: the record without its seq (the backend hands it out). */
export type NewChangeRow = Omit<ChangeRecord, 'seq'>;

/** The segments row a sync or drain creates or refreshes; customer_config already JSON text. */
export type SegmentUpsert = {
  tenant: string;
  segmentId: number;
  name: string | null;
  customerConfig: string | null;
  now: number;
};

/**
 * The statements a delivery's transaction runs (SQLite's), each a single SQL statement. `sid` is
 * the backend's internal segment key, returned by upsertSegment.
 */
export interface DeliveryStatements {
  /**
   * Records the signed request's replay key (accepted: false when it was seen before) and says
   * whether the tenant has an active connection.
   */
  acceptSignature(
    signatureKey: string,
    at: number,
    tenant: string,
  ): Answer<{ accepted: boolean; active: boolean }>;
  /** Claims a sync page's idempotency key; false when it was claimed before. */
  claimPage(page: SyncPage, bodySha256: string | null, now: number): Answer<boolean>;
  /** The body hash stored with an already claimed page. */
  claimedPageSha(page: SyncPage): Answer<string | null>;
  /** The segment's member count, undefined when the segment does not exist. */
  memberCount(tenant: string, segmentId: number): Answer<number | undefined>;
  upsertSegment(segment: SegmentUpsert): Answer<number>;
  /** Deletes these members, returning the ids that were members. */
  removeMembers(sid: number, userIds: string[]): Answer<string[]>;
  /** Inserts these members, returning the ids that were not members yet. */
  addMembers(sid: number, userIds: string[], now: number): Answer<string[]>;
  /** Moves member_count by `delta`, stamps the sync and returns the new count. */
  afterSync(sid: number, delta: number, now: number): Answer<number>;
  /** Counts the page in its sync task; whether every page of the task has now arrived. */
  countTaskPage(page: SyncPage, now: number): Answer<boolean>;
  /** Deletes every member; how many there were. */
  drainMembers(sid: number): Answer<number>;
  /** Sets member_count to 0 and stamps the drain. */
  afterDrain(sid: number, now: number): Answer<void>;
  insertDelivery(row: NewDeliveryRow): Answer<void>;
  insertChange(change: NewChangeRow): Answer<void>;
}

/**
 * The algorithm as a generator that yields each statement's answer and is resumed with its
 * value: SQLite drives it synchronously inside its group commit (runNow).
 */
type Plan<T> = Generator<unknown, T, unknown>;

function* answer<T>(value: Answer<T>): Plan<T> {
  return (yield value) as T;
}

/** Runs a plan whose statements answer at once (SQLite). */
export function runNow<T>(plan: Plan<T>): T {
  let step = plan.next();
  while (!step.done) step = plan.next(step.value);
  return step.value;
}

type Unlinked = Omit<ApplyOutcome, 'linked'>;

/** What a delivery did, and the change-feed entry it appends, if any. */
type Applied = { outcome: Unlinked; change?: NewChangeRow };

/**
 * Applies one delivery: a replay of an accepted signed request is a duplicate whatever its
 * action; otherwise a sync page is applied once per page key, a drain empties the segment, an
 * unknown action is logged as ignored. Every delivery gets a deliveries row; the change-feed
 * entry comes last (PostgreSQL's apply_delivery takes its feed head row there, held only until
 * the call's commit).
 */
export function* applyDeliveryPlan(
  s: DeliveryStatements,
  delivery: AcceptedDelivery,
): Plan<ApplyOutcome> {
  const { meta, work } = delivery;
  const now = meta.receivedAt;
  const signature = yield* answer(s.acceptSignature(delivery.signatureKey, now, work.tenant));
  const linked = work.tenant === OWN_ENVIRONMENT || signature.active;

  let result: Applied;
  if (!signature.accepted) {
    const segmentId = 'segmentId' in work ? work.segmentId : null;
    result = { outcome: yield* duplicate(s, work.tenant, segmentId, 'signature') };
  } else if (work.kind === 'sync') {
    result = yield* applySyncPage(s, work, meta.bodySha256, now);
  } else if (work.kind === 'drain') {
    result = yield* applyDrain(s, work, now);
  } else {
    const outcome: Unlinked = {
      status: 'ignored',
      segmentId: work.segmentId,
      memberCount: null,
      added: 0,
      removed: 0,
    };
    result = { outcome };
  }
  const { outcome, change } = result;

  yield* answer(
    s.insertDelivery({
      receivedAt: now,
      path: meta.path,
      actionType: delivery.actionType,
      tenant: work.tenant,
      segmentId: outcome.segmentId,
      taskId: work.kind === 'sync' ? work.taskId : null,
      pageNumber: work.kind === 'sync' ? work.pageNumber : null,
      status: outcome.status,
      httpStatus: 200,
      reason: outcome.duplicateOf ? `duplicate_${outcome.duplicateOf}` : null,
      bodySha256: meta.bodySha256,
      added: outcome.added,
      removed: outcome.removed,
      linked,
    }),
  );
  if (change) yield* answer(s.insertChange(change));
  return { ...outcome, linked };
}

function* applySyncPage(
  s: DeliveryStatements,
  page: SyncPage,
  bodySha256: string | null,
  now: number,
): Plan<Applied> {
  // Under concurrency (PostgreSQL) the second claimant waits for the first to commit, then
  // finds the row and reports a duplicate (no exception, so the transaction stays usable).
  if (!(yield* answer(s.claimPage(page, bodySha256, now)))) {
    const previous = yield* answer(s.claimedPageSha(page));
    const outcome = yield* duplicate(s, page.tenant, page.segmentId, 'page');
    return { outcome: { ...outcome, contentDiffers: previous !== bodySha256 } };
  }
  const sid = yield* answer(s.upsertSegment(segmentUpsert(page, now)));
  const removed = page.remove.length > 0 ? yield* answer(s.removeMembers(sid, page.remove)) : [];
  const added = page.add.length > 0 ? yield* answer(s.addMembers(sid, page.add, now)) : [];
  const memberCount = yield* answer(s.afterSync(sid, added.length - removed.length, now));
  const taskComplete = yield* answer(s.countTaskPage(page, now));
  return {
    outcome: {
      status: 'applied',
      segmentId: page.segmentId,
      memberCount,
      added: added.length,
      removed: removed.length,
      taskComplete,
    },
    change: {
      at: now,
      tenant: page.tenant,
      segmentId: page.segmentId,
      kind: 'sync',
      taskId: page.taskId,
      pageNumber: page.pageNumber,
      added,
      removed,
      removedCount: removed.length,
      memberCount,
    },
  };
}

function* applyDrain(s: DeliveryStatements, drain: SegmentDrain, now: number): Plan<Applied> {
  const sid = yield* answer(s.upsertSegment(segmentUpsert(drain, now)));
  const removed = yield* answer(s.drainMembers(sid));
  yield* answer(s.afterDrain(sid, now));
  return {
    outcome: { status: 'applied', segmentId: drain.segmentId, memberCount: 0, added: 0, removed },
    change: {
      at: now,
      tenant: drain.tenant,
      segmentId: drain.segmentId,
      kind: 'drain',
      taskId: null,
      pageNumber: null,
      added: [],
      removed: [],
      removedCount: removed,
      memberCount: 0,
    },
  };
}

/** A duplicate changes nothing and reports the segment's current size (0 if it never existed). */
function* duplicate(
  s: DeliveryStatements,
  tenant: string,
  segmentId: number | null,
  duplicateOf: 'signature' | 'page',
): Plan<Unlinked> {
  const memberCount =
    segmentId === null ? null : ((yield* answer(s.memberCount(tenant, segmentId))) ?? 0);
  return { status: 'duplicate', segmentId, memberCount, added: 0, removed: 0, duplicateOf };
}

function segmentUpsert(work: SyncPage | SegmentDrain, now: number): SegmentUpsert {
  return {
    tenant: work.tenant,
    segmentId: work.segmentId,
    name: work.segmentName ?? null,
    customerConfig: encodeCustomerConfig(work.customerConfig),
    now,
  };
}

/** customer_config as JSON text; absent (null or undefined) keeps the stored one. */
export function encodeCustomerConfig(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** The deliveries row of a request refused after its signature verified. */
export function rejectedRow(rejection: RejectedDelivery): NewDeliveryRow {
  return {
    receivedAt: rejection.meta.receivedAt,
    path: rejection.meta.path,
    actionType: rejection.actionType ?? null,
    tenant: rejection.tenant ?? null,
    segmentId: rejection.segmentId ?? null,
    taskId: null,
    pageNumber: null,
    status: 'rejected',
    httpStatus: rejection.httpStatus,
    reason: rejection.reason,
    bodySha256: rejection.meta.bodySha256,
    added: 0,
    removed: 0,
    linked: null,
  };
}

/** A keyset page: a full page has a next cursor (its last item), a short one is the end. */
export function keysetPage(items: string[], limit: number): Page<string> {
  return { items, nextCursor: items.length === limit ? items[items.length - 1] : null };
}
