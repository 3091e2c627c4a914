// The soak's membership model: the pages it sends, what was acknowledged, and what every segment and the change feed must hold at the end.
import { emailId, hash32 } from './ids';
import { prng } from './grown';

/**
 * The soak's tenants and segments. Each tenant has a pool of `usersPerTenant` e-mail-like users;
 * each segment grows to about `targetSize` members and then churns: a page removes half its users
 * from the segment's real members and adds the other half from the pool's non-members.
 */
export type SoakShape = {
  seed: number;
  tenants: number;
  segmentsPerTenant: number;
  usersPerTenant: number;
  usersPerPage: number;
  maxPagesPerTask: number;
  targetSize: number;
};

/** Segment ids of the soak start here (the bench's scenarios use other ranges). */
const SOAK_SEGMENT_BASE = 700_000;

export const soakTenant = (t: number) => `soak-tenant-${t}`;
export const soakSegmentId = (g: number) => SOAK_SEGMENT_BASE + g;

/** A set of user numbers that can also hand out a random member in O(1). */
export class IndexedSet {
  private readonly items: number[] = [];
  private readonly positions = new Map<number, number>();

  get size(): number {
    return this.items.length;
  }
  has(value: number): boolean {
    return this.positions.has(value);
  }
  add(value: number): void {
    if (this.positions.has(value)) return;
    this.positions.set(value, this.items.length);
    this.items.push(value);
  }
  delete(value: number): void {
    const at = this.positions.get(value);
    if (at === undefined) return;
    const last = this.items.pop() as number;
    this.positions.delete(value);
    if (at < this.items.length) {
      this.items[at] = last;
      this.positions.set(last, at);
    }
  }
  clear(): void {
    this.items.length = 0;
    this.positions.clear();
  }
  at(index: number): number {
    return this.items[index];
  }
  values(): number[] {
    return [...this.items];
  }
}

/** One page of a sync task, as user numbers of the segment's tenant. */
export type PlannedPage = {
  g: number;
  taskId: string;
  pageNumber: number;
  totalPages: number;
  add: number[];
  remove: number[];
};

export type SegmentState = {
  g: number;
  tenant: number;
  /** The members every acknowledged delivery leaves: the expected final membership. */
  members: IndexedSet;
  /** Pages of the current task not sent yet. */
  unsent: PlannedPage[];
  /** Deliveries sent and not answered for good yet. */
  inFlight: number;
  /** A delivery to it was never acknowledged: its outcome is unknown, so it is not checked. */
  uncertain: boolean;
  tasks: number;
  /** Sent a delivery (checked at the end). */
  touched: boolean;
  /** Acknowledged one: the store has the segment. */
  stored: boolean;
};

/**
 * What the load generator sent and had acknowledged. A segment has one delivery in flight at a
 * time, except the pages of one task, which touch disjoint users and so commute: the expected
 * membership is then exact whatever order the server applied them in. Pages are applied to the
 * model when acknowledged (a 200, applied or duplicate), never when sent.
 */
export class SoakModel {
  readonly segments: SegmentState[] = [];
  private readonly random: () => number;

  constructor(readonly shape: SoakShape) {
    if (shape.targetSize + shape.usersPerPage * shape.maxPagesPerTask > shape.usersPerTenant) {
      throw new Error('usersPerTenant must exceed targetSize plus one task of adds');
    }
    for (let g = 0; g < shape.tenants * shape.segmentsPerTenant; g++) {
      this.segments.push({
        g,
        tenant: Math.floor(g / shape.segmentsPerTenant),
        members: new IndexedSet(),
        unsent: [],
        inFlight: 0,
        uncertain: false,
        tasks: 0,
        touched: false,
        stored: false,
      });
    }
    this.random = prng(hash32(shape.seed, 0x50a4));
  }

  userId(t: number, u: number): string {
    return emailId(this.shape.seed, t, u);
  }

  /** A random number below n from the model's stream. */
  pick(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** A random segment the store has (one of its deliveries was acknowledged), else any. */
  pickStored(): number {
    const touched = this.segments.filter((s) => s.stored);
    return touched.length > 0
      ? touched[this.pick(touched.length)].g
      : this.pick(this.segments.length);
  }

  /** Neither in flight nor with pages of a task still to send. */
  idle(segment: SegmentState): boolean {
    return segment.inFlight === 0 && segment.unsent.length === 0;
  }

  /** The next page to send: a page of a task in progress, or the first of a new task on an idle segment. */
  nextPage(): PlannedPage | undefined {
    for (const segment of this.segments) {
      if (segment.unsent.length > 0) return this.take(segment);
    }
    const start = this.pick(this.segments.length);
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[(start + i) % this.segments.length];
      if (this.idle(segment)) {
        segment.unsent = this.planTask(segment);
        return this.take(segment);
      }
    }
    return undefined;
  }

  private take(segment: SegmentState): PlannedPage {
    segment.inFlight++;
    segment.touched = true;
    return segment.unsent.shift() as PlannedPage;
  }

  /**
   * A new task on an idle segment: 1 to maxPagesPerTask pages whose users are all distinct.
   * Below its target size a page adds 80 % and removes 20 %; at it, half and half.
   */
  planTask(segment: SegmentState): PlannedPage[] {
    const { usersPerPage, maxPagesPerTask, targetSize, usersPerTenant } = this.shape;
    const totalPages = 1 + this.pick(maxPagesPerTask);
    const taskId = `soak-${segment.g}-${segment.tasks++}`;
    const chosen = new Set<number>();
    const members = segment.members;
    const pages: PlannedPage[] = [];
    for (let p = 0; p < totalPages; p++) {
      const wantRemoves = Math.floor(usersPerPage * (members.size < targetSize ? 0.2 : 0.5));
      const remove: number[] = [];
      // Members not yet chosen by this task; give up on a small segment rather than loop.
      for (let tries = 0; remove.length < wantRemoves && tries < wantRemoves * 4; tries++) {
        if (members.size === 0) break;
        const u = members.at(this.pick(members.size));
        if (chosen.has(u)) continue;
        chosen.add(u);
        remove.push(u);
      }
      const add: number[] = [];
      while (add.length < usersPerPage - remove.length) {
        const u = this.pick(usersPerTenant);
        if (members.has(u) || chosen.has(u)) continue;
        chosen.add(u);
        add.push(u);
      }
      pages.push({ g: segment.g, taskId, pageNumber: p + 1, totalPages, add, remove });
    }
    return pages;
  }

  /** An idle segment for a drain (marked in flight), or undefined when every segment is busy. */
  drainTarget(): SegmentState | undefined {
    const start = this.pick(this.segments.length);
    for (let i = 0; i < this.segments.length; i++) {
      const segment = this.segments[(start + i) % this.segments.length];
      if (this.idle(segment) && segment.members.size > 0) {
        segment.inFlight++;
        segment.touched = true;
        return segment;
      }
    }
    return undefined;
  }

  /** A page was acknowledged (200): its removes and adds are now in the expected membership. */
  acknowledgePage(page: PlannedPage): void {
    const segment = this.segments[page.g];
    for (const u of page.remove) segment.members.delete(u);
    for (const u of page.add) segment.members.add(u);
    segment.inFlight--;
    segment.stored = true;
  }

  acknowledgeDrain(g: number): void {
    this.segments[g].members.clear();
    this.segments[g].inFlight--;
  }

  /** A delivery was given up on without a 200: nobody knows whether it was applied. */
  giveUp(g: number): void {
    this.segments[g].uncertain = true;
    this.segments[g].inFlight--;
  }

  /** The expected members of segment g as user ids. */
  expectedIds(g: number): Set<string> {
    const segment = this.segments[g];
    return new Set(segment.members.values().map((u) => this.userId(segment.tenant, u)));
  }

  /** The ids of the segments (of tenant t) that user u is expected to be in, ascending. */
  expectedSegmentsOf(t: number, u: number): number[] {
    const found: number[] = [];
    for (let k = 0; k < this.shape.segmentsPerTenant; k++) {
      const g = t * this.shape.segmentsPerTenant + k;
      if (this.segments[g].members.has(u)) found.push(soakSegmentId(g));
    }
    return found;
  }

  memberships(): number {
    return this.segments.reduce((sum, s) => sum + s.members.size, 0);
  }
}

/** How a server's list differs from the expected set: at most `show` ids of each kind listed. */
export type MembershipDiff = {
  missing: number;
  unexpected: number;
  repeated: number;
  missingSample: string[];
  unexpectedSample: string[];
};

export function diffMembers(expected: Set<string>, actual: string[], show = 10): MembershipDiff {
  const seen = new Set<string>();
  let repeated = 0;
  const unexpectedSample: string[] = [];
  let unexpected = 0;
  for (const id of actual) {
    if (seen.has(id)) {
      repeated++;
      continue;
    }
    seen.add(id);
    if (!expected.has(id)) {
      unexpected++;
      if (unexpectedSample.length < show) unexpectedSample.push(id);
    }
  }
  const missingSample: string[] = [];
  let missing = 0;
  for (const id of expected) {
    if (!seen.has(id)) {
      missing++;
      if (missingSample.length < show) missingSample.push(id);
    }
  }
  return { missing, unexpected, repeated, missingSample, unexpectedSample };
}

export function sameMembers(diff: MembershipDiff): boolean {
  return diff.missing === 0 && diff.unexpected === 0 && diff.repeated === 0;
}

/** A change-feed entry as GET /api/changes returns it (the fields the soak reads). */
export type FeedChange = {
  seq: number;
  connection: string;
  segment_id: number;
  kind: 'sync' | 'drain';
  added: string[];
  removed: string[];
};

/**
 * Follows the change feed as a consumer would (after = the last seq processed) and rebuilds every
 * segment's membership from it alone. Every entry must come in order with no gap: seq is the
 * previous one plus 1 (the first one read may be any seq above `after`, when retention deleted
 * older entries before the tail began).
 */
export class FeedTail {
  after = 0;
  entries = 0;
  readonly problems: string[] = [];
  private readonly members = new Map<string, Set<string>>();

  static key(connection: string, segmentId: number): string {
    return `${connection}/${segmentId}`;
  }

  /** One page of the feed, as answered for `after=this.after`. */
  accept(changes: FeedChange[]): void {
    for (const change of changes) {
      if (this.entries > 0 && change.seq !== this.after + 1) {
        const what = change.seq <= this.after ? 'out of order' : 'a gap';
        this.problems.push(
          `change feed: seq ${change.seq} came right after ${this.after} (${what})`,
        );
      } else if (this.entries === 0 && change.seq <= this.after) {
        this.problems.push(`change feed: seq ${change.seq} came for after=${this.after}`);
      }
      this.after = Math.max(this.after, change.seq);
      this.entries++;
      const key = FeedTail.key(change.connection, change.segment_id);
      let set = this.members.get(key);
      if (!set) this.members.set(key, (set = new Set()));
      if (change.kind === 'drain') set.clear();
      for (const id of change.removed) set.delete(id);
      for (const id of change.added) set.add(id);
    }
  }

  /** The membership the feed alone gives a segment. */
  membersOf(connection: string, segmentId: number): string[] {
    return [...(this.members.get(FeedTail.key(connection, segmentId)) ?? [])];
  }
}
