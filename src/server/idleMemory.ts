// Gives memory back to the OS when the server goes quiet, or right after a very large request.
import type { IncomingMessage } from 'node:http';

/** How long without a new request before memory is released (V8's own reducer waits 8 s). */
export const QUIET_MS = 10_000;

/**
 * A request body of at least this many bytes (about 30,000 user ids) is followed by a release as
 * soon as no request is in flight: such a page (a segment's first sync, up to 100,000 ids) leaves
 * tens of MB of garbage and a grown young generation on both threads, and the next one arriving
 * on top of them is what set the server's peak RSS (212 MB over three 100,000-user pages).
 */
export const LARGE_BODY_BYTES = 1024 * 1024;

/**
 * At most one large-body release this often. A release costs about 25 ms on the main thread and
 * 15 ms in the SQLite worker; a captured signed 1 MiB request replayed within the signature's
 * tolerance is answered 200 "duplicate", so without a spacing each replay would buy that much CPU.
 * A second: at most ~4 % of a core, and still one release between consecutive 100,000-user pages
 * (each takes about a second to apply). A skipped release is left to the quiet-spell one.
 */
export const LARGE_RELEASE_GAP_MS = 1000;

export type IdleMemoryOptions = {
  /** Does the releasing: collect this thread's heap, ask the store to shrink its caches. */
  release: () => Promise<void>;
  quietMs?: number;
  largeBodyBytes?: number;
  /** Least time between two large-body releases (LARGE_RELEASE_GAP_MS). */
  largeGapMs?: number;
  /** The clock the spacing is measured on (tests). */
  now?: () => number;
  /** Told when a release fails (it is retried at the next quiet spell). */
  onError?: (error: unknown) => void;
};

/**
 * Watches requests through `observe` (a 'request' listener) and calls `release` once per quiet
 * spell: after `quietMs` without a new request (and once after start-up, whose transient
 * allocations V8 otherwise keeps), and when the last request in flight finishes after an answered
 * (2xx) one with a large body (at most once per `largeGapMs`). Its one timer is unref'd, runs only
 * while requests come, and is not re-armed once a quiet spell was released, so an idle server
 * allocates nothing for it.
 */
export class IdleMemory {
  private readonly quietMs: number;
  private readonly largeBodyBytes: number;
  private readonly largeGapMs: number;
  private readonly now: () => number;
  private lastLargeReleaseAt = -Infinity;
  private lastRequestAt = Date.now();
  private inFlight = 0;
  private largeSeen = false;
  private timer: NodeJS.Timeout | undefined;
  private releasing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: IdleMemoryOptions) {
    this.quietMs = options.quietMs ?? QUIET_MS;
    this.largeBodyBytes = options.largeBodyBytes ?? LARGE_BODY_BYTES;
    this.largeGapMs = options.largeGapMs ?? LARGE_RELEASE_GAP_MS;
    this.now = options.now ?? Date.now;
    this.arm(this.quietMs);
  }

  /** A 'request' listener. */
  readonly observe = (
    req: IncomingMessage,
    res: { statusCode: number; once(event: 'close', f: () => void): void },
  ) => {
    this.lastRequestAt = Date.now();
    this.inFlight++;
    const length = Number(req.headers['content-length']);
    const large = length >= this.largeBodyBytes;
    res.once('close', () => {
      this.inFlight--;
      // Only an accepted one: a full collection costs far more CPU than reading a forged 1 MiB
      // body does, so anyone could otherwise make the server collect after every request.
      if (large && res.statusCode >= 200 && res.statusCode < 300) this.largeSeen = true;
      if (this.inFlight > 0) return;
      if (this.largeSeen) {
        this.largeSeen = false;
        const now = this.now();
        if (now - this.lastLargeReleaseAt >= this.largeGapMs) {
          this.lastLargeReleaseAt = now;
          // After the response is handed to the socket, before the next request is read.
          setImmediate(() => void this.releaseNow());
        }
      }
      if (!this.timer) this.arm(this.quietMs);
    });
  };

  /** No further releases (the server is stopping). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Releases now, unless a release is already running (then waits for that one). */
  releaseNow(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    this.releasing ??= this.options
      .release()
      .catch((error: unknown) => this.options.onError?.(error))
      .finally(() => {
        this.releasing = undefined;
      });
    return this.releasing;
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.check(), delayMs);
    this.timer.unref();
  }

  private check(): void {
    this.timer = undefined;
    const quietFor = Date.now() - this.lastRequestAt;
    // Busy: the last request in flight to finish arms the timer again.
    if (this.inFlight > 0) return;
    if (quietFor < this.quietMs) {
      this.arm(this.quietMs - quietFor);
      return;
    }
    void this.releaseNow();
  }
}
