// The in-process membership API: an embedding app reads segment membership and the change feed without HTTP.
import type { ChangeRecord, MembershipStore, UserSegment } from './types';

export type MembersOptions = {
  /** Only user ids that start with this. */
  prefix?: string;
  /** Members read per query (default 1000). */
  pageSize?: number;
};

export type ChangesOptions = {
  /** Entries strictly after this seq (0: from the oldest kept). Resume with the last seq seen. */
  after: number;
  /** Only one tenant's entries (the id_token; '' for the own environment). */
  tenant?: string;
  /** Only one segment's entries (segment ids are per tenant: give `tenant` too). */
  segmentId?: number;
  /** Entries read per query (default 500). */
  pageSize?: number;
  /** Keep waiting for new entries once the feed is read to its end, until `signal` aborts. */
  follow?: boolean;
  /** How long to wait between polls of a followed feed that had nothing new (default 1000 ms). */
  pollIntervalMs?: number;
  /** Ends the iteration (a followed feed stops waiting at once). */
  signal?: AbortSignal;
};

export type Membership = {
  /** The segments of one tenant a user belongs to. */
  segmentsOf(tenant: string, userId: string): Promise<UserSegment[]>;
  isMember(tenant: string, segmentId: number, userId: string): Promise<boolean>;
  /**
   * Every member of a segment in user-id order, read a page at a time by keyset: a member present
   * throughout is yielded exactly once, whatever syncs change meanwhile.
   */
  members(tenant: string, segmentId: number, options?: MembersOptions): AsyncIterable<string>;
  /** The change feed in seq order; with `follow`, it then waits for new entries until aborted. */
  changes(options: ChangesOptions): AsyncIterable<ChangeRecord>;
};

/** Membership reads over any store that implements MembershipStore (SQLite, PostgreSQL, yours). */
export function createMembership(store: MembershipStore): Membership {
  return {
    segmentsOf: (tenant, userId) => store.segmentsOfUser(tenant, userId),
    isMember: (tenant, segmentId, userId) => store.isMember(tenant, segmentId, userId),
    members: (tenant, segmentId, options = {}) => members(store, tenant, segmentId, options),
    changes: (options) => changes(store, options),
  };
}

async function* members(
  store: MembershipStore,
  tenant: string,
  segmentId: number,
  options: MembersOptions,
): AsyncGenerator<string> {
  const limit = positive(options.pageSize, 1000);
  let after: string | undefined;
  do {
    const page = await store.listMembers(tenant, segmentId, {
      after,
      limit,
      prefix: options.prefix,
    });
    yield* page.items;
    after = page.nextCursor ?? undefined;
  } while (after !== undefined);
}

async function* changes(
  store: MembershipStore,
  options: ChangesOptions,
): AsyncGenerator<ChangeRecord> {
  const limit = positive(options.pageSize, 500);
  const pollMs = positive(options.pollIntervalMs, 1000);
  const { signal } = options;
  let after = options.after;
  while (!signal?.aborted) {
    const page = await store.listChanges({
      after,
      limit,
      tenant: options.tenant,
      segmentId: options.segmentId,
    });
    for (const change of page) {
      if (signal?.aborted) return;
      yield change;
      after = change.seq;
    }
    if (page.length === limit) continue;
    if (!options.follow) return;
    await pause(pollMs, signal);
  }
}

function positive(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`expected a positive integer, got ${value}`);
  }
  return value;
}

/** Waits `ms`, or less if the signal aborts (it resolves either way: aborting ends the feed). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
