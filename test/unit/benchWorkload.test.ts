// The bench's realistic workload (issue 15): e-mail-like ids, real churn in the grown scenario, window arithmetic.
import { DOMAIN_COUNT, emailId, mix32 } from '../../bench/ids';
import {
  GrownWorkload,
  grownSegmentId,
  grownTenant,
  initialSegmentsOf,
  median,
  trend,
  windowFigures,
  windowIndex,
  type GrownPage,
  type GrownShape,
  type WindowFigures,
} from '../../bench/grown';
import { medianByP99 } from '../../bench/load';
import { pageBody, type Workload } from '../../bench/workload';

const SHAPE: GrownShape = {
  seed: 7,
  tenants: 3,
  segmentsPerTenant: 4,
  usersPerTenant: 500,
  maxSegmentsPerUser: 3,
  loadPageSize: 100,
  usersPerPage: 20,
  pagesPerTask: 3,
};

describe('e-mail-like bench ids', () => {
  const ids = Array.from({ length: 50_000 }, (_, n) => emailId(15, 2, n));

  it('are unique within a seed and namespace', () => {
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('look like e-mail addresses with an 8 to 14 character first part', () => {
    for (const id of ids.slice(0, 2000)) {
      expect(id).toMatch(/^[0-9a-z]{8,14}\.[a-z-]+@[a-z0-9.-]+\.[a-z]+$/);
    }
    const lengths = new Set(ids.map((id) => id.indexOf('.')));
    expect([...lengths].sort((a, b) => a - b)).toEqual([8, 9, 10, 11, 12, 13, 14]);
    const domains = new Set(ids.map((id) => id.slice(id.indexOf('@') + 1)));
    expect(domains.size).toBe(DOMAIN_COUNT);
    expect(DOMAIN_COUNT).toBeGreaterThanOrEqual(45);
  });

  it('are the same for the same seed, and differ for another seed or namespace', () => {
    expect(emailId(15, 2, 12345)).toBe(ids[12345]);
    expect(emailId(16, 2, 12345)).not.toBe(ids[12345]);
    expect(emailId(15, 3, 12345)).not.toBe(ids[12345]);
  });

  it('spread over the key space: consecutive users land all over the sorted order', () => {
    // Every first character about equally often (36 of them: expected 1/36 each)…
    const first = new Map<string, number>();
    for (const id of ids) first.set(id[0], (first.get(id[0]) ?? 0) + 1);
    expect(first.size).toBe(36);
    for (const count of first.values()) {
      expect(count / ids.length).toBeGreaterThan(0.5 / 36);
      expect(count / ids.length).toBeLessThan(1.5 / 36);
    }
    // …and users 0, 1, 2, … in no order: about half of consecutive pairs ascend.
    let ascending = 0;
    for (let n = 1; n < ids.length; n++) if (ids[n] > ids[n - 1]) ascending++;
    expect(ascending / (ids.length - 1)).toBeGreaterThan(0.45);
    expect(ascending / (ids.length - 1)).toBeLessThan(0.55);
  });

  it('mix32 is a bijection on the values it is fed (no two users share a tail)', () => {
    const seen = new Set<number>();
    for (let n = 0; n < 100_000; n++) seen.add(mix32(n));
    expect(seen.size).toBe(100_000);
  });

  it('are the default of ingest pages; the sequential workload keeps the old ids', () => {
    const base: Workload = {
      name: 'w',
      usersPerPage: 4,
      pagesPerTask: 2,
      segments: 1,
      churn: true,
      lagTasks: 1,
      segmentBase: 10,
      ids: 'random',
    };
    const users = (workload: Workload) => {
      return pageBody(workload, 0).toString();
    };
    expect(users(base)).not.toMatch(/"u\d+\.w@bench\.example"/);
    expect(users(base)).toContain(emailId(10, 0, 0));
    expect(users({ ...base, ids: 'sequential' })).toContain('u0.w@bench.example');
  });
});

const byIdCache = new Map<string, Map<string, number>>();

/** The users of a page, by the tenant's user number (the workload's ids inverted). */
function userNumbers(workload: GrownWorkload, page: GrownPage, list: string[]): number[] {
  let byId = byIdCache.get(page.tenant);
  if (!byId) {
    const t = Number(page.tenant.slice(grownTenant(0).length - 1));
    byId = new Map();
    for (let u = 0; u < workload.shape.usersPerTenant; u++) byId.set(workload.userId(t, u), u);
    byIdCache.set(page.tenant, byId);
  }
  return list.map((id) => {
    const u = byId.get(id);
    if (u === undefined) throw new Error(`${id} is not a user of ${page.tenant}`);
    return u;
  });
}

describe('the grown workload', () => {
  it('puts every user in 1 to maxSegmentsPerUser distinct segments of its tenant', () => {
    const counts = new Set<number>();
    for (let u = 0; u < SHAPE.usersPerTenant; u++) {
      const segments = initialSegmentsOf(SHAPE, 1, u);
      expect(new Set(segments).size).toBe(segments.length);
      for (const k of segments) expect(k).toBeLessThan(SHAPE.segmentsPerTenant);
      counts.add(segments.length);
    }
    expect([...counts].sort()).toEqual([1, 2, 3]);
  });

  it('loads every membership once, in pages of at most loadPageSize', () => {
    const workload = new GrownWorkload(SHAPE);
    const total = workload.memberships;
    const pages: GrownPage[] = [];
    for (let page = workload.nextLoadPage(); page; page = workload.nextLoadPage()) {
      pages.push(page);
    }
    expect(pages.length).toBe(workload.loadPageCount());
    const seen = new Set<string>();
    for (const page of pages) {
      expect(page.add.length).toBeLessThanOrEqual(SHAPE.loadPageSize);
      expect(page.remove).toEqual([]);
      for (const id of page.add) seen.add(`${page.segmentId} ${id}`);
    }
    expect(seen.size).toBe(total);
    const segments = new Set(pages.map((p) => p.segmentId));
    expect(segments.size).toBe(SHAPE.tenants * SHAPE.segmentsPerTenant);
  });

  it('removes only real members and adds only non-members, keeping its books straight', () => {
    const workload = new GrownWorkload(SHAPE);
    // A model of who holds what, kept independently from the load pages.
    const held = new Map<number, Set<string>>();
    for (let page = workload.nextLoadPage(); page; page = workload.nextLoadPage()) {
      const set = held.get(page.segmentId) ?? new Set<string>();
      for (const id of page.add) set.add(id);
      held.set(page.segmentId, set);
    }
    for (let i = 0; i < 300; i++) {
      const page = workload.nextSteadyPage();
      const members = held.get(page.segmentId) as Set<string>;
      expect(page.remove.length).toBe(SHAPE.usersPerPage / 2);
      expect(page.add.length).toBe(SHAPE.usersPerPage / 2);
      for (const id of page.remove) {
        expect(members.has(id)).toBe(true);
        members.delete(id);
      }
      for (const id of page.add) {
        expect(members.has(id)).toBe(false);
        expect(page.remove).not.toContain(id);
        members.add(id);
      }
      // The ids are the tenant's own users.
      userNumbers(workload, page, [...page.add, ...page.remove]);
    }
    const modelled = [...held.values()].reduce((sum, set) => sum + set.size, 0);
    expect(workload.memberships).toBe(modelled);
    for (const [segmentId, set] of held) {
      const g = segmentId - grownSegmentId(0);
      expect(workload.sizeOf(g)).toBe(set.size);
    }
  });

  it('makes the same pages in every process (page i from the shape alone)', () => {
    const a = new GrownWorkload(SHAPE);
    const b = new GrownWorkload(SHAPE);
    // b also walks the load pages first, as the floors do; a does not, as the server's generator.
    while (b.nextLoadPage());
    for (let i = 0; i < 50; i++) expect(a.nextSteadyPage()).toEqual(b.nextSteadyPage());
    const other = new GrownWorkload({ ...SHAPE, seed: 8 });
    expect(other.nextSteadyPage()).not.toEqual(new GrownWorkload(SHAPE).nextSteadyPage());
  });

  it('numbers the pages of a re-sync task 1 … pagesPerTask on one segment', () => {
    const workload = new GrownWorkload(SHAPE);
    const pages = Array.from({ length: SHAPE.pagesPerTask * 4 }, () => workload.nextSteadyPage());
    for (let task = 0; task < 4; task++) {
      const of = pages.slice(task * SHAPE.pagesPerTask, (task + 1) * SHAPE.pagesPerTask);
      expect(of.map((p) => p.pageNumber)).toEqual([1, 2, 3]);
      expect(new Set(of.map((p) => p.segmentId)).size).toBe(1);
      expect(new Set(of.map((p) => p.taskId)).size).toBe(1);
      expect(of.every((p) => p.totalPages === SHAPE.pagesPerTask)).toBe(true);
    }
    expect(new Set(pages.map((p) => p.taskId)).size).toBe(4);
  });
});

describe('window arithmetic', () => {
  it('reports the paced window with the median p99, whatever order they ran in', () => {
    const w = (p99Ms: number, cpu: string) => ({ paced: { p99Ms }, cpu });
    expect(medianByP99([w(3.9, 'a'), w(1.7, 'b'), w(2.8, 'c')])).toEqual(w(2.8, 'c'));
    expect(medianByP99([w(2.2, 'only')])).toEqual(w(2.2, 'only'));
    // An even count takes the upper middle: never the better of two halves.
    expect(medianByP99([w(1, 'a'), w(4, 'b'), w(2, 'c'), w(3, 'd')]).cpu).toBe('d');
    expect(() => medianByP99([])).toThrow(/no paced window/);
  });

  it('puts an event in the window of its moment, the tail in the last one', () => {
    expect(windowIndex(0, 30, 6)).toBe(0);
    expect(windowIndex(29_999, 30, 6)).toBe(0);
    expect(windowIndex(30_000, 30, 6)).toBe(1);
    expect(windowIndex(179_999, 30, 6)).toBe(5);
    expect(windowIndex(200_000, 30, 6)).toBe(5);
    expect(windowIndex(-5, 30, 6)).toBe(0);
  });

  it('turns a sample into rates, percentiles and bytes per membership', () => {
    const figures = windowFigures({
      seconds: 30,
      pages: 3000,
      users: 300_000,
      latencies: Array.from({ length: 100 }, (_, i) => 100 - i),
      non2xx: 1,
      errors: 2,
      rssMb: 150,
      storeBytes: 440_000_000,
      memberships: 5_000_000,
      loadAverage: 1.5,
    });
    expect(figures).toMatchObject({
      pagesPerSec: 100,
      usersPerSec: 10_000,
      p50Ms: 50,
      p99Ms: 99,
      non2xx: 1,
      errors: 2,
      storeMb: 440,
      bytesPerMembership: 88,
    });
  });

  it('gives the first-vs-last trend and medians', () => {
    const w = (usersPerSec: number, p99Ms: number, rssMb: number, storeMb: number) =>
      ({ usersPerSec, p99Ms, rssMb, storeMb }) as WindowFigures;
    expect(
      trend([w(30_000, 20, 150, 400), w(25_000, 30, 160, 420), w(15_000, 40, 155, 450)]),
    ).toEqual({
      usersPerSec: 0.5,
      p99: 2,
      rssMb: 5,
      storeMb: 50,
    });
    expect(trend([w(1, 1, 1, 1)])).toBeUndefined();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});
