// The grown scenario's workload: a store of millions of memberships, then re-syncs with real churn.
import { buildSyncPage } from '../src/webhook/outgoing';
import { emailId, hash32 } from './ids';
import { percentile } from './load';
export { windowIndex } from './load';

/**
 * A grown store: `tenants` customer environments, each with `segmentsPerTenant` segments and a pool
 * of `usersPerTenant` users; every user is in 1 to `maxSegmentsPerUser` of its tenant's segments
 * (uniformly, so 3 on average with 5), chosen at random. Loaded in pages of `loadPageSize` users,
 * then re-synced in pages of `usersPerPage` users: half of them real members removed, half
 * non-members of that segment (often members of another one) added, so sizes stay steady.
 */
export type GrownShape = {
  seed: number;
  tenants: number;
  segmentsPerTenant: number;
  usersPerTenant: number;
  maxSegmentsPerUser: number;
  loadPageSize: number;
  usersPerPage: number;
  pagesPerTask: number;
};

/** The id token (tenant) of grown tenant t. */
export const grownTenant = (t: number) => `bench-grown-${t}`;

/** Segment ids of the grown scenario start here (other scenarios use smaller ones). */
const GROWN_SEGMENT_BASE = 500_000;

/** Segment k of tenant t: its global index g = t·segmentsPerTenant + k. */
export const grownSegmentId = (g: number) => GROWN_SEGMENT_BASE + g;

/** A growable list of user numbers, 4 bytes each. */
class UserList {
  items: Uint32Array;
  length = 0;
  constructor(capacity: number) {
    this.items = new Uint32Array(Math.max(16, capacity));
  }
  push(value: number): void {
    if (this.length === this.items.length) {
      const grown = new Uint32Array(this.items.length * 2);
      grown.set(this.items);
      this.items = grown;
    }
    this.items[this.length++] = value;
  }
  /** Removes the item at `index` by moving the last one into its place. */
  swapRemove(index: number): number {
    const value = this.items[index];
    this.items[index] = this.items[--this.length];
    return value;
  }
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The segments (0 … segmentsPerTenant − 1) user u of tenant t is in at load time. */
export function initialSegmentsOf(shape: GrownShape, t: number, u: number): number[] {
  const s = shape.segmentsPerTenant;
  const count = 1 + (hash32(shape.seed, t, u, 0) % Math.min(shape.maxSegmentsPerUser, s));
  // A partial Fisher–Yates shuffle of 0 … s−1: `count` distinct segments.
  const order = Array.from({ length: s }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + (hash32(shape.seed, t, u, 1 + i) % (s - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, count);
}

export type GrownPage = {
  tenant: string;
  segmentId: number;
  segmentName: string;
  taskId: string;
  pageNumber: number;
  totalPages: number;
  add: string[];
  remove: string[];
};

/** A page as the JSON body Heap would send. */
export function grownBody(page: GrownPage): Buffer {
  return Buffer.from(
    JSON.stringify(
      buildSyncPage({
        idToken: page.tenant,
        segment: { id: page.segmentId, name: page.segmentName },
        syncTaskId: page.taskId,
        pageNumber: page.pageNumber,
        totalPages: page.totalPages,
        add: page.add,
        remove: page.remove,
        customerConfig: { matching_property: 'email' },
      }),
    ),
  );
}

/**
 * Who holds what, kept compactly (a list of user numbers and a bitmap over the tenant's pool per
 * segment, about 4.1 bytes per membership), so every remove names a real member and every add a
 * real non-member. Built the same in every process from the shape alone; the re-sync pages after
 * the load come from one PRNG stream, so page i is the same in every process that makes pages
 * 0 … i in order (each floor and the server's load generator do).
 */
export class GrownWorkload {
  readonly segments: number;
  private readonly members: UserList[] = [];
  private readonly bitmaps: Uint8Array[] = [];
  private readonly random: () => number;
  private loaded = 0;
  private steadyIndex = 0;
  private task = { segment: 0, number: -1 };
  memberships = 0;

  constructor(readonly shape: GrownShape) {
    this.segments = shape.tenants * shape.segmentsPerTenant;
    const perSegment = Math.ceil(
      (shape.usersPerTenant * (1 + Math.min(shape.maxSegmentsPerUser, shape.segmentsPerTenant))) /
        2 /
        shape.segmentsPerTenant,
    );
    for (let g = 0; g < this.segments; g++) {
      this.members.push(new UserList(Math.ceil(perSegment * 1.1)));
      this.bitmaps.push(new Uint8Array(Math.ceil(shape.usersPerTenant / 8)));
    }
    for (let t = 0; t < shape.tenants; t++) {
      for (let u = 0; u < shape.usersPerTenant; u++) {
        for (const k of initialSegmentsOf(shape, t, u))
          this.add(t * shape.segmentsPerTenant + k, u);
      }
    }
    this.random = prng(hash32(shape.seed, 0x5eed));
  }

  private add(g: number, u: number): void {
    this.members[g].push(u);
    this.bitmaps[g][u >>> 3] |= 1 << (u & 7);
    this.memberships++;
  }

  /** Whether user u (of segment g's tenant) is a member of segment g now. */
  holds(g: number, u: number): boolean {
    return (this.bitmaps[g][u >>> 3] & (1 << (u & 7))) !== 0;
  }

  /** How many members segment g has now. */
  sizeOf(g: number): number {
    return this.members[g].length;
  }

  /**
   * A member of the store as the generator holds it now, for the lookup phase: a segment drawn
   * at random, then one of its members; `random` is the caller's, so drawing members does not
   * change the re-sync pages.
   */
  randomMember(random: () => number): { tenant: string; segmentId: number; userId: string } {
    const g = Math.floor(random() * this.segments);
    const list = this.members[g];
    const t = Math.floor(g / this.shape.segmentsPerTenant);
    const u = list.items[Math.floor(random() * list.length)];
    return { tenant: grownTenant(t), segmentId: grownSegmentId(g), userId: this.userId(t, u) };
  }

  /** The id of user u of tenant t. */
  userId(t: number, u: number): string {
    return emailId(this.shape.seed, t, u);
  }

  private segmentPage(g: number, taskId: string, pageNumber: number, totalPages: number) {
    const t = Math.floor(g / this.shape.segmentsPerTenant);
    return {
      tenant: grownTenant(t),
      segmentId: grownSegmentId(g),
      segmentName: `Grown ${t}/${g % this.shape.segmentsPerTenant}`,
      taskId,
      pageNumber,
      totalPages,
    };
  }

  /** How many pages the load takes: every segment's members in pages of `loadPageSize`. */
  loadPageCount(): number {
    let pages = 0;
    for (const list of this.members) pages += Math.ceil(list.length / this.shape.loadPageSize);
    return pages;
  }

  /**
   * The load pages in order (segment by segment), each a first sync's page of `loadPageSize`
   * members; call before any steady page. Returns undefined once every member was sent.
   */
  nextLoadPage(): GrownPage | undefined {
    let index = this.loaded;
    for (let g = 0; g < this.segments; g++) {
      const size = this.shape.loadPageSize;
      const pages = Math.ceil(this.members[g].length / size);
      if (index < pages) {
        this.loaded++;
        const list = this.members[g];
        const add: string[] = [];
        const t = Math.floor(g / this.shape.segmentsPerTenant);
        for (let i = index * size; i < Math.min(list.length, (index + 1) * size); i++) {
          add.push(this.userId(t, list.items[i]));
        }
        return { ...this.segmentPage(g, `load-${g}`, index + 1, pages), add, remove: [] };
      }
      index -= pages;
    }
    return undefined;
  }

  /**
   * The next re-sync page: a task of `pagesPerTask` pages on one segment chosen at random; each
   * page removes half its users from the segment's real members and adds the other half from the
   * tenant's users not in it (a user removed by this page is not re-added by it).
   */
  nextSteadyPage(): GrownPage {
    const { pagesPerTask, usersPerPage, usersPerTenant, segmentsPerTenant } = this.shape;
    if (this.task.number < 0 || this.steadyIndex % pagesPerTask === 0) {
      this.task = {
        segment: Math.floor(this.random() * this.segments),
        number: Math.floor(this.steadyIndex / pagesPerTask),
      };
    }
    const g = this.task.segment;
    const t = Math.floor(g / segmentsPerTenant);
    const list = this.members[g];
    const bitmap = this.bitmaps[g];
    const removes = Math.min(Math.floor(usersPerPage / 2), list.length);
    const removedNow = new Set<number>();
    for (let i = 0; i < removes; i++) {
      const u = list.swapRemove(Math.floor(this.random() * list.length));
      bitmap[u >>> 3] &= ~(1 << (u & 7));
      removedNow.add(u);
      this.memberships--;
    }
    const adds = Math.min(usersPerPage - removes, usersPerTenant - list.length - removedNow.size);
    const added: number[] = [];
    while (added.length < adds) {
      const u = Math.floor(this.random() * usersPerTenant);
      if (this.holds(g, u) || removedNow.has(u)) continue;
      this.add(g, u);
      added.push(u);
    }
    const pageNumber = (this.steadyIndex % pagesPerTask) + 1;
    this.steadyIndex++;
    return {
      ...this.segmentPage(g, `resync-${this.task.number}`, pageNumber, pagesPerTask),
      add: added.map((u) => this.userId(t, u)),
      remove: [...removedNow].map((u) => this.userId(t, u)),
    };
  }
}

/** What one measured window saw, raw: filled in by whoever runs the load. */
export type WindowSample = {
  seconds: number;
  pages: number;
  users: number;
  /** Latencies of this window's answered pages, ms, any order. */
  latencies: number[];
  non2xx: number;
  errors: number;
  rssMb: number;
  /** Database plus write-ahead log, bytes, at the window's end. */
  storeBytes: number;
  /** Memberships the generator holds at the window's end. */
  memberships: number;
  loadAverage: number;
};

export type WindowFigures = {
  pagesPerSec: number;
  usersPerSec: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  rssMb: number;
  storeMb: number;
  bytesPerMembership: number;
  memberships: number;
  loadAverage: number;
};

/** A window's figures from its raw sample. */
export function windowFigures(sample: WindowSample): WindowFigures {
  const sorted = [...sample.latencies].sort((a, b) => a - b);
  return {
    pagesPerSec: sample.seconds > 0 ? sample.pages / sample.seconds : NaN,
    usersPerSec: sample.seconds > 0 ? sample.users / sample.seconds : NaN,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    non2xx: sample.non2xx,
    errors: sample.errors,
    rssMb: sample.rssMb,
    storeMb: sample.storeBytes / 1e6,
    bytesPerMembership: sample.memberships > 0 ? sample.storeBytes / sample.memberships : NaN,
    memberships: sample.memberships,
    loadAverage: sample.loadAverage,
  };
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export type Trend = {
  /** Last window's users/s over the first's: below 1 means it slowed down as the store grew. */
  usersPerSec: number;
  /** Last window's p99 over the first's. */
  p99: number;
  rssMb: number;
  storeMb: number;
};

/** The first-vs-last-window trend: ratios for rates and latency, differences for sizes. */
export function trend(windows: WindowFigures[]): Trend | undefined {
  if (windows.length < 2) return undefined;
  const first = windows[0];
  const last = windows[windows.length - 1];
  return {
    usersPerSec: last.usersPerSec / first.usersPerSec,
    p99: last.p99Ms / first.p99Ms,
    rssMb: last.rssMb - first.rssMb,
    storeMb: last.storeMb - first.storeMb,
  };
}

/** What a grown run reports, for the server or a floor. */
export type GrownFigures = {
  loadSeconds: number;
  loadPages: number;
  /** Memberships right after the load. */
  loadedMemberships: number;
  windows: WindowFigures[];
};
