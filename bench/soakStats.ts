// The soak's figures: answers bucketed by minute and request kind, per-minute rows, and the growth judgement.
import { percentile } from './load';
import { median } from './grown';

export const REQUEST_KINDS = [
  'sync',
  'drain',
  'lookup',
  'members',
  'csv',
  'changes',
  'admin',
  'forgery',
  'replay',
] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

/**
 * Kinds left out of the overall p99: refusals of forged requests and replays answered from the
 * signature check are fast by design and would flatter it.
 */
const NOT_IN_OVERALL: ReadonlySet<RequestKind> = new Set(['forgery', 'replay']);

/** The status of a request that got no HTTP answer (connection refused or reset). */
export const NO_ANSWER = 0;

type KindBucket = { statuses: Record<string, number>; latencies: number[] };

/** Everything answered during one minute of the soak (by the moment the answer came). */
export class MinuteBucket {
  readonly kinds = new Map<RequestKind, KindBucket>();

  record(kind: RequestKind, status: number, ms: number): void {
    let bucket = this.kinds.get(kind);
    if (!bucket) this.kinds.set(kind, (bucket = { statuses: {}, latencies: [] }));
    bucket.statuses[status] = (bucket.statuses[status] ?? 0) + 1;
    if (status !== NO_ANSWER) bucket.latencies.push(ms);
  }
}

/** Sampled at the minute's end. */
export type MinuteSample = {
  rssMb: number;
  /** SQLite: the database file; PostgreSQL: pg_database_size plus the WAL directory. */
  storeMb: number;
  /** SQLite's -wal file (undefined on PostgreSQL, whose WAL is in storeMb). */
  walMb?: number;
  loadAverage: number;
  /**
   * CPU over the minute, in cores: the server process (every thread), and everything else on the
   * machine but the soak itself (other people's work on a shared box), and steal time.
   */
  cpu?: { server: number; others: number; stolen: number };
  /** Rows the retention job reported deleting during the minute (admin audit log). */
  retentionDeleted: number;
  memberships: number;
};

export type MinuteRow = MinuteSample & {
  minute: number;
  requests: number;
  statuses: Record<string, number>;
  p99Ms: number;
  p99ByKind: Partial<Record<RequestKind, number>>;
  countByKind: Partial<Record<RequestKind, number>>;
};

const sortedCopy = (values: number[]) => Float64Array.from(values).sort();

function p99(values: number[]): number {
  return percentile(Array.from(sortedCopy(values)), 99);
}

/** A minute's row from its bucket and what was sampled at its end. */
export function minuteRow(minute: number, bucket: MinuteBucket, sample: MinuteSample): MinuteRow {
  const statuses: Record<string, number> = {};
  const p99ByKind: MinuteRow['p99ByKind'] = {};
  const countByKind: MinuteRow['countByKind'] = {};
  const overall: number[] = [];
  let requests = 0;
  for (const [kind, k] of bucket.kinds) {
    let count = 0;
    for (const [status, n] of Object.entries(k.statuses)) {
      statuses[status] = (statuses[status] ?? 0) + n;
      count += n;
    }
    requests += count;
    countByKind[kind] = count;
    p99ByKind[kind] = p99(k.latencies);
    if (!NOT_IN_OVERALL.has(kind)) overall.push(...k.latencies);
  }
  return { minute, requests, statuses, p99Ms: p99(overall), p99ByKind, countByKind, ...sample };
}

/** Latencies pooled over some minutes: overall (as in a row) or of one kind. */
export function pooledLatencies(buckets: MinuteBucket[], kind?: RequestKind): number[] {
  const pooled: number[] = [];
  for (const bucket of buckets) {
    for (const [k, b] of bucket.kinds) {
      if (kind ? k === kind : !NOT_IN_OVERALL.has(k)) pooled.push(...b.latencies);
    }
  }
  return pooled;
}

/** The growth rule (issue 15): the last 5 minutes against minutes 5–10, at most 20 % above. */
export const GROWTH_LIMIT = 1.2;
export const BASELINE_FROM_MINUTE = 5;
export const BASELINE_TO_MINUTE = 10;
export const LAST_MINUTES = 5;
/**
 * A p99 rise smaller than this is not counted as growth whatever its ratio: on this shared
 * 2-core machine a few milliseconds of p99 come and go with other people's processes.
 */
export const P99_SLACK_MS = 2;
/** A kind's p99 is judged only with this many answers in each window (p99 of fewer is noise). */
export const MIN_JUDGED_ANSWERS = 1000;

export type GrowthCheck = {
  what: string;
  baseline: number;
  last: number;
  ratio: number;
  pass: boolean;
};

export type GrowthJudgement =
  | { judged: false; reason: string; checks: [] }
  | { judged: true; pass: boolean; checks: GrowthCheck[] };

/**
 * Judges the rule on whole minutes: `minutes` rows (index = minute since the load began) and their
 * buckets. RSS compares the median of the per-minute samples; p99 pools every answer of the
 * window, overall and per kind with at least MIN_JUDGED_ANSWERS answers in both windows. Needs
 * the last 5 minutes to start at or after minute 10 (a run of at least 15 minutes).
 */
export function judgeGrowth(rows: MinuteRow[], buckets: MinuteBucket[]): GrowthJudgement {
  const n = rows.length;
  if (n < BASELINE_TO_MINUTE + LAST_MINUTES) {
    return {
      judged: false,
      reason: `${n} whole minutes: growth is judged from ${BASELINE_TO_MINUTE + LAST_MINUTES} minutes on (the last ${LAST_MINUTES} against minutes ${BASELINE_FROM_MINUTE}–${BASELINE_TO_MINUTE})`,
      checks: [],
    };
  }
  const baseRows = rows.slice(BASELINE_FROM_MINUTE, BASELINE_TO_MINUTE);
  const lastRows = rows.slice(n - LAST_MINUTES);
  const baseBuckets = buckets.slice(BASELINE_FROM_MINUTE, BASELINE_TO_MINUTE);
  const lastBuckets = buckets.slice(n - LAST_MINUTES);
  const checks: GrowthCheck[] = [];
  const rssBase = median(baseRows.map((r) => r.rssMb));
  const rssLast = median(lastRows.map((r) => r.rssMb));
  checks.push({
    what: 'RSS (median of the minutes, MB)',
    baseline: rssBase,
    last: rssLast,
    ratio: rssLast / rssBase,
    pass: !(rssLast > rssBase * GROWTH_LIMIT),
  });
  const p99Check = (what: string, base: number[], last: number[]) => {
    const b = p99(base);
    const l = p99(last);
    checks.push({
      what,
      baseline: b,
      last: l,
      ratio: l / b,
      pass: !(l > b * GROWTH_LIMIT && l - b >= P99_SLACK_MS),
    });
  };
  p99Check('p99, all kinds (ms)', pooledLatencies(baseBuckets), pooledLatencies(lastBuckets));
  for (const kind of REQUEST_KINDS) {
    const base = pooledLatencies(baseBuckets, kind);
    const last = pooledLatencies(lastBuckets, kind);
    if (base.length >= MIN_JUDGED_ANSWERS && last.length >= MIN_JUDGED_ANSWERS) {
      p99Check(`p99, ${kind} (ms)`, base, last);
    }
  }
  return { judged: true, pass: checks.every((c) => c.pass), checks };
}

/** Answers that fail the soak whatever its length: any 5xx but 503 (Heap retries those). */
export function serverErrors(rows: MinuteRow[]): Record<string, number> {
  const found: Record<string, number> = {};
  for (const row of rows) {
    for (const [status, n] of Object.entries(row.statuses)) {
      const code = Number(status);
      if (code >= 500 && code !== 503) found[status] = (found[status] ?? 0) + n;
    }
  }
  return found;
}

export type KindTotal = {
  kind: RequestKind | 'all';
  requests: number;
  statuses: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
};

/** Each kind's answers over the whole load, and all of them ("all" keeps the overall p99's kinds). */
export function kindTotals(buckets: MinuteBucket[]): KindTotal[] {
  const total = (kind: RequestKind | 'all'): KindTotal => {
    const statuses: Record<string, number> = {};
    for (const bucket of buckets) {
      for (const [k, b] of bucket.kinds) {
        if (kind !== 'all' && k !== kind) continue;
        for (const [status, n] of Object.entries(b.statuses)) {
          statuses[status] = (statuses[status] ?? 0) + n;
        }
      }
    }
    const sorted = Array.from(
      sortedCopy(pooledLatencies(buckets, kind === 'all' ? undefined : kind)),
    );
    return {
      kind,
      requests: Object.values(statuses).reduce((sum, n) => sum + n, 0),
      statuses,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted[sorted.length - 1] ?? NaN,
    };
  };
  return [...REQUEST_KINDS.map(total).filter((t) => t.requests > 0), total('all')];
}
