// Worker-thread entry: owns the SqliteStore and runs the Store calls the main thread posts to it.
import { parentPort, workerData } from 'node:worker_threads';
import { isStoreUnavailable } from '../errors';
import { SqliteStore, type SqliteStoreOptions } from './store';
import {
  STORE_METHODS,
  type StoreCall,
  type WorkerError,
  type WorkerEvent,
  type WorkerReply,
  type WorkerStarted,
} from './workerProtocol';

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
  port.on('message', (call: StoreCall) => {
    if (!methods.has(call.method)) {
      const error = {
        name: 'Error',
        message: `no store method ${call.method}`,
        unavailable: false,
      };
      port.postMessage({ id: call.id, ok: false, error } satisfies WorkerReply);
      return;
    }
    // Every call is dispatched as it arrives: writes queue in the store's group commit, which
    // flushes once this turn's messages are all read, so the deliveries that arrived together
    // share one COMMIT here while the main thread keeps reading requests.
    const method = store[call.method] as (...args: unknown[]) => Promise<unknown>;
    method.apply(store, call.args).then(
      (value) => port.postMessage({ id: call.id, ok: true, value } satisfies WorkerReply),
      (error: unknown) =>
        port.postMessage({
          id: call.id,
          ok: false,
          error: toWorkerError(error),
        } satisfies WorkerReply),
    );
  });
  port.postMessage({ started: true } satisfies WorkerStarted);
}

if (parentPort) main(parentPort, workerData as SqliteStoreOptions);
