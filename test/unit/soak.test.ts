// The soak's pure parts: the growth rule, the expected-membership model, the change-feed tail and the per-minute figures.
import {
  diffMembers,
  FeedTail,
  IndexedSet,
  sameMembers,
  SoakModel,
  soakSegmentId,
  type FeedChange,
  type PlannedPage,
  type SoakShape,
} from '../../bench/soakModel';
import {
  judgeGrowth,
  kindTotals,
  MIN_JUDGED_ANSWERS,
  MinuteBucket,
  minuteRow,
  NO_ANSWER,
  serverErrors,
  type MinuteRow,
  type RequestKind,
} from '../../bench/soakStats';

const SHAPE: SoakShape = {
  seed: 3,
  tenants: 2,
  segmentsPerTenant: 3,
  usersPerTenant: 2_000,
  usersPerPage: 20,
  maxPagesPerTask: 4,
  targetSize: 300,
};

const SAMPLE = { storeMb: 1, loadAverage: 0, retentionDeleted: 0, memberships: 0 };

/** A run of minutes, each with `answers` sync answers of `latencyMs(minute)` ms and RSS `rss(minute)`. */
function run(
  minutes: number,
  rss: (m: number) => number,
  latencyMs: (m: number) => number,
  answers = 200,
  kind: RequestKind = 'sync',
) {
  const buckets: MinuteBucket[] = [];
  const rows: MinuteRow[] = [];
  for (let m = 0; m < minutes; m++) {
    const bucket = new MinuteBucket();
    for (let i = 0; i < answers; i++) bucket.record(kind, 200, latencyMs(m));
    buckets.push(bucket);
    rows.push(minuteRow(m, bucket, { ...SAMPLE, rssMb: rss(m) }));
  }
  return { rows, buckets };
}

describe('the growth rule (last 5 minutes against minutes 5–10)', () => {
  it('is not judged before 15 whole minutes', () => {
    const { rows, buckets } = run(
      14,
      () => 100,
      () => 5,
    );
    const judgement = judgeGrowth(rows, buckets);
    expect(judgement.judged).toBe(false);
    expect(judgement.judged === false && judgement.reason).toMatch(/from 15 minutes/);
    const enough = run(
      15,
      () => 100,
      () => 5,
    );
    expect(judgeGrowth(enough.rows, enough.buckets).judged).toBe(true);
  });

  it('passes a flat run, and a rise of exactly 20 %', () => {
    const flat = run(
      30,
      () => 150,
      () => 10,
    );
    expect(judgeGrowth(flat.rows, flat.buckets)).toMatchObject({ judged: true, pass: true });
    const edge = run(
      30,
      (m) => (m >= 25 ? 180 : 150),
      (m) => (m >= 25 ? 12 : 10),
    );
    expect(judgeGrowth(edge.rows, edge.buckets)).toMatchObject({ judged: true, pass: true });
  });

  it('fails RSS that grows more than 20 %, and says which figure', () => {
    const leak = run(
      30,
      (m) => 150 + m * 3,
      () => 10,
    );
    const judgement = judgeGrowth(leak.rows, leak.buckets);
    expect(judgement).toMatchObject({ judged: true, pass: false });
    const failed = judgement.checks.filter((c) => !c.pass);
    expect(failed.map((c) => c.what)).toEqual(['RSS (median of the minutes, MB)']);
    // Minutes 5–9 have RSS 165…177 (median 171); the last five 225…237 (median 231).
    expect(failed[0]).toMatchObject({ baseline: 171, last: 231 });
  });

  it('ignores growth before minute 5 and a single spike in the last minutes (medians)', () => {
    const warmUp = run(
      30,
      (m) => (m < 5 ? 60 : 150),
      () => 10,
    );
    expect(judgeGrowth(warmUp.rows, warmUp.buckets)).toMatchObject({ pass: true });
    const spike = run(
      30,
      (m) => (m === 27 ? 400 : 150),
      () => 10,
    );
    expect(judgeGrowth(spike.rows, spike.buckets)).toMatchObject({ pass: true });
  });

  it('fails a p99 that grows more than 20 % and by at least 2 ms', () => {
    const slower = run(
      30,
      () => 150,
      (m) => (m >= 25 ? 13 : 10),
    );
    const judgement = judgeGrowth(slower.rows, slower.buckets);
    expect(judgement).toMatchObject({ judged: true, pass: false });
    // 5 × 200 sync answers per window: the kind is judged as well as all of them.
    expect(judgement.checks.filter((c) => !c.pass).map((c) => c.what)).toEqual([
      'p99, all kinds (ms)',
      'p99, sync (ms)',
    ]);
  });

  it('does not count a p99 rise under 2 ms, whatever its ratio', () => {
    const fast = run(
      30,
      () => 150,
      (m) => (m >= 25 ? 1.9 : 1),
    );
    expect(judgeGrowth(fast.rows, fast.buckets)).toMatchObject({ pass: true });
  });

  it('judges a kind only with enough answers in both windows', () => {
    const few = run(
      30,
      () => 150,
      (m) => (m >= 25 ? 50 : 10),
      100,
      'lookup',
    );
    const fewChecks = judgeGrowth(few.rows, few.buckets);
    // 5 × 100 answers per window: the overall p99 is judged (and fails), the kind's is not.
    expect(fewChecks.checks.map((c) => c.what)).not.toContain('p99, lookup (ms)');
    const many = run(
      30,
      () => 150,
      (m) => (m >= 25 ? 50 : 10),
      MIN_JUDGED_ANSWERS / 5,
      'lookup',
    );
    expect(judgeGrowth(many.rows, many.buckets).checks.map((c) => c.what)).toContain(
      'p99, lookup (ms)',
    );
  });
});

describe('the per-minute figures', () => {
  it('count every status, and leave forgeries and replays out of the overall p99', () => {
    const bucket = new MinuteBucket();
    for (let i = 0; i < 99; i++) bucket.record('sync', 200, 5);
    bucket.record('sync', 503, 40);
    for (let i = 0; i < 50; i++) bucket.record('forgery', 403, 900);
    bucket.record('replay', 200, 800);
    bucket.record('lookup', NO_ANSWER, 10_000);
    const row = minuteRow(4, bucket, { ...SAMPLE, rssMb: 120 });
    expect(row).toMatchObject({
      minute: 4,
      requests: 152,
      statuses: { '200': 100, '403': 50, '503': 1, '0': 1 },
      countByKind: { sync: 100, forgery: 50, replay: 1, lookup: 1 },
      rssMb: 120,
    });
    // 100 sync latencies (99 × 5, 1 × 40): the nearest-rank p99 is the 99th, 5 ms.
    expect(row.p99Ms).toBe(5);
    expect(row.p99ByKind.forgery).toBe(900);
    // A request that got no answer has no latency.
    expect(row.p99ByKind.lookup).toBeNaN();
  });

  it('totals each kind over the run', () => {
    const a = new MinuteBucket();
    const b = new MinuteBucket();
    a.record('sync', 200, 1);
    b.record('sync', 200, 3);
    b.record('csv', 200, 50);
    const totals = kindTotals([a, b]);
    expect(totals.map((t) => [t.kind, t.requests, t.maxMs])).toEqual([
      ['sync', 2, 3],
      ['csv', 1, 50],
      ['all', 3, 50],
    ]);
  });

  it('finds every 5xx but 503', () => {
    const bucket = new MinuteBucket();
    bucket.record('sync', 503, 1);
    bucket.record('sync', 500, 1);
    bucket.record('admin', 502, 1);
    bucket.record('admin', 404, 1);
    const rows = [minuteRow(0, bucket, { ...SAMPLE, rssMb: 1 })];
    expect(serverErrors(rows)).toEqual({ '500': 1, '502': 1 });
    const ok = new MinuteBucket();
    ok.record('sync', 503, 1);
    expect(serverErrors([minuteRow(0, ok, { ...SAMPLE, rssMb: 1 })])).toEqual({});
  });
});

/** An independent model: plain sets of ids, pages applied as the store applies them. */
function applyToSets(sets: Map<number, Set<string>>, model: SoakModel, page: PlannedPage): void {
  const t = Math.floor(page.g / SHAPE.segmentsPerTenant);
  let set = sets.get(page.g);
  if (!set) sets.set(page.g, (set = new Set()));
  for (const u of page.remove) set.delete(model.userId(t, u));
  for (const u of page.add) set.add(model.userId(t, u));
}

describe('the expected-membership model', () => {
  it('plans tasks whose pages touch distinct users: removes real members, adds non-members', () => {
    const model = new SoakModel(SHAPE);
    const reference = new Map<number, Set<string>>();
    for (let round = 0; round < 200; round++) {
      const first = model.nextPage() as PlannedPage;
      const pages = [first];
      for (let i = 1; i < first.totalPages; i++) pages.push(model.nextPage() as PlannedPage);
      expect(pages.every((p) => p.g === first.g && p.taskId === first.taskId)).toBe(true);
      const users = pages.flatMap((p) => [...p.add, ...p.remove]);
      expect(new Set(users).size).toBe(users.length);
      const segment = model.segments[first.g];
      for (const page of pages) {
        expect(page.add.length + page.remove.length).toBe(SHAPE.usersPerPage);
        expect(page.remove.every((u) => segment.members.has(u))).toBe(true);
        expect(page.add.some((u) => segment.members.has(u))).toBe(false);
      }
      // Acknowledged in reverse order: pages of one task commute.
      for (const page of [...pages].reverse()) {
        model.acknowledgePage(page);
        applyToSets(reference, model, page);
      }
    }
    for (const segment of model.segments) {
      expect(model.expectedIds(segment.g)).toEqual(reference.get(segment.g) ?? new Set());
      expect(segment.inFlight).toBe(0);
    }
    // Segments grew to about their target and then churned.
    expect(Math.max(...model.segments.map((s) => s.members.size))).toBeGreaterThanOrEqual(
      SHAPE.targetSize,
    );
  });

  it('starts no task on a segment with a delivery in flight', () => {
    const model = new SoakModel({ ...SHAPE, tenants: 1, segmentsPerTenant: 2, maxPagesPerTask: 1 });
    const a = model.nextPage() as PlannedPage;
    const b = model.nextPage() as PlannedPage;
    expect(a.g).not.toBe(b.g);
    expect(model.nextPage()).toBeUndefined();
    expect(model.drainTarget()).toBeUndefined();
    model.acknowledgePage(a);
    const drained = model.drainTarget();
    expect(drained?.g).toBe(a.g);
    expect(model.nextPage()).toBeUndefined();
    model.acknowledgeDrain(a.g);
    expect(model.segments[a.g].members.size).toBe(0);
    expect(model.nextPage()?.g).toBe(a.g);
  });

  it('leaves a segment whose delivery was never acknowledged out of the checks', () => {
    const model = new SoakModel(SHAPE);
    const page = model.nextPage() as PlannedPage;
    model.giveUp(page.g);
    expect(model.segments[page.g]).toMatchObject({ uncertain: true, inFlight: 0 });
    // Nothing of the page was applied to the expected membership.
    expect(model.segments[page.g].members.size).toBe(0);
  });

  it("answers a user's expected segments in ascending id order", () => {
    const model = new SoakModel(SHAPE);
    for (const g of [4, 3]) {
      model.segments[g].members.add(7);
    }
    expect(model.expectedSegmentsOf(1, 7)).toEqual([soakSegmentId(3), soakSegmentId(4)]);
    expect(model.expectedSegmentsOf(0, 7)).toEqual([]);
  });

  it('refuses a shape whose pool cannot hold a segment plus a task of adds', () => {
    expect(() => new SoakModel({ ...SHAPE, usersPerTenant: 350 })).toThrow(/usersPerTenant/);
  });

  it('IndexedSet keeps positions right through deletes', () => {
    const set = new IndexedSet();
    for (let i = 0; i < 10; i++) set.add(i);
    set.add(3);
    for (const v of [0, 9, 4, 4]) set.delete(v);
    expect(set.size).toBe(7);
    expect(set.values().sort((a, b) => a - b)).toEqual([1, 2, 3, 5, 6, 7, 8]);
    for (let i = 0; i < set.size; i++) expect(set.has(set.at(i))).toBe(true);
  });
});

describe('comparing a server list with the expected members', () => {
  it('lists what is missing, unexpected or repeated', () => {
    const diff = diffMembers(new Set(['a', 'b', 'c']), ['a', 'x', 'a', 'c']);
    expect(diff).toEqual({
      missing: 1,
      unexpected: 1,
      repeated: 1,
      missingSample: ['b'],
      unexpectedSample: ['x'],
    });
    expect(sameMembers(diff)).toBe(false);
    expect(sameMembers(diffMembers(new Set(['a', 'b']), ['b', 'a']))).toBe(true);
  });
});

const change = (seq: number, fields: Partial<FeedChange> = {}): FeedChange => ({
  seq,
  connection: 'c',
  segment_id: 1,
  kind: 'sync',
  added: [],
  removed: [],
  ...fields,
});

describe('the change-feed tail', () => {
  it('rebuilds memberships from the feed, drains included', () => {
    const tail = new FeedTail();
    tail.accept([change(1, { added: ['a', 'b'] }), change(2, { added: ['c'], removed: ['a'] })]);
    tail.accept([change(3, { segment_id: 2, added: ['z'] }), change(4, { kind: 'drain' })]);
    tail.accept([change(5, { added: ['d'] })]);
    expect(tail.problems).toEqual([]);
    expect(tail.membersOf('c', 1)).toEqual(['d']);
    expect(tail.membersOf('c', 2)).toEqual(['z']);
    expect(tail).toMatchObject({ after: 5, entries: 5 });
  });

  it('reports a gap and an entry out of order', () => {
    const gap = new FeedTail();
    gap.accept([change(1), change(2), change(4)]);
    expect(gap.problems).toEqual(['change feed: seq 4 came right after 2 (a gap)']);
    const back = new FeedTail();
    back.accept([change(1), change(3)]);
    back.accept([change(2)]);
    expect(back.problems).toEqual([
      'change feed: seq 3 came right after 1 (a gap)',
      'change feed: seq 2 came right after 3 (out of order)',
    ]);
  });

  it('accepts any first seq above the cursor (older entries deleted by retention)', () => {
    const tail = new FeedTail();
    tail.accept([change(40), change(41)]);
    expect(tail.problems).toEqual([]);
  });
});
