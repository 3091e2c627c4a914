// Prometheus metrics of one app instance: its own prom-client registry, fed by hooks in the receive core, the store and the retention job.
import type * as PromClient from 'prom-client';
import type { Counter, Histogram, Registry } from 'prom-client';
import { isStoreUnavailable } from '../store/errors';
import type { RetentionObserver } from '../store/retention';
import {
  RETENTION_TARGETS,
  storeInstrumentation,
  type PoolStats,
  type RetentionTarget,
  type SegmentFreshnessSummary,
} from '../store/types';
import type { ReceiveObservation, ReceiveObserver, ReceiveResult } from '../webhook/receive';

/** What the metrics read when scraped; each is optional (an embedder may have none of them). */
export type MetricsSources = {
  /** The webhook body budget (in-flight body bytes). */
  bodyBudget?: { readonly inUseBytes: number; readonly capacityBytes: number };
  /** The store: its StoreInstrumentation (SQLite group commits, the PostgreSQL pool) if any. */
  store?: object;
  /** Active OAuth connections (for "no deliveries although customers are connected"). */
  activeConnections?: () => Promise<number>;
  /** The stale-segment summary (the store's segmentFreshness, with STALE_SEGMENT_HOURS). */
  segmentFreshness?: () => Promise<SegmentFreshnessSummary>;
};

export type AppMetricsOptions = {
  /** Process metrics and event-loop lag (prom-client's default metrics); default true. */
  defaultMetrics?: boolean;
  /** Told when a scrape-time query fails (the scrape still answers, without those values). */
  onCollectError?: (what: string, error: unknown) => void;
  /** How long a scrape-time query's answer is reused (default 1000 ms; 0: one scrape only). */
  queryReuseMs?: number;
};

/** Segments listed one by one in heap_partner_segment_seconds_since_last_sync (bounded cardinality). */
let promClient: typeof PromClient | undefined;

/**
 * prom-client, loaded by the first AppMetrics rather than with this module: it and the
 * OpenTelemetry API it loads are about 80 modules, which a server with metrics off (the default)
 * kept in its idle RSS for nothing, since the app imports this module either way.
 */
function prom(): typeof PromClient {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  promClient ??= require('prom-client') as typeof PromClient;
  return promClient;
}

export const FRESHNESS_TOP = 20;

/** How long one answer of a scrape-time query is reused: a flood of scrapes costs one query a second. */
const QUERY_REUSE_MS = 1000;

/** A verified delivery's action, as a bounded label: Heap's two, anything else, or not known. */
function actionLabel(result: ReceiveResult): string {
  switch (result.delivery?.kind) {
    case 'sync':
      return 'sync';
    case 'drain':
      return 'drain';
    case 'unknown':
      return 'other';
    default:
      return 'none';
  }
}

/** Reasons are our own error codes; anything else would be a bug, not a new label value. */
function reasonLabel(reason: string): string {
  return /^[a-z_]{1,64}$/.test(reason) ? reason : 'other';
}

/** 503 error codes of the receive core → what ran out. */
const UNAVAILABLE_CAUSES: Record<string, string> = {
  server_busy: 'inflight_body_bytes',
  store_unavailable: 'store_unavailable',
  handler_failed: 'handler_failed',
};

/**
 * Shares one run of `query` between the gauges of a scrape (collected concurrently) and between
 * scrapes: while it runs, and for `reuseMs` after it started.
 */
function shared<T>(query: () => Promise<T>, reuseMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T>; settled: boolean } | undefined;
  return () => {
    const now = Date.now();
    if (last === undefined || (last.settled && now - last.at >= reuseMs)) {
      const run = { at: now, value: query(), settled: false };
      void run.value.finally(() => (run.settled = true));
      last = run;
    }
    return last.value;
  };
}

/**
 * One registry per app instance, never prom-client's global one: the toolkit is embeddable (the
 * host app may have its own metrics) and one process may run many apps (tests do).
 */
export class AppMetrics {
  readonly registry = new (prom().Registry)();
  /** The receive core's observer (createHeapWebhooks' `observer`). */
  readonly receive: ReceiveObserver = (observation) => this.observeDelivery(observation);
  /** The retention job's observer (RetentionJob's `observer`). */
  readonly retention: RetentionObserver;

  private readonly deliveries: Counter<'action' | 'status' | 'reason' | 'code'>;
  private readonly applySeconds: Histogram<'action'>;
  private readonly bodyBytes: Histogram<'action'>;
  private readonly unavailable: Counter<'cause'>;
  private readonly storeErrors: Counter<'kind'>;
  private readonly stops: (() => void)[] = [];
  private readonly onCollectError: (what: string, error: unknown) => void;
  private readonly queryReuseMs: number;

  constructor(options: AppMetricsOptions = {}) {
    const registers = [this.registry];
    this.onCollectError = options.onCollectError ?? (() => {});
    this.queryReuseMs = options.queryReuseMs ?? QUERY_REUSE_MS;
    if (options.defaultMetrics !== false) prom().collectDefaultMetrics({ register: this.registry });
    this.deliveries = new (prom().Counter)({
      name: 'heap_partner_webhook_deliveries_total',
      help: 'Webhook requests answered, by action (sync, drain, other, none = refused before the action was known), status (applied, duplicate, ignored, refused, unavailable, failed), refusal reason and HTTP code.',
      labelNames: ['action', 'status', 'reason', 'code'],
      registers,
    });
    // Present from the start, so "no deliveries for hours" is a zero rather than a missing series.
    for (const action of ['sync', 'drain']) {
      this.deliveries.inc({ action, status: 'applied', reason: '', code: '200' }, 0);
    }
    this.applySeconds = new (prom().Histogram)({
      name: 'heap_partner_webhook_apply_duration_seconds',
      help: 'Time to verify, parse and durably apply a delivery (committed) and run its handlers.',
      labelNames: ['action'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.bodyBytes = new (prom().Histogram)({
      name: 'heap_partner_webhook_body_bytes',
      help: 'Size of verified webhook bodies as received.',
      labelNames: ['action'],
      buckets: [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304, 16_777_216],
      registers,
    });
    this.unavailable = new (prom().Counter)({
      name: 'heap_partner_unavailable_responses_total',
      help: 'Webhook 503 answers (Heap retries them), by what ran out: inflight_body_bytes (WEBHOOK_MAX_INFLIGHT_BYTES), store_unavailable, handler_failed.',
      labelNames: ['cause'],
      registers,
    });
    this.storeErrors = new (prom().Counter)({
      name: 'heap_partner_store_errors_total',
      help: 'Store failures: unavailable (a 503, the store is down or busy) or unexpected (a 500, or a failed scrape-time query).',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['unavailable', 'unexpected']) this.storeErrors.inc({ kind }, 0);
    this.retention = this.retentionMetrics(registers);
  }

  /** The content type of `metrics()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text (queries the sources that are read at scrape time). */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  /** Starts reading these sources at scrape time (call once per source). */
  watch(sources: MetricsSources): void {
    const registers = [this.registry];
    const { bodyBudget, store, activeConnections, segmentFreshness } = sources;
    if (bodyBudget) {
      new (prom().Gauge)({
        name: 'heap_partner_webhook_inflight_body_bytes',
        help: 'Webhook body bytes buffered right now, across requests.',
        registers,
        collect() {
          this.set(bodyBudget.inUseBytes);
        },
      });
      new (prom().Gauge)({
        name: 'heap_partner_webhook_inflight_body_bytes_limit',
        help: 'WEBHOOK_MAX_INFLIGHT_BYTES: beyond it webhooks are answered 503.',
        registers,
        collect() {
          this.set(bodyBudget.capacityBytes);
        },
      });
    }
    const instrumentation = store ? storeInstrumentation(store) : {};
    if (instrumentation.observeCommits) {
      const batches = new (prom().Histogram)({
        name: 'heap_partner_store_commit_batch_size',
        help: 'Writes (deliveries, refusal log rows, …) carried by each SQLite group commit.',
        buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
        registers,
      });
      this.stops.push(instrumentation.observeCommits((size) => batches.observe(size)));
    }
    const poolStats = instrumentation.poolStats;
    if (poolStats) {
      const pool = (name: string, help: string, read: (s: PoolStats) => number) =>
        new (prom().Gauge)({
          name,
          help,
          registers,
          collect() {
            this.set(read(poolStats()));
          },
        });
      pool(
        'heap_partner_postgres_pool_connections',
        'PostgreSQL connections open in this instance’s pool (busy and idle).',
        (s) => s.total,
      );
      pool(
        'heap_partner_postgres_pool_idle_connections',
        'PostgreSQL connections open and idle in the pool.',
        (s) => s.idle,
      );
      pool(
        'heap_partner_postgres_pool_waiting_clients',
        'Queries waiting for a pooled PostgreSQL connection.',
        (s) => s.waiting,
      );
    }
    if (activeConnections) {
      this.watchConnections(
        shared(() => this.orUndefined('active connections', activeConnections), this.queryReuseMs),
      );
    }
    if (segmentFreshness) {
      this.watchFreshness(
        shared(() => this.orUndefined('segment freshness', segmentFreshness), this.queryReuseMs),
      );
    }
  }

  /** Stops listening to the store (the registry keeps its last values). */
  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  private observeDelivery({ result, bodyBytes, seconds }: ReceiveObservation): void {
    const action = actionLabel(result);
    const code = String(result.status);
    if ('error' in result.body) {
      const reason = reasonLabel(result.body.error);
      const status =
        result.status === 503 ? 'unavailable' : result.status >= 500 ? 'failed' : 'refused';
      this.deliveries.inc({ action, status, reason, code });
      if (result.status === 503) {
        this.unavailable.inc({ cause: UNAVAILABLE_CAUSES[reason] ?? reason });
      }
      if (reason === 'store_unavailable') this.storeErrors.inc({ kind: 'unavailable' });
      if (result.status === 500) this.storeErrors.inc({ kind: 'unexpected' });
    } else {
      this.deliveries.inc({ action, status: result.body.status, reason: '', code });
    }
    // Latency and size only of verified deliveries: the figures of Heap's traffic, not of forgeries.
    if (result.delivery) {
      if (seconds !== undefined) this.applySeconds.observe({ action }, seconds);
      if (bodyBytes !== undefined) this.bodyBytes.observe({ action }, bodyBytes);
    }
  }

  /**
   * A scrape-time query; one that fails is counted (heap_partner_store_errors_total) and reported
   * once, and its gauges keep their last values: a 0 would silence the alerts built on them.
   */
  private async orUndefined<T>(what: string, query: () => Promise<T>): Promise<T | undefined> {
    try {
      return await query();
    } catch (error) {
      this.storeErrors.inc({ kind: isStoreUnavailable(error) ? 'unavailable' : 'unexpected' });
      this.onCollectError(what, error);
      return undefined;
    }
  }

  private watchConnections(activeConnections: () => Promise<number | undefined>): void {
    new (prom().Gauge)({
      name: 'heap_partner_connections_active',
      help: 'Customers connected with OAuth (connected and holding a token).',
      registers: [this.registry],
      async collect() {
        const count = await activeConnections();
        if (count !== undefined) this.set(count);
      },
    });
  }

  /** The three gauges are collected concurrently; `read` is shared, so they make one query. */
  private watchFreshness(read: () => Promise<SegmentFreshnessSummary | undefined>): void {
    const registers = [this.registry];
    new (prom().Gauge)({
      name: 'heap_partner_segments',
      help: 'Segments that have had a sync task.',
      registers,
      async collect() {
        const summary = await read();
        if (summary) this.set(summary.segments);
      },
    });
    new (prom().Gauge)({
      name: 'heap_partner_segments_stale',
      help: 'Segments whose last completed sync task is older than STALE_SEGMENT_HOURS (or never completed).',
      registers,
      async collect() {
        const summary = await read();
        if (summary) this.set(summary.stale);
      },
    });
    new (prom().Gauge)({
      name: 'heap_partner_segment_seconds_since_last_sync',
      help: `Seconds since the last completed sync task of the ${FRESHNESS_TOP} stalest segments (+Inf: none ever completed).`,
      labelNames: ['environment', 'segment'],
      registers,
      async collect() {
        const summary = await read();
        if (!summary) return;
        // Only the current top N: a segment that synced since drops out of the list.
        this.reset();
        for (const { environmentId, segmentId, ageSeconds } of summary.oldest.slice(
          0,
          FRESHNESS_TOP,
        )) {
          this.set(
            { environment: environmentId, segment: segmentId },
            ageSeconds ?? Number.POSITIVE_INFINITY,
          );
        }
      },
    });
  }

  private retentionMetrics(registers: Registry[]): RetentionObserver {
    const deleted = new (prom().Counter)({
      name: 'heap_partner_retention_deleted_rows_total',
      help: 'Rows the retention job deleted, by table (counted batch by batch, so a long run shows progress).',
      labelNames: ['table'],
      registers,
    });
    for (const table of RETENTION_TARGETS) deleted.inc({ table }, 0);
    const runs = new (prom().Counter)({
      name: 'heap_partner_retention_runs_total',
      help: 'Retention job runs, by result (ok, failed).',
      labelNames: ['result'],
      registers,
    });
    const lastRun = new (prom().Gauge)({
      name: 'heap_partner_retention_last_run_timestamp_seconds',
      help: 'When the last retention run started (unix seconds).',
      registers,
    });
    const lastDuration = new (prom().Gauge)({
      name: 'heap_partner_retention_last_run_duration_seconds',
      help: 'How long the last retention run took.',
      registers,
    });
    return {
      deleted: (target: RetentionTarget, rows: number) => deleted.inc({ table: target }, rows),
      finished: ({ startedAt, seconds, ok }) => {
        runs.inc({ result: ok ? 'ok' : 'failed' });
        lastRun.set(startedAt / 1000);
        lastDuration.set(seconds);
      },
    };
  }
}
