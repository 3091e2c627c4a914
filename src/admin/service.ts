// The admin service: what the admin API and dashboard ask of the store, with the few rules on top.
import type { AdminAudit } from './audit';
import type {
  AuditQuery,
  AuditRecord,
  AuditStore,
  SegmentFreshnessRecord,
  ChangeRecord,
  ConnectionRecord,
  DeliveryQuery,
  DeliveryRecord,
  Page,
  RefusalCountQuery,
  SegmentRecord,
  SizePoint,
  AdminQueries,
  ConnectionStore,
  SyncTaskRecord,
  UserSegment,
} from '../store/types';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** STALE_SEGMENT_HOURS's default, in seconds. */
export const DEFAULT_STALE_AFTER_SECONDS = 12 * 3600;
/** Enough for every segment of a listing that is not paged itself. */
const ALL_SEGMENTS = 1_000_000;

/** Rows fetched per store call when the service walks a whole result (CSV, size history). */
const WALK_PAGE = 5000;

export type Overview = {
  connections: { active: number; disconnected: number };
  segments: { count: number; members: number; stale: number; staleAfterSeconds: number };
  deliveries: {
    since: number;
    accepted: number;
    rejected: number;
    byStatus: Record<DeliveryRecord['status'], number>;
    rejectedByReason: { reason: string; count: number }[];
  };
};

export type SizeHistory = { points: SizePoint[]; downsampled: boolean };

/** Requests refused before their signature verified, in one minute. */
export type RefusalMinute = {
  minute: number;
  total: number;
  byReason: { reason: string; httpStatus: number; count: number }[];
};

/** A segment with its freshness (null when it is not tracked: never synced, or drained since). */
export type SegmentWithFreshness = {
  segment: SegmentRecord;
  freshness: SegmentFreshnessRecord | null;
};

/** Who did an admin action: the client address and how they were signed in. */
export type AdminActor = { client: string | null; via: 'session' | 'bearer' };

/** A change-feed read, or the news that entries after the cursor were deleted by retention. */
export type ChangesRead = { ok: true; changes: ChangeRecord[] } | { ok: false; oldestSeq: number };

export class AdminService {
  private readonly now: () => number;
  private readonly walkPage: number;
  readonly staleAfterSeconds: number;
  private readonly audit: AdminAudit | undefined;

  constructor(
    private readonly store: AdminQueries & ConnectionStore & AuditStore,
    options: {
      now?: () => number;
      walkPage?: number;
      /** STALE_SEGMENT_HOURS in seconds. */
      staleAfterSeconds?: number;
      /** Where disconnects are recorded, and whose counted refusals a read of the log flushes. */
      audit?: AdminAudit;
    } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.walkPage = options.walkPage ?? WALK_PAGE;
    this.staleAfterSeconds = options.staleAfterSeconds ?? DEFAULT_STALE_AFTER_SECONDS;
    this.audit = options.audit;
  }

  /** Connections, segments, and the last 24 hours of deliveries: accepted vs rejected by reason. */
  async overview(): Promise<Overview> {
    const since = this.now() - DAY_MS;
    await this.flushRefusals();
    const [connections, segments, stats, freshness] = await Promise.all([
      this.store.listConnections(),
      this.store.listSegments({}),
      this.store.deliveryStats(since),
      this.store.segmentFreshness({
        staleAfterSeconds: this.staleAfterSeconds,
        top: 0,
        now: new Date(this.now()),
      }),
    ]);
    const byStatus = { applied: 0, duplicate: 0, ignored: 0, rejected: 0 };
    const rejectedByReason = new Map<string, number>();
    for (const stat of stats) {
      byStatus[stat.status] += stat.count;
      if (stat.status === 'rejected') {
        const reason = stat.reason ?? 'unknown';
        rejectedByReason.set(reason, (rejectedByReason.get(reason) ?? 0) + stat.count);
      }
    }
    const active = connections.filter((connection) => connection.active).length;
    return {
      connections: { active, disconnected: connections.length - active },
      segments: {
        count: segments.length,
        members: segments.reduce((sum, segment) => sum + segment.memberCount, 0),
        stale: freshness.stale,
        staleAfterSeconds: this.staleAfterSeconds,
      },
      deliveries: {
        since,
        accepted: byStatus.applied + byStatus.duplicate + byStatus.ignored,
        rejected: byStatus.rejected,
        byStatus,
        rejectedByReason: [...rejectedByReason]
          .map(([reason, count]) => ({ reason, count }))
          .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      },
    };
  }

  listConnections(): Promise<ConnectionRecord[]> {
    return this.store.listConnections();
  }

  getConnection(tenant: string): Promise<ConnectionRecord | undefined> {
    return this.store.getConnection(tenant);
  }

  /**
   * Disconnects (idempotently); undefined when there never was such a connection. A disconnect
   * that changed something is recorded in the audit log with who asked.
   */
  async disconnect(tenant: string, actor?: AdminActor): Promise<ConnectionRecord | undefined> {
    const changed = await this.store.disconnect(tenant, this.now());
    if (changed && this.audit) {
      await this.audit.record('disconnect', {
        client: actor?.client ?? null,
        tenant,
        detail: { via: actor?.via ?? null },
      });
    }
    return this.store.getConnection(tenant);
  }

  listSegments(tenant?: string): Promise<SegmentRecord[]> {
    return this.store.listSegments({ tenant });
  }

  /** Segments (of a tenant, or all) with their freshness, in listSegments' order. */
  async listSegmentsWithFreshness(tenant?: string): Promise<SegmentWithFreshness[]> {
    const [segments, freshness] = await Promise.all([
      this.store.listSegments({ tenant }),
      this.store.listSegmentFreshness({
        staleAfterSeconds: this.staleAfterSeconds,
        now: new Date(this.now()),
        tenant,
        limit: ALL_SEGMENTS,
      }),
    ]);
    const byKey = new Map(freshness.map((f) => [`${f.segmentId}\0${f.tenant}`, f]));
    return segments.map((segment) => ({
      segment,
      freshness: byKey.get(`${segment.segmentId}\0${segment.tenant}`) ?? null,
    }));
  }

  /** Only the stale segments, stalest first (never completed first). */
  async staleSegments(tenant?: string): Promise<SegmentWithFreshness[]> {
    const [segments, freshness] = await Promise.all([
      this.store.listSegments({ tenant }),
      this.store.listSegmentFreshness({
        staleAfterSeconds: this.staleAfterSeconds,
        now: new Date(this.now()),
        tenant,
        staleOnly: true,
        limit: ALL_SEGMENTS,
      }),
    ]);
    const byKey = new Map(segments.map((s) => [`${s.segmentId}\0${s.tenant}`, s]));
    return freshness.flatMap((f) => {
      const segment = byKey.get(`${f.segmentId}\0${f.tenant}`);
      return segment ? [{ segment, freshness: f }] : [];
    });
  }

  async segmentFreshness(
    tenant: string,
    segmentId: number,
  ): Promise<SegmentFreshnessRecord | null> {
    const [found] = await this.store.listSegmentFreshness({
      staleAfterSeconds: this.staleAfterSeconds,
      now: new Date(this.now()),
      tenant,
      segmentId,
      limit: 1,
    });
    return found ?? null;
  }

  /** The audit log, newest first; counted refusals held in memory are written first. */
  async listAudit(query: AuditQuery): Promise<AuditRecord[]> {
    await this.audit?.flush();
    return this.store.listAudit(query);
  }

  getSegment(tenant: string, segmentId: number): Promise<SegmentRecord | undefined> {
    return this.store.getSegment(tenant, segmentId);
  }

  /** One keyset page of members; undefined when the segment does not exist. */
  async members(
    tenant: string,
    segmentId: number,
    options: { after?: string; limit: number; prefix?: string },
  ): Promise<Page<string> | undefined> {
    if (!(await this.store.getSegment(tenant, segmentId))) return undefined;
    return this.store.listMembers(tenant, segmentId, options);
  }

  segmentsOfUser(tenant: string, userId: string): Promise<UserSegment[]> {
    return this.store.segmentsOfUser(tenant, userId);
  }

  listSyncTasks(tenant: string, segmentId: number, limit: number): Promise<SyncTaskRecord[]> {
    return this.store.listSyncTasks(tenant, segmentId, { limit });
  }

  getSyncTask(
    tenant: string,
    segmentId: number,
    taskId: string,
  ): Promise<SyncTaskRecord | undefined> {
    return this.store.getSyncTask(tenant, segmentId, taskId);
  }

  listDeliveries(query: DeliveryQuery): Promise<DeliveryRecord[]> {
    return this.store.listDeliveries(query);
  }

  /**
   * The change feed after a cursor. Retention deletes the feed's oldest entries as a prefix (the
   * seq values have no gaps), so a cursor below the oldest retained seq minus one has missed
   * entries: the reader is told so instead of silently skipping them. The oldest seq is read
   * after the page, so a prune racing the read cannot hide a gap.
   */
  async listChanges(options: {
    after: number;
    limit: number;
    tenant?: string;
    segmentId?: number;
  }): Promise<ChangesRead> {
    const changes = await this.store.listChanges(options);
    const oldest = await this.store.oldestChangeSeq();
    if (oldest !== null && options.after < oldest - 1) return { ok: false, oldestSeq: oldest };
    return { ok: true, changes };
  }

  /** Refusal counts grouped by minute, newest first, `query.limit` minutes at a time. */
  async refusalsByMinute(query: RefusalCountQuery): Promise<RefusalMinute[]> {
    await this.flushRefusals();
    const minutes = new Map<number, RefusalMinute>();
    for (const row of await this.store.listRefusalCounts(query)) {
      let minute = minutes.get(row.minute);
      if (!minute) {
        minute = { minute: row.minute, total: 0, byReason: [] };
        minutes.set(row.minute, minute);
      }
      minute.total += row.count;
      minute.byReason.push({ reason: row.reason, httpStatus: row.httpStatus, count: row.count });
    }
    return [...minutes.values()];
  }

  /**
   * This instance's refusals are counted in memory and written once a minute; an admin looking
   * now sees them written first (one statement; other instances' show up within the minute). A
   * failure to write only means they show up later.
   */
  private async flushRefusals(): Promise<void> {
    await this.store.flushRefusalCounts().catch(() => undefined);
  }

  /**
   * The segment's size after each change since `since`, thinned to at most `maxPoints` (the
   * latest point is always kept). It walks the history a page at a time and halves what it keeps
   * whenever that grows past the budget, so memory stays bounded however long the history is.
   */
  async sizeHistory(
    tenant: string,
    segmentId: number,
    options: { since: number; maxPoints: number },
  ): Promise<SizeHistory> {
    const budget = Math.max(1, options.maxPoints - 1);
    let kept: SizePoint[] = [];
    let stride = 1;
    let seen = 0;
    let last: SizePoint | undefined;
    let since = options.since;
    for (;;) {
      const page = await this.store.segmentSizeHistory(tenant, segmentId, {
        since,
        limit: this.walkPage,
      });
      // Pages resume at the last point's time; points sharing that millisecond come again.
      const fresh = last ? page.filter((point) => point.seq > (last as SizePoint).seq) : page;
      for (const point of fresh) {
        if (seen % stride === 0) kept.push(point);
        seen += 1;
        while (kept.length > budget) {
          kept = kept.filter((_, index) => index % 2 === 0);
          stride *= 2;
        }
      }
      if (fresh.length > 0) last = fresh[fresh.length - 1];
      // Also stops if a whole page shares one millisecond, which would otherwise never advance.
      if (page.length < this.walkPage || fresh.length === 0 || !last) break;
      since = last.at;
    }
    if (last && kept[kept.length - 1] !== last) kept.push(last);
    return { points: kept, downsampled: stride > 1 };
  }

  /**
   * A segment's members as CSV, produced a page at a time as the reader asks for more (keyset
   * pages: memory stays flat, and a member present throughout the export appears exactly once).
   */
  async *membersCsv(tenant: string, segmentId: number): AsyncGenerator<string> {
    yield 'user_id\r\n';
    let after: string | undefined;
    for (;;) {
      const page = await this.store.listMembers(tenant, segmentId, { after, limit: this.walkPage });
      if (page.items.length > 0) yield `${page.items.map(csvField).join('\r\n')}\r\n`;
      if (!page.nextCursor) return;
      after = page.nextCursor;
    }
  }
}

/** RFC 4180: quote a field containing a comma, quote or line break (or edge spaces), doubling quotes. */
export function csvField(value: string): string {
  return /[",\r\n]|^\s|\s$/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
