// AppMetrics without a network: segment freshness from a fake collector, retention progress, isolation between instances.
import pino from 'pino';
import { AppMetrics, FRESHNESS_TOP } from '../../src/metrics/appMetrics';
import { StoreUnavailableError } from '../../src/store/errors';
import { RetentionJob, type RetentionPolicy } from '../../src/store/retention';
import type { RetentionTarget, SegmentFreshnessSummary } from '../../src/store/types';
import { parseExposition, value, type Scrape } from '../support/scrape';

const read = async (metrics: AppMetrics): Promise<Scrape> =>
  parseExposition(await metrics.metrics());

describe('segment freshness gauges (injected collector)', () => {
  test('the counts, the stalest segments (+Inf: never completed), one query per scrape', async () => {
    let answer: SegmentFreshnessSummary = {
      segments: 3,
      stale: 2,
      oldest: [
        { environmentId: 'env-2', segmentId: '12', ageSeconds: null },
        { environmentId: 'env-1', segmentId: '11', ageSeconds: 90_000 },
      ],
    };
    let calls = 0;
    const metrics = new AppMetrics({ defaultMetrics: false, queryReuseMs: 0 });
    metrics.watch({
      segmentFreshness: async () => {
        calls++;
        return answer;
      },
    });
    const first = await read(metrics);
    expect(calls).toBe(1);
    expect(value(first, 'heap_partner_segments')).toBe(3);
    expect(value(first, 'heap_partner_segments_stale')).toBe(2);
    const age = (s: Scrape, environment: string, segment: string) =>
      value(s, 'heap_partner_segment_seconds_since_last_sync', { environment, segment });
    expect(age(first, 'env-1', '11')).toBe(90_000);
    expect(age(first, 'env-2', '12')).toBe(Number.POSITIVE_INFINITY);

    // A segment that synced since leaves the list; never more than FRESHNESS_TOP are listed.
    answer = {
      segments: 40,
      stale: 30,
      oldest: Array.from({ length: 30 }, (_, i) => ({
        environmentId: 'env-3',
        segmentId: String(100 + i),
        ageSeconds: 50_000 - i,
      })),
    };
    const second = await read(metrics);
    expect(calls).toBe(2);
    expect(age(second, 'env-1', '11')).toBeUndefined();
    expect(
      second.families.find((f) => f.name === 'heap_partner_segment_seconds_since_last_sync')
        ?.metrics,
    ).toHaveLength(FRESHNESS_TOP);
    expect(age(second, 'env-3', '100')).toBe(50_000);
    expect(value(second, 'heap_partner_segments_stale')).toBe(30);
  });

  test('a failing query keeps the last values and is counted as a store error', async () => {
    let fail = false;
    const reported: string[] = [];
    const metrics = new AppMetrics({
      defaultMetrics: false,
      queryReuseMs: 0,
      onCollectError: (what) => reported.push(what),
    });
    metrics.watch({
      segmentFreshness: async () => {
        if (fail) throw new StoreUnavailableError('database unreachable');
        return { segments: 5, stale: 1, oldest: [] };
      },
    });
    await read(metrics);
    fail = true;
    const scraped = await read(metrics);
    expect(value(scraped, 'heap_partner_segments_stale')).toBe(1);
    expect(reported).toEqual(['segment freshness']);
    // The counter was read while the query ran: the failure shows from the next scrape on.
    const next = await read(metrics);
    expect(value(next, 'heap_partner_store_errors_total', { kind: 'unavailable' })).toBe(1);
    expect(value(next, 'heap_partner_segments')).toBe(5);
  });
});

describe('retention job progress', () => {
  const policy: RetentionPolicy = {
    signatureMaxAgeMs: 1000,
    deliveriesMaxAgeMs: 1000,
    syncTasksMaxAgeMs: 0,
    changesMaxAgeMs: 0,
  };
  const silent = pino({ level: 'silent' });

  test('rows deleted per table batch by batch, the run, its start and duration', async () => {
    const metrics = new AppMetrics({ defaultMetrics: false });
    const left: Partial<Record<RetentionTarget, number>> = { deliveries: 1003, oauth_states: 2 };
    const store = {
      pruneBatch: async (target: RetentionTarget, _cutoff: number, limit: number) => {
        const rows = Math.min(limit, left[target] ?? 0);
        left[target] = (left[target] ?? 0) - rows;
        return rows;
      },
    };
    const job = new RetentionJob(store, policy, silent, {
      intervalMs: 60_000,
      batchSize: 1000,
      pauseMs: 0,
      observer: metrics.retention,
    });
    const before = Date.now();
    expect(await job.runOnce()).toMatchObject({ deliveries: 1003, oauth_states: 2 });
    const scraped = await read(metrics);
    const deleted = (table: string) =>
      value(scraped, 'heap_partner_retention_deleted_rows_total', { table });
    expect(deleted('deliveries')).toBe(1003);
    expect(deleted('oauth_states')).toBe(2);
    expect(deleted('changes')).toBe(0);
    expect(value(scraped, 'heap_partner_retention_runs_total', { result: 'ok' })).toBe(1);
    const startedAt = value(scraped, 'heap_partner_retention_last_run_timestamp_seconds') ?? 0;
    expect(startedAt).toBeGreaterThanOrEqual(Math.floor(before / 1000));
    expect(startedAt).toBeLessThanOrEqual(Date.now() / 1000);
    expect(
      value(scraped, 'heap_partner_retention_last_run_duration_seconds'),
    ).toBeGreaterThanOrEqual(0);
  });

  test('a failed run is counted as failed', async () => {
    const metrics = new AppMetrics({ defaultMetrics: false });
    const job = new RetentionJob(
      {
        pruneBatch: async () => {
          throw new StoreUnavailableError('database unreachable');
        },
      },
      policy,
      silent,
      { intervalMs: 60_000, observer: metrics.retention },
    );
    expect(await job.runOnce()).toBeUndefined();
    const scraped = await read(metrics);
    expect(value(scraped, 'heap_partner_retention_runs_total', { result: 'failed' })).toBe(1);
    expect(value(scraped, 'heap_partner_retention_runs_total', { result: 'ok' })).toBeUndefined();
  });
});

test('two instances in one process keep separate registries', async () => {
  const [a, b] = [new AppMetrics(), new AppMetrics()];
  a.receive({
    result: { status: 403, body: { error: 'invalid_signature', message: '' } },
  });
  const labels = { action: 'none', status: 'refused', reason: 'invalid_signature', code: '403' };
  expect(value(await read(a), 'heap_partner_webhook_deliveries_total', labels)).toBe(1);
  expect(value(await read(b), 'heap_partner_webhook_deliveries_total', labels)).toBeUndefined();
  // Both have the process metrics, although prom-client's default registry has none of it.
  expect(value(await read(b), 'process_start_time_seconds')).toBeGreaterThan(0);
});
