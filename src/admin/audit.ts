// The admin audit log's writer: one row per admin action, refused sign-ins beyond the failure budget counted per minute.
import type { Logger } from 'pino';
import type { AuditCount, AuditDetail, AuditEvent, AuditStore } from '../store/types';

/** Counted refusals are written at least this often (and when the audit log is read or closed). */
export const AUDIT_COUNT_FLUSH_MS = 60_000;
/**
 * Distinct (minute, event, detail) counters held in memory at most. Details are fixed phrases,
 * so a handful per minute is normal; beyond this the oldest are written early.
 */
const MAX_COUNTERS = 1000;

export type AuditFields = { client?: string | null; tenant?: string | null; detail?: AuditDetail };

/**
 * Writes the audit log. Whatever an unauthenticated client can cause is bounded: a wrong
 * credential is a row only while the login throttle still checks credentials (its global failure
 * budget, ADMIN_LOGIN_FAILURES_PER_MINUTE, holds those to that rate); an attempt the throttle
 * refuses unchecked is only counted, in memory, and written as one row per minute and reason.
 * No entry holds a credential, a session id or a token: addresses, fixed phrases, counts.
 */
export class AdminAudit {
  private readonly counts = new Map<string, AuditCount>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<AuditStore, 'recordAudit' | 'addAuditCounts'>,
    private readonly options: { now?: () => number; logger?: Logger; flushMs?: number } = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** One row for one event; rejects if the store does. */
  record(event: AuditEvent, fields: AuditFields = {}): Promise<void> {
    return this.store.recordAudit({
      at: this.now(),
      event,
      client: fields.client ?? null,
      tenant: fields.tenant ?? null,
      detail: fields.detail ?? null,
    });
  }

  /** One row, where a failure to write must not change the answer: logged instead. */
  recordQuietly(event: AuditEvent, fields: AuditFields = {}): Promise<void> {
    return this.record(event, fields).catch((error: unknown) => {
      this.options.logger?.warn({ err: error, event }, 'could not write to the audit log');
    });
  }

  /** Counts one event in this minute's row for its detail: memory only, no statement. */
  count(event: AuditEvent, detail: AuditDetail): void {
    const minute = Math.floor(this.now() / 60_000) * 60_000;
    const key = JSON.stringify([minute, event, detail]);
    const counter = this.counts.get(key);
    if (counter) counter.count += 1;
    else this.counts.set(key, { event, minute, detail, count: 1 });
    if (this.counts.size > MAX_COUNTERS) void this.flush();
    else this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.counts.size === 0) return;
    this.timer = setTimeout(() => void this.flush(), this.options.flushMs ?? AUDIT_COUNT_FLUSH_MS);
    this.timer.unref();
  }

  /** Writes the counts held in memory (one statement); a failure puts them back for next time. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = [...this.counts.values()];
    this.counts.clear();
    if (batch.length === 0) return this.flushing;
    this.flushing = this.flushing
      .then(() => this.store.addAuditCounts(batch))
      .catch((error: unknown) => {
        this.options.logger?.warn({ err: error }, 'could not write counted sign-in refusals');
        for (const count of batch) {
          const key = JSON.stringify([count.minute, count.event, count.detail]);
          const held = this.counts.get(key);
          if (held) held.count += count.count;
          else if (this.counts.size < MAX_COUNTERS) this.counts.set(key, count);
        }
        this.schedule();
      });
    return this.flushing;
  }

  /** Writes what is counted (at shutdown, before the store closes). */
  close(): Promise<void> {
    return this.flush();
  }
}
