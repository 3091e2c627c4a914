// Worker-thread entry: owns the SqliteStore and runs the Store calls the main thread posts to it.
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { collectGarbage } from '../../server/gc';
import { isStoreUnavailable } from '../errors';
import { SqliteStore, type SqliteStoreOptions } from './store';
import {
  RELEASE_MEMORY,
  STORE_METHODS,
  type StoreCall,
  type StoreCalls,
  type WorkerError,
  type WorkerEvent,
  type WorkerReplies,
  type WorkerReply,
  type WorkerStarted,
} from './workerProtocol';

/** The calls that only queue a write in the group commit, so may join a transaction already open. */
const LATE_JOINERS = new Set<string>(['applyDelivery', 'recordRejected']);

function toWorkerError(error: unknown): WorkerError {
  const { name, message } =
    error instanceof Error ? error : { name: 'Error', message: String(error) };
  return { name, message, unavailable: isStoreUnavailable(error) };
}

function main(port: NonNullable<typeof parentPort>, options: SqliteStoreOptions): void {
  let store: SqliteStore;
  try {
    store = new SqliteStore(options);
  } catch (error) {
    port.postMessage({ started: false, error: toWorkerError(error) } satisfies WorkerStarted);
    return;
  }
  // One message per commit (each already costs an fsync), for the main thread's metrics.
  store.observeCommits((batchSize) =>
    port.postMessage({ event: 'commit', batchSize } satisfies WorkerEvent),
  );
  const methods = new Set<string>(STORE_METHODS);
  // Answers ready in one turn go back in one message (see StoreCalls).
  let replies: WorkerReply[] = [];
  const reply = (answer: WorkerReply) => {
    if (replies.length === 0) {
      setImmediate(() => {
        const batch = replies;
        replies = [];
        port.postMessage({ replies: batch } satisfies WorkerReplies);
      });
    }
    replies.push(answer);
  };
  const dispatch = (call: StoreCall) => {
    if (call.method === RELEASE_MEMORY) {
      // The caches first, so the collection also frees what held them.
      store.releaseMemory();
      reply({ id: call.id, ok: true, value: collectGarbage() });
      return;
    }
    if (!methods.has(call.method)) {
      const error = {
        name: 'Error',
        message: `no store method ${call.method}`,
        unavailable: false,
      };
      reply({ id: call.id, ok: false, error });
      return;
    }
    // Every call is dispatched as it arrives: writes queue in the store's group commit, which
    // flushes once this turn's messages are all read, so the deliveries that arrived together
    // share one COMMIT here while the main thread keeps reading requests.
    const method = store[call.method] as (...args: unknown[]) => Promise<unknown>;
    method.apply(store, call.args).then(
      (value) => reply({ id: call.id, ok: true, value }),
      (error: unknown) => reply({ id: call.id, ok: false, error: toWorkerError(error) }),
    );
  };
  port.on('message', (calls: StoreCalls) => {
    for (const call of calls) dispatch(call);
  });
  // Deliveries posted while a transaction ran join it before its COMMIT (see
  // SqliteGroupCommit.setLateArrivals). A message holding any other call is kept, and the messages
  // after it unread, until the commit is over: those calls run at once, outside the group commit,
  // and must neither join an uncommitted transaction nor overtake the writes before them.
  let held: StoreCalls | undefined;
  store.pullLateWrites(() => {
    while (!held) {
      const received = receiveMessageOnPort(port);
      if (!received) return;
      const calls = received.message as StoreCalls;
      if (!calls.every((call) => LATE_JOINERS.has(call.method))) {
        held = calls;
        queueMicrotask(() => {
          const calls = held!;
          held = undefined;
          for (const call of calls) dispatch(call);
        });
        return;
      }
      for (const call of calls) dispatch(call);
    }
  });
  port.postMessage({ started: true } satisfies WorkerStarted);
}

if (parentPort) main(parentPort, workerData as SqliteStoreOptions);
