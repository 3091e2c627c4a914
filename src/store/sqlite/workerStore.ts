// The embedded store on its own thread: a Store whose calls run in a worker that owns the SqliteStore.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { StoreUnavailableError } from '../errors';
import { failedCheck } from '../health';
import { RefusalBuffer } from '../refusalBuffer';
import { SqliteStore, type SqliteStoreOptions } from './store';
import {
  RELEASE_MEMORY,
  type StoreCall,
  type StoreCalls,
  type StoreMethod,
  type WorkerMethod,
  type WorkerError,
  type WorkerEvent,
  type WorkerReplies,
  type WorkerReply,
  type WorkerStarted,
} from './workerProtocol';
import type { HealthCheck, Store, StoreInstrumentation } from '../types';

/** The worker's code: the compiled file, or the TypeScript source when running under ts-node/jest. */
function workerEntry(): { file: string; execArgv: string[] } {
  const compiled = path.join(__dirname, 'worker.js');
  // --cpu-prof and its options pass through, so `npm run bench -- --cpu-prof` profiles the writer
  // thread too (Node writes one profile per thread); no other flag of the process does.
  const profiling = process.execArgv.filter((flag) => flag.startsWith('--cpu-prof'));
  if (existsSync(compiled)) return { file: compiled, execArgv: profiling };
  return {
    file: path.join(__dirname, 'worker.ts'),
    execArgv: ['--require', 'ts-node/register/transpile-only'],
  };
}

function fromWorkerError(error: WorkerError): Error {
  if (error.unavailable) return new StoreUnavailableError(error.message);
  const result = new Error(error.message);
  result.name = error.name;
  return result;
}

/**
 * The read-only connection maps up to this much of the file. A user → segments lookup reads a
 * handful of randomly placed B-tree pages; mapped, each is a memory read instead of a pread()
 * and a 4 KB copy into SQLite's 2 MB cache, which roughly halved the CPU of a lookup on the
 * 1,000,000-member bench store. The mapped pages are the OS page cache (shared, reclaimable),
 * though they count in the process's RSS as file-backed pages once touched.
 */
export const READER_MMAP_BYTES = 256 * 1024 * 1024;

/**
 * The worker's V8 young generation (both semi-spaces and the new large-object space), in MB:
 * 2 MB semi-spaces instead of V8's 16 MB. The worker's garbage is short-lived (a delivery's
 * arguments, statement results), and a 100,000-user page grew its young generation to 16-20 MB
 * resident, kept empty afterwards: three such pages peaked at 186-190 MB RSS with the default, 173
 * with this cap. Over 1,800 small pages the worker's scavenges went from 28 to 34, 40-65 ms in
 * all (about 0.03 ms a page) either way.
 */
export const WORKER_YOUNG_GENERATION_MB = 6;

type Pending = { resolve: (value: unknown) => void; reject: (error: unknown) => void };

/** Starts a worker and resolves once its store is open (or rejects with why it could not open). */
function startWorker(options: SqliteStoreOptions): Promise<Worker> {
  const { file, execArgv } = workerEntry();
  const worker = new Worker(file, {
    workerData: options,
    execArgv,
    resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
  });
  return new Promise((resolve, reject) => {
    const failed = (error: unknown) => {
      void worker.terminate();
      reject(error);
    };
    worker.once('message', (started: WorkerStarted) => {
      worker.off('error', failed);
      if (started.started) resolve(worker);
      else failed(fromWorkerError(started.error));
    });
    worker.once('error', failed);
  });
}

/**
 * better-sqlite3 runs every statement synchronously, and with synchronous=FULL a COMMIT waits for
 * fsync. On the main thread that stalls everything else: no request is read, verified or parsed
 * while a batch commits. Here the writing SqliteStore (and its group commit) lives in a worker
 * thread, so HTTP work on the main thread overlaps with storage work on the other core; queries
 * run on this thread on a second, read-only connection. The contract is the same: a write
 * resolves once the worker's store has resolved it, so an applied delivery is on disk, and a
 * query after it sees it.
 *
 * If the worker dies (it should not), the calls in flight fail as "store unavailable" (503, which
 * Heap retries) and the next call starts a new worker on the same file.
 */
export class SqliteWorkerStore implements Store, StoreInstrumentation {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private current: Promise<Worker> | undefined;
  private closed = false;
  private readonly commitListeners = new Set<(batchSize: number) => void>();
  /** Calls made in this turn of the event loop, posted together to their worker (see StoreCalls). */
  private outbox: { worker: Worker; calls: StoreCall[] } | undefined;

  /** Set by open(), once the worker has created or migrated the file. */
  private reader!: SqliteStore;

  /** Refusals are counted here, on the main thread: a flood costs no message to the worker. */
  private readonly refusals: RefusalBuffer;

  private constructor(private readonly options: SqliteStoreOptions) {
    this.refusals = new RefusalBuffer(
      (counts) => this.addRefusalCounts(counts),
      options.refusalFlushMs,
    );
  }

  countRefusal: Store['countRefusal'] = (refusal) => this.refusals.count(refusal);
  flushRefusalCounts: Store['flushRefusalCounts'] = () => this.refusals.flush();

  // Writes go to the worker's store, arguments as they are, and share its group commit.
  applyDelivery: Store['applyDelivery'] = (...args) => this.call('applyDelivery', args);
  recordRejected: Store['recordRejected'] = (...args) => this.call('recordRejected', args);
  upsertConnection: Store['upsertConnection'] = (...args) => this.call('upsertConnection', args);
  disconnect: Store['disconnect'] = (...args) => this.call('disconnect', args);
  replaceSealedAccessToken: Store['replaceSealedAccessToken'] = (...args) =>
    this.call('replaceSealedAccessToken', args);
  saveOAuthState: Store['saveOAuthState'] = (...args) => this.call('saveOAuthState', args);
  consumeOAuthState: Store['consumeOAuthState'] = (...args) => this.call('consumeOAuthState', args);
  createAdminSession: Store['createAdminSession'] = (...args) =>
    this.call('createAdminSession', args);
  touchAdminSession: Store['touchAdminSession'] = (...args) => this.call('touchAdminSession', args);
  revokeAdminSession: Store['revokeAdminSession'] = (...args) =>
    this.call('revokeAdminSession', args);
  addRefusalCounts: Store['addRefusalCounts'] = (...args) => this.call('addRefusalCounts', args);
  pruneBatch: Store['pruneBatch'] = (...args) => this.call('pruneBatch', args);
  recordAudit: Store['recordAudit'] = (...args) => this.call('recordAudit', args);
  addAuditCounts: Store['addAuditCounts'] = (...args) => this.call('addAuditCounts', args);

  // Queries run here, on a read-only connection: a lookup costs a fraction of a millisecond,
  // less than two thread hops, and WAL lets it read the last commit while the worker writes.
  getSegment: Store['getSegment'] = (...args) => this.reader.getSegment(...args);
  listSegments: Store['listSegments'] = (...args) => this.reader.listSegments(...args);
  listMembers: Store['listMembers'] = (...args) => this.reader.listMembers(...args);
  segmentsOfUser: Store['segmentsOfUser'] = (...args) => this.reader.segmentsOfUser(...args);
  isMember: Store['isMember'] = (...args) => this.reader.isMember(...args);
  // Read before applying a delivery under the 'reject' policy: a disconnect committed by the
  // worker is visible at once (WAL).
  hasActiveConnection: Store['hasActiveConnection'] = (...args) =>
    this.reader.hasActiveConnection(...args);
  getSyncTask: Store['getSyncTask'] = (...args) => this.reader.getSyncTask(...args);
  listSyncTasks: Store['listSyncTasks'] = (...args) => this.reader.listSyncTasks(...args);
  listChanges: Store['listChanges'] = (...args) => this.reader.listChanges(...args);
  segmentSizeHistory: Store['segmentSizeHistory'] = (...args) =>
    this.reader.segmentSizeHistory(...args);
  listDeliveries: Store['listDeliveries'] = (...args) => this.reader.listDeliveries(...args);
  deliveryStats: Store['deliveryStats'] = (...args) => this.reader.deliveryStats(...args);
  listRefusalCounts: Store['listRefusalCounts'] = (...args) =>
    this.reader.listRefusalCounts(...args);
  oldestChangeSeq: Store['oldestChangeSeq'] = (...args) => this.reader.oldestChangeSeq(...args);
  listSegmentFreshness: Store['listSegmentFreshness'] = (...args) =>
    this.reader.listSegmentFreshness(...args);
  segmentFreshness: Store['segmentFreshness'] = (...args) => this.reader.segmentFreshness(...args);
  listAudit: Store['listAudit'] = (...args) => this.reader.listAudit(...args);
  getConnection: Store['getConnection'] = (...args) => this.reader.getConnection(...args);
  listConnections: Store['listConnections'] = (...args) => this.reader.listConnections(...args);
  getSealedAccessToken: Store['getSealedAccessToken'] = (...args) =>
    this.reader.getSealedAccessToken(...args);
  listSealedAccessTokens: Store['listSealedAccessTokens'] = (...args) =>
    this.reader.listSealedAccessTokens(...args);
  // Read on every admin request; a revocation committed by the worker is visible at once.
  getAdminSession: Store['getAdminSession'] = (...args) => this.reader.getAdminSession(...args);

  /** Opens the file in a new worker; rejects as the SqliteStore constructor would have thrown. */
  static async open(options: SqliteStoreOptions): Promise<SqliteWorkerStore> {
    const store = new SqliteWorkerStore(options);
    await store.worker();
    try {
      store.reader = new SqliteStore({
        ...options,
        readOnly: true,
        mmapBytes: options.mmapBytes ?? READER_MMAP_BYTES,
      });
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** The worker thread serving the calls now (for diagnostics and tests). */
  get thread(): Promise<Worker> | undefined {
    return this.current;
  }

  private worker(): Promise<Worker> {
    if (this.current) return this.current;
    const starting = startWorker(this.options).then((worker) => {
      worker.unref();
      worker.on('message', (message: WorkerReplies | WorkerEvent) => {
        if ('event' in message) this.told(message);
        else for (const reply of message.replies) this.settle(reply, worker);
      });
      worker.on('error', (error) => this.lost(starting, error));
      worker.on('exit', (code) => this.lost(starting, new Error(`exited with code ${code}`)));
      return worker;
    });
    // A worker that could not start is not kept: the next call tries again.
    starting.catch(() => {
      if (this.current === starting) this.current = undefined;
    });
    this.current = starting;
    return starting;
  }

  /** StoreInstrumentation: each group commit's size in the worker, for the metrics. */
  observeCommits(listener: (batchSize: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  private told(event: WorkerEvent): void {
    for (const listener of this.commitListeners) listener(event.batchSize);
  }

  private settle(reply: WorkerReply, worker: Worker): void {
    const pending = this.pending.get(reply.id);
    if (!pending) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWorkerError(reply.error));
  }

  private lost(worker: Promise<Worker>, error: Error): void {
    if (this.current !== worker) return;
    this.current = undefined;
    if (this.closed) return;
    const failure = new StoreUnavailableError(`the SQLite worker stopped (${error.message})`, {
      cause: error,
    });
    for (const pending of this.pending.values()) pending.reject(failure);
    this.pending.clear();
  }

  private call<M extends StoreMethod>(method: M, args: Parameters<Store[M]>): ReturnType<Store[M]> {
    return this.send(method, args) as ReturnType<Store[M]>;
  }

  /**
   * Calls made in one turn of this thread's event loop go to the worker in one message, posted at
   * the turn's end (see StoreCalls), except the first call to a worker that owes no answer: that
   * worker is waiting for work, so the call goes at once and the worker applies it while this
   * thread reads the rest of the turn's requests, which join its transaction as late arrivals.
   * Batched alone, 2,000-user pages from 4 connections came back from a commit together and the
   * worker idled while this thread read, verified and parsed all four (about 8 ms of every
   * 4-page commit cycle, 14 % of the writer's time in the large benchmark).
   */
  private async send(method: WorkerMethod, args: unknown[]): Promise<unknown> {
    if (this.closed) throw new StoreUnavailableError('SQLite store is closed');
    const worker = await this.worker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const idle = this.pending.size === 0;
      this.pending.set(id, { resolve, reject });
      // Keep the process alive while an answer is owed, not longer.
      worker.ref();
      // A batch for a worker that has since been replaced goes to it now (lost() has already
      // failed its calls), so this one starts a batch of its own for the new worker.
      if (this.outbox && this.outbox.worker !== worker) this.post();
      if (idle && !this.outbox) {
        worker.postMessage([{ id, method, args }] satisfies StoreCalls);
        return;
      }
      if (!this.outbox) {
        this.outbox = { worker, calls: [] };
        setImmediate(() => this.post());
      }
      this.outbox.calls.push({ id, method, args });
    });
  }

  /** Posts the calls made so far in one message. */
  private post(): void {
    const outbox = this.outbox;
    this.outbox = undefined;
    outbox?.worker.postMessage(outbox.calls);
  }

  /**
   * `writer`: a round trip through the worker thread to its store's own probe, so a dead or stuck
   * thread fails it (a dead one is replaced by the call, as for any write; one that cannot start
   * fails); `reader`: this thread's read-only connection.
   */
  async probe(deadlineMs: number): Promise<Record<string, HealthCheck>> {
    const writer = this.call('probe', [deadlineMs]).then(
      (checks) => checks.database ?? { ok: false, reason: 'no answer from the writer' },
      failedCheck,
    );
    const reader = this.reader.probe(deadlineMs).then((checks) => checks.database);
    return { writer: await writer, reader: await reader };
  }

  /**
   * Gives memory back while the server is quiet: the read-only connection's page cache here, and
   * in the worker (if one is running: none is started for this) its connection's cache and a full
   * collection of its V8 heap. This thread's heap is the caller's to collect.
   */
  async releaseMemory(): Promise<void> {
    this.reader.releaseMemory();
    if (this.current && !this.closed) await this.send(RELEASE_MEMORY, []);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    // The counted refusals go to the worker before it closes the file.
    await this.refusals.close().catch(() => undefined);
    const current = this.current;
    if (current) {
      // The worker's store commits what it has queued and closes the file before we stop it.
      await this.send('close', []);
      this.closed = true;
      await (await current).terminate();
    }
    this.closed = true;
    await this.reader?.close();
  }
}
