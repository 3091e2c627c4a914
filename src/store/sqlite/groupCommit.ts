// Group commit for better-sqlite3: writes queued while the event loop is busy share one fsync'd commit.
import { performance } from 'node:perf_hooks';
import type Database from 'better-sqlite3';

type Pending = {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
};

/**
 * better-sqlite3 is synchronous: while one transaction runs (and its COMMIT waits for fsync),
 * the event loop is blocked and further requests wait in the kernel's socket buffers. Once it is
 * free, every request whose body completed meanwhile is handled in the same turn, and each queues
 * its write here. The queue is flushed in the check phase (setImmediate) right after, as one
 * BEGIN IMMEDIATE … COMMIT, so the busier the server, the more deliveries share one commit, while
 * a lone delivery waits for nothing.
 *
 * A write that throws is rejected with its own error and its neighbours commit. The batch first
 * runs without savepoints: in WAL mode SQLite copies every existing page a savepoint's statements
 * modify into a sub-journal (a temporary file past 64 KiB), which on 2,000-user pages cost more
 * CPU than the statements themselves. Writes rarely throw, so only when one does is the
 * transaction rolled back and the batch run again with a SAVEPOINT per write, where the one that
 * throws is rolled back alone (a lone write is just rejected). Every promise settles only after
 * the shared COMMIT, so a resolved write is on disk (with synchronous=FULL). If SQLite itself
 * abandons the transaction (an I/O error, a full disk), the write that hit it is rejected and the
 * others are retried in a new transaction rather than being reported as committed. A write's work
 * must therefore be safe to run again after a rollback (it only runs statements).
 */
/**
 * A transaction takes in writes that arrived while it ran (see setLateArrivals) until it holds
 * this many, or has been open this long: bounds how long the first write waits for its COMMIT.
 */
export const LATE_ARRIVALS_MAX_WRITES = 64;
export const LATE_ARRIVALS_MAX_MS = 100;

export class SqliteGroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly sql;
  private lateArrivals?: () => void;

  constructor(
    private readonly db: Database.Database,
    /** Maps a SQLite error to what callers should see (e.g. a "store unavailable" error). */
    private readonly asError: (error: unknown) => unknown,
    /** Told each committed batch's size (the metrics' commit batch histogram). */
    private readonly onCommit?: (batchSize: number) => void,
  ) {
    this.sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT delivery'),
      release: db.prepare('RELEASE delivery'),
      rollbackTo: db.prepare('ROLLBACK TO delivery'),
    };
  }

  /** Runs `work` in the next shared transaction; settles once that transaction has committed. */
  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * `pull` queues (through run) the writes that have arrived but not been read yet; it is called
   * before each COMMIT, and what it queued joins the open transaction. The SQLite worker pulls the
   * deliveries the main thread posted while this thread was busy applying others: without this,
   * 2,000-user pages from 4 connections settled into commits of 2 and 2 in turn, and a commit
   * writes most of the indexes' hot pages to the WAL however few pages it holds.
   */
  setLateArrivals(pull: () => void): void {
    this.lateArrivals = pull;
  }

  /** Commits everything queued so far, now (also used before closing the database). */
  flush(): void {
    this.scheduled = false;
    let batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    batch = this.commitBatch(batch, false);
    while (batch.length > 0) batch = this.commitBatch(batch, true);
  }

  /**
   * One transaction over the batch; returns the writes to run again (with savepoints) when one
   * threw without savepoints, or when SQLite abandoned the transaction.
   */
  private commitBatch(batch: Pending[], savepoints: boolean): Pending[] {
    try {
      this.sql.begin.run();
    } catch (error) {
      for (const pending of batch) pending.reject(this.asError(error));
      return [];
    }
    if (!savepoints) return this.commitOptimistically(batch);
    const settle: (() => void)[] = [];
    for (let index = 0; index < batch.length; index++) {
      const pending = batch[index];
      this.sql.savepoint.run();
      try {
        const value = pending.work();
        this.sql.release.run();
        settle.push(() => pending.resolve(value));
      } catch (error) {
        if (!this.db.inTransaction) {
          pending.reject(this.asError(error));
          return batch.filter((_, other) => other !== index);
        }
        this.sql.rollbackTo.run();
        this.sql.release.run();
        settle.push(() => pending.reject(this.asError(error)));
      }
    }
    this.commit(batch, settle);
    return [];
  }

  /** The batch with no savepoint; a write that throws sends the whole batch to the careful way. */
  private commitOptimistically(batch: Pending[]): Pending[] {
    const values: unknown[] = [];
    const began = performance.now();
    for (let index = 0; index < batch.length; index++) {
      const pending = batch[index];
      try {
        values.push(pending.work());
      } catch (error) {
        if (this.db.inTransaction) this.sql.rollback.run();
        if (batch.length > 1) return batch;
        pending.reject(this.asError(error));
        return [];
      }
      if (
        index === batch.length - 1 &&
        this.lateArrivals &&
        batch.length < LATE_ARRIVALS_MAX_WRITES &&
        performance.now() - began < LATE_ARRIVALS_MAX_MS
      ) {
        this.lateArrivals();
        const late = this.queue.splice(0, LATE_ARRIVALS_MAX_WRITES - batch.length);
        batch.push(...late);
      }
    }
    this.commit(
      batch,
      batch.map((pending, index) => () => pending.resolve(values[index])),
    );
    return [];
  }

  /** COMMIT, then settle each write (all rejected if the commit failed). */
  private commit(batch: Pending[], settle: (() => void)[]): void {
    try {
      this.sql.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.sql.rollback.run();
      for (const pending of batch) pending.reject(this.asError(error));
      return;
    }
    for (const done of settle) done();
    this.onCommit?.(batch.length);
  }
}
