// The retention job: deletes what no longer matters from every growing table, in small batches, on a timer.
import type { Logger } from 'pino';
import {
  RETENTION_TARGETS,
  type AdminQueries,
  type AuditEntry,
  type RetentionTarget,
} from './types';

export const DAY_MS = 24 * 60 * 60 * 1000;
export const DEFAULT_RETENTION_BATCH = 1000;
/**
 * Margin on the replay window: instances whose clocks differ by up to this much still refuse a
 * replay at the signature check before its accepted_signatures row could be gone.
 */
export const SIGNATURE_CLOCK_MARGIN_MS = 60_000;

export type RetentionPolicy = {
  /** accepted_signatures older than this can no longer be replayed past the signature check. */
  signatureMaxAgeMs: number;
  /** The deliveries log and the refusal counts; 0 keeps them forever. */
  deliveriesMaxAgeMs: number;
  /** Sync tasks and their pages, by the task's last delivery; 0 keeps them forever. */
  syncTasksMaxAgeMs: number;
  /** Change-feed entries (the newest always stays); 0 keeps them forever. */
  changesMaxAgeMs: number;
  /** The admin audit log; 0 or absent keeps it forever. */
  auditMaxAgeMs?: number;
};

export type RetentionReport = Record<RetentionTarget, number>;

export type RetentionOptions = {
  now?: () => number;
  /** Rows per DELETE. */
  batchSize?: number;
  /** Pause between two batches, so deliveries queued meanwhile commit first. */
  pauseMs?: number;
  /** Asked between batches: true stops the run early (shutdown). */
  stopped?: () => boolean;
  /** Told the progress (the metrics module's hook); must not throw. */
  observer?: RetentionObserver;
};

export type RetentionObserver = {
  /** After each batch: rows of `target` it deleted. */
  deleted?(target: RetentionTarget, rows: number): void;
  /** After each run of the job: when it started (unix ms), how long it took, whether it failed. */
  finished?(run: { startedAt: number; seconds: number; ok: boolean }): void;
};

/** Records a run that deleted something, or failed, in the admin audit log. */
export type RetentionAudit = (entry: AuditEntry) => Promise<void>;

/** The policy the configuration asks for (days → ms; the tolerance window plus a margin). */
export function retentionPolicy(config: {
  webhook: { toleranceOldMs: number; toleranceAheadMs: number };
  retention: {
    deliveriesDays: number;
    syncTasksDays: number;
    changesDays: number;
    auditDays: number;
  };
}): RetentionPolicy {
  return {
    signatureMaxAgeMs:
      config.webhook.toleranceOldMs + config.webhook.toleranceAheadMs + SIGNATURE_CLOCK_MARGIN_MS,
    deliveriesMaxAgeMs: config.retention.deliveriesDays * DAY_MS,
    syncTasksMaxAgeMs: config.retention.syncTasksDays * DAY_MS,
    changesMaxAgeMs: config.retention.changesDays * DAY_MS,
    auditMaxAgeMs: config.retention.auditDays * DAY_MS,
  };
}

/** Each target's cutoff (rows older than it go), or undefined when it is kept forever. */
function cutoffs(
  policy: RetentionPolicy,
  now: number,
): Record<RetentionTarget, number | undefined> {
  const before = (maxAgeMs: number) => (maxAgeMs > 0 ? now - maxAgeMs : undefined);
  return {
    accepted_signatures: now - policy.signatureMaxAgeMs,
    deliveries: before(policy.deliveriesMaxAgeMs),
    refusal_counts: before(policy.deliveriesMaxAgeMs),
    // Pages before their tasks: a task row goes only once it has no pages left.
    sync_pages: before(policy.syncTasksMaxAgeMs),
    sync_tasks: before(policy.syncTasksMaxAgeMs),
    changes: before(policy.changesMaxAgeMs),
    oauth_states: now,
    audit_log: before(policy.auditMaxAgeMs ?? 0),
  };
}

/**
 * One pass over every target: batches of at most `batchSize` rows, each its own short statement
 * (on SQLite a part of one group commit; on PostgreSQL one pooled connection, released between
 * batches), with a pause between them, until a batch deletes fewer than a full batch.
 */
export async function runRetention(
  store: Pick<AdminQueries, 'pruneBatch'>,
  policy: RetentionPolicy,
  options: RetentionOptions = {},
): Promise<RetentionReport> {
  const now = (options.now ?? Date.now)();
  const batchSize = options.batchSize ?? DEFAULT_RETENTION_BATCH;
  const pauseMs = options.pauseMs ?? 10;
  const limits = cutoffs(policy, now);
  const report = Object.fromEntries(RETENTION_TARGETS.map((t) => [t, 0])) as RetentionReport;
  for (const target of RETENTION_TARGETS) {
    const cutoff = limits[target];
    if (cutoff === undefined) continue;
    for (;;) {
      if (options.stopped?.()) return report;
      const deleted = await store.pruneBatch(target, cutoff, batchSize);
      report[target] += deleted;
      if (deleted > 0) options.observer?.deleted?.(target, deleted);
      if (deleted < batchSize) break;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  return report;
}

/**
 * Runs runRetention shortly after start and then every `intervalMs`, never two runs at once; logs
 * one info line per run with what it deleted. stop() waits for a run in progress to end its
 * current batch.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionReport | undefined> | undefined;
  private stopping = false;

  constructor(
    private readonly store: Pick<AdminQueries, 'pruneBatch'>,
    private readonly policy: RetentionPolicy,
    private readonly logger: Logger,
    private readonly options: RetentionOptions & {
      intervalMs: number;
      firstRunDelayMs?: number;
      /** Where a run that deleted something, or failed, is recorded (the admin audit log). */
      audit?: RetentionAudit;
    },
  ) {}

  start(): void {
    this.schedule(this.options.firstRunDelayMs ?? 30_000);
  }

  /** One run now (or the one in progress); undefined if it failed (logged). */
  runOnce(): Promise<RetentionReport | undefined> {
    if (this.running) return this.running;
    const started = Date.now();
    this.running = runRetention(this.store, this.policy, {
      ...this.options,
      stopped: () => this.stopping,
    })
      .then(async (deleted) => {
        this.logger.info({ deleted, ms: Date.now() - started }, 'retention: deleted expired rows');
        this.finished(started, true);
        // Runs that deleted nothing are not worth a row each (one every interval, for years).
        if (Object.values(deleted).some((count) => count > 0)) {
          await this.record({ ...deleted, failed: false });
        }
        return deleted;
      })
      .catch(async (error: unknown) => {
        this.logger.warn({ err: error }, 'retention run failed; the next run retries');
        this.finished(started, false);
        await this.record({ failed: true });
        return undefined;
      })
      .finally(() => {
        this.running = undefined;
      });
    return this.running;
  }

  private finished(startedAt: number, ok: boolean): void {
    this.options.observer?.finished?.({ startedAt, seconds: (Date.now() - startedAt) / 1000, ok });
  }

  /** An audit failure is logged, never allowed to fail the run. */
  private async record(detail: Record<string, number | boolean>): Promise<void> {
    if (!this.options.audit) return;
    const at = (this.options.now ?? Date.now)();
    await this.options
      .audit({ at, event: 'retention_run', client: null, tenant: null, detail })
      .catch((error: unknown) => {
        this.logger.warn({ err: error }, 'could not record the retention run in the audit log');
      });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      void this.runOnce().then(() => this.schedule(this.options.intervalMs));
    }, delayMs);
    this.timer.unref();
  }
}
