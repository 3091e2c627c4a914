// Per-minute refusal counters in memory, written as one upsert per flush: a flood of forged requests costs no rows.
import type { Refusal, RefusalCount } from './types';

export const MINUTE_MS = 60_000;
export const DEFAULT_REFUSAL_FLUSH_MS = MINUTE_MS;

/**
 * Distinct (minute, reason, status) keys held between flushes. Reasons come from a small fixed
 * set in our code, so this is never reached in practice; it bounds memory if a new code path ever
 * passed something unbounded as a reason. Beyond it, refusals are counted under OVERFLOW_REASON.
 */
export const MAX_REFUSAL_KEYS = 256;
export const OVERFLOW_REASON = 'other';
const OVERFLOW_KEYS = 64;
const MAX_REASON_LENGTH = 64;

/** Unix ms at the start of the minute `at` falls in. */
export function minuteOf(at: number): number {
  return Math.floor(at / MINUTE_MS) * MINUTE_MS;
}

/**
 * Counts refusals by minute, reason and HTTP status, and hands them to `write` on a timer
 * (started by the first refusal, unref'd so it never keeps the process alive), on flush() and on
 * close(). A failed write puts its counts back for the next flush.
 */
export class RefusalBuffer {
  private counts = new Map<string, RefusalCount>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  /** A flush queued behind the running one and not started yet, which new callers join. */
  private queued: Promise<void> | undefined;

  constructor(
    private readonly write: (counts: RefusalCount[]) => Promise<void>,
    private readonly flushMs: number = DEFAULT_REFUSAL_FLUSH_MS,
  ) {}

  count(refusal: Refusal): void {
    this.add({
      minute: minuteOf(refusal.at),
      reason: refusal.reason.slice(0, MAX_REASON_LENGTH),
      httpStatus: refusal.httpStatus,
      count: 1,
    });
    if (!this.timer) {
      this.timer = setInterval(() => void this.flush().catch(() => undefined), this.flushMs);
      this.timer.unref();
    }
  }

  /**
   * Writes what has been counted (one write; none when nothing was). Flushes run one at a time,
   * and a call made while one is running joins the single flush queued behind it, which takes
   * every count made before it starts: however many callers wait (each admin read flushes), at
   * most two writes are ahead of any of them, and a slow store cannot grow a queue of flushes.
   */
  flush(): Promise<void> {
    if (this.queued) return this.queued;
    const next: Promise<void> = this.flushing.then(() => {
      // Starting now: the counts it takes include every caller that joined it.
      if (this.queued === next) this.queued = undefined;
      return this.writeCounted();
    });
    this.queued = next;
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async writeCounted(): Promise<void> {
    if (this.counts.size === 0) return;
    const taken = [...this.counts.values()];
    this.counts = new Map();
    try {
      await this.write(taken);
    } catch (error) {
      // Put them back for the next flush (the key cap applies to them too).
      for (const count of taken) this.add(count);
      throw error;
    }
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * Adds to a key's count. A new key beyond MAX_REFUSAL_KEYS is counted under OVERFLOW_REASON;
   * beyond a few more (overflow keys of other minutes while the store is down), the count is
   * dropped: memory stays bounded whatever happens.
   */
  private add(count: RefusalCount): void {
    let reason = count.reason;
    let key = `${count.minute}\n${count.httpStatus}\n${reason}`;
    if (!this.counts.has(key) && this.counts.size >= MAX_REFUSAL_KEYS) {
      reason = OVERFLOW_REASON;
      key = `${count.minute}\n${count.httpStatus}\n${reason}`;
      if (!this.counts.has(key) && this.counts.size >= MAX_REFUSAL_KEYS + OVERFLOW_KEYS) return;
    }
    const existing = this.counts.get(key);
    if (existing) existing.count += count.count;
    else this.counts.set(key, { ...count, reason });
  }
}
